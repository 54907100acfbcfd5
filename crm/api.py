"""REST API for CRM records and their associations (A1, R1-R5).

One APIView per URL, one operation per HTTP method, each with its nested serializers:
input is validated strictly (unknown fields are refused), writes go through
`crm.services`, reads through `crm.selectors` and its access helpers.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Model
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import (
    ERRORS,
    PAGE_PARAMETERS,
    EmailAddressField,
    StrictSerializer,
    caller,
    paginated,
    paginated_schema,
)
from crm import selectors, services
from crm.models import (
    Company,
    Contact,
    ContactSource,
    Deal,
    LegalBasis,
    MarketingStatus,
    Pipeline,
    PipelineKind,
    Stage,
    Ticket,
    TicketPriority,
)

User = get_user_model()

# Fields several input serializers share (the API plumbing itself is config/api.py).


def _owner_field() -> serializers.PrimaryKeyRelatedField[Any]:
    return serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        allow_null=True,
        required=False,
        help_text="A user id; null for no owner. Left out on create: the caller.",
    )


def _with_default_owner(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    return {"owner": caller(request), **data}


# Small shapes of records, used inside other records and association lists.


class UserRef(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.SerializerMethodField()
    email = serializers.EmailField()

    class Meta:
        ref_name = "UserRef"

    def get_name(self, user: Any) -> str:
        return str(user.get_full_name() or user.get_username())


class CompanyRef(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    domain = serializers.CharField()

    class Meta:
        ref_name = "CompanyRef"


class ContactRef(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    full_name = serializers.CharField()
    primary_email = serializers.EmailField()

    class Meta:
        ref_name = "ContactRef"


class StageRef(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_closed = serializers.BooleanField()

    class Meta:
        ref_name = "StageRef"


class PipelineRef(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()

    class Meta:
        ref_name = "PipelineRef"


class DealRef(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    pipeline = PipelineRef()
    stage = StageRef()

    class Meta:
        ref_name = "DealRef"


class TicketRef(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    subject = serializers.CharField()
    pipeline = PipelineRef()
    stage = StageRef()

    class Meta:
        ref_name = "TicketRef"


# Association links (R4): the other record and when the link was made.


class ContactCompanyLinkOutput(serializers.Serializer[Any]):
    company = CompanyRef()
    primary = serializers.BooleanField(source="is_primary")
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "ContactCompanyLink"


class CompanyContactLinkOutput(serializers.Serializer[Any]):
    contact = ContactRef()
    primary = serializers.BooleanField(
        source="is_primary", help_text="Whether this is the contact's primary company."
    )
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "CompanyContactLink"


class ContactLinkOutput(serializers.Serializer[Any]):
    contact = ContactRef()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "ContactLink"


class CompanyLinkOutput(serializers.Serializer[Any]):
    company = CompanyRef()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "CompanyLink"


class DealLinkOutput(serializers.Serializer[Any]):
    deal = DealRef()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "DealLink"


class TicketLinkOutput(serializers.Serializer[Any]):
    ticket = TicketRef()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "TicketLink"


# Full records.


class ContactOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    full_name = serializers.CharField()
    primary_email = serializers.EmailField()
    emails = serializers.SerializerMethodField(help_text="Primary first.")
    owner = UserRef(allow_null=True)
    primary_company = serializers.SerializerMethodField()
    marketing_status = serializers.ChoiceField(choices=MarketingStatus.choices)
    legal_basis = serializers.ChoiceField(choices=LegalBasis.choices)
    created_via = serializers.ChoiceField(choices=ContactSource.choices)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Contact"

    @extend_schema_field(serializers.ListField(child=serializers.EmailField()))
    def get_emails(self, contact: Contact) -> list[str]:
        return [item.email for item in contact.emails.all()]

    @extend_schema_field(CompanyRef(allow_null=True))
    def get_primary_company(self, contact: Contact) -> dict[str, Any] | None:
        company = selectors.contact_primary_company(contact)
        return CompanyRef(company).data if company is not None else None


class CompanyOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    domain = serializers.CharField()
    owner = UserRef(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Company"


class DealOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    pipeline = PipelineRef()
    stage = StageRef()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    close_date = serializers.DateField(allow_null=True)
    owner = UserRef(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Deal"


class TicketOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    subject = serializers.CharField()
    pipeline = PipelineRef()
    stage = StageRef()
    priority = serializers.ChoiceField(choices=TicketPriority.choices)
    owner = UserRef(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Ticket"


def _with_links(record: Deal | Ticket, data: dict[str, Any]) -> dict[str, Any]:
    """A deal or ticket as read alone: also its contacts and companies."""
    contacts = selectors.association_links(record, "contact")
    companies = selectors.association_links(record, "company")
    return {
        **data,
        "contacts": ContactLinkOutput(contacts, many=True).data,
        "companies": CompanyLinkOutput(companies, many=True).data,
    }


class DealDetailOutput(DealOutput):
    contacts = ContactLinkOutput(many=True)
    companies = CompanyLinkOutput(many=True)

    class Meta:
        ref_name = "DealDetail"


class TicketDetailOutput(TicketOutput):
    contacts = ContactLinkOutput(many=True)
    companies = CompanyLinkOutput(many=True)

    class Meta:
        ref_name = "TicketDetail"


class RecordFilter(serializers.Serializer[Any]):
    q = serializers.CharField(
        required=False, allow_blank=True, help_text="Search words, case-insensitive."
    )
    owner = serializers.IntegerField(required=False, help_text="Owner's user id.")

    class Meta:
        ref_name = "RecordFilter"


class PipelineRecordFilter(RecordFilter):
    pipeline = serializers.IntegerField(required=False, help_text="Pipeline id.")

    class Meta:
        ref_name = "PipelineRecordFilter"


def _filters(serializer_class: type[RecordFilter], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# Contacts.


class ContactListApi(APIView):
    class InputSerializer(StrictSerializer):
        emails = serializers.ListField(
            child=EmailAddressField(),
            allow_empty=False,
            help_text="The first address is the primary one.",
        )
        first_name = serializers.CharField(
            max_length=150, required=False, allow_blank=True
        )
        last_name = serializers.CharField(
            max_length=150, required=False, allow_blank=True
        )
        owner = _owner_field()
        marketing_status = serializers.ChoiceField(
            choices=MarketingStatus.choices, required=False
        )
        legal_basis = serializers.ChoiceField(
            choices=LegalBasis.choices, required=False, allow_blank=True
        )

        class Meta:
            ref_name = "ContactCreate"

    @extend_schema(
        operation_id="contacts_list",
        tags=["contacts"],
        summary="Contacts, searched by name or any email",
        parameters=[RecordFilter, *PAGE_PARAMETERS],
        responses={200: paginated_schema(ContactOutput, "Contact"), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        contacts = selectors.contact_list(**_filters(RecordFilter, request))
        return paginated(request, self, contacts, ContactOutput)

    @extend_schema(
        operation_id="contacts_create",
        tags=["contacts"],
        summary="Create a contact; it joins its company by email domain (R5)",
        request=InputSerializer,
        responses={201: ContactOutput, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact = services.contact_create(
            **_with_default_owner(request, serializer.validated_data),
            created_via=ContactSource.API,
        )
        contact = selectors.contact_get_for_user(request.user, contact.pk)
        return Response(ContactOutput(contact).data, status=status.HTTP_201_CREATED)


class ContactDetailApi(APIView):
    class InputSerializer(StrictSerializer):
        emails = serializers.ListField(
            child=EmailAddressField(),
            allow_empty=False,
            required=False,
            help_text="Replaces all addresses; the first is the primary one.",
        )
        first_name = serializers.CharField(
            max_length=150, required=False, allow_blank=True
        )
        last_name = serializers.CharField(
            max_length=150, required=False, allow_blank=True
        )
        owner = _owner_field()
        marketing_status = serializers.ChoiceField(
            choices=MarketingStatus.choices, required=False
        )
        legal_basis = serializers.ChoiceField(
            choices=LegalBasis.choices, required=False, allow_blank=True
        )

        class Meta:
            ref_name = "ContactUpdate"

    @extend_schema(
        operation_id="contacts_read",
        tags=["contacts"],
        responses={200: ContactOutput, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        contact = selectors.contact_get_for_user(request.user, pk)
        return Response(ContactOutput(contact).data)

    @extend_schema(
        operation_id="contacts_update",
        tags=["contacts"],
        request=InputSerializer,
        responses={200: ContactOutput, **ERRORS},
    )
    def patch(self, request: Request, pk: int) -> Response:
        contact = selectors.contact_get_for_user(request.user, pk, write=True)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.contact_update(contact=contact, data=dict(serializer.validated_data))
        contact = selectors.contact_get_for_user(request.user, pk)
        return Response(ContactOutput(contact).data)

    @extend_schema(
        operation_id="contacts_delete",
        tags=["contacts"],
        responses={204: None, **ERRORS},
    )
    def delete(self, request: Request, pk: int) -> Response:
        contact = selectors.contact_get_for_user(request.user, pk, write=True)
        services.contact_delete(contact=contact)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Companies.

DOMAIN_PATTERN = (
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def _domain_field(*, required: bool) -> serializers.RegexField:
    return serializers.RegexField(
        DOMAIN_PATTERN,
        required=required,
        error_messages={"invalid": "Enter a domain such as acme.com."},
        help_text="Stored lower-case; unique.",
    )


class CompanyListApi(APIView):
    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=255)
        domain = _domain_field(required=True)
        owner = _owner_field()

        class Meta:
            ref_name = "CompanyCreate"

    @extend_schema(
        operation_id="companies_list",
        tags=["companies"],
        summary="Companies, searched by name or domain",
        parameters=[RecordFilter, *PAGE_PARAMETERS],
        responses={200: paginated_schema(CompanyOutput, "Company"), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        companies = selectors.company_list(**_filters(RecordFilter, request))
        return paginated(request, self, companies, CompanyOutput)

    @extend_schema(
        operation_id="companies_create",
        tags=["companies"],
        request=InputSerializer,
        responses={201: CompanyOutput, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        company = services.company_create(
            **_with_default_owner(request, serializer.validated_data)
        )
        return Response(CompanyOutput(company).data, status=status.HTTP_201_CREATED)


class CompanyDetailApi(APIView):
    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=255, required=False)
        domain = _domain_field(required=False)
        owner = _owner_field()

        class Meta:
            ref_name = "CompanyUpdate"

    @extend_schema(
        operation_id="companies_read",
        tags=["companies"],
        responses={200: CompanyOutput, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        company = selectors.company_get_for_user(request.user, pk)
        return Response(CompanyOutput(company).data)

    @extend_schema(
        operation_id="companies_update",
        tags=["companies"],
        request=InputSerializer,
        responses={200: CompanyOutput, **ERRORS},
    )
    def patch(self, request: Request, pk: int) -> Response:
        company = selectors.company_get_for_user(request.user, pk, write=True)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        company = services.company_update(
            company=company, data=dict(serializer.validated_data)
        )
        return Response(CompanyOutput(company).data)

    @extend_schema(
        operation_id="companies_delete",
        tags=["companies"],
        responses={204: None, **ERRORS},
    )
    def delete(self, request: Request, pk: int) -> Response:
        company = selectors.company_get_for_user(request.user, pk, write=True)
        services.company_delete(company=company)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Deals and tickets: a pipeline and one of its stages (R3).


def _pipeline_field(
    kind: str, *, required: bool
) -> serializers.PrimaryKeyRelatedField[Any]:
    return serializers.PrimaryKeyRelatedField(
        queryset=Pipeline.objects.filter(kind=kind), required=required
    )


def _stage_field(*, required: bool) -> serializers.PrimaryKeyRelatedField[Any]:
    return serializers.PrimaryKeyRelatedField(
        queryset=Stage.objects.select_related("pipeline"),
        required=required,
        help_text="A stage of the pipeline; another pipeline's is `invalid_stage`.",
    )


class DealListApi(APIView):
    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=255)
        pipeline = _pipeline_field(PipelineKind.DEAL, required=True)
        stage = _stage_field(required=True)
        amount = serializers.DecimalField(
            max_digits=14, decimal_places=2, required=False, allow_null=True
        )
        close_date = serializers.DateField(required=False, allow_null=True)
        owner = _owner_field()

        class Meta:
            ref_name = "DealCreate"

    @extend_schema(
        operation_id="deals_list",
        tags=["deals"],
        summary="Deals, searched by name",
        parameters=[PipelineRecordFilter, *PAGE_PARAMETERS],
        responses={200: paginated_schema(DealOutput, "Deal"), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        deals = selectors.deal_list(**_filters(PipelineRecordFilter, request))
        return paginated(request, self, deals, DealOutput)

    @extend_schema(
        operation_id="deals_create",
        tags=["deals"],
        request=InputSerializer,
        responses={201: DealDetailOutput, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        deal = services.deal_create(
            **_with_default_owner(request, serializer.validated_data)
        )
        data = _with_links(deal, DealOutput(deal).data)
        return Response(data, status=status.HTTP_201_CREATED)


class DealDetailApi(APIView):
    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=255, required=False)
        pipeline = _pipeline_field(PipelineKind.DEAL, required=False)
        stage = _stage_field(required=False)
        amount = serializers.DecimalField(
            max_digits=14, decimal_places=2, required=False, allow_null=True
        )
        close_date = serializers.DateField(required=False, allow_null=True)
        owner = _owner_field()

        class Meta:
            ref_name = "DealUpdate"

    @extend_schema(
        operation_id="deals_read",
        tags=["deals"],
        summary="A deal with its contacts and companies",
        responses={200: DealDetailOutput, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        deal = selectors.deal_get_for_user(request.user, pk)
        return Response(_with_links(deal, DealOutput(deal).data))

    @extend_schema(
        operation_id="deals_update",
        tags=["deals"],
        request=InputSerializer,
        responses={200: DealDetailOutput, **ERRORS},
    )
    def patch(self, request: Request, pk: int) -> Response:
        deal = selectors.deal_get_for_user(request.user, pk, write=True)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.record_update(record=deal, data=dict(serializer.validated_data))
        deal = selectors.deal_get_for_user(request.user, pk)
        return Response(_with_links(deal, DealOutput(deal).data))

    @extend_schema(
        operation_id="deals_delete", tags=["deals"], responses={204: None, **ERRORS}
    )
    def delete(self, request: Request, pk: int) -> Response:
        deal = selectors.deal_get_for_user(request.user, pk, write=True)
        services.record_delete(record=deal)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TicketListApi(APIView):
    class InputSerializer(StrictSerializer):
        subject = serializers.CharField(max_length=255)
        pipeline = _pipeline_field(PipelineKind.TICKET, required=True)
        stage = _stage_field(required=True)
        priority = serializers.ChoiceField(
            choices=TicketPriority.choices, required=False
        )
        owner = _owner_field()

        class Meta:
            ref_name = "TicketCreate"

    @extend_schema(
        operation_id="tickets_list",
        tags=["tickets"],
        summary="Tickets, searched by subject",
        parameters=[PipelineRecordFilter, *PAGE_PARAMETERS],
        responses={200: paginated_schema(TicketOutput, "Ticket"), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        tickets = selectors.ticket_list(**_filters(PipelineRecordFilter, request))
        return paginated(request, self, tickets, TicketOutput)

    @extend_schema(
        operation_id="tickets_create",
        tags=["tickets"],
        request=InputSerializer,
        responses={201: TicketDetailOutput, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ticket = services.ticket_create(
            **_with_default_owner(request, serializer.validated_data)
        )
        data = _with_links(ticket, TicketOutput(ticket).data)
        return Response(data, status=status.HTTP_201_CREATED)


class TicketDetailApi(APIView):
    class InputSerializer(StrictSerializer):
        subject = serializers.CharField(max_length=255, required=False)
        pipeline = _pipeline_field(PipelineKind.TICKET, required=False)
        stage = _stage_field(required=False)
        priority = serializers.ChoiceField(
            choices=TicketPriority.choices, required=False
        )
        owner = _owner_field()

        class Meta:
            ref_name = "TicketUpdate"

    @extend_schema(
        operation_id="tickets_read",
        tags=["tickets"],
        summary="A ticket with its contacts and companies",
        responses={200: TicketDetailOutput, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        ticket = selectors.ticket_get_for_user(request.user, pk)
        return Response(_with_links(ticket, TicketOutput(ticket).data))

    @extend_schema(
        operation_id="tickets_update",
        tags=["tickets"],
        request=InputSerializer,
        responses={200: TicketDetailOutput, **ERRORS},
    )
    def patch(self, request: Request, pk: int) -> Response:
        ticket = selectors.ticket_get_for_user(request.user, pk, write=True)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.record_update(record=ticket, data=dict(serializer.validated_data))
        ticket = selectors.ticket_get_for_user(request.user, pk)
        return Response(_with_links(ticket, TicketOutput(ticket).data))

    @extend_schema(
        operation_id="tickets_delete", tags=["tickets"], responses={204: None, **ERRORS}
    )
    def delete(self, request: Request, pk: int) -> Response:
        ticket = selectors.ticket_get_for_user(request.user, pk, write=True)
        services.record_delete(record=ticket)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Pipelines.


class StageOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    position = serializers.IntegerField()
    is_closed = serializers.BooleanField()

    class Meta:
        ref_name = "Stage"


class PipelineListApi(APIView):
    class FilterSerializer(serializers.Serializer[Any]):
        kind = serializers.ChoiceField(choices=PipelineKind.choices, required=False)

        class Meta:
            ref_name = "PipelineFilter"

    class OutputSerializer(serializers.Serializer[Any]):
        id = serializers.IntegerField()
        name = serializers.CharField()
        kind = serializers.ChoiceField(choices=PipelineKind.choices)
        stages = StageOutput(many=True)

        class Meta:
            ref_name = "Pipeline"

    @extend_schema(
        operation_id="pipelines_list",
        tags=["pipelines"],
        summary="Deal and ticket pipelines with their open and closed stages",
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: paginated_schema(OutputSerializer, "Pipeline"), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        pipelines = selectors.pipeline_list(**filters.validated_data)
        return paginated(request, self, pipelines, self.OutputSerializer)


# Associations (R4). Changing them needs write access to the left-hand record.


def _link_response(link: Model, serializer_class: type[Any]) -> Response:
    return Response(serializer_class(link).data, status=status.HTTP_201_CREATED)


def _association_schema(
    left: str, right: str, output: type[Any], request: type[Any]
) -> dict[str, Any]:
    prefix = f"{left}_{right}"
    return {
        "get": extend_schema(
            operation_id=f"{prefix}_list",
            tags=["associations"],
            summary=f"The {right} records linked to a {left}, newest first",
            parameters=PAGE_PARAMETERS,
            responses={200: paginated_schema(output, output.Meta.ref_name), **ERRORS},
        ),
        "post": extend_schema(
            operation_id=f"{prefix}_create",
            tags=["associations"],
            summary=f"Link a {right} to a {left}",
            request=request,
            responses={201: output, **ERRORS},
        ),
        "delete": extend_schema(
            operation_id=f"{prefix}_delete",
            tags=["associations"],
            summary=f"Unlink a {right} from a {left}",
            responses={204: None, **ERRORS},
        ),
    }


class ContactCompanyInput(StrictSerializer):
    company = serializers.PrimaryKeyRelatedField(queryset=Company.objects.all())
    primary = serializers.BooleanField(
        default=False, help_text="Make it the contact's primary company."
    )

    class Meta:
        ref_name = "ContactCompanyCreate"


class DealInput(StrictSerializer):
    deal = serializers.PrimaryKeyRelatedField(queryset=Deal.objects.all())

    class Meta:
        ref_name = "DealLinkCreate"


class TicketInput(StrictSerializer):
    ticket = serializers.PrimaryKeyRelatedField(queryset=Ticket.objects.all())

    class Meta:
        ref_name = "TicketLinkCreate"


_CONTACT_COMPANY = _association_schema(
    "contact", "company", ContactCompanyLinkOutput, ContactCompanyInput
)
_CONTACT_DEAL = _association_schema("contact", "deal", DealLinkOutput, DealInput)
_CONTACT_TICKET = _association_schema(
    "contact", "ticket", TicketLinkOutput, TicketInput
)
_COMPANY_DEAL = _association_schema("company", "deal", DealLinkOutput, DealInput)
_COMPANY_TICKET = _association_schema(
    "company", "ticket", TicketLinkOutput, TicketInput
)


class ContactCompanyListApi(APIView):
    InputSerializer = ContactCompanyInput
    OutputSerializer = ContactCompanyLinkOutput

    @_CONTACT_COMPANY["get"]
    def get(self, request: Request, pk: int) -> Response:
        contact = selectors.contact_get_for_user(request.user, pk)
        links = selectors.association_links(contact, "company")
        return paginated(request, self, links, self.OutputSerializer)

    @_CONTACT_COMPANY["post"]
    def post(self, request: Request, pk: int) -> Response:
        contact = selectors.contact_get_for_user(request.user, pk, write=True)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        link = services.contact_company_associate(
            contact=contact, **serializer.validated_data
        )
        return _link_response(link, self.OutputSerializer)


class ContactCompanyDeleteApi(APIView):
    @_CONTACT_COMPANY["delete"]
    def delete(self, request: Request, pk: int, company_id: int) -> Response:
        contact = selectors.contact_get_for_user(request.user, pk, write=True)
        link = selectors.association_link_get(contact, "company", company_id)
        services.association_delete(link=link)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CompanyContactListApi(APIView):
    OutputSerializer = CompanyContactLinkOutput

    @extend_schema(
        operation_id="company_contact_list",
        tags=["associations"],
        summary="The contacts of a company, primary ones first",
        parameters=PAGE_PARAMETERS,
        responses={
            200: paginated_schema(OutputSerializer, "CompanyContactLink"),
            **ERRORS,
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        company = selectors.company_get_for_user(request.user, pk)
        links = selectors.association_links(company, "contact")
        return paginated(request, self, links, self.OutputSerializer)


# A contact's or company's deals or tickets: list them, link one more, unlink one.
# Subclasses name the two kinds and carry their own schema (no docstrings here: they would
# become every subclass's description in the OpenAPI schema).
class RecordLinkListApi(APIView):
    left: str
    right: str
    InputSerializer: type[StrictSerializer]
    OutputSerializer: type[serializers.Serializer[Any]]

    def get(self, request: Request, pk: int) -> Response:
        record = _LEFT_GETTERS[self.left](request.user, pk)
        links = selectors.association_links(record, self.right)
        return paginated(request, self, links, self.OutputSerializer)

    def post(self, request: Request, pk: int) -> Response:
        record = _LEFT_GETTERS[self.left](request.user, pk, write=True)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        link = services.association_create(
            left=record, right=serializer.validated_data[self.right]
        )
        return _link_response(link, self.OutputSerializer)


class RecordLinkDeleteApi(APIView):
    left: str
    right: str

    def delete(self, request: Request, pk: int, other_id: int) -> Response:
        record = _LEFT_GETTERS[self.left](request.user, pk, write=True)
        link = selectors.association_link_get(record, self.right, other_id)
        services.association_delete(link=link)
        return Response(status=status.HTTP_204_NO_CONTENT)


_LEFT_GETTERS: dict[str, Any] = {
    "contact": selectors.contact_get_for_user,
    "company": selectors.company_get_for_user,
}


@extend_schema_view(get=_CONTACT_DEAL["get"], post=_CONTACT_DEAL["post"])
class ContactDealListApi(RecordLinkListApi):
    left, right = "contact", "deal"
    InputSerializer = DealInput
    OutputSerializer = DealLinkOutput


@extend_schema_view(delete=_CONTACT_DEAL["delete"])
class ContactDealDeleteApi(RecordLinkDeleteApi):
    left, right = "contact", "deal"


@extend_schema_view(get=_CONTACT_TICKET["get"], post=_CONTACT_TICKET["post"])
class ContactTicketListApi(RecordLinkListApi):
    left, right = "contact", "ticket"
    InputSerializer = TicketInput
    OutputSerializer = TicketLinkOutput


@extend_schema_view(delete=_CONTACT_TICKET["delete"])
class ContactTicketDeleteApi(RecordLinkDeleteApi):
    left, right = "contact", "ticket"


@extend_schema_view(get=_COMPANY_DEAL["get"], post=_COMPANY_DEAL["post"])
class CompanyDealListApi(RecordLinkListApi):
    left, right = "company", "deal"
    InputSerializer = DealInput
    OutputSerializer = DealLinkOutput


@extend_schema_view(delete=_COMPANY_DEAL["delete"])
class CompanyDealDeleteApi(RecordLinkDeleteApi):
    left, right = "company", "deal"


@extend_schema_view(get=_COMPANY_TICKET["get"], post=_COMPANY_TICKET["post"])
class CompanyTicketListApi(RecordLinkListApi):
    left, right = "company", "ticket"
    InputSerializer = TicketInput
    OutputSerializer = TicketLinkOutput


@extend_schema_view(delete=_COMPANY_TICKET["delete"])
class CompanyTicketDeleteApi(RecordLinkDeleteApi):
    left, right = "company", "ticket"

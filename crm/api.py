"""REST API for CRM records: contacts, companies, deals, tickets, pipelines (A1, R1-R5).

Their associations are crm/api_links.py's; the shapes they answer with are
crm/serializers.py's. One APIView per URL (deals and tickets share theirs, configured by
kind), one operation per HTTP method, each with its own input serializer:
input is validated strictly (unknown fields are refused), writes go through
`crm.services`, reads through `crm.selectors` and its access helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.utils import (
    extend_schema,
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
from config.schema import KindSchema
from crm import selectors, services
from crm.models import (
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
from crm.serializers import (
    CompanyLinkOutput,
    CompanyOutput,
    ContactLinkOutput,
    ContactOutput,
    DealDetailOutput,
    DealOutput,
    PipelineRecordFilter,
    RecordFilter,
    TicketDetailOutput,
    TicketOutput,
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


def _filters(serializer_class: type[RecordFilter], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# Contacts.


def _contact_input(ref_name: str, *, create: bool) -> type[StrictSerializer]:
    """A contact's input: on create its addresses are required, on update nothing is."""
    emails = serializers.ListField(
        child=EmailAddressField(),
        allow_empty=False,
        required=create,
        help_text="The first address is the primary one."
        if create
        else "Replaces all addresses; the first is the primary one.",
    )
    fields = {
        "emails": emails,
        "first_name": serializers.CharField(
            max_length=150, required=False, allow_blank=True
        ),
        "last_name": serializers.CharField(
            max_length=150, required=False, allow_blank=True
        ),
        "owner": _owner_field(),
        "marketing_status": serializers.ChoiceField(
            choices=MarketingStatus.choices, required=False
        ),
        "legal_basis": serializers.ChoiceField(
            choices=LegalBasis.choices, required=False, allow_blank=True
        ),
        "Meta": type("Meta", (), {"ref_name": ref_name}),
    }
    return type(f"{ref_name}Input", (StrictSerializer,), fields)


class ContactListApi(APIView):
    InputSerializer = _contact_input("ContactCreate", create=True)

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
    InputSerializer = _contact_input("ContactUpdate", create=False)

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


# Deals and tickets: a pipeline and one of its stages (R3). One set of views serves both,
# configured by kind: `as_view(kind=DEALS)` or `as_view(kind=TICKETS)`.


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


def _deal_fields() -> dict[str, serializers.Field[Any, Any, Any, Any]]:
    return {
        "amount": serializers.DecimalField(
            max_digits=14, decimal_places=2, required=False, allow_null=True
        ),
        "close_date": serializers.DateField(required=False, allow_null=True),
    }


def _ticket_fields() -> dict[str, serializers.Field[Any, Any, Any, Any]]:
    return {
        "priority": serializers.ChoiceField(
            choices=TicketPriority.choices, required=False
        )
    }


def _pipeline_record_input(
    ref_name: str,
    kind: str,
    title: str,
    own_fields: Callable[[], dict[str, serializers.Field[Any, Any, Any, Any]]],
    *,
    create: bool,
) -> type[StrictSerializer]:
    """The input of a deal or ticket: on create (`create`) the title, pipeline and stage
    are required; on update every field is optional."""
    optional: dict[str, Any] = {} if create else {"required": False}
    fields = {
        title: serializers.CharField(max_length=255, **optional),
        "pipeline": _pipeline_field(kind, required=create),
        "stage": _stage_field(required=create),
        **own_fields(),
        "owner": _owner_field(),
    }
    meta = type("Meta", (), {"ref_name": ref_name})
    return type(f"{ref_name}Input", (StrictSerializer,), {**fields, "Meta": meta})


@dataclass(frozen=True)
class PipelineRecordKind:
    """What the API of deals and that of tickets differ in. Paths, tags and operation
    ids are named after `plural`."""

    plural: str
    singular: str
    searched_by: str
    output: type[serializers.Serializer[Any]]
    detail_output: type[serializers.Serializer[Any]]
    create_input: type[StrictSerializer]
    update_input: type[StrictSerializer]
    search: Callable[..., QuerySet[Any]]
    get_for_user: Callable[..., Any]
    create: Callable[..., Any]

    def detail(self, record: Deal | Ticket) -> dict[str, Any]:
        """A deal or ticket as read alone: also its contacts and companies."""
        contacts = selectors.association_links(record, "contact")
        companies = selectors.association_links(record, "company")
        return {
            **self.output(record).data,
            "contacts": ContactLinkOutput(contacts, many=True).data,
            "companies": CompanyLinkOutput(companies, many=True).data,
        }


DEALS = PipelineRecordKind(
    plural="deals",
    singular="deal",
    searched_by="name",
    output=DealOutput,
    detail_output=DealDetailOutput,
    create_input=_pipeline_record_input(
        "DealCreate", PipelineKind.DEAL, "name", _deal_fields, create=True
    ),
    update_input=_pipeline_record_input(
        "DealUpdate", PipelineKind.DEAL, "name", _deal_fields, create=False
    ),
    search=selectors.deal_list,
    get_for_user=selectors.deal_get_for_user,
    create=services.deal_create,
)
TICKETS = PipelineRecordKind(
    plural="tickets",
    singular="ticket",
    searched_by="subject",
    output=TicketOutput,
    detail_output=TicketDetailOutput,
    create_input=_pipeline_record_input(
        "TicketCreate", PipelineKind.TICKET, "subject", _ticket_fields, create=True
    ),
    update_input=_pipeline_record_input(
        "TicketUpdate", PipelineKind.TICKET, "subject", _ticket_fields, create=False
    ),
    search=selectors.ticket_list,
    get_for_user=selectors.ticket_get_for_user,
    create=services.ticket_create,
)


# No docstrings on the views configured by kind: a view's docstring becomes the
# description of every operation of every kind in the OpenAPI schema.
class PipelineRecordListApi(APIView):
    kind = DEALS
    schema = KindSchema()

    def operation(self, method: str) -> Any:
        kind = self.kind
        if method == "get":
            return extend_schema(
                operation_id=f"{kind.plural}_list",
                tags=[kind.plural],
                summary=f"{kind.plural.title()}, searched by {kind.searched_by}",
                parameters=[PipelineRecordFilter, *PAGE_PARAMETERS],
                responses={
                    200: paginated_schema(kind.output, kind.singular.title()),
                    **ERRORS,
                },
            )
        return extend_schema(
            operation_id=f"{kind.plural}_create",
            tags=[kind.plural],
            request=kind.create_input,
            responses={201: kind.detail_output, **ERRORS},
        )

    def get(self, request: Request) -> Response:
        records = self.kind.search(**_filters(PipelineRecordFilter, request))
        return paginated(request, self, records, self.kind.output)

    def post(self, request: Request) -> Response:
        serializer = self.kind.create_input(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = self.kind.create(
            **_with_default_owner(request, serializer.validated_data)
        )
        return Response(self.kind.detail(record), status=status.HTTP_201_CREATED)


class PipelineRecordDetailApi(APIView):
    kind = DEALS
    schema = KindSchema()

    def operation(self, method: str) -> Any:
        kind = self.kind
        if method == "get":
            return extend_schema(
                operation_id=f"{kind.plural}_read",
                tags=[kind.plural],
                summary=f"A {kind.singular} with its contacts and companies",
                responses={200: kind.detail_output, **ERRORS},
            )
        if method == "patch":
            return extend_schema(
                operation_id=f"{kind.plural}_update",
                tags=[kind.plural],
                request=kind.update_input,
                responses={200: kind.detail_output, **ERRORS},
            )
        return extend_schema(
            operation_id=f"{kind.plural}_delete",
            tags=[kind.plural],
            responses={204: None, **ERRORS},
        )

    def get(self, request: Request, pk: int) -> Response:
        record = self.kind.get_for_user(request.user, pk)
        return Response(self.kind.detail(record))

    def patch(self, request: Request, pk: int) -> Response:
        record = self.kind.get_for_user(request.user, pk, write=True)
        serializer = self.kind.update_input(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.record_update(record=record, data=dict(serializer.validated_data))
        record = self.kind.get_for_user(request.user, pk)
        return Response(self.kind.detail(record))

    def delete(self, request: Request, pk: int) -> Response:
        record = self.kind.get_for_user(request.user, pk, write=True)
        services.record_delete(record=record)
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

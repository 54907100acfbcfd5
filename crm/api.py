"""REST API for CRM records: contacts, companies, deals, tickets, pipelines (A1, R1-R5).

Their associations are crm/api_links.py's; the shapes they answer with are
crm/serializers.py's. One set of views serves every kind of record, configured by kind
(`as_view(kind=CONTACTS)`), one operation per HTTP method, each with its own input
serializer: input is validated strictly (unknown fields are refused), writes go through
`crm.services`, reads through `crm.selectors` and its access helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import (
    EmailAddressField,
    StrictSerializer,
    caller,
    list_operation,
    named_serializer,
    operation,
    paginated,
    validated,
)
from config.schema import KindSchema
from crm import kinds, models, selectors
from crm.serializers import (
    CompanyLinkOutput,
    CompanyOutput,
    ContactLinkOutput,
    ContactOutput,
    DealDetailOutput,
    DealOutput,
    PipelineFilter,
    PipelineOutput,
    PipelineRecordFilter,
    RecordFilter,
    TicketDetailOutput,
    TicketOutput,
)

User = get_user_model()
Fields = dict[str, serializers.Field[Any, Any, Any, Any]]

# The fields of each kind's input: all of them on update are optional (`create` False).


def _owner_field() -> serializers.PrimaryKeyRelatedField[Any]:
    return serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        allow_null=True,
        required=False,
        help_text="A user id; null for no owner. Left out on create: the caller.",
    )


def _contact_fields(create: bool) -> Fields:
    """On create its addresses are required, on update nothing is."""
    return {
        "emails": serializers.ListField(
            child=EmailAddressField(),
            allow_empty=False,
            required=create,
            help_text="The first address is the primary one."
            if create
            else "Replaces all addresses; the first is the primary one.",
        ),
        "first_name": serializers.CharField(
            max_length=150, required=False, allow_blank=True
        ),
        "last_name": serializers.CharField(
            max_length=150, required=False, allow_blank=True
        ),
        "owner": _owner_field(),
        "marketing_status": serializers.ChoiceField(
            choices=models.MarketingStatus.choices, required=False
        ),
        "legal_basis": serializers.ChoiceField(
            choices=models.LegalBasis.choices, required=False, allow_blank=True
        ),
    }


DOMAIN_PATTERN = (
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def _company_fields(create: bool) -> Fields:
    return {
        "name": serializers.CharField(max_length=255, required=create),
        "domain": serializers.RegexField(
            DOMAIN_PATTERN,
            required=create,
            error_messages={"invalid": "Enter a domain such as acme.com."},
            help_text="Stored lower-case; unique.",
        ),
        "owner": _owner_field(),
    }


def _pipeline_record_fields(kind: str, title: str, create: bool) -> Fields:
    """What deals and tickets share (R3): on create the title, pipeline and stage are
    required."""
    return {
        title: serializers.CharField(max_length=255, required=create),
        "pipeline": serializers.PrimaryKeyRelatedField(
            queryset=models.Pipeline.objects.filter(kind=kind), required=create
        ),
        "stage": serializers.PrimaryKeyRelatedField(
            queryset=models.Stage.objects.select_related("pipeline"),
            required=create,
            help_text="A stage of the pipeline; another pipeline's is `invalid_stage`.",
        ),
    }


def _deal_fields(create: bool) -> Fields:
    return {
        **_pipeline_record_fields(models.PipelineKind.DEAL, "name", create),
        "amount": serializers.DecimalField(
            max_digits=14, decimal_places=2, required=False, allow_null=True
        ),
        "close_date": serializers.DateField(required=False, allow_null=True),
        "owner": _owner_field(),
    }


def _ticket_fields(create: bool) -> Fields:
    return {
        **_pipeline_record_fields(models.PipelineKind.TICKET, "subject", create),
        "priority": serializers.ChoiceField(
            choices=models.TicketPriority.choices, required=False
        ),
        "owner": _owner_field(),
    }


@dataclass(frozen=True)
class ApiKind:
    """What the API adds to a kind of record (crm/kinds.py). Paths, tags and operation
    ids are named after its plural; the input components after its name
    (`ContactCreate`, `ContactUpdate`)."""

    kind: kinds.Kind
    searched_by: str
    output: type[serializers.Serializer[Any]]
    input_fields: Callable[[bool], Fields]  # the input's fields; on create if True
    # Deals and tickets read alone show their links too (`DealDetail`).
    detail_output: type[serializers.Serializer[Any]] | None = None
    create_summary: str | None = None
    create_with: dict[str, Any] = field(default_factory=dict)  # more for the service

    @property
    def plural(self) -> str:
        return self.kind.plural

    @property
    def singular(self) -> str:
        return self.kind.name

    @property
    def filter(self) -> type[RecordFilter]:
        return RecordFilter if self.detail_output is None else PipelineRecordFilter

    @cached_property
    def create_input(self) -> type[StrictSerializer]:
        return self._input("Create", create=True)

    @cached_property
    def update_input(self) -> type[StrictSerializer]:
        return self._input("Update", create=False)

    def _input(self, verb: str, *, create: bool) -> type[StrictSerializer]:
        ref_name = f"{self.singular.title()}{verb}"
        fields = self.input_fields(create)
        if not create:
            fields["archived"] = serializers.BooleanField(
                required=False,
                help_text="true archives the record, false restores it (V5); who may "
                "is who may edit it.",
            )
        return named_serializer(ref_name, StrictSerializer, fields)

    def detail(self, record: Any) -> dict[str, Any]:
        """A record as read alone."""
        data = self.output(record).data
        if self.detail_output is None:
            return data
        contacts = selectors.association_links(record, "contact")
        companies = selectors.association_links(record, "company")
        return {
            **data,
            "contacts": ContactLinkOutput(contacts, many=True).data,
            "companies": CompanyLinkOutput(companies, many=True).data,
        }


CONTACTS = ApiKind(
    kinds.CONTACT,
    "name or any email",
    ContactOutput,
    _contact_fields,
    create_summary="Create a contact; it joins its company by email domain (R5)",
    create_with={"created_via": models.ContactSource.API},
)
COMPANIES = ApiKind(kinds.COMPANY, "name or domain", CompanyOutput, _company_fields)
DEALS = ApiKind(kinds.DEAL, "name", DealOutput, _deal_fields, DealDetailOutput)
TICKETS = ApiKind(
    kinds.TICKET, "subject", TicketOutput, _ticket_fields, TicketDetailOutput
)


# No docstrings on the views configured by kind: a view's docstring becomes the
# description of every operation of every kind in the OpenAPI schema.
class RecordListApi(APIView):
    kind = CONTACTS
    schema = KindSchema()

    def operation(self, method: str) -> Any:
        kind, tag = self.kind, self.kind.plural
        if method == "get":
            return list_operation(
                f"{tag}_list",
                kind.output,
                filters=[kind.filter],
                tag=tag,
                summary=f"{tag.title()}, searched by {kind.searched_by}",
            )
        return operation(
            f"{tag}_create",
            {201: kind.detail_output or kind.output},
            tag=tag,
            summary=kind.create_summary,
            request=kind.create_input,
        )

    def get(self, request: Request) -> Response:
        filters = validated(self.kind.filter, request.query_params)
        records = self.kind.kind.search(**filters)
        return paginated(request, self, records, self.kind.output)

    def post(self, request: Request) -> Response:
        data = validated(self.kind.create_input, request.data)
        record = self.kind.kind.create(
            **{"owner": caller(request), **data}, **self.kind.create_with
        )
        record = self.kind.kind.get_for_user(request.user, record.pk)
        return Response(self.kind.detail(record), status=status.HTTP_201_CREATED)


class RecordDetailApi(APIView):
    kind = CONTACTS
    schema = KindSchema()

    def operation(self, method: str) -> Any:
        kind, tag = self.kind, self.kind.plural
        output = kind.detail_output or kind.output
        if method == "get":
            linked = f"A {kind.singular} with its contacts and companies"
            summary = linked if kind.detail_output else None
            return operation(f"{tag}_read", {200: output}, tag=tag, summary=summary)
        if method == "patch":
            return operation(
                f"{tag}_update", {200: output}, tag=tag, request=kind.update_input
            )
        return operation(f"{tag}_delete", {204: None}, tag=tag)

    def get(self, request: Request, pk: int) -> Response:
        return Response(self._read(request, pk))

    def patch(self, request: Request, pk: int) -> Response:
        record = self.kind.kind.get_for_user(request.user, pk, write=True)
        self.kind.kind.update(record, validated(self.kind.update_input, request.data))
        return Response(self._read(request, pk))

    def delete(self, request: Request, pk: int) -> Response:
        self.kind.kind.delete(self.kind.kind.get_for_user(request.user, pk, write=True))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _read(self, request: Request, pk: int) -> dict[str, Any]:
        return self.kind.detail(self.kind.kind.get_for_user(request.user, pk))


# Pipelines.


class PipelineListApi(APIView):
    @list_operation(
        "pipelines_list",
        PipelineOutput,
        filters=[PipelineFilter],
        tag="pipelines",
        summary="Deal and ticket pipelines with their open and closed stages",
    )
    def get(self, request: Request) -> Response:
        filters = validated(PipelineFilter, request.query_params)
        pipelines = selectors.pipeline_list(**filters)
        return paginated(request, self, pipelines, PipelineOutput)

"""REST API for associations between CRM records (R4): list, link, unlink.

One set of views serves every pair of kinds, configured by `as_view(link=...)` over
RECORD_LINKS, as the timeline views are by kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Model
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import (
    StrictSerializer,
    list_operation,
    operation,
    paginated,
    validated,
)
from config.schema import KindSchema
from crm import selectors, services
from crm.models import Company, Deal, Ticket
from crm.serializers import (
    CompanyContactLinkOutput,
    ContactCompanyLinkOutput,
    DealLinkOutput,
    TicketLinkOutput,
)

# Associations (R4): a record's links to records of one other kind. One set of views
# serves every pair, configured by `as_view(link=...)`. Changing links needs write access
# to the left-hand record.


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


_LEFT_GETTERS: dict[str, Callable[..., Any]] = {
    "contact": selectors.contact_get_for_user,
    "company": selectors.company_get_for_user,
}


_PLURALS = {
    "contact": "contacts",
    "company": "companies",
    "deal": "deals",
    "ticket": "tickets",
}


@dataclass(frozen=True)
class RecordLink:
    """The links of a `left` record (contact or company) to `right` records, under
    /{left}s/<pk>/{right}s/ and unlinked at /{left}s/<pk>/{right}s/<other_param>/."""

    left: str
    right: str
    output: type[Any]  # a link's serializer, named by its Meta.ref_name
    input: type[StrictSerializer]
    # The path names the other record's id `company_id` under a contact's companies (as
    # the API first named it), `other_id` elsewhere.
    other_param: str = "other_id"

    @property
    def path(self) -> str:
        return f"{_PLURALS[self.left]}/<int:pk>/{_PLURALS[self.right]}/"

    @property
    def name(self) -> str:
        return f"api-{self.left}-{_PLURALS[self.right]}"

    def get_left(self, request: Request, pk: int, *, write: bool = False) -> Any:
        return _LEFT_GETTERS[self.left](request.user, pk, write=write)

    def create(self, record: Any, data: dict[str, Any]) -> Model:
        if (self.left, self.right) == ("contact", "company"):
            # A contact's company may also become its primary one (R5).
            return services.contact_company_associate(contact=record, **data)
        return services.association_create(left=record, right=data[self.right])

    def operation(self, method: str) -> Any:
        prefix, left, right = f"{self.left}_{self.right}", self.left, self.right
        if method == "get":
            return list_operation(
                f"{prefix}_list",
                self.output,
                tag="associations",
                summary=f"The {right} records linked to a {left}, newest first",
            )
        if method == "post":
            return operation(
                f"{prefix}_create",
                {201: self.output},
                tag="associations",
                summary=f"Link a {right} to a {left}",
                request=self.input,
            )
        return operation(
            f"{prefix}_delete",
            {204: None},
            tag="associations",
            summary=f"Unlink a {right} from a {left}",
        )


RECORD_LINKS = [
    RecordLink(
        "contact",
        "company",
        ContactCompanyLinkOutput,
        ContactCompanyInput,
        other_param="company_id",
    ),
    RecordLink("contact", "deal", DealLinkOutput, DealInput),
    RecordLink("contact", "ticket", TicketLinkOutput, TicketInput),
    RecordLink("company", "deal", DealLinkOutput, DealInput),
    RecordLink("company", "ticket", TicketLinkOutput, TicketInput),
]


class RecordLinkListApi(APIView):
    link = RECORD_LINKS[0]
    schema = KindSchema()

    def operation(self, method: str) -> Any:
        return self.link.operation(method)

    def get(self, request: Request, pk: int) -> Response:
        record = self.link.get_left(request, pk)
        links = selectors.association_links(record, self.link.right)
        return paginated(request, self, links, self.link.output)

    def post(self, request: Request, pk: int) -> Response:
        record = self.link.get_left(request, pk, write=True)
        data = validated(self.link.input, request.data)
        # A link changes both records: the caller must be allowed to change each.
        selectors.record_check_writable(request.user, data[self.link.right])
        link = self.link.create(record, data)
        return Response(self.link.output(link).data, status=status.HTTP_201_CREATED)


class RecordLinkDeleteApi(APIView):
    link = RECORD_LINKS[0]
    schema = KindSchema()

    def operation(self, method: str) -> Any:
        return self.link.operation(method)

    def delete(self, request: Request, pk: int, **other: int) -> Response:
        other_id = other[self.link.other_param]
        record = self.link.get_left(request, pk, write=True)
        link = selectors.association_link_get(record, self.link.right, other_id)
        selectors.record_check_writable(request.user, getattr(link, self.link.right))
        services.association_delete(link=link)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CompanyContactListApi(APIView):
    OutputSerializer = CompanyContactLinkOutput

    @list_operation(
        "company_contact_list",
        OutputSerializer,
        tag="associations",
        summary="The contacts of a company, primary ones first",
    )
    def get(self, request: Request, pk: int) -> Response:
        company = selectors.company_get_for_user(request.user, pk)
        links = selectors.association_links(company, "contact")
        return paginated(request, self, links, self.OutputSerializer)

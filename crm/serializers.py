"""The API's shapes of CRM records: small references, association links, full records
and the list filters. Shared by crm/api.py and crm/api_links.py; component names come
from each serializer's Meta.ref_name.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.parsers import INT_MAX
from crm import selectors
from crm.models import (
    Contact,
    ContactSource,
    LegalBasis,
    MarketingStatus,
    TicketPriority,
)

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


def _link_output(
    field: str, ref: type[serializers.Serializer[Any]], ref_name: str
) -> type[serializers.Serializer[Any]]:
    """A link from the record in the path: the other record (`field`) and when the link
    was made."""
    meta = type("Meta", (), {"ref_name": ref_name})
    fields = {field: ref(), "created_at": serializers.DateTimeField(), "Meta": meta}
    return type(f"{ref_name}Output", (serializers.Serializer,), fields)


ContactLinkOutput = _link_output("contact", ContactRef, "ContactLink")
CompanyLinkOutput = _link_output("company", CompanyRef, "CompanyLink")
DealLinkOutput = _link_output("deal", DealRef, "DealLink")
TicketLinkOutput = _link_output("ticket", TicketRef, "TicketLink")


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
    owner = serializers.IntegerField(
        required=False, min_value=1, max_value=INT_MAX, help_text="Owner's user id."
    )

    class Meta:
        ref_name = "RecordFilter"


class PipelineRecordFilter(RecordFilter):
    pipeline = serializers.IntegerField(
        required=False, min_value=1, max_value=INT_MAX, help_text="Pipeline id."
    )

    class Meta:
        ref_name = "PipelineRecordFilter"

"""The API's shapes of CRM records: small references, association links, full records
and the list filters. Shared by crm/api.py and crm/api_links.py; component names come
from each serializer's Meta.ref_name.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.serializers import (
    BooleanField,
    CharField,
    ChoiceField,
    DateField,
    DateTimeField,
    DecimalField,
    EmailField,
    IntegerField,
)

from config.api import named_serializer, record_shape
from config.parsers import INT_MAX
from crm import selectors
from crm.models import (
    Contact,
    ContactSource,
    LegalBasis,
    MarketingStatus,
    PipelineKind,
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


CompanyRef = record_shape("CompanyRef", name=CharField, domain=CharField)
ContactRef = record_shape("ContactRef", full_name=CharField, primary_email=EmailField)
StageRef = record_shape("StageRef", name=CharField, is_closed=BooleanField)
PipelineRef = record_shape("PipelineRef", name=CharField)
DealRef = record_shape("DealRef", name=CharField, pipeline=PipelineRef, stage=StageRef)
TicketRef = record_shape(
    "TicketRef", subject=CharField, pipeline=PipelineRef, stage=StageRef
)

StageOutput = record_shape(
    "Stage", name=CharField, position=IntegerField, is_closed=BooleanField
)
PipelineOutput = record_shape(
    "Pipeline",
    name=CharField,
    kind=partial(ChoiceField, choices=PipelineKind.choices),
    stages=partial(StageOutput, many=True),
)


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
    fields = {field: ref(), "created_at": serializers.DateTimeField()}
    return named_serializer(ref_name, serializers.Serializer, fields)


ContactLinkOutput = _link_output("contact", ContactRef, "ContactLink")
CompanyLinkOutput = _link_output("company", CompanyRef, "CompanyLink")
DealLinkOutput = _link_output("deal", DealRef, "DealLink")
TicketLinkOutput = _link_output("ticket", TicketRef, "TicketLink")


# Full records.


class ArchivedField(serializers.BooleanField):
    """`archived`: true once the record is archived (V5), read from `archived_at` (the
    whole record is its source: DRF answers null for a None attribute)."""

    def __init__(self) -> None:
        super().__init__(
            source="*",
            read_only=True,
            help_text="Archived: left out of lists and search unless asked for "
            "(`?archived=true`); kept with its links and timeline. PATCH "
            "`archived` to archive or restore it.",
        )

    def to_representation(self, value: Any) -> bool:
        return value.archived_at is not None


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
    archived = ArchivedField()
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
    archived = ArchivedField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Company"


def _pipeline_record_output(
    ref_name: str,
    title: str,
    **own: Callable[[], serializers.Field[Any, Any, Any, Any]],
) -> type[serializers.Serializer[Any]]:
    """A deal or ticket: its `title` field, pipeline and stage, `own` fields, owner."""
    return record_shape(
        ref_name,
        **{title: CharField},
        pipeline=PipelineRef,
        stage=StageRef,
        **own,
        owner=partial(UserRef, allow_null=True),
        archived=ArchivedField,
        created_at=DateTimeField,
        updated_at=DateTimeField,
    )


def _with_links(
    output: type[serializers.Serializer[Any]], ref_name: str
) -> type[serializers.Serializer[Any]]:
    """A deal or ticket as read alone: also the contacts and companies linked to it."""
    links = {
        "contacts": ContactLinkOutput(many=True),
        "companies": CompanyLinkOutput(many=True),
    }
    return named_serializer(ref_name, output, links)


DealOutput = _pipeline_record_output(
    "Deal",
    "name",
    amount=partial(DecimalField, max_digits=14, decimal_places=2, allow_null=True),
    close_date=partial(DateField, allow_null=True),
)
TicketOutput = _pipeline_record_output(
    "Ticket", "subject", priority=partial(ChoiceField, choices=TicketPriority.choices)
)
DealDetailOutput = _with_links(DealOutput, "DealDetail")
TicketDetailOutput = _with_links(TicketOutput, "TicketDetail")


class RecordFilter(serializers.Serializer[Any]):
    q = serializers.CharField(
        required=False, allow_blank=True, help_text="Search words, case-insensitive."
    )
    owner = serializers.IntegerField(
        required=False, min_value=1, max_value=INT_MAX, help_text="Owner's user id."
    )
    archived = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: the archived records only; false (the default): the others.",
    )

    class Meta:
        ref_name = "RecordFilter"


class PipelineRecordFilter(RecordFilter):
    pipeline = serializers.IntegerField(
        required=False, min_value=1, max_value=INT_MAX, help_text="Pipeline id."
    )

    class Meta:
        ref_name = "PipelineRecordFilter"


class PipelineFilter(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=PipelineKind.choices, required=False)

    class Meta:
        ref_name = "PipelineFilter"

"""The Django admin for CRM records: search, filters, and associations as inlines."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from crm.models import (
    Company,
    CompanyDeal,
    CompanyTicket,
    Contact,
    ContactCompany,
    ContactDeal,
    ContactEmail,
    ContactTicket,
    Deal,
    Pipeline,
    Stage,
    Ticket,
)


class ContactEmailForm(forms.ModelForm):
    class Meta:
        model = ContactEmail
        fields = ["contact", "email", "is_primary"]

    def clean_email(self) -> str:
        # Stored lower-case (a check constraint insists), so unique case-insensitively (R1).
        return self.cleaned_data["email"].strip().lower()


class CompanyForm(forms.ModelForm):
    class Meta:
        model = Company
        fields = ["name", "domain", "owner"]

    def clean_domain(self) -> str:
        return self.cleaned_data["domain"].strip().lower()


class StageInPipelineForm(forms.ModelForm):
    """Deals and tickets: the stage must be one of the chosen pipeline's (R3)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A stage's label names its pipeline: load them together for the dropdown.
        field = self.fields["stage"]
        field.queryset = field.queryset.select_related("pipeline")  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        pipeline, stage = cleaned.get("pipeline"), cleaned.get("stage")
        if (
            pipeline is not None
            and stage is not None
            and stage.pipeline_id != pipeline.pk
        ):
            raise ValidationError(
                {"stage": f"This stage is not in the pipeline “{pipeline.name}”."},
                code="invalid_stage",
            )
        return cleaned


class DealForm(StageInPipelineForm):
    class Meta:
        model = Deal
        fields = ["name", "pipeline", "stage", "amount", "close_date", "owner"]


class TicketForm(StageInPipelineForm):
    class Meta:
        model = Ticket
        fields = ["subject", "pipeline", "stage", "priority", "owner"]


class ContactEmailInline(admin.TabularInline):
    model = ContactEmail
    form = ContactEmailForm
    extra = 0
    fields = ["email", "is_primary", "created_at"]
    readonly_fields = ["created_at"]


class ContactCompanyInline(admin.TabularInline):
    model = ContactCompany
    extra = 0
    autocomplete_fields = ["company", "contact"]
    readonly_fields = ["created_at"]


class ContactDealInline(admin.TabularInline):
    model = ContactDeal
    extra = 0
    autocomplete_fields = ["contact", "deal"]
    readonly_fields = ["created_at"]


class ContactTicketInline(admin.TabularInline):
    model = ContactTicket
    extra = 0
    autocomplete_fields = ["contact", "ticket"]
    readonly_fields = ["created_at"]


class CompanyDealInline(admin.TabularInline):
    model = CompanyDeal
    extra = 0
    autocomplete_fields = ["company", "deal"]
    readonly_fields = ["created_at"]


class CompanyTicketInline(admin.TabularInline):
    model = CompanyTicket
    extra = 0
    autocomplete_fields = ["company", "ticket"]
    readonly_fields = ["created_at"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "primary_email_display",
        "owner",
        "marketing_status",
        "legal_basis",
        "created_via",
        "created_at",
    ]
    list_select_related = ["owner"]
    # Any of the contact's addresses finds it, not only the primary one (R1).
    search_fields = ["first_name", "last_name", "emails__email"]
    list_filter = ["marketing_status", "legal_basis", "created_via", "owner"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [
        ContactEmailInline,
        ContactCompanyInline,
        ContactDealInline,
        ContactTicketInline,
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Contact]:
        return super().get_queryset(request).prefetch_related("emails")

    @admin.display(description="Primary email")
    def primary_email_display(self, obj: Contact) -> str:
        return obj.primary_email


@admin.register(ContactEmail)
class ContactEmailAdmin(admin.ModelAdmin):
    form = ContactEmailForm
    list_display = ["email", "contact", "is_primary", "created_at"]
    list_select_related = ["contact"]
    search_fields = ["email", "contact__first_name", "contact__last_name"]
    list_filter = ["is_primary"]
    autocomplete_fields = ["contact"]


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    form = CompanyForm
    list_display = ["name", "domain", "owner", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "domain"]
    list_filter = ["owner"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ContactCompanyInline, CompanyDealInline, CompanyTicketInline]


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    fields = ["name", "position", "is_closed"]


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ["name", "kind"]
    search_fields = ["name"]
    list_filter = ["kind"]
    inlines = [StageInline]


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["name", "pipeline", "position", "is_closed"]
    list_select_related = ["pipeline"]
    search_fields = ["name", "pipeline__name"]
    list_filter = ["pipeline__kind", "pipeline", "is_closed"]
    ordering = ["pipeline", "position"]


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    form = DealForm
    list_display = ["name", "pipeline", "stage", "amount", "close_date", "owner"]
    list_select_related = ["pipeline", "stage__pipeline", "owner"]
    search_fields = ["name"]
    list_filter = ["pipeline", "stage", "stage__is_closed", "owner"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ContactDealInline, CompanyDealInline]


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketForm
    list_display = ["subject", "pipeline", "stage", "priority", "owner", "created_at"]
    list_select_related = ["pipeline", "stage__pipeline", "owner"]
    search_fields = ["subject"]
    list_filter = ["pipeline", "stage", "stage__is_closed", "priority", "owner"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ContactTicketInline, CompanyTicketInline]

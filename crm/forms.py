"""Forms of the record pages. They check the shape of the input only; the rules (unique
emails and domains, a stage of the chosen pipeline) are the services', whose errors
`add_domain_error` puts beside the field they are about."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from config.api import DomainError
from crm.models import (
    LegalBasis,
    MarketingStatus,
    Pipeline,
    PipelineKind,
    Stage,
    TicketPriority,
)

User = get_user_model()

# Which field a service's error code is about, and what to tell the rep.
DOMAIN_ERROR_FIELDS: dict[str, tuple[str, str]] = {
    "duplicate_email": ("emails", "Already an email of another contact: {emails}."),
    "email_required": ("emails", "Give at least one email address."),
    "duplicate_domain": ("domain", "Another company already has the domain {domain}."),
    "invalid_stage": ("stage", "This stage is not part of the chosen pipeline."),
}


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    field, message = DOMAIN_ERROR_FIELDS.get(exc.code, (None, "{detail}"))
    detail = exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail}
    values = {
        key: ", ".join(value) if isinstance(value, list) else value
        for key, value in detail.items()
    }
    form.add_error(field, message.format_map({"detail": exc.detail, **values}))


class OwnerField(forms.ModelChoiceField):
    def __init__(self) -> None:
        super().__init__(
            queryset=User.objects.filter(is_active=True).order_by(
                "first_name", "username"
            ),
            required=False,
            empty_label="No owner (anyone may edit)",
            help_text="The owner and super admins can change the record.",
        )

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


class EmailsField(forms.CharField):
    """Addresses one per line (or separated by commas); the first is the primary one."""

    widget = forms.Textarea(attrs={"rows": 3})

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [
            part.strip().lower() for part in text.replace(",", "\n").split() if part
        ]

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def validate(self, value: Any) -> None:
        if not value:
            raise ValidationError("Give at least one email address.", code="required")
        bad = []
        for email in value:
            try:
                validate_email(email)
            except ValidationError:
                bad.append(email)
        if bad:
            raise ValidationError(
                "Not an email address: %(bad)s.",
                code="invalid_email",
                params={"bad": ", ".join(bad)},
            )


class RecordForm(forms.Form):
    """A record's form; `initial_for` fills it from the record (a foreign key as its id)."""

    @classmethod
    def initial_for(cls, record: Any) -> dict[str, Any]:
        return {
            name: getattr(record, f"{name}_id", None)
            if hasattr(record, f"{name}_id")
            else getattr(record, name)
            for name in cls.base_fields
        }


class ContactForm(RecordForm):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    emails = EmailsField(
        label="Email addresses",
        help_text="One per line. The first is the primary address.",
    )
    owner = OwnerField()
    marketing_status = forms.ChoiceField(
        choices=MarketingStatus.choices,
        initial=MarketingStatus.NON_MARKETING,
        help_text="Marketing contacts may receive marketing email.",
    )
    legal_basis = forms.ChoiceField(
        label="Legal basis for processing",
        choices=LegalBasis.choices,
        required=False,
    )

    @classmethod
    def initial_for(cls, record: Any) -> dict[str, Any]:
        initial = super().initial_for(record)
        initial["emails"] = [item.email for item in record.emails.all()]
        return initial


class CompanyForm(RecordForm):
    name = forms.CharField(max_length=255)
    domain = forms.CharField(
        max_length=253,
        help_text="e.g. acme.com. New contacts with this domain join the company.",
    )
    owner = OwnerField()

    def clean_domain(self) -> str:
        domain = str(self.cleaned_data["domain"]).strip().lower()
        if "." not in domain or " " in domain or "@" in domain:
            raise ValidationError(
                "A domain looks like acme.com (no @, no spaces).", code="invalid"
            )
        return domain


class PipelineField(forms.ModelChoiceField):
    """The pipelines of one kind (deals or tickets)."""

    def __init__(self, kind: str) -> None:
        super().__init__(queryset=Pipeline.objects.filter(kind=kind))


class StageField(forms.ModelChoiceField):
    """Every stage of the kind's pipelines, grouped by pipeline in the select."""

    def __init__(self, kind: str, label: str) -> None:
        super().__init__(
            queryset=Stage.objects.filter(pipeline__kind=kind).select_related(
                "pipeline"
            ),
            label=label,
            help_text="Closed stages end the record's open life.",
        )

    def label_from_instance(self, obj: Any) -> str:
        state = "closed" if obj.is_closed else "open"
        return f"{obj.pipeline.name}: {obj.name} ({state})"


class DealForm(RecordForm):
    name = forms.CharField(max_length=255)
    pipeline = PipelineField(PipelineKind.DEAL)
    stage = StageField(PipelineKind.DEAL, "Stage")
    amount = forms.DecimalField(
        max_digits=14, decimal_places=2, required=False, min_value=0
    )
    close_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    owner = OwnerField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].help_text = f"In {settings.CURRENCY}."


class TicketForm(RecordForm):
    subject = forms.CharField(max_length=255)
    pipeline = PipelineField(PipelineKind.TICKET)
    stage = StageField(PipelineKind.TICKET, "Status")
    priority = forms.ChoiceField(
        choices=TicketPriority.choices, initial=TicketPriority.MEDIUM
    )
    owner = OwnerField()


class MoveForm(forms.Form):
    """A deal or ticket to another stage of its pipeline (the board)."""

    stage = forms.ModelChoiceField(queryset=Stage.objects.select_related("pipeline"))

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class MarketingStatus(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    NON_MARKETING = "non_marketing", "Non-marketing"


class LegalBasis(models.TextChoices):
    NONE = "", "None"
    # The en dashes are the labels' typography, shown to people as they are.
    LEGITIMATE_INTEREST_PROSPECT = (
        "li_prospect",
        "Legitimate interest – prospect/lead",  # noqa: RUF001
    )
    LEGITIMATE_INTEREST_CUSTOMER = (
        "li_customer",
        "Legitimate interest – existing customer",  # noqa: RUF001
    )
    CONTRACT = "contract", "Performance of a contract"
    CONSENT = "consent", "Freely given consent from contact"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class ContactSource(models.TextChoices):
    MANUAL = "manual", "Created by a user"
    LOGGED_EMAIL = "logged_email", "Logged email"
    API = "api", "API"
    IMPORT = "import", "Import"


class Company(models.Model):
    name = models.CharField(max_length=255)
    # Stored lower-case by the services; unique so R5 finds exactly one company per domain.
    domain = models.CharField(max_length=253, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_companies",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Archived records leave lists, search, pickers and boards; kept, with their
    # timeline, viewable by URL and restorable (V5).
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(domain=Lower("domain")),
                name="company_domain_lowercase",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.domain})"


class Contact(models.Model):
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_contacts",
    )
    marketing_status = models.CharField(
        max_length=20,
        choices=MarketingStatus.choices,
        default=MarketingStatus.NON_MARKETING,
    )
    legal_basis = models.CharField(
        max_length=20, choices=LegalBasis.choices, default=LegalBasis.NONE, blank=True
    )
    created_via = models.CharField(
        max_length=20, choices=ContactSource.choices, default=ContactSource.MANUAL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Archived records leave lists, search, pickers and boards; kept, with their
    # timeline, viewable by URL and restorable (V5).
    archived_at = models.DateTimeField(null=True, blank=True)

    companies = models.ManyToManyField(
        Company, through="ContactCompany", related_name="contacts", blank=True
    )
    deals: models.ManyToManyField[Deal, ContactDeal] = models.ManyToManyField(
        "Deal", through="ContactDeal", related_name="contacts"
    )
    tickets: models.ManyToManyField[Ticket, ContactTicket] = models.ManyToManyField(
        "Ticket", through="ContactTicket", related_name="contacts"
    )

    class Meta:
        ordering = ["last_name", "first_name", "id"]

    def __str__(self) -> str:
        return self.full_name or self.primary_email or f"Contact {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def primary_email(self) -> str:
        # Uses the prefetched emails when a selector prefetched them.
        for item in self.emails.all():
            if item.is_primary:
                return item.email
        return ""

    @property
    def has_legal_basis(self) -> bool:
        return bool(self.legal_basis)


class ContactEmail(models.Model):
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="emails"
    )
    # Lower-case (a check constraint keeps it so), hence unique case-insensitively (R1).
    email = models.EmailField(max_length=254, unique=True)
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_primary", "email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="contact_email_lowercase"
            ),
            models.UniqueConstraint(
                fields=["contact"],
                condition=models.Q(is_primary=True),
                name="one_primary_email_per_contact",
            ),
        ]

    def __str__(self) -> str:
        return self.email


class PipelineKind(models.TextChoices):
    DEAL = "deal", "Deals"
    TICKET = "ticket", "Tickets"


class Pipeline(models.Model):
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=PipelineKind.choices)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "name"], name="pipeline_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class Stage(models.Model):
    """A deal stage or a ticket status; `is_closed` tells open from closed (R3)."""

    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.CASCADE, related_name="stages"
    )
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)
    is_closed = models.BooleanField(default=False)

    class Meta:
        ordering = ["pipeline", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline", "name"], name="stage_unique_name"
            ),
        ]

    def __str__(self) -> str:
        state = "closed" if self.is_closed else "open"
        return f"{self.pipeline.name}: {self.name} ({state})"


class Deal(models.Model):
    name = models.CharField(max_length=255)
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.PROTECT, related_name="deals"
    )
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    close_date = models.DateField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_deals",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Archived records leave lists, search, pickers and boards; kept, with their
    # timeline, viewable by URL and restorable (V5).
    archived_at = models.DateTimeField(null=True, blank=True)

    companies = models.ManyToManyField(
        Company, through="CompanyDeal", related_name="deals"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class TicketPriority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Ticket(models.Model):
    subject = models.CharField(max_length=255)
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.PROTECT, related_name="tickets"
    )
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="tickets")
    priority = models.CharField(
        max_length=10, choices=TicketPriority.choices, default=TicketPriority.MEDIUM
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_tickets",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Archived records leave lists, search, pickers and boards; kept, with their
    # timeline, viewable by URL and restorable (V5).
    archived_at = models.DateTimeField(null=True, blank=True)

    companies = models.ManyToManyField(
        Company, through="CompanyTicket", related_name="tickets"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.subject


class ContactCompany(models.Model):
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="company_links"
    )
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="contact_links"
    )
    is_primary = models.BooleanField(default=False)
    # "Most recent" (R4) means this.
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "company"], name="contact_company_once"
            ),
            models.UniqueConstraint(
                fields=["contact"],
                condition=models.Q(is_primary=True),
                name="one_primary_company_per_contact",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} ↔ {self.company}"


class ContactDeal(models.Model):
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="deal_links"
    )
    deal = models.ForeignKey(
        Deal, on_delete=models.CASCADE, related_name="contact_links"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "deal"], name="contact_deal_once"
            ),
        ]
        # The compose context asks "this contact's newest open deals" on every keystroke.
        indexes = [
            models.Index(fields=["contact", "-created_at"], name="contact_deal_recent")
        ]

    def __str__(self) -> str:
        return f"{self.contact} ↔ {self.deal}"


class ContactTicket(models.Model):
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="ticket_links"
    )
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="contact_links"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "ticket"], name="contact_ticket_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["contact", "-created_at"], name="contact_ticket_recent"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact} ↔ {self.ticket}"


class CompanyDeal(models.Model):
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="deal_links"
    )
    deal = models.ForeignKey(
        Deal, on_delete=models.CASCADE, related_name="company_links"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "deal"], name="company_deal_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} ↔ {self.deal}"


class CompanyTicket(models.Model):
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="ticket_links"
    )
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="company_links"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "ticket"], name="company_ticket_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} ↔ {self.ticket}"

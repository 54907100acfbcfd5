from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from crm.models import Company, Contact, Deal, Ticket


class InboundStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    LOGGED = "logged", "Logged"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"


class InboundRoute(models.TextChoices):
    SMTP = "smtp", "SMTP (BCC address)"
    API = "api", "API (raw MIME)"


def inbound_upload_to(instance: InboundEmail, filename: str) -> str:
    return f"inbound/{filename}"


class InboundEmail(models.Model):
    """One received message, stored raw before anything parses it (L9)."""

    route = models.CharField(max_length=10, choices=InboundRoute.choices)
    status = models.CharField(
        max_length=10, choices=InboundStatus.choices, default=InboundStatus.RECEIVED
    )
    # A stable code (body_too_large, sender_not_identity, parse_error, duplicate...)
    # and a sentence for people.
    reason = models.CharField(max_length=40, blank=True)
    detail = models.TextField(blank=True)
    raw = models.FileField(upload_to=inbound_upload_to, max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    envelope_from = models.CharField(max_length=320, blank=True)
    envelope_to = models.JSONField(default=list, blank=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Filled by the parse, so reviewers see who sent what.
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_emails",
    )
    from_address = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=998, blank=True)
    message_id = models.CharField(max_length=998, blank=True)
    logged_email = models.ForeignKey(
        "LoggedEmail",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_copies",
    )
    # SMTP route: the DMARC check made on receipt (activity.dmarc.DmarcResult); empty
    # when none was made.
    authentication = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        # Mail gateways (and super admins) may post any raw message to /api/v1/inbound/.
        permissions = [("post_raw_inbound", "Can post any raw message for logging")]
        # The admin's review list filters by status, newest first.
        indexes = [
            models.Index(fields=["status", "-received_at"], name="inbound_review")
        ]

    def __str__(self) -> str:
        return f"Inbound {self.pk} ({self.status})"


def new_registration_token() -> str:
    # Lower-case hex: survives mail clients that lower-case the address.
    return secrets.token_hex(10)


class LogRegistration(models.Model):
    """What the add-in's Log box chose for one outgoing email (L1a, L5)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="log_registrations",
    )
    token = models.CharField(max_length=32, unique=True, default=new_registration_token)
    from_address = models.EmailField(max_length=254)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list)
    bcc = models.JSONField(default=list)
    subject = models.CharField(max_length=998, blank=True)
    # {"contacts": [ids], "companies": [...], "deals": [...], "tickets": [...]} or null for
    # "the defaults".
    associations = models.JSONField(null=True, blank=True)
    # Unknown recipients whose "new contact" the user unticked.
    skip_new_contacts = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Registration {self.pk} by {self.user}"

    @property
    def bcc_address(self) -> str:
        """The user's personal BCC address carrying this registration:
        `log+<user's secret>+<token>@…`."""
        from settings_admin.selectors import account_settings_get, user_settings_get

        own = user_settings_get(self.user)
        local, _, domain = own.bcc_address(account_settings_get()).partition("@")
        return f"{local}+{self.token}@{domain}"


class EmailThread(models.Model):
    subject = models.CharField(max_length=998, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.subject or f"Thread {self.pk}"


class LoggedEmailQuerySet(models.QuerySet["LoggedEmail"]):
    def visible(self) -> LoggedEmailQuerySet:
        return self.filter(deleted_at__isnull=True)


class LoggedEmail(models.Model):
    # Normalised (activity.parser.normalise_message_id); UNIQUE so two workers cannot
    # both log the same email (L7).
    message_id = models.CharField(max_length=255, unique=True)
    # Kept when the user leaves: the email stays on the CRM's timelines.
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="logged_emails",
    )
    thread = models.ForeignKey(
        EmailThread, on_delete=models.PROTECT, related_name="emails"
    )
    from_address = models.CharField(max_length=320)
    from_name = models.CharField(max_length=255, blank=True)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list)
    subject = models.CharField(max_length=998, blank=True)
    sent_at = models.DateTimeField()
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.JSONField(default=list, blank=True)
    html_body = models.TextField(blank=True)
    text_body = models.TextField(blank=True)
    # The add-in's tracked registration of the same email, when it was tracked too: the
    # timeline card shows its status (T8) to its sender.
    tracked_email = models.OneToOneField(
        "tracking.TrackedEmail",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="logged_copy",
    )
    # Timeline notes, e.g. an attachment left out and why (L6).
    notes = models.JSONField(default=list, blank=True)
    is_pinned = models.BooleanField(default=False)
    pinned_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # Auto-created link tables cascade when a record is deleted (P4).
    contacts = models.ManyToManyField(Contact, related_name="logged_emails", blank=True)
    companies = models.ManyToManyField(
        Company, related_name="logged_emails", blank=True
    )
    deals = models.ManyToManyField(Deal, related_name="logged_emails", blank=True)
    tickets = models.ManyToManyField(Ticket, related_name="logged_emails", blank=True)

    objects = LoggedEmailQuerySet.as_manager()

    class Meta:
        ordering = ["-is_pinned", "-sent_at", "-id"]
        # Timelines read pinned first, then newest first (the keyset's order).
        indexes = [
            models.Index(
                fields=["-is_pinned", "-sent_at", "-id"], name="logged_timeline"
            )
        ]

    def __str__(self) -> str:
        return self.subject or self.message_id


class TimelineEntry(models.Model):
    """One visible logged email on one record's timeline, with the keyset's columns.

    Kept by PostgreSQL triggers (migration 0006), never written by Django:
    - a link made or removed in an association table adds or removes its entry;
    - an email's pinned flag or date changing updates its entries;
    - an email deleted (`deleted_at`, or the row) loses its entries, and gets them back
      when restored.
    Any path that writes (services, the admin, a bulk `update()`) keeps the entries
    true.

    A record's page of cards reads its own index range instead of walking the
    account-wide `logged_timeline` index past every newer email of other records. That
    walk made a record whose emails are few and old cost as much as the account is
    large. Without PostgreSQL (the embedded mode) the timeline reads the emails as
    before.
    """

    record_kind = models.CharField(max_length=10)  # "contacts", "companies", ...
    record_id = models.BigIntegerField()
    email_id = models.BigIntegerField()
    is_pinned = models.BooleanField()
    sent_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=[
                    "record_kind",
                    "record_id",
                    "-is_pinned",
                    "-sent_at",
                    "-email_id",
                ],
                name="timeline_entry_order",
            ),
            models.Index(fields=["email_id"], name="timeline_entry_email"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["record_kind", "record_id", "email_id"],
                name="timeline_entry_once",
            )
        ]

    def __str__(self) -> str:
        return f"email {self.email_id} on {self.record_kind} {self.record_id}"


def attachment_upload_to(instance: Attachment, filename: str) -> str:
    return f"attachments/{filename}"


class Attachment(models.Model):
    logged_email = models.ForeignKey(
        LoggedEmail, on_delete=models.CASCADE, related_name="attachments"
    )
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_id = models.CharField(max_length=255, blank=True)
    is_inline = models.BooleanField(default=False)
    file = models.FileField(upload_to=attachment_upload_to, max_length=255)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename

from __future__ import annotations

import ipaddress
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024  # S9
MAX_BODY_BYTES = 2 * 1024 * 1024  # S9
# The account's on/off switches, in the order its forms show them.
ACCOUNT_FLAGS = (
    "apply_log_for_all",
    "log_all_by_default",
    "apply_association_for_all",
    "associate_contacts",
    "associate_companies",
    "associate_deals",
    "associate_tickets",
    "allow_tracking",
    "apply_track_for_all",
    "track_all_by_default",
    "privacy_enabled",
    "log_attachments",
)


def new_bcc_secret() -> str:
    # 16 base32-ish characters: unguessable, and safe in an email local part (S7).
    return secrets.token_hex(8)


class AccountSettings(models.Model):
    """The account's defaults (S1-S9). A singleton: always row pk=1."""

    # S1
    apply_log_for_all = models.BooleanField(
        "Apply default log setting for all users", default=False
    )
    log_all_by_default = models.BooleanField("Log all emails by default", default=True)
    # S2
    apply_association_for_all = models.BooleanField(
        "Apply default association for all users", default=False
    )
    associate_contacts = models.BooleanField("Associate with contacts", default=True)
    associate_companies = models.BooleanField("Associate with companies", default=True)
    associate_deals = models.BooleanField("Associate with deals", default=True)
    associate_tickets = models.BooleanField("Associate with tickets", default=True)
    # S3
    allow_tracking = models.BooleanField(
        "Allow all users to track emails and see recipients open and click their emails",
        default=True,
    )
    # S4, only while S3 is on (clean() and a constraint).
    apply_track_for_all = models.BooleanField(
        "Apply default track setting for all users", default=False
    )
    track_all_by_default = models.BooleanField(
        "Track all emails by default", default=True
    )
    # S5
    privacy_enabled = models.BooleanField("Data privacy settings", default=False)
    # S7: the logging address is <bcc_prefix>+<bcc_secret>@BEACON_BCC_DOMAIN.
    bcc_prefix = models.SlugField("BCC address prefix", max_length=40, default="log")
    bcc_secret = models.CharField(max_length=32, default=new_bcc_secret, editable=False)
    # S9
    log_attachments = models.BooleanField("Log attachments", default=True)
    max_attachment_bytes = models.PositiveBigIntegerField(default=MAX_ATTACHMENT_BYTES)
    max_body_bytes = models.PositiveBigIntegerField(default=MAX_BODY_BYTES)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Email log & track"
        verbose_name_plural = "Email log & track"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pk=1), name="account_settings_singleton"
            ),
            models.CheckConstraint(
                condition=models.Q(allow_tracking=True)
                | models.Q(apply_track_for_all=False),
                name="track_for_all_needs_tracking_allowed",
            ),
        ]

    def __str__(self) -> str:
        return "Email log & track"

    def clean(self) -> None:
        if self.apply_track_for_all and not self.allow_tracking:
            raise ValidationError(
                {
                    "apply_track_for_all": "Only available while tracking is allowed (S3)."
                },
                code="track_default_needs_tracking",
            )

    @property
    def bcc_address(self) -> str:
        return f"{self.bcc_prefix}+{self.bcc_secret}@{settings.BEACON_BCC_DOMAIN}"


class Seat(models.TextChoices):
    SALES = "sales", "Sales (opens and clicks)"
    CORE = "core", "Core (opens only)"


class UserSettings(models.Model):
    """A user's own defaults, seat (U1) and notification preferences."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="beacon_settings",
    )
    seat = models.CharField(max_length=10, choices=Seat.choices, default=Seat.CORE)
    log_by_default = models.BooleanField(default=True)
    track_by_default = models.BooleanField(default=True)
    associate_contacts = models.BooleanField(default=True)
    associate_companies = models.BooleanField(default=True)
    associate_deals = models.BooleanField(default=True)
    associate_tickets = models.BooleanField(default=True)
    create_contacts = models.BooleanField(
        "Create contacts for unknown recipients", default=True
    )
    desktop_notifications = models.BooleanField(default=True)
    # The user's personal BCC address is <bcc_prefix>+<bcc_secret>@BEACON_BCC_DOMAIN:
    # mail that comes in on it is logged as this user, and only when its From is one of
    # the user's sending identities. Shown only to its owner; regenerable.
    bcc_secret = models.CharField(
        max_length=32, unique=True, default=new_bcc_secret, editable=False
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "user settings"
        verbose_name_plural = "user settings"

    def __str__(self) -> str:
        return f"Settings of {self.user}"

    def bcc_address(self, account: AccountSettings) -> str:
        """The personal BCC address (the account's prefix, the user's secret)."""
        return f"{account.bcc_prefix}+{self.bcc_secret}@{settings.BEACON_BCC_DOMAIN}"


class NeverLogScope(models.TextChoices):
    ACCOUNT = "account", "Account"
    USER = "user", "User"


class NeverLogEntry(models.Model):
    """`name@domain` or `*@domain`, never logged (S6 and the personal list)."""

    scope = models.CharField(max_length=10, choices=NeverLogScope.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="never_log_entries",
    )
    pattern = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "never-log entry"
        verbose_name_plural = "never-log entries"
        ordering = ["scope", "pattern"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(scope="account", user__isnull=True)
                    | models.Q(scope="user", user__isnull=False)
                ),
                name="never_log_scope_matches_user",
            ),
            models.CheckConstraint(
                condition=models.Q(pattern=Lower("pattern")), name="never_log_lowercase"
            ),
            models.UniqueConstraint(
                fields=["scope", "user", "pattern"],
                name="never_log_once",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return self.pattern


class SendingIdentityKind(models.TextChoices):
    LOGIN = "login", "Login email"
    INBOX = "inbox", "Connected inbox"
    ALIAS = "alias", "Alias"


class SendingIdentity(models.Model):
    """An address a user may send from; only these can log email or create contacts (U2).

    An added address counts once it is confirmed (U2): its owner opened, signed in, the
    signed link Beacon mailed to it. Until then it logs nothing and creates no contact.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="sending_identities",
    )
    email = models.EmailField(max_length=254, unique=True)
    kind = models.CharField(
        max_length=10,
        choices=SendingIdentityKind.choices,
        default=SendingIdentityKind.ALIAS,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "sending identities"
        ordering = ["user", "email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")),
                name="sending_identity_lowercase",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.user})"


class BlockedNetwork(models.Model):
    """An IP address or range whose opens and clicks never notify (S8)."""

    cidr = models.CharField("IP address or range", max_length=49, unique=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["cidr"]

    def __str__(self) -> str:
        return self.cidr

    def clean(self) -> None:
        try:
            self.cidr = str(ipaddress.ip_network(self.cidr.strip(), strict=False))
        except ValueError as exc:
            raise ValidationError({"cidr": "Not an IP address or range."}) from exc


class NotificationMute(models.Model):
    """A contact or one email whose opens and clicks never notify this user (V3).

    Enforced where notifications are made (tracking.notifications): a muted event is
    stored and counted as any other, it is only never sent to the user's browsers.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_mutes",
    )
    contact = models.ForeignKey(
        "crm.Contact",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notification_mutes",
    )
    email = models.ForeignKey(
        "tracking.TrackedEmail",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notification_mutes",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(contact__isnull=True, email__isnull=False)
                | models.Q(contact__isnull=False, email__isnull=True),
                name="mute_contact_or_email",
            ),
            models.UniqueConstraint(
                fields=["user", "contact"],
                condition=models.Q(contact__isnull=False),
                name="mute_contact_once",
            ),
            models.UniqueConstraint(
                fields=["user", "email"],
                condition=models.Q(email__isnull=False),
                name="mute_email_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} mutes {self.contact or self.email}"

from __future__ import annotations

from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    OPEN = "open", "Open"
    CLICK = "click", "Click"


class Verdict(models.TextChoices):
    HUMAN = "human", "Human"
    SELF = "self", "Sender's own browser or session"
    APPLE_MPP = "apple_mpp", "Apple Mail Privacy Protection prefetch"
    PROXY = "proxy", "Mail provider image proxy"
    SCANNER = "scanner", "Security scanner or link checker"
    PREFETCH = "prefetch", "HEAD or preview fetch"
    DUPLICATE = "duplicate", "Repeat within a short window"
    BLOCKED_IP = "blocked_ip", "Blocked network (S8)"


# T5: counts, statuses and notifications use these verdicts only.
COUNTED_VERDICTS = (Verdict.HUMAN, Verdict.PROXY)


class TrackedEmail(models.Model):
    """An outgoing email registered by the add-in, tracked or not (T1-T8)."""

    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tracked_emails",
    )
    from_address = models.EmailField(max_length=254)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list)
    bcc = models.JSONField(default=list)
    subject = models.CharField(max_length=998, blank=True)
    tracked = models.BooleanField(default=False)
    track_clicks = models.BooleanField(default=False)
    # T2/P3: several recipients (To+Cc+Bcc) make an email anonymous; `contact` stays empty.
    is_anonymous = models.BooleanField(default=False)
    contact = models.ForeignKey(
        "crm.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tracked_emails",
    )
    # Per recipient: {"email", "tracked", "reason"} as answered to the add-in.
    decisions = models.JSONField(default=list)
    # The Log box's registration when the same email is also logged (L1a).
    log_registration = models.OneToOneField(
        "activity.LogRegistration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tracked_email",
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The add-in's id for the draft (kept in the item): registering the same draft
    # again updates this row instead of making another.
    draft_key = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        # The activity feed lists a sender's emails newest first.
        indexes = [
            models.Index(fields=["sender", "-created_at"], name="tracked_sender_recent")
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_anonymous=False) | models.Q(contact__isnull=True),
                name="anonymous_email_has_no_contact",
            ),
            # One registration per sender and draft; also the lookup's index.
            models.UniqueConstraint(
                fields=["sender", "draft_key"],
                condition=~models.Q(draft_key=""),
                name="tracked_one_per_draft",
            ),
        ]

    def __str__(self) -> str:
        return self.subject or f"Email {self.pk}"

    @property
    def recipient_count(self) -> int:
        return len(self.to) + len(self.cc) + len(self.bcc)


class TrackedLink(models.Model):
    """A rewritten link; the click redirects only to `url` (T4)."""

    email = models.ForeignKey(
        TrackedEmail, on_delete=models.CASCADE, related_name="links"
    )
    position = models.PositiveIntegerField()
    url = models.TextField()
    # T7: the hidden link no person can see or click.
    is_trap = models.BooleanField(default=False)

    class Meta:
        ordering = ["email", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["email", "position"], name="link_position_once"
            ),
        ]

    def __str__(self) -> str:
        return self.url


class TrackingEvent(models.Model):
    """One hit (or an inferred open) with its verdict and reason (T5, T6).

    The hot table: the ingestor COPYs thousands of rows a second into it, so each
    per-row cost counts (bench/RESULTS.md). Its three foreign keys have no database
    constraint: a constraint checks (and locks) the parent row once per inserted row,
    which measured ~15 us of PostgreSQL's ~35 us per row. The ingestor checks the
    parents once per batch instead, under a lock every deletion of a parent takes
    (tracking.event_store.lock_event_parents), so no event outlives its email, link or
    contact; Django's on_delete cascades still apply
    (docs/decisions/no-event-foreign-keys.md).
    """

    # Made by the fast path (time-ordered: index inserts land on the index's last
    # pages); the ingestor's idempotence is this constraint.
    hit_id = models.UUIDField(unique=True)
    # No index of its own: event_email_time (email, occurred_at) serves it.
    email = models.ForeignKey(
        TrackedEmail,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    link = models.ForeignKey(
        TrackedLink,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,  # event_link: clicks only
        db_constraint=False,
    )
    kind = models.CharField(max_length=5, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    method = models.CharField(max_length=10, blank=True)
    verdict = models.CharField(max_length=12, choices=Verdict.choices)
    reason = models.CharField(max_length=200)
    # P4: deleting a contact erases its events.
    contact = models.ForeignKey(
        "crm.Contact",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tracking_events",
        db_index=False,  # event_contact: attributed events only
        db_constraint=False,
    )
    inferred = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            # Details pages and the classifier's "recent events of these emails".
            models.Index(fields=["email", "occurred_at"], name="event_email_time"),
            # The duplicate rule's "counted events of this email from this address
            # lately" (tracking.ingest._counted_since); counted events only.
            models.Index(
                fields=["email", "ip", "occurred_at"],
                name="event_counted_repeat",
                condition=models.Q(verdict__in=COUNTED_VERDICTS),
            ),
            # Partial: opens (most rows) and anonymous emails' events skip them.
            models.Index(
                fields=["link"],
                name="event_link",
                condition=models.Q(link__isnull=False),
            ),
            models.Index(
                fields=["contact"],
                name="event_contact",
                condition=models.Q(contact__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.verdict} ({self.occurred_at:%Y-%m-%d %H:%M:%S})"

    @property
    def counted(self) -> bool:
        return self.verdict in COUNTED_VERDICTS

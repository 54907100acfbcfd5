"""Reads of tracked emails: the one access rule, status and counts derived from events."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import (
    Case,
    Count,
    Exists,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.http import Http404

from activity.selectors import inbound_waiting
from crm.models import Company, Contact
from settings_admin.selectors import notification_preferences
from tracking.models import (
    COUNTED_VERDICTS,
    Kind,
    TrackedEmail,
    TrackedLink,
    TrackingEvent,
)
from tracking.notifications import tracking_event_payload
from tracking.spill import JournalFile, journal_files


def tracked_email_get_for_user(
    user: AbstractBaseUser | AnonymousUser, pk: int
) -> TrackedEmail:
    """Only the sender sees a tracked email; to anyone else it does not exist."""
    email = (
        TrackedEmail.objects.select_related("contact", "sender")
        .filter(pk=pk, sender_id=user.pk)
        .first()
    )
    if email is None or user.pk is None:
        raise Http404("No such email.")
    return email


_COUNTED = Q(events__verdict__in=COUNTED_VERDICTS)


@dataclass(frozen=True)
class EmailSummary:
    status: str
    opens: int
    clicks: int
    first_opened_at: datetime | None
    last_opened_at: datetime | None
    links: list[dict[str, Any]]


def tracked_email_summary(email: TrackedEmail) -> EmailSummary:
    """T8: Sent → Opened (first counted open, count) → Clicked (per link)."""
    counted = TrackingEvent.objects.filter(email=email, verdict__in=COUNTED_VERDICTS)
    opens = counted.filter(kind=Kind.OPEN).aggregate(
        n=Count("id"), first=Min("occurred_at"), last=Max("occurred_at")
    )
    links: list[dict[str, Any]] = [
        dict(row)
        for row in email.links.filter(is_trap=False)
        .annotate(clicks=Count("events", filter=_COUNTED & Q(events__kind=Kind.CLICK)))
        .order_by("position")
        .values("id", "position", "url", "clicks")
    ]
    clicks = sum(link["clicks"] for link in links)
    status = derived_status(opens=opens["n"], clicks=clicks, sent=bool(email.sent_at))
    return EmailSummary(
        status, opens["n"], clicks, opens["first"], opens["last"], links
    )


def tracked_email_events(email: TrackedEmail) -> QuerySet[TrackingEvent]:
    """Every event, counted or not, oldest first (T5: nothing is dropped)."""
    return (
        TrackingEvent.objects.filter(email=email)
        .select_related("link", "contact")
        .order_by("occurred_at", "id")
    )


def notifications_after(
    user: AbstractBaseUser, *, after: int, limit: int
) -> list[dict[str, Any]]:
    """The notifications the user's browsers were sent, or would have been, of events
    stored after event `after`: oldest first, at most `limit`, read from the stored
    events (the durable source) with the same mutes (V3) and payload as live ones."""
    preferences = notification_preferences([user.pk])[user.pk]
    events = (
        TrackingEvent.objects.filter(
            email__sender_id=user.pk, verdict__in=COUNTED_VERDICTS, pk__gt=after
        )
        .exclude(email_id__in=preferences.muted_emails)
        .exclude(
            email__is_anonymous=False, email__contact_id__in=preferences.muted_contacts
        )
        .select_related("email__contact", "link")
        .order_by("pk")[:limit]
    )
    return [
        tracking_event_payload(
            event_id=event.pk,
            email_id=event.email_id,
            subject=event.email.subject,
            kind=event.kind,
            verdict=event.verdict,
            contact_name=_contact_name(event.email),
            link_url=event.link.url if event.link else None,
            occurred_at=event.occurred_at.isoformat(),
            inferred=event.inferred,
            desktop=preferences.desktop,
        )
        for event in events
    ]


def _contact_name(email: TrackedEmail) -> str:
    """As the ingestor names it: "" (someone) for anonymous emails (T2)."""
    if email.is_anonymous or email.contact is None:
        return ""
    return f"{email.contact.first_name} {email.contact.last_name}".strip()


def latest_event_id() -> int:
    """Where a browser that has seen nothing yet starts: any event stored later is new
    to it. The newest id of the whole table (a cursor, not one of the user's events)."""
    latest = TrackingEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    return latest or 0


@dataclass(frozen=True)
class LinkClicks:
    url: str
    clicks: int


@dataclass(frozen=True)
class EmailStatus:
    """T8 for one email of a list: what a timeline card or a feed row shows."""

    status: str
    opens: int
    clicks: int
    last_event_at: datetime | None
    links: list[LinkClicks]

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


STATUS_LABELS = {
    "registered": "Not sent yet",
    "sent": "Sent",
    "opened": "Opened",
    "clicked": "Clicked",
}


def derived_status(*, opens: int, clicks: int, sent: bool) -> str:
    if clicks:
        return "clicked"
    if opens:
        return "opened"
    return "sent" if sent else "registered"


def email_statuses(emails: list[TrackedEmail]) -> dict[int, EmailStatus]:
    """T8 for a page of emails in two queries whatever its size: the counted events
    grouped per email, kind and link, and the emails' visible links."""
    ids = [email.pk for email in emails]
    counts: dict[int, dict[str, int]] = {pk: {"open": 0, "click": 0} for pk in ids}
    last: dict[int, datetime] = {}
    per_link: dict[int, int] = {}
    rows = (
        TrackingEvent.objects.filter(email_id__in=ids, verdict__in=COUNTED_VERDICTS)
        .values("email_id", "kind", "link_id")
        .annotate(n=Count("id"), last=Max("occurred_at"))
        .order_by()
    )
    for row in rows:
        counts[row["email_id"]][row["kind"]] += row["n"]
        if row["link_id"] is not None:
            per_link[row["link_id"]] = per_link.get(row["link_id"], 0) + row["n"]
        seen = last.get(row["email_id"])
        if seen is None or row["last"] > seen:
            last[row["email_id"]] = row["last"]
    links: dict[int, list[LinkClicks]] = {pk: [] for pk in ids}
    for link in TrackedLink.objects.filter(email_id__in=ids, is_trap=False).only(
        "id", "email_id", "url"
    ):
        links[link.email_id].append(LinkClicks(link.url, per_link.get(link.pk, 0)))
    return {
        email.pk: EmailStatus(
            status=derived_status(
                opens=counts[email.pk]["open"],
                clicks=counts[email.pk]["click"],
                sent=email.sent_at is not None,
            ),
            opens=counts[email.pk]["open"],
            clicks=counts[email.pk]["click"],
            last_event_at=last.get(email.pk),
            links=links[email.pk],
        )
        for email in emails
    }


# -- the activity feed (V2) -------------------------------------------------------------

FEED_STATES = {
    "opened": "Opened",
    "clicked": "Clicked",
    "not_opened": "Not opened yet",
}


@dataclass(frozen=True)
class FeedFilters:
    state: str = ""
    since: date | None = None
    until: date | None = None
    contact: int | None = None
    company: int | None = None


def _counted(kind: str) -> Exists:
    return Exists(
        TrackingEvent.objects.filter(
            email=OuterRef("pk"), kind=kind, verdict__in=COUNTED_VERDICTS
        )
    )


def feed_for_user(
    user: AbstractBaseUser | AnonymousUser, filters: FeedFilters | None = None
) -> QuerySet[TrackedEmail]:
    """The user's own tracked emails, newest first: nobody else's, ever (V2)."""
    filters = filters or FeedFilters()
    rows = TrackedEmail.objects.filter(sender_id=user.pk, tracked=True).select_related(
        "contact"
    )
    if filters.state == "opened":
        rows = rows.filter(_counted(Kind.OPEN))
    elif filters.state == "clicked":
        rows = rows.filter(_counted(Kind.CLICK))
    elif filters.state == "not_opened":
        rows = rows.filter(~_counted(Kind.OPEN))
    if filters.since is not None:
        rows = rows.filter(created_at__date__gte=filters.since)
    if filters.until is not None:
        rows = rows.filter(created_at__date__lte=filters.until)
    if filters.contact is not None:
        rows = rows.filter(contact_id=filters.contact)
    if filters.company is not None:
        rows = rows.filter(contact__companies=filters.company)
    return rows.order_by("-created_at", "-id")


def feed_row_get_for_user(
    user: AbstractBaseUser | AnonymousUser, pk: int
) -> TrackedEmail:
    """One row of the user's feed; someone else's email does not exist (V2)."""
    email = feed_for_user(user).filter(pk=pk).first()
    if email is None:
        raise Http404("No such email.")
    return email


def feed_contacts(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Contact]:
    """The contacts the user's tracked emails were attributed to: the feed's filter."""
    return Contact.objects.filter(
        tracked_emails__sender_id=user.pk, tracked_emails__tracked=True
    ).distinct()


def feed_companies(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Company]:
    return (
        Company.objects.filter(
            contacts__tracked_emails__sender_id=user.pk,
            contacts__tracked_emails__tracked=True,
        )
        .distinct()
        .order_by("name", "id")
    )


def events_for_page(
    email: TrackedEmail, *, show_all: bool
) -> tuple[list[TrackingEvent], int]:
    """The email page's events: counted ones first, oldest first within each; the
    rest only when asked (V4). Also answers how many hits were not counted."""
    events = tracked_email_events(email).annotate(
        uncounted=Case(
            When(verdict__in=COUNTED_VERDICTS, then=Value(0)),
            default=Value(1),
        )
    )
    hidden = events.filter(uncounted=1).count()
    if not show_all:
        events = events.filter(uncounted=0)
    return list(events.order_by("uncounted", "occurred_at", "id")), hidden


@dataclass(frozen=True)
class PipelineStatus:
    """Where hits and stored mail are waiting (`manage.py tracking_status`, the admin)."""

    redis_error: str  # "" when Redis answered
    stream: str
    stream_length: int | None  # entries (each a batch of hits) not yet stored
    undelivered: int | None  # entries no ingestor has read yet (the group's lag)
    pending: dict[str, int]  # entries read but not stored yet, per consumer
    oldest_pending_age_s: float | None
    last_writes: dict[str, float]  # consumer: seconds since its last stored batch
    counters: dict[str, int]  # accepted hits ever, and those recorded nowhere
    journals: list[JournalFile]  # this host's spill journals
    inbound_waiting: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for row in data["inbound_waiting"]:
            if row["oldest"] is not None:
                row["oldest"] = row["oldest"].isoformat()
        return data


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry_age(entry_id: bytes | str, now: float) -> float:
    """Seconds since a stream entry was added (its id starts with Unix ms)."""
    return max(0.0, now - int(_text(entry_id).split("-")[0]) / 1000)


def pipeline_status(*, client: Any | None = None) -> PipelineStatus:
    """The hit stream's and the ingestors' state in Redis, this host's spill journals
    and the stored mail still waiting to be logged."""
    stream = settings.TRACKING_STREAM
    group = settings.TRACKING_CONSUMER_GROUP
    now = time.time()
    error = ""
    length = undelivered = None
    pending: dict[str, int] = {}
    oldest: float | None = None
    last_writes: dict[str, float] = {}
    counters: dict[str, int] = {}
    if settings.REDIS_URL:
        client = client or redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5
        )
        try:
            length = client.xlen(stream)
            groups = (
                client.xinfo_groups(stream) if length or client.exists(stream) else []
            )
            for info in groups:
                if info["name"] in (group, group.encode()):
                    undelivered = info.get("lag")
            summary = client.xpending(stream, group) if groups else None
            if summary and summary["pending"]:
                pending = {
                    _text(c["name"]): int(c["pending"]) for c in summary["consumers"]
                }
                oldest = _entry_age(summary["min"], now)
            for consumer, at in client.hgetall(f"{stream}:ingested").items():
                last_writes[_text(consumer)] = max(0.0, now - float(at))
            for name in ("hits", "lost", "refused"):
                counters[name] = int(client.get(f"{stream}:{name}") or 0)
        except redis.RedisError as exc:
            error = f"{type(exc).__name__}: {exc}"
    else:
        error = "embedded mode (no REDIS_URL): hits go straight to the database"
    return PipelineStatus(
        redis_error=error,
        stream=stream,
        stream_length=length,
        undelivered=undelivered,
        pending=pending,
        oldest_pending_age_s=oldest,
        last_writes=last_writes,
        counters=counters,
        journals=journal_files(settings.TRACKING_SPILL_DIR),
        inbound_waiting=inbound_waiting(),
    )

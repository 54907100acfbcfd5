"""Reads of tracked emails: the one access rule, status and counts derived from events."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Max, Min, Q, QuerySet
from django.http import Http404

from activity.selectors import inbound_waiting
from tracking.models import COUNTED_VERDICTS, Kind, TrackedEmail, TrackingEvent
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
    if clicks:
        status = "clicked"
    elif opens["n"]:
        status = "opened"
    elif email.sent_at:
        status = "sent"
    else:
        status = "registered"
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

"""Reads of tracked emails: the one access rule, status and counts derived from events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Max, Min, Q, QuerySet
from django.http import Http404

from tracking.models import COUNTED_VERDICTS, Kind, TrackedEmail, TrackingEvent


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

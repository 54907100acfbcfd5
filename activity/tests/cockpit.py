"""Rows for the page tests: logged emails on records, tracked emails and their events,
written straight to the database (the logging and tracking paths have their own tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User

from activity.models import EmailThread, LoggedEmail
from crm.models import Contact
from tracking.models import Kind, TrackedEmail, TrackedLink, TrackingEvent, Verdict

BASE_TIME = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
# What a page's script sends to ask for the fragment it swaps in, not the whole page.
FRAGMENT = {"Beacon-Fragment": "1"}


def tracked(
    sender: User,
    *,
    contact: Contact | None = None,
    subject: str = "Proposal",
    to: tuple[str, ...] = ("anna@acme.com",),
    links: tuple[str, ...] = ("https://acme.example/pricing",),
    created_at: datetime | None = None,
) -> TrackedEmail:
    email = TrackedEmail.objects.create(
        sender=sender,
        from_address=sender.email,
        to=list(to),
        subject=subject,
        tracked=True,
        track_clicks=bool(links),
        is_anonymous=len(to) > 1,
        contact=contact if len(to) == 1 else None,
        decisions=[
            {"email": address, "tracked": True, "reason": "tracked"} for address in to
        ],
        sent_at=BASE_TIME,
    )
    if created_at is not None:
        TrackedEmail.objects.filter(pk=email.pk).update(created_at=created_at)
        email.refresh_from_db()
    for position, url in enumerate(links):
        TrackedLink.objects.create(email=email, position=position, url=url)
    TrackedLink.objects.create(
        email=email, position=len(links), url="https://trap.example/", is_trap=True
    )
    return email


def event(
    email: TrackedEmail,
    *,
    kind: str = Kind.OPEN,
    verdict: str = Verdict.HUMAN,
    reason: str = "a person's mail client",
    link: TrackedLink | None = None,
    at: datetime | None = None,
    ip: str = "198.51.100.7",
) -> TrackingEvent:
    return TrackingEvent.objects.create(
        hit_id=uuid.uuid4(),
        email=email,
        link=link,
        kind=kind,
        occurred_at=at or BASE_TIME + timedelta(minutes=5),
        ip=ip,
        user_agent="Mozilla/5.0 (Test)",
        method="GET",
        verdict=verdict,
        reason=reason,
        contact=email.contact,
    )


def logged(
    sender: User,
    records: list[Any],
    *,
    subject: str = "Proposal",
    sent_at: datetime | None = None,
    tracked_email: TrackedEmail | None = None,
    thread: EmailThread | None = None,
    html: str = "<p>Hello Anna</p>",
    **fields: Any,
) -> LoggedEmail:
    email = LoggedEmail.objects.create(
        message_id=f"<{uuid.uuid4().hex}@beacon.test>",
        sender=sender,
        thread=thread or EmailThread.objects.create(subject=subject),
        from_address=sender.email,
        from_name=sender.get_full_name(),
        to=["anna@acme.com"],
        cc=["carl@acme.com"],
        subject=subject,
        sent_at=sent_at or BASE_TIME,
        html_body=html,
        text_body="Hello Anna",
        tracked_email=tracked_email,
        **fields,
    )
    kinds = {
        "Contact": "contacts",
        "Company": "companies",
        "Deal": "deals",
        "Ticket": "tickets",
    }
    for record in records:
        getattr(email, kinds[type(record).__name__]).add(record)
    return email

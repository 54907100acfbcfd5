"""Counted events reach the sender's channel-layer group after commit (T9).

Runs against whichever layer is configured: in-memory, or channels_redis with REDIS_URL.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import User

from tracking.ingest import ingest_hits, self_cookie_signer
from tracking.models import TrackedEmail, TrackingEvent
from tracking.notifications import user_group_name
from tracking.tests.conftest import make_contact, raw_hit, register

BARRACUDA = "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))"


def _collect(
    user: User, hits: list[dict[str, str]], capture: Any
) -> list[dict[str, Any]]:
    layer = get_channel_layer()
    assert layer is not None

    def ingest() -> None:
        with capture(execute=True):
            ingest_hits(hits)

    async def run() -> list[dict[str, Any]]:
        channel = await layer.new_channel()
        await layer.group_add(user_group_name(user.pk), channel)
        try:
            await sync_to_async(ingest)()
            received: list[dict[str, Any]] = []
            while True:
                try:
                    message = await asyncio.wait_for(layer.receive(channel), 0.5)
                except TimeoutError:
                    return received
                # One group message per sender and batch, holding its events.
                assert message["type"] == "tracking.events"
                received.extend(message["events"])
        finally:
            await layer.group_discard(user_group_name(user.pk), channel)

    return async_to_sync(run)()


@pytest.fixture
def email(alice: User) -> TrackedEmail:
    make_contact("anna@acme.example", first_name="Anna", last_name="Svensson")
    tracked, _ = register(alice, subject="Proposal")
    return tracked


def test_a_counted_open_notifies_the_sender_once(
    email: TrackedEmail, alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    hit = raw_hit(email)
    uncounted = [
        raw_hit(email, ua=BARRACUDA, ip="203.0.113.2"),
        raw_hit(email, method="HEAD"),
    ]
    own = raw_hit(email, sc=self_cookie_signer().sign(str(alice.pk)), ip="203.0.113.3")
    received = _collect(
        alice, [hit, *uncounted, own], django_capture_on_commit_callbacks
    )
    event = TrackingEvent.objects.get(hit_id=hit["h"])
    assert received == [
        {
            "type": "tracking.event",
            "event_id": event.pk,
            "email_id": email.pk,
            "subject": "Proposal",
            "kind": "open",
            "verdict": "human",
            "contact": "Anna Svensson",
            "link_url": None,
            "occurred_at": event.occurred_at.isoformat(),
            "inferred": False,
        }
    ]
    # A replayed hit is not stored again and not notified again.
    assert _collect(alice, [hit], django_capture_on_commit_callbacks) == []


def test_an_anonymous_click_notifies_someone_with_the_inferred_open(
    alice: User, bob: User, django_capture_on_commit_callbacks: Any
) -> None:
    email, _ = register(alice, to=["a@acme.example", "b@acme.example"])
    link = email.links.get(position=1)
    received = _collect(
        alice, [raw_hit(email, link_id=link.pk)], django_capture_on_commit_callbacks
    )
    assert [
        (m["kind"], m["inferred"], m["contact"], m["link_url"]) for m in received
    ] == [
        ("open", True, "Someone", None),
        ("click", False, "Someone", "https://acme.example/proposal?x=1&y=2"),
    ]
    # Nobody else hears of it.
    assert (
        _collect(
            bob, [raw_hit(email, ip="203.0.113.9")], django_capture_on_commit_callbacks
        )
        == []
    )

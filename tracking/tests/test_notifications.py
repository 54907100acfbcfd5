"""Counted events reach the sender's channel-layer group after commit (T9).

Runs against whichever layer is configured: in-memory, or channels_redis with REDIS_URL.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import User

from tracking.ingest import ingest_hits
from tracking.models import TrackedEmail, TrackingEvent
from tracking.notifications import (
    BackgroundNotifier,
    notify_tracking_events,
    user_group_name,
)
from tracking.tests.conftest import make_contact, raw_hit, register
from tracking.tokens import self_cookie_signer

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
            "desktop": True,
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


def test_the_background_notifier_sends_queued_batches_together_in_order(
    alice: User, bob: User, redis_url: str
) -> None:
    """Batches queued while a round of sends is out go in one message per sender."""
    layer = get_channel_layer()
    assert layer is not None
    notifier = BackgroundNotifier()
    paused, release = threading.Event(), threading.Event()

    def hold_the_loop() -> None:
        paused.set()
        release.wait(10)

    async def run() -> list[dict[str, Any]]:
        channels = [await layer.new_channel() for _ in range(2)]
        await layer.group_add(user_group_name(alice.pk), channels[0])
        await layer.group_add(user_group_name(bob.pk), channels[1])
        notifier.loop.call_soon_threadsafe(hold_the_loop)
        paused.wait(10)
        for n in range(5):  # five batches committed while the sender is busy
            notifier([(alice.pk, {"n": n}), (bob.pk, {"n": -n})])
        release.set()
        return await asyncio.gather(
            *(asyncio.wait_for(layer.receive(c), 10) for c in channels)
        )

    try:
        to_alice, to_bob = async_to_sync(run)()
    finally:
        release.set()
        notifier.close()
    assert to_alice == {
        "type": "tracking.events",
        "events": [{"n": n} for n in range(5)],
    }
    assert to_bob["events"] == [{"n": -n} for n in range(5)]
    assert not notifier.thread.is_alive()


def test_a_burst_to_many_sockets_of_one_process_arrives_whole_and_once(
    redis_url: str,
) -> None:
    """Every message of a burst reaches each socket of its user once, none another's.

    channels_redis's default layer keeps all of a process's sockets in one Redis set of
    100 messages and dropped the rest of a burst silently (a rep missed an open): 300
    users' messages here, to 400 sockets in this one process (100 users with two pages).
    """
    layer = get_channel_layer()
    assert layer is not None
    users = range(900_001, 900_301)  # group names only: no rows needed

    async def run() -> dict[str, list[dict[str, Any]]]:
        sockets = {
            user: [await layer.new_channel() for _ in range(2 if user % 3 == 0 else 1)]
            for user in users
        }
        for user, channels in sockets.items():
            for channel in channels:
                await layer.group_add(user_group_name(user), channel)
        try:
            await sync_to_async(notify_tracking_events)(
                [(user, {"user": user, "n": n}) for n in range(2) for user in users]
            )
            received: dict[str, list[dict[str, Any]]] = {}

            async def drain(channel: str) -> None:
                received[channel] = []
                while True:
                    try:
                        message = await asyncio.wait_for(layer.receive(channel), 1)
                    except TimeoutError:
                        return
                    received[channel].extend(message["events"])

            await asyncio.wait_for(
                asyncio.gather(
                    *(drain(c) for channels in sockets.values() for c in channels)
                ),
                60,
            )
            return {
                f"{user}/{n}": received[channel]
                for user, channels in sockets.items()
                for n, channel in enumerate(channels)
            }
        finally:
            for user, channels in sockets.items():
                for channel in channels:
                    await layer.group_discard(user_group_name(user), channel)

    received = async_to_sync(run)()
    assert len(received) == 400
    for socket, events in received.items():
        user = int(socket.split("/")[0])
        assert events == [{"user": user, "n": 0}, {"user": user, "n": 1}], socket

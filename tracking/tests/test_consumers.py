"""The notification socket against the real ASGI application and channel layer (T9).

Each test connects through config.asgi.application: the Origin check, the session's
user, the URL router and the consumer; events come from tracking.ingest, as in
production. The layer is whichever is configured (channels_redis with REDIS_URL).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from config.asgi import application
from settings_admin.models import BlockedNetwork
from tracking.ingest import ingest_hits
from tracking.models import TrackedEmail, TrackingEvent
from tracking.tests.conftest import make_contact, raw_hit, register
from tracking.tokens import self_cookie_signer

PATH = "/ws/notifications/"
ORIGIN = "http://testserver"
# Committed rows: the auth middleware reads the session through channels'
# database_sync_to_async, which closes connections left in a transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def communicator(
    session: str | None = None, *, origin: str | None = ORIGIN, path: str = PATH
) -> WebsocketCommunicator:
    """A socket to `path`; `session`: a session cookie (see `session_cookie`)."""
    headers = [(b"host", b"testserver")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if session is not None:
        headers.append((b"cookie", f"sessionid={session}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return async_to_sync(test)()


async def frames(socket: WebsocketCommunicator) -> list[dict[str, Any]]:
    """Every frame the socket has received until it goes quiet."""
    received = []
    while not await socket.receive_nothing(timeout=0.3):
        received.append(json.loads(await socket.receive_from()))
    return received


@pytest.fixture
def ingest() -> Callable[..., Awaitable[int]]:
    """Store hits as the ingestor does: notifications are sent after commit."""
    return sync_to_async(ingest_hits)


@pytest.fixture
def proposal(alice: User) -> TrackedEmail:
    make_contact("anna@acme.example", first_name="Anna", last_name="Svensson")
    email, _ = register(alice, subject="Proposal")
    return email


def test_an_anonymous_socket_is_refused(db: None) -> None:
    async def test() -> None:
        socket = communicator(None)
        connected, code = await socket.connect()
        assert (connected, code) == (False, 4401)

    run(test)


def test_a_socket_from_a_foreign_origin_is_refused_even_with_a_session(
    alice: User,
) -> None:
    session = session_cookie(alice)

    async def test() -> None:
        for origin in ("https://evil.example", None):
            socket = communicator(session, origin=origin)
            connected, _ = await socket.connect()
            assert not connected, origin

    run(test)


def test_a_signed_in_user_hears_a_counted_open_of_their_own_email(
    alice: User, proposal: TrackedEmail, ingest: Any
) -> None:
    hit = raw_hit(proposal)

    session = session_cookie(alice)

    async def test() -> list[dict[str, Any]]:
        socket = communicator(session)
        connected, _ = await socket.connect()
        assert connected
        await ingest([hit])
        received = await frames(socket)
        await socket.disconnect()
        return received

    received = run(test)
    event = TrackingEvent.objects.get(hit_id=hit["h"])
    assert received == [
        {
            "type": "tracking.event",
            "event_id": event.pk,
            "email_id": proposal.pk,
            "subject": "Proposal",
            "kind": "open",
            "verdict": "human",
            "contact": "Anna Svensson",
            "link_url": None,
            "occurred_at": event.occurred_at.isoformat(),
            "inferred": False,
        }
    ]


def test_two_users_groups_are_never_mixed(
    alice: User, bob: User, proposal: TrackedEmail, ingest: Any
) -> None:
    bobs, _ = register(bob, subject="Bob's quote")
    alice_hit, bob_hit = raw_hit(proposal), raw_hit(bobs, ip="203.0.113.20")
    sessions = [session_cookie(alice), session_cookie(bob)]

    async def test() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        sockets = [communicator(sessions[0]), communicator(sessions[1])]
        for socket in sockets:
            assert (await socket.connect())[0]
        await ingest([alice_hit, bob_hit])
        received = (await frames(sockets[0]), await frames(sockets[1]))
        for socket in sockets:
            await socket.disconnect()
        return received

    to_alice, to_bob = run(test)
    assert [(m["email_id"], m["subject"]) for m in to_alice] == [
        (proposal.pk, "Proposal")
    ]
    assert [(m["email_id"], m["subject"]) for m in to_bob] == [(bobs.pk, "Bob's quote")]


def test_a_replayed_batch_is_not_notified_twice(
    alice: User, proposal: TrackedEmail, ingest: Any
) -> None:
    batch = [raw_hit(proposal), raw_hit(proposal, ip="203.0.113.30")]

    session = session_cookie(alice)

    async def test() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        socket = communicator(session)
        assert (await socket.connect())[0]
        await ingest(batch)
        first = await frames(socket)
        await ingest(batch)  # the same stream entries, read again after a crash
        again = await frames(socket)
        await socket.disconnect()
        return first, again

    first, again = run(test)
    assert len(first) == 2
    assert len({m["event_id"] for m in first}) == 2
    assert again == []
    assert TrackingEvent.objects.filter(email=proposal).count() == 2


def test_self_opens_and_blocked_networks_never_reach_the_socket(
    alice: User, proposal: TrackedEmail, ingest: Any
) -> None:
    BlockedNetwork.objects.create(cidr="192.0.2.0/24")
    own = raw_hit(proposal, sc=self_cookie_signer().sign(str(alice.pk)))
    office = raw_hit(proposal, ip="192.0.2.44")

    session = session_cookie(alice)

    async def test() -> list[dict[str, Any]]:
        socket = communicator(session)
        assert (await socket.connect())[0]
        await ingest([own, office])
        received = await frames(socket)
        await socket.disconnect()
        return received

    assert run(test) == []
    verdicts = set(
        TrackingEvent.objects.filter(email=proposal).values_list("verdict", flat=True)
    )
    assert verdicts == {"self", "blocked_ip"}


def test_what_the_browser_sends_is_ignored(alice: User) -> None:
    session = session_cookie(alice)

    async def test() -> list[dict[str, Any]]:
        socket = communicator(session)
        assert (await socket.connect())[0]
        await socket.send_to(text_data='{"type": "tracking.events", "events": [1]}')
        received = await frames(socket)
        await socket.disconnect()
        return received

    assert run(test) == []

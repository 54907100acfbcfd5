"""Services mode: the hit is in the Redis stream before the response; the ingestor stores
every hit exactly once, across crashes. Real Redis and PostgreSQL (`services`)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.db import connection

from tracking import tokens
from tracking.fastpath import GIF, TrackingApp, stream_entry
from tracking.ingest import Batch, classify_batch, store_batch
from tracking.models import TrackedEmail, TrackedLink, TrackingEvent
from tracking.notifications import user_group_name
from tracking.stream import Entry, StreamIngestor
from tracking.tests.conftest import Req, _one, drive, raw_hit, register

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def email(alice: User, services: str) -> TrackedEmail:
    tracked, _ = register(alice)
    return tracked


@pytest.fixture
def stream(stream_name: str, redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def _ingestor(
    redis_url: str, name: str, cls: type[StreamIngestor] = StreamIngestor
) -> StreamIngestor:
    ingestor = cls(redis_url=redis_url, consumer=name, block_ms=50, claim_idle_ms=0)
    ingestor.ensure_group()
    return ingestor


def test_the_hit_is_in_the_stream_before_the_response_leaves(
    email: TrackedEmail, stream: redis.Redis, stream_name: str, redis_url: str
) -> None:
    app = TrackingApp()
    path = f"/t/o/{tokens.open_token(email.pk)}.gif"
    token = tokens.open_token(email.pk)
    bad = f"/t/o/{token[:-1]}{'A' if token[-1] != 'A' else 'B'}.gif"
    replies = drive(app, [Req(path), Req(bad)])
    assert [r.body for r in replies] == [GIF, GIF]
    assert stream.xlen(stream_name) == 1  # the tampered one recorded nothing
    assert stream.get(f"{stream_name}:hits") == b"1"
    assert not TrackingEvent.objects.exists()
    ingestor = _ingestor(redis_url, "one")
    assert ingestor.run_once() == 1
    assert TrackingEvent.objects.filter(email=email).count() == 1
    assert stream.xlen(stream_name) == 0
    assert stream.xpending(stream_name, ingestor.group)["pending"] == 0


def test_concurrent_hits_share_round_trips_and_none_is_lost(
    email: TrackedEmail, stream: redis.Redis, stream_name: str, redis_url: str
) -> None:
    app = TrackingApp()
    path = f"/t/o/{tokens.open_token(email.pk)}.gif"

    async def burst() -> list[Any]:
        return await asyncio.gather(*(_one(app, Req(path)) for _ in range(300)))

    replies = async_to_sync(burst)()
    assert all(r.status == 200 for r in replies)
    # Fewer entries than hits: concurrent hits shared round trips.
    assert 1 <= stream.xlen(stream_name) < 300
    assert stream.get(f"{stream_name}:hits") == b"300"
    ingestor = _ingestor(redis_url, "one")
    while ingestor.run_once():
        pass
    assert TrackingEvent.objects.filter(email=email).count() == 300
    assert ingestor.acknowledged == 300


class CrashBeforeAck(StreamIngestor):
    def acknowledge(self, entries: list[Entry]) -> None:
        raise RuntimeError("killed after the insert, before XACK")


class CrashBeforeInsert(StreamIngestor):
    def store(self, hits: list[dict[str, str]]) -> int:
        raise RuntimeError("killed after reading, before the insert")


@pytest.mark.parametrize("crash", [CrashBeforeAck, CrashBeforeInsert])
def test_an_ingestor_killed_mid_batch_and_restarted_stores_every_hit_once(
    email: TrackedEmail,
    stream: redis.Redis,
    stream_name: str,
    redis_url: str,
    crash: type[StreamIngestor],
) -> None:
    hits = [raw_hit(email, ip=f"203.0.113.{n}") for n in range(1, 121)]
    for start in range(
        0, 120, 10
    ):  # 12 entries of 10 hits, as the fast path writes them
        stream.xadd(stream_name, stream_entry(hits[start : start + 10]))  # type: ignore[arg-type]
    dying = _ingestor(redis_url, "dying", crash)
    dying.batch = 5
    with pytest.raises(RuntimeError):
        dying.run_once()
    assert stream.xpending(stream_name, dying.group)["pending"] == 5
    restarted = _ingestor(redis_url, "restarted")
    while restarted.run_once():
        pass
    assert TrackingEvent.objects.filter(email=email).count() == 120
    stored = set(TrackingEvent.objects.values_list("hit_id", flat=True))
    assert {h.hex for h in stored} == {hit["h"] for hit in hits}
    assert stream.xlen(stream_name) == 0
    assert stream.xpending(stream_name, restarted.group)["pending"] == 0


def test_the_ingest_loop_stores_notifies_and_stops_cleanly(
    transactional_db: None,
    alice: User,
    services: str,
    stream: redis.Redis,
    stream_name: str,
    redis_url: str,
) -> None:
    """The real loop in a thread of its own (its own database connection): a hit put on
    the stream is stored, reaches the sender's group, and the stop flag ends the loop."""
    email, _ = register(alice)
    layer = get_channel_layer()
    assert layer is not None
    stop = threading.Event()
    ingestor = StreamIngestor(redis_url=redis_url, consumer="loop", block_ms=100)
    thread = threading.Thread(target=ingestor.run, args=(stop,))
    hit = raw_hit(email)

    async def run() -> dict[str, Any]:
        channel = await layer.new_channel()
        await layer.group_add(user_group_name(alice.pk), channel)
        thread.start()
        stream.xadd(stream_name, stream_entry([hit]))  # type: ignore[arg-type]
        return await asyncio.wait_for(layer.receive(channel), 10)

    [message] = async_to_sync(run)()["events"]
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    event = TrackingEvent.objects.get(hit_id=hit["h"])
    assert (message["event_id"], message["verdict"]) == (event.pk, "human")
    assert stream.xpending(stream_name, ingestor.group)["pending"] == 0


def _wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_real_ingestor_killed_with_sigkill_and_restarted_stores_every_hit_once(
    transactional_db: None,
    alice: User,
    services: str,
    stream: redis.Redis,
    stream_name: str,
    redis_url: str,
) -> None:
    email, _ = register(alice)
    hits = [raw_hit(email, ip=f"203.0.{n // 250}.{n % 250 + 1}") for n in range(2000)]
    for start in range(0, len(hits), 20):
        stream.xadd(stream_name, stream_entry(hits[start : start + 20]))  # type: ignore[arg-type]
    database = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": redis_url,
        "TRACKING_STREAM": stream_name,
    }
    command = [sys.executable, "manage.py", "run_tracking_ingest", "--batch", "1"]
    events = TrackingEvent.objects.filter(email=email)
    victim = subprocess.Popen([*command, "--consumer", "victim"], env=env, cwd=ROOT)  # noqa: S603
    try:
        _wait_for(lambda: events.count() >= 100)
    finally:
        victim.send_signal(signal.SIGKILL)  # no chance to finish the batch in hand
        victim.wait()
    assert events.count() < len(hits)
    rescuer = subprocess.Popen(  # noqa: S603
        [*command, "--consumer", "rescuer", "--claim-idle-ms", "0"], env=env, cwd=ROOT
    )
    try:
        _wait_for(lambda: stream.xlen(stream_name) == 0)
    finally:
        rescuer.send_signal(signal.SIGTERM)  # a clean stop: the loop ends, exit 0
        assert rescuer.wait(30) == 0
    assert events.count() == len(hits)
    assert {e.hex for e in events.values_list("hit_id", flat=True)} == {
        h["h"] for h in hits
    }
    assert stream.xpending(stream_name, "tracking-ingest")["pending"] == 0


def test_a_read_takes_entries_until_it_holds_batch_hits(
    email: TrackedEmail, stream: redis.Redis, stream_name: str, redis_url: str
) -> None:
    hits = [raw_hit(email, ip=f"203.0.113.{n}") for n in range(1, 121)]
    for start in range(0, 120, 10):
        stream.xadd(stream_name, stream_entry(hits[start : start + 10]))  # type: ignore[arg-type]
    ingestor = _ingestor(redis_url, "one")
    ingestor.batch_hits = 50
    assert ingestor.run_once() == 50  # five entries of ten
    ingestor.batch_hits, ingestor.batch = 1000, 3
    assert ingestor.run_once() == 30  # the entry cap comes first
    while ingestor.run_once():
        pass
    assert TrackingEvent.objects.filter(email=email).count() == 120


def test_a_batch_classified_while_the_previous_one_is_stored_sees_its_hits(
    email: TrackedEmail,
) -> None:
    """The loop classifies batch N+1 while batch N is being stored: the verdicts must
    be those of storing N first (duplicate window, T6's first open)."""
    first, second = TrackedLink.objects.filter(email=email, is_trap=False)[:2]
    sent = (email.sent_at or email.created_at).timestamp()
    open_ = raw_hit(email, at=sent + 100)
    repeat = raw_hit(email, at=sent + 130)  # same address and agent within 60 s
    click = raw_hit(email, link_id=first.pk, at=sent + 200, ip="203.0.113.9")
    later_click = raw_hit(email, link_id=second.pk, at=sent + 300, ip="203.0.113.8")

    def verdicts(batch: Batch) -> list[tuple[str, str, bool]]:
        return [(r.hit.kind, r.verdict, r.inferred) for r in batch.rows]

    opened = classify_batch([open_])
    assert verdicts(classify_batch([repeat])) == [("open", "human", False)]
    after_open = classify_batch([repeat], in_flight=opened)
    assert verdicts(after_open) == [("open", "duplicate", False)]
    store_batch(opened)
    assert verdicts(classify_batch([repeat])) == verdicts(after_open)
    TrackingEvent.objects.all().delete()

    clicked = classify_batch([click])
    # T6: alone, a counted click with no counted open before it implies an open ...
    assert verdicts(classify_batch([later_click])) == [
        ("click", "human", True),
        ("click", "human", False),
    ]
    # ... but the click in flight already implied one.
    after_click = classify_batch([later_click], in_flight=clicked)
    assert verdicts(after_click) == [("click", "human", False)]
    store_batch(clicked)
    assert verdicts(classify_batch([later_click])) == verdicts(after_click)

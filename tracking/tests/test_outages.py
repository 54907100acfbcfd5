"""Redis and PostgreSQL going away under the hit path and the ingestor: real processes,
started and killed by the tests (a Redis of their own with an append-only file; the
test database's connections refused and severed with pg_terminate_backend)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.db import connection

from config.testing import RedisProcess, sever_database
from tracking import tokens
from tracking.fastpath import GIF, TrackingApp, stream_entry
from tracking.models import TrackingEvent
from tracking.spill import Replayer, SpillJournal, journal_paths
from tracking.stream import StreamIngestor
from tracking.tests.conftest import Req, _one, raw_hit, register

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def app(settings: Any, own_redis: RedisProcess, tmp_path: Path) -> TrackingApp:
    settings.REDIS_URL = own_redis.url
    settings.TRACKING_SPILL_DIR = str(tmp_path / "spill")
    return TrackingApp()


def _wait_for(condition: Callable[[], bool], seconds: float) -> float:
    """Seconds until `condition` held; fails after `seconds`."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, "timed out"
        time.sleep(0.05)
    return time.monotonic() - start


def test_hits_across_a_redis_kill_and_restart_are_all_stored_exactly_once(
    app: TrackingApp, own_redis: RedisProcess, alice: User, services: str
) -> None:
    """16 clients load pixels and clicks while Redis is killed and restarted: every
    hit is answered as usual, and every answered hit is stored once."""
    email, _ = register(alice)
    link = email.links.filter(is_trap=False).first()
    assert link is not None
    paths = [
        f"/t/o/{tokens.open_token(email.pk)}.gif",
        f"/t/c/{tokens.click_token(email.pk, link.pk)}",
    ]
    replies: dict[str, int] = {}

    async def client(number: int, stop: asyncio.Event) -> None:
        sent = 0
        while not stop.is_set():
            marker = f"probe-{number}-{sent}"
            reply = await _one(
                app, Req(paths[sent % 2], headers={"User-Agent": marker})
            )
            replies[marker] = reply.status
            assert reply.status != 200 or reply.body == GIF
            sent += 1
            await asyncio.sleep(0.005)

    async def scenario() -> None:
        stop = asyncio.Event()
        clients = [asyncio.create_task(client(n, stop)) for n in range(16)]
        await asyncio.sleep(0.7)
        await asyncio.to_thread(own_redis.kill)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(own_redis.start)
        await asyncio.sleep(0.7)
        stop.set()
        await asyncio.gather(*clients)
        durable = app.durable
        assert durable is not None
        deadline = time.monotonic() + 10
        while (
            journal_paths(durable.journal.directory)
            or durable.replayer.replayed < durable.journal.spilled
        ):
            assert time.monotonic() < deadline, "journal not replayed"
            await asyncio.sleep(0.1)

    async_to_sync(scenario)()
    assert app.durable is not None
    assert app.durable.journal.spilled > 0  # the outage was under load
    assert app.durable.replayer.replayed == app.durable.journal.spilled
    assert set(replies.values()) == {200, 302}  # nothing refused: the journal took it
    ingestor = StreamIngestor(
        redis_url=own_redis.url, consumer="one", block_ms=50, claim_idle_ms=0
    )
    ingestor.ensure_group()
    while ingestor.run_once():
        pass
    stored = list(
        TrackingEvent.objects.filter(inferred=False).values_list(
            "user_agent", flat=True
        )
    )
    assert len(stored) == len(set(stored)) == len(replies)
    assert set(stored) == set(replies)
    # The accepted-hits counter counts the journaled hits too.
    client_ = redis.Redis.from_url(own_redis.url)
    assert int(client_.get("tracking:hits:hits") or 0) == len(replies)


def test_when_the_journal_fails_too_the_click_is_refused_and_the_loss_counted(
    settings: Any,
    own_redis: RedisProcess,
    tmp_path: Path,
    alice: User,
    services: str,
) -> None:
    settings.REDIS_URL = own_redis.url
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.TRACKING_SPILL_DIR = str(blocker / "spill")  # cannot be made
    app = TrackingApp()
    email, _ = register(alice)
    link = email.links.filter(is_trap=False).first()
    assert link is not None
    pixel = Req(f"/t/o/{tokens.open_token(email.pk)}.gif")
    click = Req(f"/t/c/{tokens.click_token(email.pk, link.pk)}")

    async def scenario() -> list[Any]:
        await _one(app, click)  # caches the link's URL while the stream is up
        own_redis.kill()
        down = [await _one(app, pixel), await _one(app, click)]
        own_redis.start()
        assert app.durable is not None
        await app.durable.replayer.replay()  # reports what was lost
        return down

    opened, clicked = async_to_sync(scenario)()
    assert (opened.status, opened.body) == (200, GIF)  # never a broken image
    assert clicked.status == 503 and clicked.headers["retry-after"] == "1"
    assert (app.lost, app.refused) == (1, 1)
    client = redis.Redis.from_url(own_redis.url)
    assert client.get("tracking:hits:lost") == b"1"
    assert client.get("tracking:hits:refused") == b"1"
    assert client.get("tracking:hits:hits") == b"1"  # the first click only


def test_a_dead_workers_journal_is_replayed_once_even_when_replayed_again(
    own_redis: RedisProcess, tmp_path: Path, alice: User, services: str
) -> None:
    """A journal left by a worker that died (its lock gone) is replayed by another;
    a replay cut short before the file was deleted adds nothing the second time; a
    last line cut short (its worker died writing it, before answering) is skipped."""
    email, _ = register(alice)
    hits = [raw_hit(email, ip=f"203.0.113.{n}") for n in range(1, 6)]
    journal = tmp_path / "spill" / "web-4242-0123456789ab.journal"
    journal.parent.mkdir()
    content = orjson.dumps(hits[:3]) + b"\n" + orjson.dumps(hits[3:]) + b"\n"
    journal.write_bytes(content + b'[{"h": "cut sh')
    client = redis.Redis.from_url(own_redis.url)

    async def replay() -> int:
        import redis.asyncio as aioredis

        replayer = Replayer(
            SpillJournal(journal.parent), aioredis.from_url(own_redis.url), "s"
        )
        return await replayer.replay()

    assert async_to_sync(replay)() == 5
    assert not journal.exists()
    journal.write_bytes(content)  # as if the first replay died before the unlink
    assert async_to_sync(replay)() == 0
    assert not journal.exists()
    assert client.xlen("s") == 2 and client.get("s:hits") == b"5"
    ingestor = StreamIngestor(
        redis_url=own_redis.url, consumer="one", stream="s", claim_idle_ms=0
    )
    ingestor.ensure_group()
    while ingestor.run_once():
        pass
    assert {e.hex for e in TrackingEvent.objects.values_list("hit_id", flat=True)} == {
        hit["h"] for hit in hits
    }


def test_the_ingestor_stores_again_within_10_s_of_redis_and_of_postgresql_returning(
    transactional_db: None,
    alice: User,
    services: str,
    own_redis: RedisProcess,
    tmp_path: Path,
) -> None:
    """One real `run_tracking_ingest` process across a Redis kill and restart and a
    PostgreSQL outage: it never exits, stores again within 10 s of each return, logs
    each outage once, and still stops cleanly on SIGTERM."""
    email, _ = register(alice)
    database = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": own_redis.url,
        "LOG_LEVEL": "INFO",
    }
    log = tmp_path / "ingest.log"
    stream = redis.Redis.from_url(own_redis.url)
    events = TrackingEvent.objects.filter(inferred=False)
    sent: list[dict[str, str]] = []

    def send(count: int) -> None:
        hits = [raw_hit(email, ip=f"198.51.{len(sent)}.{n + 1}") for n in range(count)]
        sent.extend(hits)
        stream.xadd("tracking:hits", stream_entry(hits))  # type: ignore[arg-type]

    with log.open("wb") as output:
        ingest = subprocess.Popen(
            [sys.executable, "manage.py", "run_tracking_ingest", "--block-ms", "200"],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        send(10)
        _wait_for(lambda: events.count() == len(sent), 60)  # started

        own_redis.kill()
        time.sleep(1.5)
        own_redis.start()
        send(10)
        after_redis = _wait_for(lambda: events.count() == len(sent), 10)
        # The outage ends once the batch is acknowledged too (then it logs "resumed").
        _wait_for(lambda: "ingestion resumed" in log.read_text(), 10)

        sever_database(database, allow=False)
        try:
            send(10)
            time.sleep(2)
            assert ingest.poll() is None
        finally:
            sever_database(database, allow=True)
        after_postgres = _wait_for(lambda: events.count() == len(sent), 10)
        assert ingest.poll() is None  # it never exited
    finally:
        ingest.send_signal(signal.SIGTERM)
        code = ingest.wait(30)
    output_text = log.read_text()
    assert code == 0, output_text
    assert after_redis < 10 and after_postgres < 10
    assert sorted(e.hex for e in events.values_list("hit_id", flat=True)) == sorted(
        hit["h"] for hit in sent
    )
    assert output_text.count("ingestion paused") == 2, output_text
    assert output_text.count("ingestion resumed") == 2, output_text
    assert "Traceback" not in output_text
    assert stream.xpending("tracking:hits", "tracking-ingest")["pending"] == 0

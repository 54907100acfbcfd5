"""`make chaos`: pixels and clicks under load while Redis, the ingestor, the web server and
PostgreSQL fail in turn; every answer is matched to a stored event.

Starts, on ports of its own: a Redis (append-only file, `everysec`, as in
docker-compose), granian (2 workers, spill journals in a directory of its own) and
`run_tracking_ingest`, on the PostgreSQL database `beacon_chaos` (created and migrated;
BENCH_DATABASE_URL to change). A marked client (each request's User-Agent is unique)
loads one email's pixel and one link's click over CONNECTIONS keep-alive connections for
`--seconds`, while these faults are injected in turn:

- redis: `kill -9` of Redis, restarted 2 s later (it reloads its append-only file);
- ingestor: `kill -9` of the ingestor, restarted 1 s later (`--claim-idle-ms 0`);
- web: `kill -9` of granian and its workers, restarted 1 s later;
- postgres: the database refuses new connections and every open one is terminated
  (`pg_terminate_backend`) for 3 s. The cluster is shared with other work on this
  machine, so it is not restarted itself; to the processes this is what a restart is.

Then it waits for the pipeline to drain and prints one JSON object: `acknowledged` (200
with the image, or 302), `stored` (events of acknowledged requests), `lost`
(acknowledged, not stored), `doubled` (stored more than once), and per fault
`error_window_s` (from the first to the last request that failed or was refused around
it; 0 when none did), `resumed_s` (from the part's return until the ingestor stores
events again) and `recovered_s` (until a hit sent after the return is stored: the
backlog the fault left is drained up to it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = ROOT / ".venv" / "bin"
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/beacon_chaos"
)
CONNECTIONS = int(os.environ.get("CHAOS_CONNECTIONS", "32"))
MARK = "chaos-"


def log(message: str) -> None:
    print(f"[chaos] {message}", file=sys.stderr, flush=True)


@dataclass
class Answers:
    """Each request: (sent at, answered at, status or 0 for no answer)."""

    by_mark: dict[str, tuple[float, float, int]] = field(default_factory=dict)

    def failed_between(self, start: float, end: float) -> list[float]:
        return [
            at
            for sent, at, status in self.by_mark.values()
            if start <= sent < end and status not in (200, 302)
        ]


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str,
    mark: str,
) -> int:  # fmt: skip
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {mark}\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    if status == 200 and len(body) != 43:
        return -1  # not the image
    return status


async def client(
    number: int, port: int, paths: list[str], stop: asyncio.Event, answers: Answers
) -> None:
    host = f"127.0.0.1:{port}"
    sent = 0
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while not stop.is_set():
        mark = f"{MARK}{number}-{sent}"
        path = paths[sent % len(paths)]
        sent += 1
        started = time.time()
        try:
            if connection is None:
                connection = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), 5
                )
            status = await asyncio.wait_for(_request(*connection, host, path, mark), 15)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            status = 0
            if connection is not None:
                connection[1].close()
            connection = None
            await asyncio.sleep(0.05)  # the server is away; try again shortly
        answers.by_mark[mark] = (started, time.time(), status)
    if connection is not None:
        connection[1].close()


class Services:
    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        from config.testing import RedisProcess, free_port

        self.folder = folder
        self.redis = RedisProcess(folder / "redis")
        self.port = free_port()
        self.env = {**env, "REDIS_URL": self.redis.url}
        self.web: subprocess.Popen[bytes] | None = None
        self.ingest: subprocess.Popen[bytes] | None = None
        self.logs = (folder / "services.log").open("ab")

    def _start(self, args: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - our own fixed commands
            args, cwd=ROOT, env=self.env, start_new_session=True,
            stdout=self.logs, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def start_web(self) -> None:
        self.web = self._start(
            [
                str(BIN / "granian"), "--interface", "asgi", "--host", "127.0.0.1",
                "--port", str(self.port), "--workers", "2", "--no-ws",
                "--log-level", "warning", "config.asgi:application",
            ]
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{self.port}/healthz"
                with urllib.request.urlopen(url, timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the web server did not start")

    def start_ingest(self) -> None:
        self.ingest = self._start(
            [
                str(BIN / "python"), "manage.py", "run_tracking_ingest",
                "--claim-idle-ms", "0", "--block-ms", "200",
            ]
        )  # fmt: skip

    @staticmethod
    def kill(process: subprocess.Popen[bytes] | None) -> None:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        for process in (self.web, self.ingest):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    self.kill(process)
        self.redis.kill()
        self.logs.close()


def prepare_database() -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    subprocess.run(  # noqa: S603 - our own fixed command
        [str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        check=True,
    )
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute("TRUNCATE tracking_trackingevent")


def seed() -> list[str]:
    """One tracked email: the paths of its pixel and of one link."""
    import django

    django.setup()
    from django.contrib.auth.models import User

    from settings_admin.models import Seat, UserSettings
    from tracking import tokens
    from tracking.services import tracked_email_register

    user, _ = User.objects.get_or_create(
        username="chaos-sender", defaults={"email": "chaos@beacon.example"}
    )
    UserSettings.objects.update_or_create(user=user, defaults={"seat": Seat.SALES})
    registered = tracked_email_register(
        user=user, from_address=user.email, to=["reader@chaos.example"], cc=[],
        bcc=[], subject="Chaos", track=True,
        html='<p>Hello <a href="https://example.com/">link</a></p>',
    )  # fmt: skip
    email = registered.email
    link = email.links.filter(is_trap=False).first()
    assert link is not None
    return [
        f"/t/o/{tokens.open_token(email.pk)}.gif",
        f"/t/c/{tokens.click_token(email.pk, link.pk)}",
    ]


def stored_since(since: float) -> int:
    """Events of marked hits that occurred at or after `since` (Unix time)."""
    from datetime import UTC, datetime

    from django.db import connection

    from tracking.models import TrackingEvent

    try:
        return TrackingEvent.objects.filter(
            inferred=False,
            user_agent__startswith=MARK,
            occurred_at__gte=datetime.fromtimestamp(since, UTC),
        ).count()
    except Exception:  # the database is the fault being injected
        connection.close()
        return 0


def sever(allow: bool) -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allow).lower()}'
        )
        if not allow:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )


async def inject(services: Services, fault: str) -> tuple[float, float]:
    """Run one fault; returns (when it began, when the part was back)."""
    began = time.time()
    if fault == "redis":
        await asyncio.to_thread(services.redis.kill)
        await asyncio.sleep(2)
        await asyncio.to_thread(services.redis.start)
    elif fault == "ingestor":
        services.kill(services.ingest)
        await asyncio.sleep(1)
        services.start_ingest()
    elif fault == "web":
        services.kill(services.web)
        await asyncio.sleep(1)
        await asyncio.to_thread(services.start_web)
    elif fault == "postgres":
        await asyncio.to_thread(sever, False)
        try:
            await asyncio.sleep(3)
        finally:
            await asyncio.to_thread(sever, True)
    return began, time.time()


async def recovery(back: float, limit: float = 90) -> dict[str, float | None]:
    """From `back` (the part's return): `resumed_s`, until the ingestor stores events
    again (any hit, the backlog first); `recovered_s`, until a hit sent after `back`
    is stored (the backlog drained up to it). None: not within `limit` seconds."""
    found: dict[str, float | None] = {"resumed_s": None, "recovered_s": None}
    baseline = None
    while time.time() - back < limit and found["recovered_s"] is None:
        total = await asyncio.to_thread(stored_since, 0)
        if baseline is None and total:
            baseline = total
        elif baseline is not None and total > baseline and found["resumed_s"] is None:
            found["resumed_s"] = round(time.time() - back, 2)
        if await asyncio.to_thread(stored_since, back + 0.05):
            found["recovered_s"] = round(time.time() - back, 2)
            if found["resumed_s"] is None:
                found["resumed_s"] = found["recovered_s"]
        await asyncio.sleep(0.25)
    return found


async def run(seconds: float, services: Services, paths: list[str]) -> dict[str, Any]:
    answers = Answers()
    stop = asyncio.Event()
    clients = [
        asyncio.create_task(client(n, services.port, paths, stop, answers))
        for n in range(CONNECTIONS)
    ]
    faults = ["redis", "ingestor", "web", "postgres"]
    slot = seconds / (len(faults) + 1)
    windows: dict[str, tuple[float, float]] = {}
    recoveries: dict[str, asyncio.Task[dict[str, float | None]]] = {}
    for fault in faults:
        await asyncio.sleep(slot * 0.6)
        log(f"fault: {fault}")
        windows[fault] = await inject(services, fault)
        recoveries[fault] = asyncio.create_task(recovery(windows[fault][1]))
        await asyncio.sleep(
            max(0.0, slot * 0.4 - (windows[fault][1] - windows[fault][0]))
        )
    await asyncio.sleep(slot)
    stop.set()
    await asyncio.gather(*clients)
    per_fault: dict[str, Any] = {}
    starts = [windows[f][0] for f in faults] + [time.time()]
    for index, fault in enumerate(faults):
        failed = answers.failed_between(starts[index] - 1, starts[index + 1])
        per_fault[fault] = {
            "down_s": round(windows[fault][1] - windows[fault][0], 2),
            "failed_requests": len(failed),
            "error_window_s": round(max(failed) - min(failed), 2) if failed else 0.0,
            **await recoveries[fault],
        }
    return {"answers": answers, "faults": per_fault}


def drain(limit: float = 120) -> None:
    """Until the stream, the pending entries and the journals are empty."""
    import redis
    from django.conf import settings

    from tracking.spill import journal_paths

    client = redis.Redis.from_url(settings.REDIS_URL)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if not client.xlen(settings.TRACKING_STREAM) and not journal_paths(
                settings.TRACKING_SPILL_DIR
            ):
                return
        except redis.RedisError:
            pass
        time.sleep(0.5)
    log("the pipeline did not drain in time")


def tally(answers: Answers) -> dict[str, Any]:
    from django.db import connection
    from django.db.models import Count

    from tracking.models import TrackingEvent

    connection.close()  # severed by the postgres fault
    counts = dict(
        TrackingEvent.objects.filter(inferred=False, user_agent__startswith=MARK)
        .values_list("user_agent")
        .annotate(n=Count("pk"))
        .values_list("user_agent", "n")
    )
    acknowledged = {
        m for m, (_, _, status) in answers.by_mark.items() if status in (200, 302)
    }
    stored = {m for m in acknowledged if m in counts}
    refused = sum(1 for _, _, status in answers.by_mark.values() if status == 503)
    return {
        "requests": len(answers.by_mark),
        "acknowledged": len(acknowledged),
        "stored": len(stored),
        "lost": len(acknowledged - stored),
        "doubled": sum(1 for n in counts.values() if n > 1),
        "unanswered": sum(
            1 for _, _, status in answers.by_mark.values() if status == 0
        ),
        "refused_503": refused,
        "stored_unacknowledged": len(set(counts) - acknowledged),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="beacon-chaos-"))
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": DATABASE_URL,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "TRACKING_SPILL_DIR": str(folder / "spill"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
    }
    services = Services(folder, env)
    os.environ.update({**env, "REDIS_URL": services.redis.url})
    log(f"working in {folder}")
    try:
        services.redis.start()
        prepare_database()
        paths = seed()
        services.start_ingest()
        services.start_web()
        result = asyncio.run(run(options.seconds, services, paths))
        drain()
        summary = {
            "seconds": options.seconds,
            "connections": CONNECTIONS,
            **tally(result["answers"]),
            "faults": result["faults"],
            "log": str(folder / "services.log"),
        }
    finally:
        services.stop()
        try:
            sever(True)
        except Exception as exc:
            log(f"could not re-allow connections: {exc}")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

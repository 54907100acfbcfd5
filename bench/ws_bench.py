"""The notification sockets under load: bench/run.py's `ws_*` keys.

1. Seeds `BENCH_WS_CLIENTS` users (default 10,000), each with a session and one tracked
   email, in one go (bulk inserts).
2. Starts granian (websockets on, `BENCH_WORKERS` workers) and the ingestor.
3. A client process opens one signed-in socket per user to /ws/notifications/ (a
   minimal websocket client over asyncio streams: a library's per-socket overhead would
   crowd the 2 cores and the memory the servers are measured with) and holds them.
4. Paces `BENCH_WS_RATE` pixel hits/s (default 1,000) for `BENCH_WS_SECONDS`, each on a
   random user's email with its own agent (so each is counted), and times pixel hit
   (its `occurred_at`, stamped by the fast path) → the message at that user's socket;
   a message at any other socket counts in `ws_wrong_socket`.

Keys: ws_clients (sockets open when the hits began), ws_connect_s, ws_notify_p50_ms,
ws_notify_p95_ms, ws_messages / ws_messages_expected, ws_wrong_socket,
ws_rss_kb_per_client (the web processes' resident memory growth per socket from half of
the sockets open to all of them), ws_server_rss_mb_idle / ws_server_rss_mb,
ws_server_cpu_us_per_msg / ws_ingestor_cpu_us_per_msg / ws_client_cpu_us_per_msg (CPU
time per hit while the hits were paced: the web processes, the ingestor, this client).
The client listens until QUIET_S without a message, so a late message is timed, not lost.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import resource
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

CLIENTS = int(os.environ.get("BENCH_WS_CLIENTS", "10000"))
RATE = int(os.environ.get("BENCH_WS_RATE", "1000"))
SECONDS = float(os.environ.get("BENCH_WS_SECONDS", "10"))
CONNECT_CONCURRENCY = 200
QUIET_S = 5  # listening ends this long after the last message
PATH = "/ws/notifications/"


def log(message: str) -> None:
    print(f"[bench ws] {message}", file=sys.stderr, flush=True)


def raise_open_files_limit() -> int:
    """Sockets are files: the client holds one per user, the servers as many."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


def seed(run: str, count: int) -> list[tuple[str, int]]:
    """`count` users, each with a session and one tracked email: [(session key, email id)]."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import transaction

    from tracking.models import TrackedEmail

    now = datetime.now(UTC)
    password = make_password(None)  # unusable, and hashed once for every user
    with transaction.atomic():
        users = User.objects.bulk_create(
            User(username=f"ws-{run}-{n}", email=f"ws-{run}-{n}@beacon.example",
                 password=password)
            for n in range(count)
        )  # fmt: skip
        emails = TrackedEmail.objects.bulk_create(
            TrackedEmail(
                sender=user, from_address=user.email, to=[f"r{n}@bench.example"],
                subject=f"Bench {run} #{n}", tracked=True, sent_at=now - timedelta(hours=1),
            )
            for n, user in enumerate(users)
        )  # fmt: skip
        store = SessionStore()
        sessions = [
            Session(
                session_key=secrets.token_hex(16),
                session_data=store.encode(
                    {
                        "_auth_user_id": str(user.pk),
                        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                        "_auth_user_hash": user.get_session_auth_hash(),
                    }
                ),
                expire_date=now + timedelta(days=1),
            )
            for user in users
        ]
        Session.objects.bulk_create(sessions)
    return [
        (session.session_key, email.pk)
        for session, email in zip(sessions, emails, strict=True)
    ]


def _group_proc_files(leader: int, name: str) -> Iterator[str]:
    """/proc/<pid>/<name> of every process in `leader`'s process group (the server and
    its workers: bench/run.py starts each in a session of its own)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != leader:
                continue
            text = (entry / name).read_text()
        except (OSError, ValueError):
            continue
        yield text


def process_tree_rss_kb(leader: int) -> int:
    """Resident memory of every process in `leader`'s process group."""
    return sum(
        int(line.split()[1])
        for status in _group_proc_files(leader, "status")
        for line in status.splitlines()
        if line.startswith("VmRSS:")
    )


def process_tree_cpu_s(leader: int) -> float:
    """User + system CPU seconds of every process in `leader`'s process group."""
    ticks = 0
    for stat in _group_proc_files(leader, "stat"):
        fields = stat.rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


# A minimal websocket client (RFC 6455): the handshake, then unmasked server frames.


async def ws_open(
    port: int, session_key: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port}\r\nCookie: sessionid={session_key}\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        writer.close()
        raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
    return reader, writer


def _masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


async def ws_messages(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    on_text: Callable[[bytes], None],
) -> None:
    while True:
        first, second = await reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(await reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await reader.readexactly(8), "big")
        payload = await reader.readexactly(length)
        opcode = first & 0x0F
        if opcode == 1:
            on_text(payload)
        elif opcode == 9:  # ping
            writer.write(_masked(0xA, payload))
        elif opcode == 8:
            return


def _clients(port: int, users: list[tuple[str, int]], seconds: float, out: Any) -> None:
    """The client process: open every socket, say so, listen `seconds`, report."""

    async def run() -> dict[str, Any]:
        latencies: list[float] = []
        wrong = 0
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, int]] = []
        failures: list[str] = []

        async def connect(session_key: str, email_id: int) -> None:
            async with gate:
                try:
                    reader, writer = await ws_open(port, session_key)
                except (OSError, ConnectionError, asyncio.IncompleteReadError) as exc:
                    failures.append(repr(exc))
                    return
            opened.append((reader, writer, email_id))

        started = time.monotonic()
        half = len(users) // 2
        await asyncio.gather(*(connect(key, email) for key, email in users[:half]))
        out.send({"open": len(opened)})
        out.recv()  # the servers' memory was read
        await asyncio.gather(*(connect(key, email) for key, email in users[half:]))
        connect_s = time.monotonic() - started

        def receiver(email_id: int) -> Callable[[bytes], None]:
            def on_text(data: bytes) -> None:
                nonlocal wrong
                now = time.time()
                payload = json.loads(data)
                if payload.get("email_id") != email_id:
                    wrong += 1
                    return
                occurred = datetime.fromisoformat(payload["occurred_at"]).timestamp()
                latencies.append((now - occurred) * 1000)

            return on_text

        listeners = [
            asyncio.create_task(ws_messages(reader, writer, receiver(email_id)))
            for reader, writer, email_id in opened
        ]
        out.send(
            {"open": len(opened), "failures": failures[:5], "connect_s": connect_s}
        )
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.sleep(seconds)
        # Late messages still count (and show in the percentiles): listen on while
        # they keep coming, so a slow delivery is not mistaken for a lost one.
        heard, quiet_since = len(latencies), time.monotonic()
        while time.monotonic() - quiet_since < QUIET_S:
            await asyncio.sleep(0.5)
            if len(latencies) != heard:
                heard, quiet_since = len(latencies), time.monotonic()
        used = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
        for listener in listeners:
            listener.cancel()
        for _, writer, _ in opened:
            writer.close()
        return {"latencies": latencies, "wrong": wrong, "cpu_s": client_cpu}

    out.send(asyncio.run(run()))


def run(
    *,
    run_id: str,
    port: int,
    start_server: Callable[[], subprocess.Popen[bytes]],
    start_ingestor: Callable[[], subprocess.Popen[bytes]],
    stop: Callable[[subprocess.Popen[bytes]], None],
    wait_ready: Callable[[str], None],
) -> dict[str, Any]:
    import multiprocessing

    from bench.pixel_load import run_load
    from tracking import tokens

    limit = raise_open_files_limit()  # before the servers start: they inherit it
    log(f"seeding {CLIENTS} users with a session and a tracked email each")
    users = seed(run_id, CLIENTS)
    paths = [f"/t/o/{tokens.open_token(email_id)}.gif" for _, email_id in users]
    server = start_server()
    ingestor = start_ingestor()
    results: dict[str, Any] = {}
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz")
        time.sleep(1)
        rss_before = process_tree_rss_kb(server.pid)
        context = multiprocessing.get_context("fork")
        here, there = context.Pipe()
        listen_for = SECONDS + 2
        client = context.Process(target=_clients, args=(port, users, listen_for, there))
        client.start()
        log(f"opening {CLIENTS} sockets (open files limit {limit})")
        # Memory per socket: the slope between half and all of them open, so the
        # servers' one-time costs (code first run, pools, threads) are left out.
        half = here.recv()
        time.sleep(1)
        rss_half = process_tree_rss_kb(server.pid)
        here.send("go")
        opened = here.recv()
        time.sleep(1)
        rss_after = process_tree_rss_kb(server.pid)
        log(
            f"{opened['open']} open in {opened['connect_s']:.1f}s; {opened['failures']}"
        )
        log(f"{RATE} hits/s for {SECONDS:g}s over the {len(paths)} users' emails")
        server_cpu = process_tree_cpu_s(server.pid)
        ingestor_cpu = process_tree_cpu_s(ingestor.pid)
        load = asyncio.run(
            run_load(
                f"http://127.0.0.1:{port}/",
                connections=16,
                seconds=SECONDS,
                rate=RATE,
                agent=lambda n: f"Mozilla/5.0 (bench ws reader {run_id}-{n})",
                path_for=lambda n: random.choice(paths),
            )
        )
        server_cpu = process_tree_cpu_s(server.pid) - server_cpu
        ingestor_cpu = process_tree_cpu_s(ingestor.pid) - ingestor_cpu
        report = here.recv()
        client.join()
        latencies = sorted(report["latencies"])
        results = {
            "ws_clients": opened["open"],
            "ws_connect_s": round(opened["connect_s"], 1),
            "ws_notify_p50_ms": _percentile(latencies, 0.50),
            "ws_notify_p95_ms": _percentile(latencies, 0.95),
            "ws_messages": len(latencies),
            "ws_messages_expected": load.requests - load.errors,
            "ws_wrong_socket": report["wrong"],
            # CPU time per expected message while the hits were paced: the web
            # processes (pixel and sockets), the ingestor, and the bench's client.
            "ws_server_cpu_us_per_msg": _per(server_cpu, load.requests),
            "ws_ingestor_cpu_us_per_msg": _per(ingestor_cpu, load.requests),
            "ws_client_cpu_us_per_msg": _per(report["cpu_s"], load.requests),
            "ws_rss_kb_per_client": round(
                (rss_after - rss_half) / max(1, opened["open"] - half["open"]), 1
            ),
            "ws_server_rss_mb_idle": round(rss_before / 1024),
            "ws_server_rss_mb": round(rss_after / 1024),
        }
    finally:
        stop(server)
        stop(ingestor)
    return results


def _per(cpu_s: float, count: int) -> float:
    return round(cpu_s / max(1, count) * 1e6, 1)


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return -1.0
    return round(values[int(share * (len(values) - 1))], 1)

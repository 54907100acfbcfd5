"""`make bench`: the tracking hot path under load, on the production server set.

Starts granian (2 workers) and the ingestor against PostgreSQL (database `beacon_bench`,
created and migrated) and Redis, seeds one tracked email, then:
1. loads the pixel with 64 connections (wrk if installed, else bench/pixel_load.py);
2. lets the ingestor drain and checks every hit Redis accepted is stored as one event;
3. paces ~1,000 hits/s with distinct agents over 10 senders' emails and times
   hit → channel-layer message on the group of one of them;
4. stops the ingestor, fills the stream with synthetic hits and times the drain;
5. holds 10,000 signed-in notification sockets and times pixel hit → message at the
   right socket at 1,000 hits/s (bench/ws_bench.py, the `ws_*` keys).
Prints one JSON object (plus bench/mime_bench.py's keys when that file exists).

Environment: BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_SECONDS (pixel load, default 15),
BENCH_INGEST_HITS (default 100000), BENCH_WORKERS (default 2), BENCH_GRANIAN_ARGS (extra
granian options to compare), BENCH_PORT,
BENCH_CLASSIFY_HITS (bench/classify_bench.py's workload, default 50000),
BENCH_MIME=0 (skip bench/mime_bench.py), BENCH_PAGES=0 (skip bench/pages_bench.py: the
timeline and contact-page keys), BENCH_WS=0 (skip the sockets), BENCH_WS_CLIENTS,
BENCH_WS_RATE, BENCH_WS_SECONDS (see bench/ws_bench.py), BENCH_INGEST_DURING_LOAD=1
(keep the ingestor running during the pixel load; by default it is paused then, and its
throughput is measured on its own in step 4).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.serving import wait_ready, wrk_ms  # noqa: E402 - after the path

BIN = ROOT / ".venv" / "bin"
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/beacon_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
INGEST_HITS = int(os.environ.get("BENCH_INGEST_HITS", "100000"))
WORKERS = os.environ.get("BENCH_WORKERS", "2")
# Extra granian options to compare (e.g. "--http 1"); the Procfile's set by default.
GRANIAN_ARGS = os.environ.get("BENCH_GRANIAN_ARGS", "").split()
PORT = int(os.environ.get("BENCH_PORT", "8765"))
CONNECTIONS = 64
NOTIFY_RATE = int(os.environ.get("BENCH_NOTIFY_RATE", "1000"))
NOTIFY_SECONDS = float(os.environ.get("BENCH_NOTIFY_SECONDS", "5"))
RUN = uuid.uuid4().hex[:8]
SENDERS = 10
LISTENED = 1  # senders whose group the bench listens to (a tenth of the messages)
INGEST_DURING_LOAD = os.environ.get("BENCH_INGEST_DURING_LOAD", "") == "1"
CLASSIFY_HITS = int(os.environ.get("BENCH_CLASSIFY_HITS", "50000"))

ENV = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "TRACKING_STREAM": f"bench:hits:{RUN}",
    "CHANNELS_PREFIX": f"bench{RUN}",
    "CACHE_PREFIX": f"bench{RUN}",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "PUBLIC_BASE_URL": f"http://127.0.0.1:{PORT}",
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "config.settings",
}
os.environ.update(ENV)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def create_database() -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(  # noqa: S603 - our own fixed command
        [str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        check=True,
    )
    # Every run starts from an empty events table (this database is the bench's own):
    # otherwise each run inserts into the previous runs' millions of rows, and
    # figures depend on how often the bench ran before.
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute("TRUNCATE tracking_trackingevent")
        conn.execute("VACUUM ANALYZE tracking_trackingevent")


def seed(senders: int) -> list[Any]:
    """One tracked email for each of `senders` sales reps."""
    import django

    django.setup()
    from django.contrib.auth.models import User

    from settings_admin.models import Seat, UserSettings
    from tracking.services import tracked_email_register

    emails = []
    for n in range(senders):
        user, _ = User.objects.get_or_create(
            username=f"bench-sender-{n}",
            defaults={"email": f"bench-{n}@beacon.example"},
        )
        UserSettings.objects.update_or_create(user=user, defaults={"seat": Seat.SALES})
        registered = tracked_email_register(
            user=user,
            from_address=user.email,
            to=[f"reader-{n}@bench.example"],
            cc=[],
            bcc=[],
            subject=f"Bench {RUN} #{n}",
            html='<p>Hello <a href="https://example.com/">link</a></p>',
            track=True,
        )
        emails.append(registered.email)
    return emails


def start(args: list[str]) -> subprocess.Popen[bytes]:
    # Our own fixed commands; a session of their own so stop() ends their children too.
    # stdout is the bench's JSON only; the servers' own output goes to stderr.
    return subprocess.Popen(  # noqa: S603
        args, cwd=ROOT, start_new_session=True, stdout=sys.stderr
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_server(*, port: int = PORT, ws: bool = False) -> subprocess.Popen[bytes]:
    return start(
        [
            str(BIN / "granian"), "--interface", "asgi", "--host", "127.0.0.1",
            "--port", str(port), "--workers", WORKERS, *([] if ws else ["--no-ws"]),
            "--log-level", "warning", *GRANIAN_ARGS, "config.asgi:application",
        ]
    )  # fmt: skip


def start_ingestor() -> subprocess.Popen[bytes]:
    return start([str(BIN / "python"), "manage.py", "run_tracking_ingest"])


def load_wrk(url: str) -> dict[str, float]:
    out = subprocess.run(  # noqa: S603 - fixed arguments
        [
            shutil.which("wrk") or "wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS:g}s", "--latency",
            "-H", "User-Agent: Mozilla/5.0 (bench)", url,
        ],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    log(out)
    latency = {
        share: wrk_ms(value, unit)
        for share, value, unit in re.findall(
            r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)$", out, re.M
        )
    }
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "pixel_load_generator": "wrk -t2",
        "pixel_rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "pixel_p50_ms": latency["50"],
        "pixel_p99_ms": latency["99"],
        "pixel_responses": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "pixel_errors": int(errors.group(1)) if errors else 0,
    }


def load_python(url: str) -> dict[str, float]:
    from bench.pixel_load import run_load

    result = asyncio.run(run_load(url, connections=CONNECTIONS, seconds=SECONDS))
    return {
        "pixel_load_generator": "python (bench/pixel_load.py)",
        "pixel_rps": round(result.requests / result.seconds, 1),
        "pixel_p50_ms": round(result.percentile(0.50), 2),
        "pixel_p99_ms": round(result.percentile(0.99), 2),
        "pixel_responses": result.requests,
        "pixel_errors": result.errors,
    }


def hits_accepted(client: Any) -> int:
    """Hits Redis accepted (the fast path counts them beside each XADD)."""
    from django.conf import settings

    return int(client.get(f"{settings.TRACKING_STREAM}:hits") or 0)


def stream_state(client: Any) -> tuple[int, int, int]:
    """(entries added ever, pending, lag) of the bench stream's consumer group."""
    from django.conf import settings

    stream = settings.TRACKING_STREAM
    info = client.xinfo_stream(stream)
    groups = client.xinfo_groups(stream)
    if not groups:
        return info["entries-added"], 0, info["entries-added"]
    group = groups[0]
    return info["entries-added"], group["pending"], group.get("lag") or 0


def drain(
    client: Any, ingestor: subprocess.Popen[bytes], timeout: float = 300
) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if ingestor.poll() is not None:
            raise SystemExit("the ingestor exited")
        _, pending, lag = stream_state(client)
        if pending == 0 and lag == 0:
            return time.monotonic() - started
        time.sleep(0.02)
    raise SystemExit("the ingestor did not drain the stream")


def _listen(senders: list[int], seconds: float, out: Any) -> None:
    """In a process of its own, so the load generator cannot delay the receipts."""
    from channels.layers import get_channel_layer

    from tracking.notifications import user_group_name

    async def run() -> list[float]:
        layer = get_channel_layer()
        latencies: list[float] = []

        async def listen(sender_id: int) -> None:
            channel = await layer.new_channel()
            await layer.group_add(user_group_name(sender_id), channel)
            while True:
                message = await layer.receive(channel)
                now = time.time()
                for event in message["events"]:
                    occurred = datetime.fromisoformat(event["occurred_at"]).timestamp()
                    latencies.append((now - occurred) * 1000)

        listeners = [asyncio.create_task(listen(sender)) for sender in senders]
        out.send("ready")
        await asyncio.sleep(seconds)
        for listener in listeners:
            listener.cancel()
        return latencies

    out.send(asyncio.run(run()))


def notify_latency(paths: list[str], senders: list[int]) -> dict[str, float]:
    """Paced hits with distinct agents (all counted) spread over every sender's email;
    a listener process joins the first LISTENED senders' groups and times each message
    from the hit (its `occurred_at`, stamped by the fast path) to its arrival."""
    import multiprocessing

    from bench.pixel_load import run_load

    receiving, sending = multiprocessing.get_context("fork").Pipe(duplex=False)
    listener = multiprocessing.get_context("fork").Process(
        target=_listen, args=(senders[:LISTENED], NOTIFY_SECONDS + 4, sending)
    )
    listener.start()
    receiving.recv()  # joined the groups
    asyncio.run(
        run_load(
            f"http://127.0.0.1:{PORT}/",
            connections=16,
            seconds=NOTIFY_SECONDS,
            rate=NOTIFY_RATE,
            agent=lambda n: f"Mozilla/5.0 (bench reader {RUN}-{n})",
            path_for=lambda n: paths[n % len(paths)],
        )
    )
    latencies = sorted(receiving.recv())
    listener.join()
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else -1.0
    p50 = latencies[int(0.50 * (len(latencies) - 1))] if latencies else -1.0
    expected = int(NOTIFY_RATE * NOTIFY_SECONDS * LISTENED / len(paths))
    return {
        "notify_p50_ms": round(p50, 1),
        "notify_p95_ms": round(p95, 1),
        "notify_messages": len(latencies),
        "notify_messages_expected": expected,
    }


ENTRY_HITS = 1000


def fill_stream(client: Any, email_id: int) -> int:
    """INGEST_HITS synthetic opens from distinct addresses, as the fast path writes them."""
    from django.conf import settings

    from tracking.fastpath import stream_entry

    stream = settings.TRACKING_STREAM
    now = time.time()
    entries = 0
    for start_at in range(0, INGEST_HITS, ENTRY_HITS):
        hits = [
            {
                "h": uuid.uuid4().hex, "k": "o", "e": str(email_id), "l": "",
                "t": repr(now + n / 100000), "ip": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
                "ua": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0", "m": "GET",
            }
            for n in range(start_at, min(INGEST_HITS, start_at + ENTRY_HITS))
        ]  # fmt: skip
        pipe = client.pipeline(transaction=False)
        pipe.xadd(stream, stream_entry(hits))
        pipe.incrby(f"{stream}:hits", len(hits))
        pipe.execute()
        entries += 1
    return entries


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_ingest(client: Any, email_id: int) -> dict[str, float]:
    entries = fill_stream(client, email_id)
    ingestor = start_ingestor()
    try:
        # The clock starts when the ingestor has read its first entries.
        waited = time.monotonic()
        while stream_state(client)[2] >= entries:
            time.sleep(0.005)
            if time.monotonic() - waited > 60:
                raise SystemExit("the ingestor did not start")
        started = time.monotonic()
        cpu = process_cpu_seconds(ingestor.pid)
        drain(client, ingestor)
        seconds = time.monotonic() - started
        cpu = process_cpu_seconds(ingestor.pid) - cpu
    finally:
        stop(ingestor)
    return {
        "ingest_rows_per_s": round(INGEST_HITS / seconds),
        "ingest_hits": INGEST_HITS,
        # The ingestor process's own CPU per hit (PostgreSQL's work is not in it).
        "ingest_cpu_us_per_hit": round(cpu / INGEST_HITS * 1e6, 1),
    }


def cpu_times() -> list[int]:
    """The machine's CPU time counters (/proc/stat, all CPUs): user .. steal."""
    return [int(value) for value in Path("/proc/stat").read_text().split()[1:9]]


def steal_percent(before: list[int], after: list[int]) -> float:
    """Share of the CPU time the hypervisor gave to other machines meanwhile (on a
    shared VM, a run with a high steal measured the neighbours, not Beacon)."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return round(100 * spent[7] / max(1, sum(spent)), 1)


def main() -> None:
    import redis

    # A terminated bench still stops the servers it started (the finally below).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    load_before = os.getloadavg()[0]
    create_database()
    emails = seed(SENDERS)
    # The classifier's cost per hit, measured on its own before the servers start (the
    # pixel and ingest figures below include it but move with the machine's load).
    from bench import classify_bench

    classify = classify_bench.run(CLASSIFY_HITS)
    log(f"classify: {json.dumps(classify)}")
    from tracking import tokens
    from tracking.models import TrackingEvent

    client = redis.Redis.from_url(REDIS_URL)
    paths = [f"/t/o/{tokens.open_token(email.pk)}.gif" for email in emails]
    url = f"http://127.0.0.1:{PORT}{paths[0]}"
    server = start_server()
    ingestor = start_ingestor()
    events = TrackingEvent.objects.filter(email__in=emails)
    results: dict[str, Any] = dict(classify)
    cpu_before = cpu_times()
    try:
        wait_ready(url)
        if not INGEST_DURING_LOAD:
            # The ingestor's work is measured on its own below; hits wait in the stream.
            stop(ingestor)
        log(f"loading {url} for {SECONDS:g}s with {CONNECTIONS} connections")
        results.update(load_wrk(url) if shutil.which("wrk") else load_python(url))
        if ingestor.poll() is not None:
            ingestor = start_ingestor()
        drain(client, ingestor)
        results.update(notify_latency(paths, [email.sender_id for email in emails]))
        drain(client, ingestor)
        stop(ingestor)
        results["hits_acknowledged"] = hits_accepted(client)
        results["events_stored"] = events.count()
        results.update(measure_ingest(client, emails[0].pk))
        results["events_equal_hits_after_ingest"] = events.count() == hits_accepted(
            client
        )
    finally:
        stop(server)
        stop(ingestor)
        client.delete(ENV["TRACKING_STREAM"], f"{ENV['TRACKING_STREAM']}:hits")
    results["cpu_steal_pct_tracking"] = steal_percent(cpu_before, cpu_times())
    log(f"tracking: {json.dumps(results)}")
    if os.environ.get("BENCH_WS", "1") != "0":
        from bench import ws_bench

        ws_port = PORT + 1
        cpu_before = cpu_times()
        results.update(
            ws_bench.run(
                run_id=RUN,
                port=ws_port,
                start_server=lambda: start_server(port=ws_port, ws=True),
                start_ingestor=start_ingestor,
                stop=stop,
                wait_ready=wait_ready,
            )
        )
        results["cpu_steal_pct_ws"] = steal_percent(cpu_before, cpu_times())
        log(f"sockets: {json.dumps({k: v for k, v in results.items() if 'ws' in k})}")
    if os.environ.get("BENCH_PAGES", "1") != "0":
        from bench import pages_bench

        cpu_before = cpu_times()
        results.update(pages_bench.run())
        results["cpu_steal_pct_pages"] = steal_percent(cpu_before, cpu_times())
    mime = ROOT / "bench" / "mime_bench.py"
    if mime.exists() and os.environ.get("BENCH_MIME", "1") != "0":
        from bench import mime_bench

        cpu_before = cpu_times()
        results.update(mime_bench.run(database_url=DATABASE_URL, redis_url=REDIS_URL))
        results["cpu_steal_pct_mime"] = steal_percent(cpu_before, cpu_times())
    results["load_avg_1m_before"] = round(load_before, 2)
    results["conditions"] = (
        f"{os.cpu_count()} CPUs shared by server, load generator, ingestor, PostgreSQL and "
        f"Redis; granian --workers {WORKERS}; pixel {SECONDS:g}s with the ingestor "
        + (
            "running"
            if INGEST_DURING_LOAD
            else "paused (its rate is ingest_rows_per_s)"
        )
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()

"""The rep's pages under load (`make bench`, after the tracking part; or alone:
`DEBUG=0 .venv/bin/python bench/pages_bench.py`, migrating BENCH_DATABASE_URL first).

1. Seeds one contact with BENCH_TIMELINE_EMAILS (default 10,000) logged emails, each
   tracked, with two counted opens and a scanner's hit (kept between runs; the events
   are written again when the tracking part emptied the events table).
2. Times the timeline fragment the record page's "Older" reads, in this process
   (server time: view, queries and template, no network): the first page and the
   deepest one, `timeline_first_p95_ms` and `timeline_deep_ratio` (deep p95 / first p95);
   the same with the cards' cache missing every time (`timeline_*_miss_p95_ms`); and
   the CPU one contact page costs this process and PostgreSQL (`contact_page_cpu_ms`,
   `contact_page_pg_cpu_ms`).
3. Loads the contact page with its timeline, signed in, with 64 connections under the
   web server the Procfile runs for pages (granian's WSGI interface) and, for comparison,
   under the ASGI server that keeps /t/ and /ws/ (`contact_page_asgi_rps`). Each
   server is loaded for BENCH_PAGE_WARMUP seconds first (default 3, not counted: its
   workers' connections, templates and page cache), as a server in service is warm.
   The page is served whole from crm.page_cache while it is unchanged, as it is here.

Environment: BENCH_TIMELINE_EMAILS, BENCH_TIMELINE_REQUESTS (default 200 per page),
BENCH_PAGE_SECONDS (default 10 per server), BENCH_WORKERS (default 2), BENCH_PAGE_PORT
(default: a free port).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.serving import wait_ready, wrk_ms  # noqa: E402 - after the path

BIN = ROOT / ".venv" / "bin"
EMAILS = int(os.environ.get("BENCH_TIMELINE_EMAILS", "10000"))
REQUESTS = int(os.environ.get("BENCH_TIMELINE_REQUESTS", "200"))
PAGE_SECONDS = float(os.environ.get("BENCH_PAGE_SECONDS", "10"))
# Load before the measured run, not counted: each worker's first requests open its
# database and Redis connections, load the templates and fill the page cache.
WARMUP_SECONDS = float(os.environ.get("BENCH_PAGE_WARMUP", "3"))
WORKERS = os.environ.get("BENCH_WORKERS", "2")
PORT = int(os.environ.get("BENCH_PAGE_PORT", "0"))  # 0: a free port, picked per run
CONNECTIONS = 64
CONTACT_EMAIL = "timeline-bench@bench.example"
START = datetime(2025, 1, 1, tzinfo=UTC)


def log(message: str) -> None:
    print(f"[bench pages] {message}", file=sys.stderr, flush=True)


def seed() -> tuple[Any, Any]:
    """The rep and the contact with EMAILS logged, tracked emails."""
    from django.contrib.auth.models import User

    from activity.models import EmailThread, LoggedEmail
    from crm.models import Contact
    from crm.services import contact_create
    from settings_admin.models import Seat, UserSettings

    rep, _ = User.objects.get_or_create(
        username="bench-rep", defaults={"email": "bench-rep@beacon.example"}
    )
    UserSettings.objects.update_or_create(user=rep, defaults={"seat": Seat.SALES})
    contact = Contact.objects.filter(emails__email=CONTACT_EMAIL).first()
    if contact is None:
        contact = contact_create(
            emails=[CONTACT_EMAIL], first_name="Tim", last_name="Line", owner=rep
        )
    have = LoggedEmail.objects.filter(contacts=contact).count()
    if have < EMAILS:
        log(f"seeding {EMAILS - have} logged, tracked emails")
        _seed_emails(rep, contact, EMAILS - have, EmailThread, LoggedEmail)
    _seed_events(contact)
    return rep, contact


def _seed_emails(
    rep: Any, contact: Any, count: int, thread_model: Any, logged_model: Any
) -> None:
    from tracking.models import TrackedEmail, TrackedLink

    run = uuid.uuid4().hex[:8]
    batch = 2000
    for offset in range(0, count, batch):
        size = min(batch, count - offset)
        sent = [START + timedelta(minutes=offset + n) for n in range(size)]
        threads = thread_model.objects.bulk_create(
            [thread_model(subject=f"Bench {n}") for n in range(size)]
        )
        tracked = TrackedEmail.objects.bulk_create(
            [
                TrackedEmail(
                    sender=rep,
                    from_address=rep.email,
                    to=[CONTACT_EMAIL],
                    subject=f"Bench proposal {offset + n}",
                    tracked=True,
                    track_clicks=True,
                    contact=contact,
                    decisions=[
                        {"email": CONTACT_EMAIL, "tracked": True, "reason": "tracked"}
                    ],
                    sent_at=sent[n],
                )
                for n in range(size)
            ]
        )
        TrackedLink.objects.bulk_create(
            [
                TrackedLink(email=email, position=0, url="https://example.com/pricing")
                for email in tracked
            ]
        )
        logged = logged_model.objects.bulk_create(
            [
                logged_model(
                    message_id=f"<bench-{run}-{offset + n}@bench.example>",
                    sender=rep,
                    thread=threads[n],
                    from_address=rep.email,
                    from_name="Bench Rep",
                    to=[CONTACT_EMAIL],
                    cc=[],
                    subject=f"Bench proposal {offset + n}",
                    sent_at=sent[n],
                    html_body="<p>Hello</p>",
                    text_body="Hello",
                    tracked_email=tracked[n],
                )
                for n in range(size)
            ]
        )
        through = logged_model.contacts.through
        through.objects.bulk_create(
            [
                through(loggedemail_id=email.pk, contact_id=contact.pk)
                for email in logged
            ]
        )


def _seed_events(contact: Any) -> None:
    """Two counted opens and a scanner's hit per email, unless they are there."""
    from django.db import connection

    from tracking.models import Kind, TrackedEmail, TrackingEvent, Verdict

    emails = TrackedEmail.objects.filter(contact=contact, sender__username="bench-rep")
    if TrackingEvent.objects.filter(email__in=emails).exists():
        return
    log("seeding the bench timeline's events")
    rows = []
    for email_id, sent_at in emails.values_list("id", "sent_at").iterator():
        for minutes, verdict in (
            (5, Verdict.HUMAN),
            (60, Verdict.PROXY),
            (1, Verdict.SCANNER),
        ):
            rows.append(
                TrackingEvent(
                    hit_id=uuid.uuid4(),
                    email_id=email_id,
                    kind=Kind.OPEN,
                    occurred_at=sent_at + timedelta(minutes=minutes),
                    ip="198.51.100.7",
                    user_agent="Mozilla/5.0 (bench)",
                    method="GET",
                    verdict=verdict,
                    reason="bench",
                    contact_id=contact.pk,
                )
            )
    TrackingEvent.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def timeline_times(rep: Any, contact: Any) -> dict[str, Any]:
    from django.test import Client
    from django.urls import reverse

    from activity.selectors import cursor_encode, timeline_queryset

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(rep)
    url = reverse("timeline-page", args=["contacts", contact.pk])
    rows = timeline_queryset(contact)
    # The cursor of the last full page: the deepest "Older" a rep can reach.
    deepest = rows.reverse()[25]
    deep_url = f"{url}?cursor={cursor_encode(deepest)}"
    timings: dict[str, list[float]] = {"first": [], "deep": []}
    for n in range(REQUESTS + 10):
        for name, target in (("first", url), ("deep", deep_url)):
            started = time.perf_counter()
            response = client.get(target, headers={"Beacon-Fragment": "1"})
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.status_code
            if n >= 10:  # warm-up
                timings[name].append(elapsed)
    first = _percentile(timings["first"], 0.95)
    deep = _percentile(timings["deep"], 0.95)
    return {
        "timeline_emails": rows.count(),
        "timeline_first_p95_ms": round(first, 2),
        "timeline_first_p50_ms": round(_percentile(timings["first"], 0.5), 2),
        "timeline_deep_p95_ms": round(deep, 2),
        "timeline_deep_ratio": round(deep / first, 2),
        **_missed(client, url, deep_url),
    }


def _missed(client: Any, url: str, deep_url: str) -> dict[str, float]:
    """The same pages with the cards' cache always missing (activity.timeline_cache,
    config.digest_cache): what the first view after a change costs (selector, cards,
    template, digest)."""
    from django.core.cache.backends.dummy import DummyCache

    from config import digest_cache

    kept = digest_cache.cache
    digest_cache.cache = DummyCache("bench", {})
    timings: dict[str, list[float]] = {"first": [], "deep": []}
    try:
        for n in range(REQUESTS // 2 + 5):
            for name, target in (("first", url), ("deep", deep_url)):
                started = time.perf_counter()
                client.get(target, headers={"Beacon-Fragment": "1"})
                if n >= 5:
                    timings[name].append((time.perf_counter() - started) * 1000)
    finally:
        digest_cache.cache = kept
    return {
        "timeline_first_miss_p95_ms": round(_percentile(timings["first"], 0.95), 2),
        "timeline_deep_miss_p95_ms": round(_percentile(timings["deep"], 0.95), 2),
    }


def page_cpu(rep: Any, contact: Any) -> dict[str, float]:
    """CPU per contact page in this process (view, queries' client side, template; the
    cards from the cache), the median of 5 rounds of 50: steadier than a rate on a
    shared machine. PostgreSQL's CPU for the same requests, read from its backend."""
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(rep)
    path = f"/contacts/{contact.pk}/"
    for _ in range(10):
        client.get(path)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = Path(f"/proc/{cursor.fetchone()[0]}/stat")
    rounds: list[tuple[float, float]] = []
    for _ in range(5):
        server, cpu = _backend_cpu(backend), time.process_time()
        for _ in range(50):
            client.get(path)
        rounds.append(
            ((time.process_time() - cpu) * 20, (_backend_cpu(backend) - server) * 20)
        )
    rounds.sort()
    return {
        "contact_page_cpu_ms": round(rounds[2][0], 2),
        "contact_page_pg_cpu_ms": round(rounds[2][1], 2),
    }


def _backend_cpu(stat: Path) -> float:
    """CPU seconds of a local process (0 when it is not readable: another host)."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def session_cookie(rep: Any) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(rep)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def _free_port() -> int:
    if PORT:
        return PORT
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server(interface: str, port: int) -> subprocess.Popen[bytes]:
    target = (
        "config.wsgi:application" if interface == "wsgi" else "config.asgi:application"
    )
    return subprocess.Popen(  # noqa: S603 - our own fixed command
        [
            str(BIN / "granian"), "--interface", interface, "--host", "127.0.0.1",
            "--port", str(port), "--workers", WORKERS, "--log-level", "warning",
            *(["--blocking-threads", os.environ.get("WEB_THREADS", "4")]
              if interface == "wsgi" else []),
            target,
        ],
        cwd=ROOT, start_new_session=True, stdout=sys.stderr,
        # As the Procfile: `live` (ASGI) on a connection pool, `web` (WSGI) on a
        # persistent connection per thread.
        env={**os.environ, **({"DB_POOL_SIZE": "8"} if interface == "asgi" else {})},
    )  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def load(url: str, cookie: str) -> tuple[float, float, int]:
    """(requests/s, p99 ms, non-2xx) for the page at `url`, signed in."""
    if shutil.which("wrk"):

        def wrk(seconds: float) -> str:
            return subprocess.run(  # noqa: S603 - fixed arguments
                [
                    shutil.which("wrk") or "wrk", "-t2", f"-c{CONNECTIONS}",
                    f"-d{seconds:g}s", "--timeout", "10s", "--latency",
                    "-H", f"Cookie: {cookie}", url,
                ],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip

        if WARMUP_SECONDS:
            wrk(WARMUP_SECONDS)
        out = wrk(PAGE_SECONDS)
        log(out)
        p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        # wrk leaves timed-out requests out of its latencies: they count as errors.
        timeouts = re.search(r"Socket errors: .*timeout (\d+)", out)
        return (
            float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            wrk_ms(*p99.groups()) if p99 else 0.0,
            (int(errors.group(1)) if errors else 0)
            + (int(timeouts.group(1)) if timeouts else 0),
        )
    from bench.pixel_load import run_load

    if WARMUP_SECONDS:
        asyncio.run(
            run_load(
                url, connections=CONNECTIONS, seconds=WARMUP_SECONDS, cookie=cookie
            )
        )
    result = asyncio.run(
        run_load(url, connections=CONNECTIONS, seconds=PAGE_SECONDS, cookie=cookie)
    )
    return (
        round(result.requests / result.seconds, 1),
        result.percentile(0.99),
        result.errors,
    )


def page_load(rep: Any, contact: Any) -> dict[str, Any]:
    cookie = session_cookie(rep)
    path = f"/contacts/{contact.pk}/"
    results: dict[str, Any] = {}
    for interface, key in (("wsgi", "contact_page"), ("asgi", "contact_page_asgi")):
        port = _free_port()
        server = _server(interface, port)
        try:
            wait_ready(f"http://127.0.0.1:{port}/healthz", tries=300)
            log(f"loading {path} under granian {interface} for {PAGE_SECONDS:g}s")
            rps, p99, errors = load(f"http://127.0.0.1:{port}{path}", cookie)
        finally:
            _stop(server)
        results[f"{key}_rps"] = round(rps, 1)
        results[f"{key}_p99_ms"] = round(p99, 1)
        results[f"{key}_errors"] = errors
    # The name for the same view under a plain WSGI server.
    results["contact_page_wsgi_rps"] = results["contact_page_rps"]
    return results


def run() -> dict[str, Any]:
    """Inside a process where Django is set up on the bench database."""
    from django.core.management import call_command

    # DEBUG=0 serves hashed static names from the manifest collectstatic writes.
    call_command("collectstatic", "--noinput", verbosity=0)
    rep, contact = seed()
    results = timeline_times(rep, contact)
    results.update(page_cpu(rep, contact))
    log(f"timeline: {results}")
    results.update(page_load(rep, contact))
    return results


def main() -> None:
    import json

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    if "BENCH_DATABASE_URL" in os.environ:
        os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    print(json.dumps(run()))


if __name__ == "__main__":
    main()

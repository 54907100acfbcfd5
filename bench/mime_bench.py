"""Inbound mail benchmark (issue 4): throughput and peak memory of the logging path.

`run(database_url=..., redis_url=...)` answers
- `mime_msgs_per_s`: ~25 KB messages sent over loopback SMTP (4 connections) to the
  real BCC receiver (activity.smtp), stored raw, then parsed and logged into
  PostgreSQL by a real Celery worker (prefork, one process per core, on a queue of its
  own); the clock stops when every row has its outcome. Without Redis the task runs
  eagerly inside the receiver. `mime_receive_msgs_per_s` is the receiving half alone.
- `mime_peak_mem_ratio`: one 60 MB message (a 44 MB attachment, base64) stored and
  processed in a fresh process; the ratio is that process's peak RSS during the
  message (VmHWM, reset just before) less its RSS before, divided by the message size.

Each measurement runs in its own subprocess so neither sees the other's memory.
Standalone: `python bench/mime_bench.py` prints the JSON (DATABASE_URL / REDIS_URL from
the environment, default the local services).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = int(os.environ.get("MIME_BENCH_MESSAGES", "600"))
CONNECTIONS = int(os.environ.get("MIME_BENCH_CONNECTIONS", "4"))
WORKER_PROCESSES = int(os.environ.get("MIME_BENCH_WORKERS", str(os.cpu_count() or 2)))
BIG_ATTACHMENT_BYTES = 44 * 1024 * 1024  # base64 makes the message ~60 MB
SENDER = "bench.sender@beacon.example"


def run(*, database_url: str, redis_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as media:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "MEDIA_ROOT": media,  # raw mail and attachments; removed afterwards
            "CELERY_QUEUE": f"mime-bench-{uuid.uuid4().hex[:8]}",
        }
        env.setdefault("DEBUG", "0")
        env.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
        throughput = _child("throughput", env)
        memory = _child("memory", env)
    return {**throughput, **memory}


def _child(mode: str, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(Path(__file__).resolve()), "--child", mode],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-5000:])  # Why the measurement failed.
        out.check_returncode()
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- inside the child processes ----------------------------------------------------------


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from config.celery import app

    # The worker's code path, run in this process unless a worker is started.
    app.conf.task_always_eager = True


def _cast() -> list[str]:
    """The sender (a user) and 20 contacts at one company with an open deal each."""
    from django.contrib.auth.models import User

    from crm.models import Pipeline, PipelineKind, Stage
    from crm.selectors import contact_get_by_email
    from crm.services import association_create, contact_create, deal_create

    # A username of its own: bench/run.py's tracking senders share this database.
    User.objects.update_or_create(
        username="mime-bench-sender", defaults={"email": SENDER, "is_active": True}
    )
    pipeline, _ = Pipeline.objects.get_or_create(name="Bench", kind=PipelineKind.DEAL)
    stage, _ = Stage.objects.get_or_create(pipeline=pipeline, name="Open")
    addresses = [f"buyer{i}@bench-customer.example" for i in range(20)]
    for address in addresses:
        if contact_get_by_email(address) is None:
            contact = contact_create(emails=[address], first_name="Buyer")
            deal = deal_create(name=f"Deal {address}", pipeline=pipeline, stage=stage)
            association_create(left=contact, right=deal)
    return addresses


def _message(index: int, to: str, run_id: str) -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = f"Bench Sender <{SENDER}>"
    msg["To"] = to
    msg["Subject"] = f"Proposal {index} \u2013 r\u00e9sum\u00e9"
    msg["Message-ID"] = f"<bench-{run_id}-{index}@beacon.example>"
    msg["Date"] = "Mon, 02 Nov 2026 09:30:00 +0000"
    paragraph = "We are pleased to send you our proposal for the next season. " * 8
    text = "\n\n".join(f"{i}. {paragraph}" for i in range(24))  # ~12 KB
    msg.set_content(text)
    msg.add_alternative(
        "<html><body>"
        + "".join(f"<p>{i}. {paragraph}</p>" for i in range(24))
        + "</body></html>",
        subtype="html",
    )
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def _start_worker(queue: str) -> subprocess.Popen[bytes]:
    """A real Celery worker (prefork, one process per core) on a queue of our own."""
    return subprocess.Popen(  # noqa: S603 - our own worker, fixed arguments
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "--concurrency",
            str(WORKER_PROCESSES),
            "--pool",
            "prefork",
            "--loglevel",
            "warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_processed(prefix: str, count: int, timeout: float = 300) -> float:
    from activity.models import InboundEmail, InboundStatus

    deadline = time.monotonic() + timeout
    rows = InboundEmail.objects.filter(message_id__startswith=prefix)
    while time.monotonic() < deadline:
        done = rows.exclude(status=InboundStatus.RECEIVED).count()
        if done >= count:
            return time.perf_counter()
        time.sleep(0.02)
    raise TimeoutError(f"only some of {count} messages were processed")


def _tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children so far (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            kids = [int(child) for child in children.read().split()]
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_tree_cpu_seconds(kid) for kid in kids)


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def throughput() -> dict[str, Any]:
    import smtplib
    import socket
    from concurrent.futures import ThreadPoolExecutor

    _django()
    from django.conf import settings
    from django.contrib.auth.models import User

    from activity.models import InboundEmail, InboundStatus
    from activity.smtp import bcc_controller
    from activity.tests.dns_server import dns_server
    from config.celery import app
    from settings_admin.selectors import account_settings_get, user_settings_get

    use_worker = bool(os.environ.get("REDIS_URL")) and WORKER_PROCESSES > 0
    from config.process import tune_garbage_collector

    tune_garbage_collector()  # as `manage.py run_bcc_smtp` does before it serves
    app.conf.task_always_eager = not use_worker
    addresses = _cast()
    # The sender's personal address (the account-wide one logs only DMARC-passing
    # mail); the receiver's DMARC lookups go to a DNS server on loopback.
    sender = User.objects.get(username="mime-bench-sender")
    bcc = user_settings_get(sender).bcc_address(account_settings_get())
    dns = contextlib.ExitStack()
    _, settings.DMARC_DNS_SERVERS = dns.enter_context(dns_server())
    run_id = uuid.uuid4().hex[:12]
    messages = [_message(i, addresses[i % 20], run_id) for i in range(MESSAGES)]
    warmup = [_message(i, addresses[i % 20], run_id + "w") for i in range(8)]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    worker = _start_worker(os.environ["CELERY_QUEUE"]) if use_worker else None
    controller = bcc_controller("127.0.0.1", port)
    controller.start()

    def send(share: list[bytes]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
            for data in share:
                client.sendmail(SENDER, [bcc], data)

    try:
        send(warmup)  # worker up, connections open
        _wait_processed(f"bench-{run_id}w-", len(warmup), timeout=120)
        shares = [messages[i::CONNECTIONS] for i in range(CONNECTIONS)]
        load_before = os.getloadavg()[0]
        cpu_before = _own_cpu_seconds()
        worker_cpu_before = _tree_cpu_seconds(worker.pid) if worker else 0.0
        started = time.perf_counter()
        with ThreadPoolExecutor(CONNECTIONS) as pool:
            list(pool.map(send, shares))
        sent = time.perf_counter()
        finished = _wait_processed(f"bench-{run_id}-", MESSAGES)
        cpu = _own_cpu_seconds() - cpu_before
        worker_cpu = (_tree_cpu_seconds(worker.pid) if worker else 0.0) - (
            worker_cpu_before
        )
        load_after = os.getloadavg()[0]
    finally:
        controller.stop()
        dns.close()
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                # Measured already; a warm shutdown that hangs must not lose it.
                sys.stderr.write("The worker did not stop within 30 s: killed.\n")
                worker.kill()
                worker.wait(30)
            # Tasks whose rows a batch already took stay queued: drop the queue.
            with app.connection_for_write() as conn:
                conn.default_channel.queue_purge(os.environ["CELERY_QUEUE"])
                conn.default_channel.queue_delete(os.environ["CELERY_QUEUE"])
    elapsed = finished - started
    rows = InboundEmail.objects.filter(message_id__startswith=f"bench-{run_id}-")
    logged = rows.filter(status=InboundStatus.LOGGED, reason="").count()
    return {
        "mime_msgs_per_s": round(logged / elapsed, 1),
        "mime_messages": MESSAGES,
        "mime_messages_logged": logged,
        "mime_message_bytes": len(messages[0]),
        "mime_smtp_connections": CONNECTIONS,
        "mime_receive_msgs_per_s": round(MESSAGES / (sent - started), 1),
        "mime_load_avg_1m_before": round(load_before, 2),
        "mime_load_avg_1m_after": round(load_after, 2),
        # CPU per message, whatever else shares the machine (PostgreSQL and Redis
        # not counted): the receiver's process (with the sending clients' threads)
        # and the worker with its pool processes.
        "mime_cpu_ms_per_msg_receiver_and_clients": round(1000 * cpu / MESSAGES, 2),
        "mime_cpu_ms_per_msg_worker": round(1000 * worker_cpu / MESSAGES, 2),
        "mime_worker": (
            f"celery prefork x{WORKER_PROCESSES}" if use_worker else "eager in receiver"
        ),
    }


def _write_big_message(path: Path, run_id: str) -> int:
    """A ~60 MB message written in chunks, never held in memory whole."""
    boundary = f"bench-{run_id}"
    head = (
        f"From: Bench Sender <{SENDER}>\r\nTo: buyer0@bench-customer.example\r\n"
        f"Subject: Big one\r\nMessage-ID: <big-{run_id}@beacon.example>\r\n"
        "Date: Mon, 02 Nov 2026 09:30:00 +0000\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "The drawings are attached.\r\n"
        f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
        'Content-Disposition: attachment; filename="drawings.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    with path.open("wb") as out:
        out.write(head.encode())
        remaining = BIG_ATTACHMENT_BYTES
        while remaining:
            chunk = os.urandom(min(remaining, 57 * 1024))  # 57 bytes = one 76-char line
            remaining -= len(chunk)
            encoded = base64.b64encode(chunk)
            for start in range(0, len(encoded), 76):
                out.write(encoded[start : start + 76] + b"\r\n")
        out.write(f"--{boundary}--\r\n".encode())
    return path.stat().st_size


def _status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (Linux), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def _reset_peak_rss() -> int:
    """Reset the RSS high-water mark (VmHWM) to the current RSS and return it.

    Without the reset, the peak of Django's setup and `migrate` (run just before) would
    hide the message's own growth: ru_maxrss never goes down.
    """
    Path("/proc/self/clear_refs").write_text("5")
    return _status_bytes("VmRSS")


def memory() -> dict[str, Any]:
    _django()
    from django.core.files import File

    from activity.inbound import inbound_receive
    from activity.models import InboundRoute, InboundStatus
    from activity.tasks import inbound_enqueue

    _cast()
    run_id = uuid.uuid4().hex[:12]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.eml"
        size = _write_big_message(path, run_id)
        before = _reset_peak_rss()
        started = time.perf_counter()
        with path.open("rb") as fp:
            # Stored, then processed on commit by the eager task.
            inbound = inbound_receive(
                route=InboundRoute.API,
                raw=File(fp, name="big.eml"),
                enqueue=inbound_enqueue,
            )
        inbound.refresh_from_db()
        elapsed = time.perf_counter() - started
        after = _status_bytes("VmHWM")
    ok = inbound.status == InboundStatus.LOGGED
    return {
        "mime_peak_mem_ratio": round((after - before) / size, 2),
        "mime_big_message_bytes": size,
        "mime_big_message_logged": ok,
        "mime_big_message_seconds": round(elapsed, 2),
    }


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        result = throughput() if sys.argv[2] == "throughput" else memory()
        print(json.dumps(result))
    else:
        print(
            json.dumps(
                run(
                    database_url=os.environ.get(
                        "DATABASE_URL",
                        "postgres://postgres@127.0.0.1:5432/beacon_bench",
                    ),
                    redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                ),
                indent=2,
            )
        )

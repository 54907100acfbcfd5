"""What browser tests share: Debian's Chromium driven by Playwright, and Beacon's real
ASGI server (granian) with the tracking ingestor, run as subprocesses on the test database;
and a Redis of a test's own that it kills and restarts (`RedisProcess`, also used by
`bench/chaos.py`).

Django's live server is WSGI and cannot carry websockets, so pages that hold a
notification socket are tested against the same server the Procfile runs. The server and
the ingestor connect to the test PostgreSQL and Redis, so a test that uses them must commit
its data (`transactional_db`). Screenshots go to `BEACON_TEST_OUTPUT` (default
`test-output/` in the repository, ignored by git) for people reviewing a change.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
import redis
from django.conf import settings
from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TEST_PASSWORD = "beacon-test-password"  # noqa: S105 - the cast's password in tests only


def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def screenshot_path(name: str) -> Path:
    """Where a browser test writes the screenshot `name` (a file name, e.g. "feed.png")."""
    folder = Path(os.environ.get("BEACON_TEST_OUTPUT", BASE_DIR / "test-output"))
    folder = folder / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url_of_tests() -> str:
    """The URL of the database the test run created (PostgreSQL only)."""
    db = connection.settings_dict
    auth = db["USER"] or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class ServerProcesses:
    """granian serving config.asgi and, with Redis, `run_tracking_ingest` beside it."""

    url: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    def output(self) -> str:
        """What the processes printed so far, for a failing test's message."""
        text = []
        for log in self.logs:
            log.flush()
            text.append(Path(log.name).read_text(errors="replace")[-20_000:])
        return "\n".join(text)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()


def server_environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEBUG="1",
        DATABASE_URL=database_url_of_tests(),
        # Each request opens its own connection: the test's flush between tests must
        # not wait on a connection the server keeps.
        DB_CONN_MAX_AGE="0",
        LOG_LEVEL="WARNING",
        TEST_FAST_PASSWORD_HASHER="1",  # noqa: S106 - a switch, not a password
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _wait_until_up(server: ServerProcesses, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in server.processes:
            if process.poll() is not None:
                raise RuntimeError(f"a server process exited:\n{server.output()}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as answer:  # noqa: S310 - our own loopback server
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(
        f"the ASGI server did not answer within {timeout}s:\n{server.output()}"
    )


APPLICATION = "config.asgi:application"


def granian_command(port: int, *options: str) -> list[str]:
    """Beacon's ASGI application under granian on 127.0.0.1:`port`, with `options`."""
    granian = Path(sys.executable).parent / "granian"
    address = ["--host", "127.0.0.1", "--port", str(port)]
    return [str(granian), "--interface", "asgi", *address, *options, APPLICATION]


@contextmanager
def asgi_server_processes(
    *, ingest: bool = True, **env: str
) -> Iterator[ServerProcesses]:
    """Start granian (one worker) on a free port and, with Redis, the ingestor."""
    port = free_port()
    server = ServerProcesses(url=f"http://127.0.0.1:{port}")
    environment = server_environment(PUBLIC_BASE_URL=server.url, **env)
    commands = [granian_command(port, "--workers", "1", "--log-level", "warning")]
    if ingest and settings.REDIS_URL:
        commands.append(
            [sys.executable, "manage.py", "run_tracking_ingest", "--block-ms", "200"]
        )
    try:
        for command in commands:
            log = tempfile.NamedTemporaryFile(prefix="beacon-server-", suffix=".log")  # noqa: SIM115 - closed in stop()
            server.logs.append(log)
            server.processes.append(
                subprocess.Popen(  # noqa: S603 - fixed commands of our own
                    command,
                    cwd=BASE_DIR,
                    env=environment,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        _wait_until_up(server)
        yield server
    finally:
        server.stop()


def sign_in(
    page: Any, base_url: str, username: str, password: str = TEST_PASSWORD
) -> None:
    """Sign in through the login form, as a person does; lands on the home page."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


class RedisProcess:
    """A Redis server of our own: its own port and directory, append-only file on
    (`everysec`, as in production), killed with SIGKILL and restarted on demand."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        self.process = subprocess.Popen(  # noqa: S603 - our own arguments
            [
                binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.directory), "--appendonly", "yes",
                "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if client.ping():
                    return
            except redis.RedisError:  # not listening yet, or loading its data
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {self.port} did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()


def sever_database(name: str, allow: bool) -> None:
    """Refuse (or allow again) new connections to the test database and end every
    other one: PostgreSQL going away for the processes a test started (an ingestor, a
    Celery worker), not for the test's own connection."""
    own = connection.cursor().connection.info.backend_pid
    params = connection.get_connection_params()
    params["dbname"] = "postgres"  # a database may not refuse its own connection
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(
            f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allow).lower()}'
        )
        if not allow:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> %s",
                [name, own],
            )

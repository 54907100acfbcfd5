"""Compare ASGI servers on the real Beacon application: granian, uvicorn and daphne.

Each server runs alone, one worker process, on a free local port, serving
config.asgi:application with DEBUG=0 and an embedded SQLite database. Each path gets a
short warm-up and then a bounded load (wrk if installed, else a small asyncio client):
the same number of keep-alive connections for the same time. Prints req/s, p50 and p99.

    .venv/bin/python bench/asgi_servers.py                  # 10 s, 64 connections
    .venv/bin/python bench/asgi_servers.py --duration 5 --paths /healthz

The load generator shares the machine with the server, so the figures compare servers;
they are not a capacity plan.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
APP = "config.asgi:application"
OUT = ROOT / "bench" / "out" / "asgi_servers.json"


def server_command(name: str, port: int) -> list[str]:
    host = "127.0.0.1"
    if name == "granian":
        return [
            str(BIN / "granian"), "--interface", "asgi", "--host", host,
            "--port", str(port), "--workers", "1", "--log-level", "warning",
            "--no-access-log", APP,
        ]  # fmt: skip
    if name == "uvicorn":
        return [
            str(BIN / "uvicorn"), APP, "--host", host, "--port", str(port),
            "--workers", "1", "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
    if name == "daphne":
        return [str(BIN / "daphne"), "-b", host, "-p", str(port), "-v", "0", APP]
    raise ValueError(name)


@dataclass
class Result:
    server: str
    version: str
    path: str
    tool: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_environment(workdir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "REQUIRE_SERVICES"}
    }
    env |= {
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-" + os.urandom(16).hex(),
        "SQLITE_PATH": str(workdir / "bench.sqlite3"),
        "STATIC_ROOT": str(workdir / "static"),
        "MEDIA_ROOT": str(workdir / "media"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_COOKIES": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    return env


def prepare(env: dict[str, str]) -> None:
    """Migrate the scratch database and collect static files (the manifest is needed)."""
    for args in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run(  # noqa: S603 - our own interpreter and manage.py
            [sys.executable, "manage.py", *args, "--verbosity", "0", "--skip-checks"],
            cwd=ROOT,
            env=env,
            check=True,
        )


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url} within {timeout:.0f} s")


def run_wrk(
    url: str, duration: int, connections: int
) -> tuple[float, float, float, int]:
    wrk = shutil.which("wrk")
    assert wrk is not None
    # One wrk thread: the server gets the rest of the (shared) machine.
    output = subprocess.run(  # noqa: S603 - fixed arguments
        [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]

    def percentile(label: str) -> float:
        match = re.search(
            rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE
        )
        assert match is not None, output
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = 0
    for pattern in (r"Non-2xx or 3xx responses:\s+(\d+)", r"Socket errors:.*?(\d+)"):
        found = re.search(pattern, output)
        errors += int(found.group(1)) if found else 0
    return rps, percentile("50"), percentile("99"), errors


async def _client(
    host: str,
    port: int,
    path: str,
    until: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    try:
        while time.monotonic() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            if length is None:
                errors.append(1)
                return
            await reader.readexactly(int(length.group(1)))
            latencies.append((time.perf_counter() - started) * 1000)
            if not head.startswith(b"HTTP/1.1 2"):
                errors.append(1)
    finally:
        writer.close()


def run_asyncio(
    port: int, path: str, duration: int, connections: int
) -> tuple[float, float, float, int]:
    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> None:
        until = time.monotonic() + duration
        await asyncio.gather(
            *(
                _client("127.0.0.1", port, path, until, latencies, errors)
                for _ in range(connections)
            )
        )

    asyncio.run(main())
    cuts = statistics.quantiles(latencies, n=100)
    return len(latencies) / duration, cuts[49], cuts[98], len(errors)


def run_load(
    tool: str, port: int, path: str, duration: int, connections: int
) -> tuple[float, float, float, int]:
    if tool == "wrk":
        return run_wrk(f"http://127.0.0.1:{port}{path}", duration, connections)
    return run_asyncio(port, path, duration, connections)


def measure(
    name: str, env: dict[str, str], paths: list[str], duration: int, connections: int
) -> list[Result]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - commands built above
        server_command(name, port),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    results = []
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz")
        tool = "wrk" if shutil.which("wrk") else "asyncio"
        for path in paths:
            run_load(tool, port, path, 1, connections)  # warm-up, not counted
            rps, p50, p99, errors = run_load(tool, port, path, duration, connections)
            results.append(
                Result(name, version(name), path, tool, rps, p50, p99, errors)
            )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per path")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--paths", nargs="+", default=["/healthz", "/accounts/login/"])
    parser.add_argument(
        "--servers", nargs="+", default=["granian", "uvicorn", "daphne"]
    )
    args = parser.parse_args()

    load = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        f"at start; {args.connections} connections, {args.duration} s per path, "
        "one worker process per server."
    )
    with tempfile.TemporaryDirectory(prefix="beacon-bench-") as scratch:
        env = bench_environment(Path(scratch))
        prepare(env)
        results: list[Result] = []
        for name in args.servers:
            results += measure(name, env, args.paths, args.duration, args.connections)

    print(
        f"\n{'server':<16} {'path':<18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} errors"
    )
    for r in results:
        print(
            f"{r.server + ' ' + r.version:<16} {r.path:<18} {r.requests_per_s:>9.0f} "
            f"{r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.errors:>6}"
        )
    print(f"(load generator: {results[0].tool if results else '-'})")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()

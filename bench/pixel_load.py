"""A small asyncio HTTP/1.1 load generator: the fallback when `wrk` is not installed, and
the paced client of the notification-latency run (`make bench`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def percentile(self, share: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def _worker(
    url: str,
    deadline: float,
    result: LoadResult,
    agent: Callable[[int], str],
    pace: asyncio.Queue[int] | None,
    path_for: Callable[[int], str] | None,
    cookie: str = "",
) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        while time.monotonic() < deadline:
            number = await pace.get() if pace is not None else result.requests
            if number < 0:
                return
            target = path_for(number) if path_for else path
            request = (
                f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"User-Agent: {agent(number)}\r\n"
                + (f"Cookie: {cookie}\r\n" if cookie else "")
                + "\r\n"
            ).encode()
            started = time.perf_counter()
            writer.write(request)
            status = await _read_response(reader)
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.requests += 1
            if status >= 400:
                result.errors += 1
    finally:
        writer.close()


async def run_load(
    url: str,
    *,
    connections: int,
    seconds: float,
    rate: float | None = None,
    agent: Callable[[int], str] = lambda n: "beacon-bench",
    path_for: Callable[[int], str] | None = None,
    cookie: str = "",
) -> LoadResult:
    """Keep-alive GETs on `connections` connections; paced at `rate` req/s when given.

    `path_for(n)` picks the n-th request's path (default: the path of `url`); `cookie`
    is sent with every request (a signed-in page).
    """
    result = LoadResult()
    deadline = time.monotonic() + seconds
    pace: asyncio.Queue[int] | None = asyncio.Queue() if rate else None
    started = time.monotonic()
    workers = [
        asyncio.create_task(
            _worker(url, deadline, result, agent, pace, path_for, cookie)
        )
        for _ in range(connections)
    ]
    if pace is not None and rate:
        number = 0
        while time.monotonic() < deadline:
            due = started + number / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            pace.put_nowait(number)
            number += 1
        for _ in workers:
            pace.put_nowait(-1)
    await asyncio.gather(*workers, return_exceptions=True)
    result.seconds = time.monotonic() - started
    return result

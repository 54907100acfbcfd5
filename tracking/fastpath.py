"""The `/t/...` hot path: a bare ASGI app, no Django middleware, no ORM on the request.

- `GET|HEAD /t/o/<token>.gif` always answers the 43-byte transparent GIF; a genuine
  token's hit is recorded first.
- `GET|HEAD /t/c/<token>` answers 302 to the link's stored URL, or 404; 503 when its hit
  could not be recorded.

No hit is acknowledged before it is recorded. In services mode a hit is in the Redis
stream (XADD) or, when the stream cannot take it, in this worker's fsynced spill journal
on local disk (tracking.spill), from which a replayer moves it into the stream once
Redis is back; in embedded mode it is in the database. Only when both the stream and
the journal fail is a hit not recorded: the click then answers 503 (the reader can try
again), the pixel still answers its image (never a broken image), and the hit is counted
(`<stream>:lost` for opens, `<stream>:refused` for clicks) and logged.
Concurrent hits share one round trip (group commit): each response awaits the batch
holding its hit, and the batch is ONE stream entry
(docs/decisions/one-stream-entry-per-batch.md).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings

from config.client_address import scope_client
from config.outages import OutageLog
from tracking import tokens
from tracking.spill import JournalError, Replayer, SpillJournal

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
Hit = dict[str, str]

GIF = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
if len(GIF) != 43:  # the well-known transparent 1x1 GIF
    raise RuntimeError("pixel GIF must be 43 bytes")
NO_STORE = b"no-store, no-cache, must-revalidate, max-age=0"
PIXEL_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"content-length", b"43"),
    (b"cache-control", NO_STORE),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
]
MAX_BATCH = 2000
STREAM_TIMEOUT_S = 2.0
# After a failed stream write, batches go straight to the journal for this long.
STREAM_RETRY_AFTER_S = 0.5
LINK_CACHE_SIZE = 100_000


class GroupCommit:
    """Many concurrent hits, one write: each caller awaits the batch holding its hit."""

    def __init__(self, write: Callable[[list[Hit]], Awaitable[None]]) -> None:
        self.write = write
        self.pending: list[tuple[Hit, asyncio.Future[None]]] = []
        self.flusher: asyncio.Task[None] | None = None

    async def record(self, hit: Hit) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((hit, future))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self.pending:
            batch = self.pending[:MAX_BATCH]
            del self.pending[:MAX_BATCH]
            try:
                await self.write([hit for hit, _ in batch])
            except Exception as exc:  # handed to every request waiting on the batch
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)


class StreamWriter:
    """Services mode: one stream entry per batch of hits, written in one round trip.

    One XADD per batch rather than per hit: encoding and parsing one Redis command per
    hit cost more CPU than everything else on the request (see bench/RESULTS.md).
    `<stream>:hits` counts the hits ever accepted.
    """

    # XADD and the count as ONE command: redis-py's client-side work per command (packing,
    # pipeline, reply parsing) is most of a small batch's cost; a pipeline of the two
    # measured ~300 us of CPU per batch, the script ~240 us.
    SCRIPT = (
        "redis.call('XADD', KEYS[1], '*', 'n', ARGV[1], 'hits', ARGV[2]) "
        "return redis.call('INCRBY', KEYS[2], ARGV[1])"
    )

    def __init__(self, url: str, stream: str) -> None:
        import redis.asyncio as aioredis  # only needed in services mode

        # Timeouts: a Redis that hangs must not hold the responses; the batch goes to
        # the spill journal instead (a write that did land is then stored once anyway).
        self.client = aioredis.from_url(
            url,
            socket_timeout=STREAM_TIMEOUT_S,
            socket_connect_timeout=STREAM_TIMEOUT_S,
        )
        self.stream = stream
        self.script = self.client.register_script(self.SCRIPT)  # EVALSHA, loads on miss

    async def __call__(self, hits: list[Hit]) -> None:
        entry = stream_entry(hits)
        await self.script(
            keys=[self.stream, f"{self.stream}:hits"], args=[entry["n"], entry["hits"]]
        )


class DurableWriter:
    """Services mode: each batch into the stream, or into this worker's spill journal
    when the stream cannot take it; raises only when neither could (JournalError)."""

    def __init__(self, stream: StreamWriter, journal: SpillJournal) -> None:
        self.stream = stream
        self.journal = journal
        self.replayer = Replayer(journal, stream.client, stream.stream)
        self.skip_stream_until = 0.0
        # The stream's outage, as this worker saw it.
        self.outage = OutageLog(
            logger,
            "hit stream unavailable, spilling to %s: %r",
            "hit stream back after %.1f s (%s failed writes)",
        )

    async def __call__(self, hits: list[Hit]) -> None:
        self.replayer.start()
        if time.monotonic() >= self.skip_stream_until:
            try:
                await self.stream(hits)
            except Exception as exc:  # whatever it is, the journal takes the batch
                self.skip_stream_until = time.monotonic() + STREAM_RETRY_AFTER_S
                self.outage.failed(self.journal.directory, exc)
            else:
                self.outage.over()
                return
        try:
            await self.journal.spill(hits)
        except JournalError as exc:
            logger.error(
                "%s hits NOT recorded (stream and journal failed): %s", len(hits), exc
            )
            raise


def stream_entry(hits: list[Hit]) -> dict[str, str | bytes]:
    """A batch of hits as one stream entry (JSON); read back by tracking.stream.

    orjson: ~5x the standard library on these lists, on both ends of the stream."""
    return {"n": str(len(hits)), "hits": orjson.dumps(hits)}


async def database_writer(hits: list[Hit]) -> None:
    """Embedded mode: classify and store the batch before the responses go out."""
    from tracking.ingest import ingest_hits

    await sync_to_async(ingest_hits, thread_sensitive=True)(hits)


def _link_url(email_id: int, link_id: int) -> str | None:
    """The link's target as `Location` carries it (percent-encoded, ASCII)."""
    from tracking.models import TrackedLink
    from tracking.rewriting import location_url

    url = (
        TrackedLink.objects.filter(pk=link_id, email_id=email_id)
        .values_list("url", flat=True)
        .first()
    )
    return None if url is None else location_url(url)


PURPOSE_HEADERS = (b"sec-purpose", b"purpose", b"x-moz", b"x-purpose")
WANTED_HEADERS = frozenset((b"user-agent", b"cookie", *PURPOSE_HEADERS))


def _cookies(header: str) -> dict[str, str]:
    found = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        found[name] = value.strip('"')
    return found


_UUID7_BITS = 7 << 76 | 2 << 62  # version 7, RFC 9562 variant
_UUID7_MASK = ~(0xF << 76 | 0x3 << 62)


def hit_id(now: float) -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: Unix milliseconds, then 74 random bits.

    Time-ordered, so the events' unique index on it grows at its end instead of
    touching a random page of an ever larger index for each stored hit.
    """
    value = int(now * 1000) << 80 | int.from_bytes(os.urandom(10))
    return f"{value & _UUID7_MASK | _UUID7_BITS:032x}"


def hit_fields(scope: Scope, kind: str, email_id: int, link_id: int | None) -> Hit:
    """A hit as the stream carries it; parsed back by tracking.ingest.parse_hit."""
    headers = {
        key: value.decode("latin-1")
        for key, value in scope.get("headers", ())
        if key in WANTED_HEADERS
    }
    now = time.time()
    hit = {
        "h": hit_id(now),
        "k": kind,
        "e": str(email_id),
        "l": str(link_id or ""),
        "t": repr(now),
        "ip": scope_client(scope),  # behind trusted proxies: the forwarded client
        "ua": headers.get(b"user-agent", "")[:2000],
        "m": scope.get("method", "GET"),
    }
    purpose = next((headers[name] for name in PURPOSE_HEADERS if name in headers), "")
    if purpose:
        hit["p"] = purpose[:100]
    if b"cookie" in headers:
        cookies = _cookies(headers[b"cookie"])
        self_cookie = cookies.get(settings.TRACKING_SELF_COOKIE, "")
        session = cookies.get(settings.SESSION_COOKIE_NAME, "")
        # The signed cookie names the user alone; the session key (a credential) only
        # travels when there is no cookie to go by.
        if self_cookie:
            hit["sc"] = self_cookie[:200]
        elif session:
            hit["ss"] = session[:100]
    return hit


class TrackingApp:
    def __init__(self) -> None:
        self._sink: GroupCommit | None = None
        self.durable: DurableWriter | None = None
        self.links: dict[int, str] = {}
        self.lost = 0  # opens answered with the image but recorded nowhere
        self.refused = 0  # clicks answered 503: recorded nowhere

    @property
    def sink(self) -> GroupCommit:
        # Made on first use, inside the server's event loop.
        if self._sink is None:
            if settings.REDIS_URL:
                self.durable = DurableWriter(
                    StreamWriter(settings.REDIS_URL, settings.TRACKING_STREAM),
                    SpillJournal(settings.TRACKING_SPILL_DIR),
                )
                self._sink = GroupCommit(self.durable)
            else:
                self._sink = GroupCommit(database_writer)
        return self._sink

    def startup(self) -> None:
        """At the server's start (ASGI lifespan): replay journals left by a worker
        that died, without waiting for a first hit."""
        self.sink  # noqa: B018 - made here, in the server's event loop
        if self.durable is not None:
            self.durable.replayer.start()

    def unrecorded(self, metric: str) -> None:
        """Count a hit recorded nowhere; reported to `<stream>:<metric>` by the replayer."""
        if metric == "lost":
            self.lost += 1
        else:
            self.refused += 1
        if self.durable is not None:
            self.durable.replayer.unreported[metric] += 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, [(b"allow", b"GET, HEAD")], b"", method)
        elif path.startswith("/t/o/") and path.endswith(".gif"):
            await self.pixel(scope, send, path[5:-4])
        elif path.startswith("/t/c/"):
            await self.click(scope, send, path[5:])
        else:
            await _respond(send, 404, [(b"content-type", b"text/plain")], b"", method)

    async def pixel(self, scope: Scope, send: Send, token: str) -> None:
        email_id = tokens.open_token_verify(token)
        if email_id is not None:
            try:
                await self.sink.record(hit_fields(scope, "o", email_id, None))
            except Exception:  # the image must still load (T3); counted and logged
                self.unrecorded("lost")
                logger.exception("could not record an open of email %s", email_id)
        await _respond(send, 200, PIXEL_HEADERS, GIF, scope.get("method", "GET"))

    async def click(self, scope: Scope, send: Send, token: str) -> None:
        method = scope.get("method", "GET")
        ids = tokens.click_token_verify(token)
        url = await self.link_url(*ids) if ids else None
        if ids is None or url is None:
            headers = [(b"content-type", b"text/plain"), (b"cache-control", NO_STORE)]
            await _respond(send, 404, headers, b"Not found", method)
            return
        try:
            await self.sink.record(hit_fields(scope, "c", ids[0], ids[1]))
        except Exception:  # not recorded: not acknowledged either; the reader may retry
            self.unrecorded("refused")
            logger.exception("could not record a click on link %s", ids[1])
            headers = [
                (b"content-type", b"text/plain"),
                (b"cache-control", NO_STORE),
                (b"retry-after", b"1"),
            ]
            await _respond(send, 503, headers, b"Service unavailable", method)
            return
        headers = [
            (b"location", url.encode("ascii")),
            (b"cache-control", NO_STORE),
            (b"referrer-policy", b"no-referrer"),
        ]
        await _respond(send, 302, headers, b"", method)

    async def link_url(self, email_id: int, link_id: int) -> str | None:
        # Stored URLs never change (T4), so caching them in the process is safe.
        url = self.links.get(link_id)
        if url is None:
            url = await sync_to_async(_link_url)(email_id, link_id)
            if url is not None:
                if len(self.links) >= LINK_CACHE_SIZE:
                    self.links.clear()
                self.links[link_id] = url
        return url


async def _respond(
    send: Send,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    method: str,
) -> None:
    if not any(name == b"content-length" for name, _ in headers):
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send(
        {"type": "http.response.body", "body": b"" if method == "HEAD" else body}
    )


tracking_app = TrackingApp()

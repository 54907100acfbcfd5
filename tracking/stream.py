"""The stream ingestor: consumer group → classify → bulk insert → XACK (services mode).

Hits are acknowledged (and deleted from the stream) only after their events are committed;
a hit left pending by a crashed ingestor is reclaimed with XAUTOCLAIM and stored again,
which the hit id's unique constraint turns into a no-op: every hit is stored exactly once.

The loop (`run`) is a two-stage pipeline: while a writer thread stores batch N (COPY,
INSERT, commit, XACK: mostly PostgreSQL's work, on the other core), the loop reads and
classifies batch N+1 (Python's work), telling the classifier about batch N's rows.
"""

from __future__ import annotations

import logging
import math
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import orjson
import redis
from django.conf import settings
from django.db import close_old_connections, connection

from tracking.ingest import Batch, Notify, classify_batch, ingest_hits, store_batch
from tracking.notifications import BackgroundNotifier, notify_tracking_events

logger = logging.getLogger(__name__)
Entry = tuple[bytes, dict[bytes, bytes]]


def _hits(entries: list[Entry]) -> list[dict[str, str]]:
    """The hits of stream entries written by tracking.fastpath.StreamWriter."""
    hits: list[dict[str, str]] = []
    for entry_id, fields in entries:
        try:
            hits.extend(orjson.loads(fields[b"hits"]))
        except (KeyError, TypeError, ValueError):  # orjson.JSONDecodeError is one
            logger.error("malformed stream entry %s: %r", entry_id, fields)
    return hits


def _close_connection() -> None:
    """Close the calling thread's database connection (`connection` is per thread)."""
    connection.close()


def _size(entry: Entry) -> int:
    """Hits in a stream entry, from its `n` field (1 when unknown)."""
    try:
        return max(1, int(entry[1].get(b"n", b"1")))
    except ValueError:
        return 1


class StreamIngestor:
    def __init__(
        self,
        *,
        redis_url: str,
        consumer: str,
        stream: str | None = None,
        group: str | None = None,
        batch: int | None = None,
        batch_hits: int | None = None,
        block_ms: int = 1000,
        claim_idle_ms: int | None = None,
    ) -> None:
        self.client = redis.Redis.from_url(redis_url)
        self.stream = stream or settings.TRACKING_STREAM
        self.group = group or settings.TRACKING_CONSUMER_GROUP
        self.consumer = consumer
        self.batch = batch or settings.TRACKING_INGEST_ENTRIES  # entries, at most
        # Hits per batch: reading stops at the first entry that reaches it.
        self.batch_hits = batch_hits or settings.TRACKING_INGEST_HITS
        self.block_ms = block_ms
        self.claim_idle_ms = (
            settings.TRACKING_CLAIM_IDLE_MS if claim_idle_ms is None else claim_idle_ms
        )
        self.stored = 0
        self.acknowledged = 0  # hits
        self.notify: Notify = notify_tracking_events

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def reclaim(self, busy: frozenset[bytes] = frozenset()) -> list[Entry]:
        """Hits another (crashed) consumer read but never acknowledged.

        `busy`: ids of entries this ingestor is storing right now (not to take twice).
        """
        result: Any = self.client.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=self.claim_idle_ms,
            start_id="0-0",
            count=self.batch,
        )
        return [entry for entry in result[1] if entry[1] and entry[0] not in busy]

    def _read(self, count: int, block: int | None) -> list[Entry]:
        response: Any = self.client.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=count, block=block
        )
        return [entry for _, entries in response or [] for entry in entries]

    def read(self) -> list[Entry]:
        """New entries: waits for the first, then takes what is already there, up to
        `batch` entries and `batch_hits` hits (entries carry from 1 to 2,000 hits)."""
        entries = self._read(min(self.batch, 4), self.block_ms)
        hits = sum(_size(entry) for entry in entries)
        while entries and len(entries) < self.batch and hits < self.batch_hits:
            per_entry = hits / len(entries)
            wanted = math.ceil((self.batch_hits - hits) / max(per_entry, 1.0))
            more = self._read(min(self.batch - len(entries), wanted), None)
            if not more:
                break
            entries += more
            hits += sum(_size(entry) for entry in more)
        return entries

    def store(self, hits: list[dict[str, str]]) -> int:
        return ingest_hits(hits, notify=self.notify)

    def write(self, batch: Batch, entries: list[Entry], hits: int) -> None:
        """The writer stage of `run`: store, then acknowledge (in the writer thread)."""
        close_old_connections()
        self.stored += store_batch(batch, notify=self.notify)
        self.acknowledge(entries)
        self.acknowledged += hits

    def acknowledge(self, entries: list[Entry]) -> None:
        ids = [entry_id for entry_id, _ in entries]
        pipe = self.client.pipeline(transaction=True)
        pipe.xack(self.stream, self.group, *ids)
        pipe.xdel(self.stream, *ids)
        pipe.execute()

    def run_once(self) -> int:
        """Process one read of entries (reclaimed ones first); returns how many hits."""
        entries = self.reclaim() or self.read()
        if not entries:
            return 0
        hits = _hits(entries)
        self.stored += self.store(hits)
        self.acknowledge(entries)
        self.acknowledged += len(hits)
        return len(hits)

    def run(self, stop: threading.Event) -> None:
        """Read and classify batch N+1 while a writer thread stores batch N.

        At most one batch is being stored at a time, and batch N+1 is handed to the
        writer only once batch N is committed and acknowledged. If storing a batch
        fails, the batch classified meanwhile is dropped unacknowledged (reclaimed
        later, like any batch of a crashed ingestor) and the error ends the loop.
        """
        self.ensure_group()
        notifier = BackgroundNotifier()
        self.notify = notifier
        logger.info("ingesting %s as %s/%s", self.stream, self.group, self.consumer)
        writer = ThreadPoolExecutor(1, thread_name_prefix="tracking-ingest-writer")
        writing: tuple[Future[None], Batch, frozenset[bytes]] | None = None
        try:
            while not stop.is_set():
                try:
                    # A long-lived process: drop a broken or expired connection.
                    close_old_connections()
                    busy = writing[2] if writing else frozenset()
                    entries = self.reclaim(busy) or self.read()
                    hits = _hits(entries)
                    batch = classify_batch(
                        hits, in_flight=writing[1] if writing else None
                    )
                    if writing:
                        writing[0].result()  # raises what the writer raised
                        writing = None
                    if entries:
                        ids = frozenset(entry_id for entry_id, _ in entries)
                        future = writer.submit(self.write, batch, entries, len(hits))
                        writing = (future, batch, ids)
                except redis.ConnectionError:
                    logger.exception("Redis unavailable; retrying")
                    stop.wait(1)
            if writing:
                writing[0].result()
        finally:
            writer.submit(_close_connection).result()  # the writer thread's own
            writer.shutdown()
            notifier.close()
            connection.close()  # this thread's connection; the loop may run in a thread
        logger.info("stopped: %s hits acknowledged", self.acknowledged)

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
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import orjson
import redis
from django.conf import settings
from django.db import (
    close_old_connections,
    connection,
)

from config.outages import OutageLog, transient
from tracking import lists
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
    try:
        connection.close()
    except Exception:  # already broken: it is dropped all the same
        connection.connection = None


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
        # When each consumer last stored a batch (`manage.py tracking_status`).
        pipe.hset(f"{self.stream}:ingested", self.consumer, repr(time.time()))
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
        writer only once batch N is committed and acknowledged.

        Redis or PostgreSQL going away (a restart, a severed connection) is waited out:
        the attempt's state is dropped (the writer's failed future, the batch classified
        meanwhile, both threads' database connections), the entries of both batches are
        kept to be classified and stored again first, and the loop retries with a capped
        backoff, logging the outage once when it starts and once when it ends. Storing
        a batch twice is harmless (events are unique by hit id). Any other error is a
        bug: it ends the loop.
        """
        lists.warm_lists()  # not while the first batch waits
        outage = Outage()
        notifier = BackgroundNotifier()
        self.notify = notifier
        writer = ThreadPoolExecutor(1, thread_name_prefix="tracking-ingest-writer")
        writing: tuple[Future[None], Batch, list[Entry]] | None = None
        retry: list[Entry] = []  # entries of a failed attempt, stored again first
        grouped = False
        try:
            while not stop.is_set():
                entries: list[Entry] = []
                try:
                    if not grouped:
                        self.ensure_group()
                        grouped = True
                        logger.info(
                            "ingesting %s as %s/%s",
                            self.stream,
                            self.group,
                            self.consumer,
                        )
                    # A long-lived process: drop a broken or expired connection.
                    close_old_connections()
                    if retry:
                        entries, retry = retry[: self.batch], retry[self.batch :]
                    else:
                        busy = frozenset(e[0] for e in writing[2]) if writing else None
                        entries = self.reclaim(busy or frozenset()) or self.read()
                    hits = _hits(entries)
                    batch = classify_batch(
                        hits, in_flight=writing[1] if writing else None
                    )
                    if writing:
                        writing[0].result()  # raises what the writer raised
                        writing = None
                        outage.over()  # a batch stored and acknowledged
                    if entries:
                        future = writer.submit(self.write, batch, entries, len(hits))
                        writing = (future, batch, entries)
                    else:
                        outage.over()  # both answer, nothing to store
                except Exception as exc:
                    if not transient(exc):
                        raise
                    if _no_group(exc):
                        grouped = False  # Redis came back without its data
                    retry = self._failed_attempt(writing, entries, retry, writer)
                    writing = None
                    stop.wait(outage.failed(exc))
            if writing:
                try:
                    writing[0].result()
                except Exception as exc:
                    if not transient(exc):
                        raise
                    # Unacknowledged: taken over by the next ingestor (XAUTOCLAIM).
                    logger.warning(
                        "stopping with a batch not stored: %s", _describe(exc)
                    )
        finally:
            writer.submit(_close_connection).result()  # the writer thread's own
            writer.shutdown()
            notifier.close()
            connection.close()  # this thread's connection; the loop may run in a thread
        logger.info("stopped: %s hits acknowledged", self.acknowledged)

    def _failed_attempt(
        self,
        writing: tuple[Future[None], Batch, list[Entry]] | None,
        entries: list[Entry],
        retry: list[Entry],
        writer: ThreadPoolExecutor,
    ) -> list[Entry]:
        """What to store again after a retryable error: the batch being written (unless
        it made it), then the one in hand, then what was still waiting to be retried."""
        again: list[Entry] = []
        if writing is not None:
            try:
                writing[0].result()  # wait for the writer: one attempt at a time
            except Exception as exc:
                if not transient(exc):
                    raise
                again += writing[2]
        if entries is not (writing[2] if writing else None):
            again += entries
        # Both threads start again on fresh connections.
        writer.submit(_close_connection).result()
        _close_connection()
        seen: set[bytes] = set()
        ordered = []
        for entry in [*again, *retry]:
            if entry[0] not in seen:
                seen.add(entry[0])
                ordered.append(entry)
        return ordered


def _no_group(exc: BaseException) -> bool:
    return isinstance(exc, redis.ResponseError) and "NOGROUP" in str(exc)


class Outage:
    """Capped exponential backoff, logged once when the outage starts and once when it
    ends (config.outages.OutageLog)."""

    def __init__(self, first: float = 0.1, cap: float = 2.0) -> None:
        self.first = first
        self.cap = cap
        self.delay = 0.0
        self.log = OutageLog(
            logger,
            "ingestion paused: %s; retrying until it answers again",
            "ingestion resumed after %.1f s (%s attempts)",
            start_level=logging.ERROR,
            end_level=logging.WARNING,
        )

    def failed(self, exc: BaseException) -> float:
        """Record a failed attempt; returns how long to wait before the next."""
        self.log.failed(_describe(exc))
        self.delay = min(self.cap, self.delay * 2 if self.delay else self.first)
        return self.delay

    def over(self) -> None:
        self.log.over()
        self.delay = 0.0


def _describe(exc: BaseException) -> str:
    """The error in one line: its type and first line, never a chain of tracebacks."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__module__}.{type(exc).__name__}: {text[0] if text else ''}"

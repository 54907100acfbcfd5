"""The stream ingestor: consumer group → classify → bulk insert → XACK (services mode).

Hits are acknowledged (and deleted from the stream) only after their events are committed;
a hit left pending by a crashed ingestor is reclaimed with XAUTOCLAIM and stored again,
which the hit id's unique constraint turns into a no-op: every hit is stored exactly once.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import redis
from django.db import close_old_connections, connection

from tracking.conf import conf
from tracking.ingest import Notify, ingest_hits
from tracking.notifications import BackgroundNotifier, notify_tracking_events

logger = logging.getLogger(__name__)
Entry = tuple[bytes, dict[bytes, bytes]]


def _hits(entries: list[Entry]) -> list[dict[str, str]]:
    """The hits of stream entries written by tracking.fastpath.StreamWriter."""
    hits: list[dict[str, str]] = []
    for entry_id, fields in entries:
        try:
            hits.extend(json.loads(fields[b"hits"]))
        except (KeyError, ValueError):
            logger.error("malformed stream entry %s: %r", entry_id, fields)
    return hits


class StreamIngestor:
    def __init__(
        self,
        *,
        redis_url: str,
        consumer: str,
        stream: str | None = None,
        group: str | None = None,
        batch: int | None = None,
        block_ms: int = 1000,
        claim_idle_ms: int | None = None,
    ) -> None:
        self.client = redis.Redis.from_url(redis_url)
        self.stream = stream or conf("TRACKING_STREAM")
        self.group = group or conf("TRACKING_CONSUMER_GROUP")
        self.consumer = consumer
        self.batch = batch or conf("TRACKING_INGEST_ENTRIES")
        self.block_ms = block_ms
        self.claim_idle_ms = (
            conf("TRACKING_CLAIM_IDLE_MS") if claim_idle_ms is None else claim_idle_ms
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

    def reclaim(self) -> list[Entry]:
        """Hits another (crashed) consumer read but never acknowledged."""
        result: Any = self.client.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=self.claim_idle_ms,
            start_id="0-0",
            count=self.batch,
        )
        return [entry for entry in result[1] if entry[1]]

    def read(self) -> list[Entry]:
        response: Any = self.client.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: ">"},
            count=self.batch,
            block=self.block_ms,
        )
        return [entry for _, entries in response or [] for entry in entries]

    def store(self, hits: list[dict[str, str]]) -> int:
        return ingest_hits(hits, notify=self.notify)

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
        self.ensure_group()
        notifier = BackgroundNotifier()
        self.notify = notifier
        logger.info("ingesting %s as %s/%s", self.stream, self.group, self.consumer)
        while not stop.is_set():
            try:
                # A long-lived process: drop a broken or expired database connection.
                close_old_connections()
                self.run_once()
            except redis.ConnectionError:
                logger.exception("Redis unavailable; retrying")
                stop.wait(1)
        notifier.close()
        connection.close()  # this thread's connection; the loop may run in a thread
        logger.info("stopped: %s hits acknowledged", self.acknowledged)

"""The stream ingestor: consumer group → classify → bulk insert → XACK (services mode).

Hits are acknowledged (and deleted from the stream) only after their events are committed;
a hit left pending by a crashed ingestor is reclaimed with XAUTOCLAIM and stored again,
which the hit id's unique constraint turns into a no-op: every hit is stored exactly once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from django.db import close_old_connections

from tracking.conf import conf
from tracking.ingest import ingest_hits

logger = logging.getLogger(__name__)
Entry = tuple[bytes, dict[bytes, bytes]]


def _decode(fields: dict[bytes, bytes]) -> dict[str, str]:
    return {
        key.decode(): value.decode("utf-8", "replace") for key, value in fields.items()
    }


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
        self.batch = batch or conf("TRACKING_INGEST_BATCH")
        self.block_ms = block_ms
        self.claim_idle_ms = (
            conf("TRACKING_CLAIM_IDLE_MS") if claim_idle_ms is None else claim_idle_ms
        )
        self.stored = 0
        self.acknowledged = 0

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

    def store(self, entries: list[Entry]) -> int:
        return ingest_hits(_decode(fields) for _, fields in entries)

    def acknowledge(self, entries: list[Entry]) -> None:
        ids = [entry_id for entry_id, _ in entries]
        pipe = self.client.pipeline(transaction=True)
        pipe.xack(self.stream, self.group, *ids)
        pipe.xdel(self.stream, *ids)
        pipe.execute()

    def run_once(self) -> int:
        """Process one batch (reclaimed first); returns how many hits it held."""
        entries = self.reclaim() or self.read()
        if not entries:
            return 0
        self.stored += self.store(entries)
        self.acknowledge(entries)
        self.acknowledged += len(entries)
        return len(entries)

    def run(self, stop: threading.Event) -> None:
        self.ensure_group()
        logger.info("ingesting %s as %s/%s", self.stream, self.group, self.consumer)
        while not stop.is_set():
            try:
                # A long-lived process: drop a broken or expired database connection.
                close_old_connections()
                self.run_once()
            except redis.ConnectionError:
                logger.exception("Redis unavailable; retrying")
                stop.wait(1)
        logger.info("stopped: %s hits acknowledged", self.acknowledged)

"""`manage.py run_tracking_ingest`: move tracking hits from the Redis stream into events."""

from __future__ import annotations

import os
import signal
import socket
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.process import tune_garbage_collector
from tracking.stream import StreamIngestor


class Command(BaseCommand):
    help = (
        "Consume the tracking hit stream: classify, store, acknowledge (services mode)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--consumer",
            default=f"{socket.gethostname()}-{os.getpid()}",
            help="Consumer name within the group (unique per process).",
        )
        parser.add_argument("--batch", type=int, default=None)
        parser.add_argument("--block-ms", type=int, default=1000)
        parser.add_argument(
            "--claim-idle-ms",
            type=int,
            default=None,
            help="Take over hits another consumer left pending this long (crash recovery).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.REDIS_URL:
            raise CommandError(
                "REDIS_URL is not set: in embedded mode hits go straight to the database."
            )
        stop = threading.Event()

        def _stop(signum: int, frame: FrameType | None) -> None:
            stop.set()  # finish the batch in hand, acknowledge it, then leave

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        ingestor = StreamIngestor(
            redis_url=settings.REDIS_URL,
            consumer=options["consumer"],
            batch=options["batch"],
            block_ms=options["block_ms"],
            claim_idle_ms=options["claim_idle_ms"],
        )
        tune_garbage_collector()
        ingestor.run(stop)
        self.stdout.write(f"acknowledged {ingestor.acknowledged} hits")

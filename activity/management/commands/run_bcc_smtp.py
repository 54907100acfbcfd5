from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from activity.smtp import bcc_controller
from config.process import tune_garbage_collector


class Command(BaseCommand):
    help = "Receive email sent to the BCC address over SMTP and queue it for logging."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.BEACON_SMTP_HOST)
        parser.add_argument("--port", type=int, default=settings.BEACON_SMTP_PORT)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        tune_garbage_collector()
        controller = bcc_controller(host, port)
        controller.start()
        self.stdout.write(f"BCC receiver listening on {host}:{port}")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        controller.stop()

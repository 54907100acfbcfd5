"""`manage.py classify_hits FILE [--blocked CIDR ...]`: what Beacon would decide of hits.

Reads JSON lines of hits (e.g. exported from a proxy log; `-` reads standard input) and
writes each line back with `verdict`, `reason` and `counted`, through the classifier the
ingestor uses (tracking.replay). Nothing is read from or written to the database.
"""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracking import lists
from tracking.replay import LineError, classify_lines


class Command(BaseCommand):
    help = (
        "Classify JSON lines of hits (FILE, or - for standard input) and print them "
        "with verdict, reason and counted; stores nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="JSON lines of hits; - for standard input")
        parser.add_argument(
            "--blocked",
            action="append",
            default=[],
            metavar="CIDR",
            help="A blocked network of the account (S8); repeatable.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        blocked: list[str] = options["blocked"]
        for cidr in blocked:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise CommandError(f"--blocked {cidr!r} is not a network.") from exc
        name: str = options["file"]
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {name}: {exc}") from exc
        try:
            results = classify_lines(text.splitlines(), lists.NetworkSet(blocked))
        except LineError as exc:
            raise CommandError(f"{name}: {exc}. Nothing was classified.") from exc
        for result in results:
            self.stdout.write(json.dumps(result, ensure_ascii=False))

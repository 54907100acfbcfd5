"""`manage.py tracking_status`: where hits and stored mail are waiting, right now."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tracking.selectors import PipelineStatus, pipeline_status


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s ago"


def status_lines(status: PipelineStatus) -> list[str]:
    """The status as text: the command prints it, the admin page shows the same."""
    lines = [f"stream {status.stream}"]
    if status.redis_error:
        lines.append(f"  Redis: {status.redis_error}")
    else:
        lines += [
            f"  entries waiting: {status.stream_length} "
            f"(not yet read by an ingestor: {status.undelivered})",
            f"  hits accepted ever: {status.counters.get('hits', 0)}; recorded nowhere: "
            f"{status.counters.get('lost', 0)} opens (image answered), "
            f"{status.counters.get('refused', 0)} clicks (503 answered)",
            f"  oldest pending entry added: {_age(status.oldest_pending_age_s)}",
        ]
        lines.append("  pending per consumer:" + ("" if status.pending else " none"))
        lines += [f"    {name}: {count}" for name, count in status.pending.items()]
        lines.append(
            "  last stored batch per ingestor:"
            + ("" if status.last_writes else " never")
        )
        lines += [
            f"    {name}: {_age(age)}"
            for name, age in sorted(status.last_writes.items(), key=lambda kv: kv[1])
        ]
    lines.append("spill journals (this host):" + ("" if status.journals else " none"))
    lines += [
        f"  {journal.path}: {journal.bytes} bytes, {journal.hits} hits in "
        f"{journal.batches} batches{' (open in a live worker)' if journal.active else ''}"
        for journal in status.journals
    ]
    lines.append("inbound mail waiting:" + ("" if status.inbound_waiting else " none"))
    lines += [
        f"  {row['status']}{' / ' + row['reason'] if row['reason'] else ''}: "
        f"{row['count']} (oldest received {row['oldest']:%Y-%m-%d %H:%M:%S} UTC)"
        for row in status.inbound_waiting
    ]
    return lines


class Command(BaseCommand):
    help = (
        "Show the tracking pipeline: stream length, pending hits per consumer, the "
        "oldest pending age, spill journals, each ingestor's last stored batch, and "
        "inbound mail waiting by status."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="One JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        status = pipeline_status()
        if options["json"]:
            self.stdout.write(json.dumps(status.as_dict(), indent=2, default=str))
        else:
            self.stdout.write("\n".join(status_lines(status)))

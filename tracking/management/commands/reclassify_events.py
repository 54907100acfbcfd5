"""`manage.py reclassify_events [--since TIME] [--email ID ...] [--dry-run]`.

After the verdict lists change (a refresh, a new crawler-user-agents pin, new blocked
networks), decides stored events' verdicts again through the ingestor's classifier and
history rules, updating verdicts, reasons and inferred opens (statuses and counts follow).
Never notifies. Prints what changed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracking.services import ReclassifySummary, tracking_events_reclassify


def _since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--since {value!r} is not an ISO 8601 time.") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Decide stored tracking events' verdicts again with the current lists; "
        "never notifies."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            help="Only events at or after this ISO 8601 time are decided again "
            "(earlier ones still count as history). Default: all.",
        )
        parser.add_argument(
            "--email",
            type=int,
            action="append",
            default=[],
            metavar="ID",
            help="Only this tracked email (repeatable). Default: every email.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print what would change; write nothing.",
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=100,
            help="Emails per transaction (default 100).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since = _since(options["since"]) if options["since"] else None
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1.")
        summary = tracking_events_reclassify(
            since=since,
            email_ids=options["email"],
            dry_run=options["dry_run"],
            batch_size=options["batch"],
        )
        for line in report(summary, dry_run=options["dry_run"]):
            self.stdout.write(line)


def report(summary: ReclassifySummary, *, dry_run: bool) -> list[str]:
    changed = sum(summary.changed.values())
    lines = [
        f"Replayed {summary.emails} emails ({summary.events} events decided again); "
        f"{changed} events changed in {summary.emails_changed} emails."
    ]
    lines += [
        f"  {old} -> {new}: {count}"
        for (old, new), count in sorted(summary.changed.items())
    ]
    lines.append(
        f"Inferred opens: {summary.inferred_added} added, "
        f"{summary.inferred_removed} removed, {summary.inferred_changed} re-decided."
    )
    if summary.statuses:
        lines.append("Statuses:")
        lines += [
            f"  {old} -> {new}: {count}"
            for (old, new), count in sorted(summary.statuses.items())
        ]
    if dry_run:
        lines.append("Dry run: nothing was written.")
    return lines

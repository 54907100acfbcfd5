"""`manage.py refresh_tracking_lists <list> [--url URL]`: refresh a verdict list from a URL.

The file's comment header (its sources) is kept; entries are replaced by the fetched ones,
after each is checked. A failed fetch or an empty answer leaves the file as it was.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import os
import tempfile
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracking import lists

DEFAULT_URLS = {
    "apple_mpp_networks": "https://mask-api.icloud.com/egress-ip-ranges.csv"
}
# Always kept: Apple's own network, whatever the egress list says.
ALWAYS = {"apple_mpp_networks": ["17.0.0.0/8"]}
TIMEOUT_SECONDS = 30
MAX_BYTES = 50 * 1024 * 1024


def fetch(url: str) -> str:
    """The body at `url` (http or https only)."""
    if not url.startswith(("https://", "http://")):
        raise CommandError(f"Only http(s) URLs can be fetched, not {url!r}.")
    request = urllib.request.Request(url, headers={"User-Agent": "beacon-list-refresh"})  # noqa: S310 - scheme checked above
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
        return str(response.read(MAX_BYTES).decode("utf-8", "replace"))


def parse(name: str, body: str) -> list[str]:
    entries: list[str] = []
    if name in lists.NETWORK_LISTS:
        for row in csv.reader(io.StringIO(body)):
            if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                continue
            try:
                entries.append(str(ipaddress.ip_network(row[0].strip(), strict=False)))
            except ValueError:
                continue  # a header row or junk: skipped, counted below
    else:
        for line in body.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                entries.append(line if name == "proxy_agents" else line.lower())
    return list(dict.fromkeys([*ALWAYS.get(name, []), *entries]))


def write(name: str, url: str, entries: list[str]) -> None:
    path = lists.list_path(name)
    header = [line for line in path.read_text().splitlines() if line.startswith("#")]
    header = [line for line in header if not line.startswith("# refreshed from ")]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([*header, f"# refreshed from {url} at {stamp}", *entries]) + "\n"
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.")
    with os.fdopen(handle, "w") as out:
        out.write(text)
    os.replace(temporary, path)  # readers see the old file or the new one, never half


class Command(BaseCommand):
    help = "Refresh a tracking verdict list (networks or agents) from a URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("list", choices=sorted(lists.LIST_FILES))
        parser.add_argument(
            "--url", help="Where to fetch it (default: the list's source)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["list"]
        url = options["url"] or DEFAULT_URLS.get(name)
        if not url:
            raise CommandError(f"{name} has no default source: give --url.")
        try:
            body = fetch(url)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CommandError(
                f"Could not fetch {url}: {reason}. {name} was left unchanged."
            ) from exc
        entries = parse(name, body)
        if len(entries) <= len(ALWAYS.get(name, [])):
            raise CommandError(
                f"{url} held no usable entries. {name} was left unchanged."
            )
        write(name, url, entries)
        lists.reload_lists()
        self.stdout.write(f"{name}: {len(entries)} entries from {url}")

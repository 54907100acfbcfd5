"""`manage.py refresh_tracking_lists [<list>] [--url URL]`: refresh verdict lists from
their sources.

With no list, every list that has a machine-readable source is refreshed (Apple's
egress ranges, Microsoft's Exchange Online Protection ranges); the others are edited by
hand, and machine agents come from the pinned crawler-user-agents package (upgrade the
pin to refresh them). The file's comment header (its sources) is kept; entries are
replaced by the fetched ones, after each is checked. A failed fetch or an empty answer
leaves the file as it was (and, with no list, the other lists are still refreshed).
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import os
import tempfile
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracking import lists

# The client request id is any GUID the caller picks (Microsoft asks for one per client).
MICROSOFT_ENDPOINTS = (
    "https://endpoints.office.com/endpoints/worldwide"
    "?clientrequestid=6f0c5d1e-3b0a-4d7e-9a51-1f3f3c1b8e21&ServiceAreas=Exchange"
)
DEFAULT_URLS = {
    "apple_mpp_networks": "https://mask-api.icloud.com/egress-ip-ranges.csv",
    "microsoft_eop_networks": MICROSOFT_ENDPOINTS,
}
# The endpoint sets whose networks are Exchange Online Protection's (IDs 9 and 10).
EOP_HOSTS = ("*.protection.outlook.com", "*.mail.protection.outlook.com")
# Always kept: Apple's own network, whatever the egress list says.
ALWAYS = {"apple_mpp_networks": ["17.0.0.0/8"]}
# Agent lists whose entries keep their case (the others match case-insensitively).
CASED_LISTS = {"proxy_agents", "mail_client_agents"}
TIMEOUT_SECONDS = 30
MAX_BYTES = 50 * 1024 * 1024


def fetch(url: str) -> str:
    """The body at `url` (http or https only)."""
    if not url.startswith(("https://", "http://")):
        raise CommandError(f"Only http(s) URLs can be fetched, not {url!r}.")
    request = urllib.request.Request(url, headers={"User-Agent": "beacon-list-refresh"})  # noqa: S310 - scheme checked above
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
        return str(response.read(MAX_BYTES).decode("utf-8", "replace"))


def _network(value: str) -> str | None:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        return None


def microsoft_eop(body: str) -> list[str]:
    """The networks of the EOP endpoint sets in Microsoft's endpoints web service JSON."""
    try:
        endpoint_sets = json.loads(body)
    except ValueError:
        return []
    found: list[str] = []
    for endpoint_set in endpoint_sets if isinstance(endpoint_sets, list) else []:
        if not isinstance(endpoint_set, dict):
            continue
        if not set(endpoint_set.get("urls") or ()) & set(EOP_HOSTS):
            continue
        for value in endpoint_set.get("ips") or ():
            network = _network(str(value))
            if network:
                found.append(network)
    return found


def parse(name: str, body: str) -> list[str]:
    entries: list[str] = []
    if name == "microsoft_eop_networks" and body.lstrip().startswith("["):
        entries = microsoft_eop(body)
    elif name in lists.NETWORK_LISTS:
        for row in csv.reader(io.StringIO(body)):
            if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                continue
            network = _network(row[0])
            if network:  # else a header row or junk: skipped
                entries.append(network)
    else:
        for line in body.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                entries.append(line if name in CASED_LISTS else line.lower())
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


def refresh(name: str, url: str) -> int:
    """Fetch, check and write one list; returns its number of entries."""
    try:
        body = fetch(url)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CommandError(
            f"Could not fetch {url}: {reason}. {name} was left unchanged."
        ) from exc
    entries = parse(name, body)
    if len(entries) <= len(ALWAYS.get(name, [])):
        raise CommandError(f"{url} held no usable entries. {name} was left unchanged.")
    write(name, url, entries)
    return len(entries)


class Command(BaseCommand):
    help = (
        "Refresh tracking verdict lists from their sources: one list (optionally from "
        "--url), or with no list every list that has a machine-readable source."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("list", nargs="?", choices=sorted(lists.LIST_FILES))
        parser.add_argument(
            "--url", help="Where to fetch it (default: the list's source)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name: str | None = options["list"]
        if name is None:
            if options["url"]:
                raise CommandError("--url needs a list name.")
            self.refresh_all()
            return
        url = options["url"] or DEFAULT_URLS.get(name)
        if not url:
            raise CommandError(f"{name} has no default source: give --url.")
        count = refresh(name, url)
        lists.reload_lists()
        self.stdout.write(f"{name}: {count} entries from {url}")

    def refresh_all(self) -> None:
        failed = []
        for name, url in DEFAULT_URLS.items():
            try:
                count = refresh(name, url)
            except CommandError as exc:
                self.stderr.write(str(exc))
                failed.append(name)
            else:
                self.stdout.write(f"{name}: {count} entries from {url}")
        lists.reload_lists()
        self.stdout.write(
            f"crawler-user-agents {lists.crawler_version()} (a pinned package: "
            "upgrade its pin in requirements.txt to refresh the machine agents)"
        )
        if failed:
            raise CommandError(f"Not refreshed: {', '.join(failed)} (left unchanged).")

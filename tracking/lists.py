"""The network and agent lists behind the verdicts, read from tracking/data/."""

from __future__ import annotations

import bisect
import ipaddress
import re
import socket
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
LIST_FILES = {
    "apple_mpp_networks": "apple_mpp_networks.txt",
    "scanner_networks": "scanner_networks.txt",
    "scanner_agents": "scanner_agents.txt",
    "proxy_agents": "proxy_agents.txt",
}
NETWORK_LISTS = {"apple_mpp_networks", "scanner_networks"}

# Apple's MPP proxy fetches with this bare agent, unlike Mail.app's own
# ("Mozilla/5.0 (Macintosh; ...) AppleWebKit/605.1.15 (KHTML, like Gecko)").
# source: https://www.litmus.com/blog/apple-mail-privacy-protection-for-marketers
APPLE_MPP_AGENT = "mozilla/5.0"


def list_path(name: str) -> Path:
    return DATA_DIR / LIST_FILES[name]


def read_lines(name: str) -> list[str]:
    lines = list_path(name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


class NetworkSet:
    """IP ranges merged into sorted intervals: membership is one bisect."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        spans: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for cidr in cidrs:
            network = ipaddress.ip_network(cidr, strict=False)
            start = int(network.network_address)
            spans[network.version].append((start, start + network.num_addresses - 1))
        self._starts: dict[int, list[int]] = {}
        self._ends: dict[int, list[int]] = {}
        for version, items in spans.items():
            merged: list[list[int]] = []
            for start, end in sorted(items):
                if merged and start <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            self._starts[version] = [span[0] for span in merged]
            self._ends[version] = [span[1] for span in merged]

    def __contains__(self, ip: object) -> bool:
        return self.holds(ip_value(ip) if isinstance(ip, str) else None)

    def holds(self, parsed: tuple[int, int] | None) -> bool:
        """Membership of an address already parsed by `ip_value` (None: no address)."""
        if parsed is None:
            return False
        version, value = parsed
        index = bisect.bisect_right(self._starts[version], value) - 1
        return index >= 0 and value <= self._ends[version][index]


def parse_ip(ip: str) -> tuple[int, int] | None:
    """(IP version, address as an integer), or None for anything else."""
    # inet_pton is many times faster than ipaddress.ip_address on the ingest path.
    family, version = (socket.AF_INET6, 6) if ":" in ip else (socket.AF_INET, 4)
    try:
        return version, int.from_bytes(socket.inet_pton(family, ip), "big")
    except (OSError, ValueError):
        return None


# Cached, for callers that see the same addresses again (the ingestor parses each
# hit's address once, with parse_ip: a cache of mostly distinct addresses costs more).
ip_value = lru_cache(maxsize=65536)(parse_ip)


@cache
def networks(name: str) -> NetworkSet:
    return NetworkSet(read_lines(name))


@cache
def scanner_agents() -> tuple[str, ...]:
    return tuple(line.lower() for line in read_lines("scanner_agents"))


@cache
def proxy_agents() -> tuple[tuple[str, str], ...]:
    pairs = []
    for line in read_lines("proxy_agents"):
        needle, _, provider = line.partition("\t")
        pairs.append((needle.strip().lower(), provider.strip() or needle.strip()))
    return tuple(pairs)


def _first_needle(needles: tuple[str, ...]) -> re.Pattern[str] | None:
    """One compiled alternation: "does any needle occur?" in one scan of the agent."""
    return re.compile("|".join(map(re.escape, needles))) if needles else None


@cache
def _scanner_pattern() -> re.Pattern[str] | None:
    return _first_needle(scanner_agents())


@cache
def _proxy_pattern() -> re.Pattern[str] | None:
    return _first_needle(tuple(needle for needle, _ in proxy_agents()))


@lru_cache(maxsize=4096)
def agent_facts(user_agent: str) -> tuple[str, str, bool]:
    """(scanner needle, proxy provider, Apple MPP agent?) of a user agent.

    The needle and provider are the first in list order that the lower-cased agent
    contains ("" when none). Cached: the same agents recur across hits.
    """
    agent = user_agent.lower()
    needle = provider = ""
    pattern = _scanner_pattern()
    if pattern is not None and pattern.search(agent):
        needle = next(n for n in scanner_agents() if n in agent)
    pattern = _proxy_pattern()
    if pattern is not None and pattern.search(agent):
        provider = next(p for n, p in proxy_agents() if n in agent)
    return needle, provider, agent.strip() == APPLE_MPP_AGENT


def reload_lists() -> None:
    networks.cache_clear()
    scanner_agents.cache_clear()
    proxy_agents.cache_clear()
    _scanner_pattern.cache_clear()
    _proxy_pattern.cache_clear()
    agent_facts.cache_clear()

"""The network and agent lists behind the verdicts, read from tracking/data/."""

from __future__ import annotations

import bisect
import ipaddress
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
        parsed = ip_value(ip) if isinstance(ip, str) else None
        if parsed is None:
            return False
        version, value = parsed
        index = bisect.bisect_right(self._starts[version], value) - 1
        return index >= 0 and value <= self._ends[version][index]


@lru_cache(maxsize=65536)
def ip_value(ip: str) -> tuple[int, int] | None:
    """(IP version, address as an integer); cached, as the same addresses recur."""
    # inet_pton is many times faster than ipaddress.ip_address on the ingest path.
    for family, version in ((socket.AF_INET, 4), (socket.AF_INET6, 6)):
        try:
            return version, int.from_bytes(socket.inet_pton(family, ip), "big")
        except (OSError, ValueError):
            continue
    return None


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


def reload_lists() -> None:
    networks.cache_clear()
    scanner_agents.cache_clear()
    proxy_agents.cache_clear()

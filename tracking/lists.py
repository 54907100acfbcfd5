"""The network and agent lists behind the verdicts.

Machine agents come from the `crawler-user-agents` package (pinned in requirements.txt)
plus Beacon's own tracking/data/scanner_agents.txt for what that data set lacks; the
networks and the other agent lists are files in tracking/data/, each naming its source.
"""

from __future__ import annotations

import bisect
import importlib
import ipaddress
import re
import socket
from collections import defaultdict
from collections.abc import Iterable
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
LIST_FILES = {
    "apple_mpp_networks": "apple_mpp_networks.txt",
    "microsoft_eop_networks": "microsoft_eop_networks.txt",
    "scanner_networks": "scanner_networks.txt",
    "scanner_agents": "scanner_agents.txt",
    "proxy_agents": "proxy_agents.txt",
    "mail_client_agents": "mail_client_agents.txt",
}
NETWORK_LISTS = {"apple_mpp_networks", "microsoft_eop_networks", "scanner_networks"}
# The networks whose hits are `scanner`, and how a reason names each.
SCANNER_NETWORKS = {
    "microsoft_eop_networks": "Microsoft Exchange Online Protection / Defender",
    "scanner_networks": "mail security gateway",
}
CRAWLER_PACKAGE = "crawler-user-agents"

# Apple's MPP proxy fetches with this bare agent, unlike Mail.app's own
# ("Mozilla/5.0 (Macintosh; ...) AppleWebKit/605.1.15 (KHTML, like Gecko)").
# source: https://www.litmus.com/blog/apple-mail-privacy-protection-for-marketers
APPLE_MPP_AGENT = "mozilla/5.0"


def list_path(name: str) -> Path:
    return DATA_DIR / LIST_FILES[name]


def read_lines(name: str) -> list[str]:
    lines = list_path(name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def first_fields(name: str) -> list[str]:
    """A list's entries when a line is `entry<TAB>its source`."""
    return [line.split("\t", 1)[0].strip() for line in read_lines(name)]


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
def scanner_networks() -> tuple[NetworkSet, tuple[tuple[str, NetworkSet], ...]]:
    """Every scanner network in one set (a hit's address is looked up once; most are in
    none), and each list with the label a reason names it by, in SCANNER_NETWORKS order."""
    labelled = tuple(
        (label, networks(name)) for name, label in SCANNER_NETWORKS.items()
    )
    return NetworkSet(
        c for name in SCANNER_NETWORKS for c in read_lines(name)
    ), labelled


def scanner_network(parsed: tuple[int, int] | None) -> str:
    """The label of the first scanner list holding the address, or ""."""
    every, labelled = scanner_networks()
    if not every.holds(parsed):
        return ""
    return next(label for label, found in labelled if found.holds(parsed))


@cache
def scanner_agents() -> tuple[str, ...]:
    """Beacon's own machine-agent substrings (lower case): gateways and link scanners
    that crawler-user-agents does not know."""
    return tuple(entry.lower() for entry in first_fields("scanner_agents"))


@cache
def mail_client_agents() -> tuple[str, ...]:
    """Real mail clients' agents: no machine pattern may match one of them."""
    return tuple(first_fields("mail_client_agents"))


@cache
def proxy_agents() -> tuple[tuple[str, str], ...]:
    pairs = []
    for line in read_lines("proxy_agents"):
        needle, _, provider = line.partition("\t")
        pairs.append((needle.strip().lower(), provider.strip() or needle.strip()))
    return tuple(pairs)


def crawler_version() -> str:
    return metadata.version(CRAWLER_PACKAGE)


def _crawler_data() -> list[dict[str, Any]]:
    module = importlib.import_module("crawleruseragents")
    return list(module.CRAWLER_USER_AGENTS_DATA)


@cache
def crawler_patterns() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(kept, left out): crawler-user-agents' patterns, minus those that match a real
    mail client's agent (its data set lists Gmail's and Yahoo's image proxies, which
    are real opens here: verdict `proxy`)."""
    clients = mail_client_agents()
    kept: list[str] = []
    left_out: list[str] = []
    for item in _crawler_data():
        pattern = str(item["pattern"])
        compiled = re.compile(pattern)
        matches_a_client = any(compiled.search(agent) for agent in clients)
        (left_out if matches_a_client else kept).append(pattern)
    return tuple(kept), tuple(left_out)


# The regular-expression parser, for the literals a pattern requires (not in typeshed).
_parser: Any = importlib.import_module("re._parser")
_constants: Any = importlib.import_module("re._constants")
MIN_LITERAL = 3


def required_literals(pattern: str) -> list[str] | None:
    """Lower-case ASCII strings one of which every match of `pattern` contains, or
    None when the pattern has no such literal of MIN_LITERAL characters."""
    try:
        return _literals(list(_parser.parse(pattern)))
    except (re.error, ValueError, TypeError):
        return None


def _literals(items: list[tuple[Any, Any]]) -> list[str] | None:
    best = ""
    run: list[str] = []
    inner: list[str] | None = None  # from a group or alternation the sequence requires
    for op, value in items:
        if op is _constants.LITERAL and value < 128:
            run.append(chr(value))
            continue
        best = max(best, "".join(run), key=len)
        run = []
        if inner is not None:
            continue
        if op is _constants.SUBPATTERN:
            inner = _literals(list(value[-1]))
        elif op is _constants.BRANCH:
            branches = [_literals(list(branch)) for branch in value[1]]
            if all(branches):
                inner = [literal for found in branches if found for literal in found]
    best = max(best, "".join(run), key=len)
    if len(best) >= MIN_LITERAL:
        return [best.lower()]
    return inner


class PatternIndex:
    """Many regular expressions, each run only on agents that hold a literal it requires.

    One alternation of ~1,500 patterns costs milliseconds per agent in Python's `re`
    (every alternative is tried at every position). Here each pattern is filed under
    the first three characters of its required literal; an agent's three-character
    slices pick the few patterns worth running. Patterns without such a literal are
    always run.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        self._by_key: dict[str, list[tuple[int, str, re.Pattern[str]]]] = defaultdict(
            list
        )
        self._always: list[tuple[int, re.Pattern[str]]] = []
        for index, pattern in enumerate(self.patterns):
            compiled = re.compile(pattern)
            literals = required_literals(pattern)
            if not literals:
                self._always.append((index, compiled))
                continue
            for literal in dict.fromkeys(literals):
                self._by_key[literal[:MIN_LITERAL]].append((index, literal, compiled))
        self._keys = frozenset(self._by_key)

    def first(self, agent: str, lowered: str) -> str:
        """The first pattern (in list order) that `agent` matches, or ""; `lowered`
        is `agent.lower()`."""
        found: int | None = None
        slices = {lowered[i : i + MIN_LITERAL] for i in range(len(lowered) - 2)}
        for key in slices & self._keys:
            for index, literal, compiled in self._by_key[key]:
                if (
                    (found is None or index < found)
                    and literal in lowered
                    and compiled.search(agent)
                ):
                    found = index
        for index, compiled in self._always:
            if found is not None and index > found:
                break
            if compiled.search(agent):
                found = index
                break
        return "" if found is None else self.patterns[found]


@cache
def crawler_index() -> PatternIndex:
    return PatternIndex(crawler_patterns()[0])


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
    """(machine reason, proxy provider, Apple MPP agent?) of a user agent.

    The machine reason names the matched entry: Beacon's own list first (the first
    needle in list order the lower-cased agent contains), then crawler-user-agents
    (its first pattern in the data set's order); "" for neither. The provider is the
    first in list order. Cached: the same agents recur across hits.
    """
    agent = user_agent.lower()
    machine = provider = ""
    pattern = _scanner_pattern()
    if pattern is not None and pattern.search(agent):
        needle = next(n for n in scanner_agents() if n in agent)
        machine = f"known scanner agent ({needle})"
    else:
        found = crawler_index().first(user_agent, agent)
        if found:
            machine = f"known machine agent ({CRAWLER_PACKAGE} pattern {found[:100]})"
    pattern = _proxy_pattern()
    if pattern is not None and pattern.search(agent):
        provider = next(p for n, p in proxy_agents() if n in agent)
    return machine, provider, agent.strip() == APPLE_MPP_AGENT


def warm_lists() -> None:
    """Load and compile every list now, so that a long-lived process (the ingestor)
    does not pay for it while its first batch waits."""
    for name in NETWORK_LISTS:
        networks(name)
    scanner_networks()
    mail_client_agents()
    crawler_index()
    _scanner_pattern()
    _proxy_pattern()


def reload_lists() -> None:
    networks.cache_clear()
    scanner_networks.cache_clear()
    scanner_agents.cache_clear()
    mail_client_agents.cache_clear()
    proxy_agents.cache_clear()
    crawler_patterns.cache_clear()
    crawler_index.cache_clear()
    _scanner_pattern.cache_clear()
    _proxy_pattern.cache_clear()
    agent_facts.cache_clear()

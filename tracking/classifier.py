"""The verdict on every hit (T5, T7), decided in the order of the rules below.

1. self       the sender's own browser (signed cookie) or Beacon session
2. blocked_ip the account's blocked networks (S8)
3. prefetch   HEAD, or a request announcing itself as a prefetch/preview
4. scanner    the trap link; a known machine agent (crawler-user-agents, Beacon's own
              gateways) or scanner network (Microsoft EOP, gateways); a click within seconds
              of Sent; several links clicked within a second or two; a pixel fetched by
              the same IP that followed the trap link
5. apple_mpp  an open from Apple's proxy (Apple networks or its bare agent)
6. proxy      an open through Gmail's or Yahoo's image proxy
7. duplicate  the same open/click from the same IP and agent within a short window
8. human      anything else
Counted verdicts (human, proxy) feed statuses, counts and notifications.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings

from tracking import lists
from tracking.models import COUNTED_VERDICTS, Kind, Verdict

PREFETCH_PURPOSES = ("prefetch", "preview")
# Plain strings for the per-hit comparisons (an enum member lookup costs more); the
# ingestor uses them too.
OPEN, CLICK = Kind.OPEN.value, Kind.CLICK.value
COUNTED = frozenset(verdict.value for verdict in COUNTED_VERDICTS)


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__,
# 3 us per hit of the ingestor's budget (0.3 us with slots). Hits are never mutated:
# the code derives new ones with dataclasses.replace.
# Times are POSIX seconds (floats) throughout: datetime objects and timedelta arithmetic
# cost several microseconds per hit, and the ingestor's budget is ~50 us per hit.
@dataclass(slots=True)
class Hit:
    hit_id: str  # 32 lower-case hex digits, as the fast path made it
    kind: str
    email_id: int
    link_id: int | None
    at: float  # POSIX seconds
    ip: str | None
    user_agent: str
    method: str
    purpose: str = ""
    self_user_id: int | None = None  # from the signed cookie or the session
    address: tuple[int, int] | None = None  # `ip` parsed (tracking.lists.parse_ip)


@dataclass(frozen=True)
class EmailFacts:
    sender_id: int
    sent_at: float  # POSIX seconds


@dataclass
class History:
    """What the classifier remembers: recent events from the database plus this batch.

    The windows are read from settings once per batch, not once per hit.
    """

    duplicate_window: float = field(
        default_factory=lambda: float(settings.TRACKING_DUPLICATE_SECONDS)
    )
    burst_window: float = field(
        default_factory=lambda: float(settings.TRACKING_BURST_SECONDS)
    )
    scanner_click_seconds: float = field(
        default_factory=lambda: float(settings.TRACKING_SCANNER_CLICK_SECONDS)
    )
    counted: dict[tuple[object, ...], list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )
    clicks: dict[tuple[int, str | None], list[tuple[float, int | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    trap_ips: set[tuple[int, str | None]] = field(default_factory=set)

    def remember(self, hit: Hit, verdict: str, *, trap: bool) -> None:
        if verdict in COUNTED:
            self.counted[_repeat_key(hit)].append(hit.at)
        if hit.kind == CLICK:
            self.clicks[(hit.email_id, hit.ip)].append((hit.at, hit.link_id))
            if trap:
                self.trap_ips.add((hit.email_id, hit.ip))


def _repeat_key(hit: Hit) -> tuple[object, ...]:
    return (hit.email_id, hit.kind, hit.link_id, hit.ip, hit.user_agent)


def _scanner_reason(
    hit: Hit,
    facts: EmailFacts,
    history: History,
    *,
    trap: bool,
    machine: str,
    address: tuple[int, int] | None,
) -> str:
    if trap:
        return "followed the hidden trap link (T7)"
    if machine:
        return machine
    label = lists.scanner_network(address)
    if label:
        return f"known scanner network: {label} ({hit.ip})"
    if hit.kind == OPEN and (hit.email_id, hit.ip) in history.trap_ips:
        return "fetched by an address that followed the trap link"
    if hit.kind != CLICK:
        return ""
    seconds = hit.at - facts.sent_at
    if 0 <= seconds < history.scanner_click_seconds:
        return f"clicked {seconds:.1f} s after sending"
    window = history.burst_window
    others = {
        link
        for at, link in history.clicks.get((hit.email_id, hit.ip), [])
        if link != hit.link_id and abs(at - hit.at) <= window
    }
    if others:
        return f"{len(others) + 1} links clicked within {window:g} s"
    return ""


def classify(
    hit: Hit,
    facts: EmailFacts,
    history: History,
    *,
    trap: bool,
    blocked: lists.NetworkSet,
) -> tuple[str, str]:
    """(verdict, reason) for one hit; `history` is updated by the caller.

    The address is parsed once (by the ingestor, else here) and the agent matched
    once (cached in tracking.lists), whatever the number of rules that look at them.
    """
    if hit.self_user_id is not None and hit.self_user_id == facts.sender_id:
        return Verdict.SELF, "the sender's own browser or Beacon session"
    address = hit.address
    if address is None and hit.ip:
        address = lists.ip_value(hit.ip)
    if blocked.holds(address):
        return Verdict.BLOCKED_IP, f"{hit.ip} is in a blocked network (S8)"
    if hit.method == "HEAD":
        return Verdict.PREFETCH, "HEAD request"
    if hit.purpose and any(p in hit.purpose.lower() for p in PREFETCH_PURPOSES):
        return Verdict.PREFETCH, f"announced as {hit.purpose.lower()}"
    machine, provider, apple_agent = lists.agent_facts(hit.user_agent)
    reason = _scanner_reason(
        hit, facts, history, trap=trap, machine=machine, address=address
    )
    if reason:
        return Verdict.SCANNER, reason
    verdict, reason = Verdict.HUMAN, "no machine signal"
    if hit.kind == OPEN:
        if lists.networks("apple_mpp_networks").holds(address):
            return (
                Verdict.APPLE_MPP,
                f"Apple Mail Privacy Protection network ({hit.ip})",
            )
        if apple_agent:
            return Verdict.APPLE_MPP, "Apple Mail Privacy Protection proxy agent"
        if provider:
            verdict, reason = Verdict.PROXY, f"{provider} image proxy"
    window = history.duplicate_window
    counted = history.counted.get(_repeat_key(hit))
    if counted and any(abs(hit.at - at) <= window for at in counted):
        return Verdict.DUPLICATE, f"repeat within {window:g} s"
    return verdict, reason

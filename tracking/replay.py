"""Verdicts decided again, outside the ingestor: the same classifier, the same history.

`replay_email` runs one email's hits in time order through `tracking.classifier.classify`
and `History`, as the ingestor would have (T5, T7), and applies T6 (a counted click with
no counted open before it implies an open). Two callers:
- `manage.py classify_hits FILE`: hits exported from a proxy log, nothing stored;
- `manage.py reclassify_events`: stored events after the lists changed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tracking import lists
from tracking.classifier import (
    CLICK,
    COUNTED,
    OPEN,
    EmailFacts,
    History,
    Hit,
    classify,
)
from tracking.models import Verdict


@dataclass(slots=True)
class ReplayHit:
    hit: Hit
    trap: bool = False
    # A verdict decided before the replayed range: remembered as it is, not re-decided.
    kept: tuple[str, str] | None = None


@dataclass(slots=True)
class Decision:
    verdict: str
    reason: str
    # T6: this counted click had no counted open before it, so it implies an open.
    implies_open: bool = False

    @property
    def counted(self) -> bool:
        return self.verdict in COUNTED


def replay_email(
    hits: list[ReplayHit],
    facts: EmailFacts,
    blocked: lists.NetworkSet,
    *,
    first_open: float | None = None,
) -> list[Decision]:
    """Decisions for one email's hits, which must be in time order (ties: as stored).

    `first_open`: the time of a counted open before these hits (None: none known).
    """
    history = History()
    decisions = []
    for item in hits:
        hit = item.hit
        if item.kept is not None:
            verdict, reason = item.kept
        else:
            verdict, reason = classify(
                hit, facts, history, trap=item.trap, blocked=blocked
            )
        history.remember(hit, verdict, trap=item.trap)
        decision = Decision(verdict, reason)
        if verdict in COUNTED and (first_open is None or first_open > hit.at):
            decision.implies_open = hit.kind == CLICK
            first_open = hit.at  # the open itself, or the one the click implies
        decisions.append(decision)
    return decisions


# -- classify_hits: JSON lines of exported hits -------------------------------------

SENDER = 1  # the one sender of an offline replay: `sender_cookie` hits are its own


class LineError(ValueError):
    pass


@dataclass(slots=True)
class HitLine:
    number: int  # 1-based line number in the input
    record: dict[str, object]
    email: str
    sent_at: float
    item: ReplayHit


def _time(record: dict[str, object], name: str) -> float:
    value = record.get(name)
    if not isinstance(value, str):
        raise LineError(f"{name!r} must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise LineError(f"{name!r} is not an ISO 8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _text(record: dict[str, object], name: str, default: str) -> str:
    value = record.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise LineError(f"{name!r} must be a string")
    return value


def _flag(record: dict[str, object], name: str) -> bool:
    value = record.get(name, False)
    if not isinstance(value, bool):
        raise LineError(f"{name!r} must be true or false")
    return value


def _key(record: dict[str, object], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise LineError(f"{name!r} must be a string or a number")
    return str(value)


def parse_line(
    number: int,
    line: str,
    email_ids: dict[str, int],
    link_ids: dict[tuple[str, str], int],
) -> HitLine:
    """One input line as a hit; `email_ids` and `link_ids` number the keys seen."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise LineError(f"not JSON ({exc})") from exc
    if not isinstance(record, dict):
        raise LineError("not a JSON object")
    email = _key(record, "email")
    if email is None:
        raise LineError("'email' is missing")
    kind = record.get("kind")
    if kind not in (OPEN, CLICK):
        raise LineError('\'kind\' must be "open" or "click"')
    link = _key(record, "link")
    if kind == CLICK and link is None:
        raise LineError("a click needs its 'link'")
    ip = _text(record, "ip", "").strip() or None
    address = lists.parse_ip(ip) if ip else None
    if ip and address is None:
        raise LineError(f"'ip' is not an IP address: {ip!r}")
    email_id = email_ids.setdefault(email, len(email_ids) + 1)
    link_id = None
    if link is not None:
        link_id = link_ids.setdefault((email, link), len(link_ids) + 1)
    hit = Hit(
        hit_id=f"{number:032x}",
        kind=str(kind),
        email_id=email_id,
        link_id=link_id,
        at=_time(record, "at"),
        ip=ip,
        user_agent=_text(record, "user_agent", ""),
        method=_text(record, "method", "GET").upper() or "GET",
        purpose=_text(record, "purpose", ""),
        self_user_id=SENDER if _flag(record, "sender_cookie") else None,
        address=address,
    )
    trap = _flag(record, "trap")
    return HitLine(
        number, record, email, _time(record, "sent_at"), ReplayHit(hit, trap)
    )


def classify_lines(
    lines: Iterable[str], blocked: lists.NetworkSet
) -> list[dict[str, object]]:
    """Each hit line with its verdict, reason and whether it counts, in input order.

    Hits of one `email` share one history and are decided in time order; an email's
    sent time is its first line's. Raises LineError naming every bad line (up to 10).
    """
    email_ids: dict[str, int] = {}
    link_ids: dict[tuple[str, str], int] = {}
    parsed: list[HitLine] = []
    errors: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed.append(parse_line(number, line, email_ids, link_ids))
        except LineError as exc:
            errors.append(f"line {number}: {exc}")
    if errors:
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise LineError("; ".join(errors[:10]) + more)
    by_email: dict[str, list[HitLine]] = defaultdict(list)
    for hit_line in parsed:
        by_email[hit_line.email].append(hit_line)
    decided: dict[int, Decision] = {}
    for email_lines in by_email.values():
        email_lines.sort(
            key=lambda hit_line: hit_line.item.hit.at
        )  # stable: ties in order
        facts = EmailFacts(SENDER, email_lines[0].sent_at)
        decisions = replay_email([h.item for h in email_lines], facts, blocked)
        for hit_line, decision in zip(email_lines, decisions, strict=True):
            decided[hit_line.number] = decision
    out = []
    for hit_line in parsed:
        decision = decided[hit_line.number]
        out.append(
            {
                **hit_line.record,
                "verdict": decision.verdict,
                "reason": decision.reason,
                "counted": decision.counted,
            }
        )
    return out


# -- reclassify_events: stored events ------------------------------------------------

ANNOUNCED = "announced as "


def stored_hit(event: dict[str, Any], sender_id: int) -> Hit:
    """A stored event as the hit it was. What the event does not keep (the sender's
    cookie, a prefetch header) is read back from its verdict, so `self` and announced
    prefetches are decided as they were."""
    self_user_id = sender_id if event["verdict"] == Verdict.SELF else None
    purpose = ""
    if event["verdict"] == Verdict.PREFETCH and event["reason"].startswith(ANNOUNCED):
        purpose = event["reason"][len(ANNOUNCED) :]
    ip = event["ip"]
    return Hit(
        hit_id=event["hit_id"].hex,
        kind=event["kind"],
        email_id=event["email_id"],
        link_id=event["link_id"],
        at=event["occurred_at"].timestamp(),
        ip=ip,
        user_agent=event["user_agent"],
        method=event["method"],
        purpose=purpose,
        self_user_id=self_user_id,
        address=lists.parse_ip(ip) if ip else None,
    )

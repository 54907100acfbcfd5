"""Turn raw hits into events: classify, insert idempotently on the hit id, notify.

`ingest_hits` is the one write path for hits: the stream ingestor calls it per batch in
services mode, the fast path calls it per request batch in embedded mode.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery

from settings_admin.selectors import blocked_networks
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
from tracking.event_store import EventRow, events_insert, iso_time
from tracking.models import (
    COUNTED_VERDICTS,
    Kind,
    TrackedEmail,
    TrackedLink,
    TrackingEvent,
)
from tracking.notifications import notify_tracking_events, tracking_event_payload
from tracking.tokens import self_cookie_signer

logger = logging.getLogger(__name__)
_INFERRED_NAMESPACE = uuid.UUID("6f0c5d1e-3b0a-4d7e-9a51-1f3f3c1b8e21")
_HEX = "0123456789abcdef"


def inferred_hit_id(hit_id: str) -> str:
    """The hit id of the open a counted click implies (T6): one per click, stable."""
    return uuid.uuid5(_INFERRED_NAMESPACE, hit_id).hex


def _as_int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def parse_hit(raw: Mapping[str, str]) -> tuple[Hit, str, str] | None:
    """A wire hit (see tracking.fastpath.hit_fields) as a Hit, its cookie and session.

    Everything that goes into the COPY is checked here: a malformed hit is logged and
    dropped rather than failing its whole batch again at every retry.
    """
    try:
        hit_id, kind, at = raw["h"], raw["k"], float(raw["t"])
        link_id = _as_int(raw.get("l"))
        if len(hit_id) != 32 or hit_id.strip(_HEX) or not 0 < at < 1e11:
            raise ValueError("bad hit id or time")
        if kind not in ("o", "c") or (kind == "c" and link_id is None):
            raise ValueError("bad kind or link")
        ip = raw.get("ip") or None
        address = None
        if ip is not None:
            address = lists.parse_ip(ip)
            if address is None:
                raise ValueError("bad address")
            if address[0] == 6:  # as PostgreSQL writes it back, for the history keys
                ip = socket.inet_ntop(socket.AF_INET6, address[1].to_bytes(16))
        hit = Hit(  # positional: a dataclass's keyword call costs ~1 us more per hit
            hit_id,
            OPEN if kind == "o" else CLICK,
            int(raw["e"]),
            link_id,
            at,
            ip,
            raw.get("ua", "")[:2000].replace("\x00", ""),
            raw.get("m", "GET")[:10],
            raw.get("p", "")[:100],
            None,
            address,
        )
    except (KeyError, ValueError, TypeError) as exc:
        logger.error("malformed hit %r: %s", _loggable(raw), exc)
        return None
    return hit, raw.get("sc", ""), raw.get("ss", "")


def _loggable(raw: object) -> object:
    """A wire hit for the log, without its cookie and session key (credentials)."""
    if isinstance(raw, Mapping):
        return {key: value for key, value in raw.items() if key not in ("sc", "ss")}
    return raw


def _self_user(
    cookie: str, session_key: str, sessions: dict[str, int | None]
) -> int | None:
    if cookie:
        try:
            return int(self_cookie_signer().unsign(cookie))
        except (signing.BadSignature, ValueError):
            pass
    return sessions.get(session_key) if session_key else None


def _session_users(keys: set[str]) -> dict[str, int | None]:
    engine = import_module(settings.SESSION_ENGINE)
    found: dict[str, int | None] = {}
    for key in keys:
        user_id = engine.SessionStore(session_key=key).get("_auth_user_id")
        found[key] = int(user_id) if user_id else None
    return found


@dataclass(frozen=True)
class EmailRow:
    facts: EmailFacts
    subject: str
    contact_id: int | None
    contact_name: str


def _emails(ids: set[int]) -> dict[int, EmailRow]:
    rows = TrackedEmail.objects.filter(pk__in=ids).values(
        "pk", "sender_id", "sent_at", "created_at", "subject", "contact_id",
        "contact__first_name", "contact__last_name", "is_anonymous",
    )  # fmt: skip
    found = {}
    for row in rows:
        name = f"{row['contact__first_name']} {row['contact__last_name']}".strip()
        contact_id = None if row["is_anonymous"] else row["contact_id"]
        sent_at = row["sent_at"] or row["created_at"]
        found[row["pk"]] = EmailRow(
            EmailFacts(row["sender_id"], sent_at.timestamp()),
            row["subject"],
            contact_id,
            name if contact_id else "",
        )
    return found


# The earliest counted open of an email: its events in time order (event_email_time),
# stopping at the first; an aggregate would read every event the email ever had.
_first_counted_open = TrackingEvent.objects.filter(
    email_id=OuterRef("pk"), kind=Kind.OPEN, verdict__in=COUNTED_VERDICTS
).order_by("occurred_at")


def _counted_since(
    pairs: set[tuple[int, str]], since: datetime
) -> Iterable[tuple[Any, ...]]:
    """Counted events since `since` of these (email, address) pairs: what the
    duplicate rule compares a hit with. (email_id, kind, link_id, ip, agent, time).

    On PostgreSQL, one probe of event_counted_repeat (email, ip, occurred_at) per
    pair: the cost follows the batch, not the events the emails already have in the
    window (scanning those by email and time cost ~10 us per hit at 50,000 of them).
    """
    if not pairs:
        return []
    if connection.vendor != "postgresql":
        found = TrackingEvent.objects.filter(
            verdict__in=COUNTED_VERDICTS,
            occurred_at__gte=since,
            email_id__in={email_id for email_id, _ in pairs},
            ip__in={ip for _, ip in pairs},
        ).values_list("email_id", "kind", "link_id", "ip", "user_agent", "occurred_at")
        return [row for row in found if (row[0], row[3]) in pairs]
    table = TrackingEvent._meta.db_table
    counted = ",".join(f"'{verdict}'" for verdict in COUNTED_VERDICTS)
    email_ids = ",".join(str(email_id) for email_id, _ in pairs)
    ips = ",".join(str(ip) for _, ip in pairs)  # addresses checked by parse_hit
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.email_id, e.kind, e.link_id, host(e.ip), e.user_agent, "  # noqa: S608 - fixed names
            "e.occurred_at FROM unnest(%s::bigint[], %s::inet[]) AS k(email_id, ip) "
            f"CROSS JOIN LATERAL (SELECT * FROM {table} WHERE email_id = k.email_id "
            f"AND ip = k.ip AND occurred_at >= %s AND verdict IN ({counted}) "
            # OFFSET 0 keeps the subquery a per-pair probe: flattened into a join,
            # the planner may scan and sort the whole window instead.
            "OFFSET 0) AS e",
            [f"{{{email_ids}}}", f"{{{ips}}}", since],
        )
        return cursor.fetchall()


def _history(hits: list[Hit], email_ids: set[int]) -> tuple[History, dict[int, float]]:
    """What the database knows that this batch's verdicts depend on.

    Each query is narrowed to this batch's emails, addresses and time window, so a
    batch costs the same however many events an email already has.
    """
    history = History()
    since = datetime.fromtimestamp(hits[0].at, UTC)
    window_start = since - timedelta(seconds=history.duplicate_window)
    pairs = {
        (hit.email_id, hit.ip) for hit in hits if hit.ip and hit.email_id in email_ids
    }
    for row in _counted_since(pairs, window_start):
        history.counted[row[:5]].append(row[5].timestamp())
    events = TrackingEvent.objects.filter(email_id__in=email_ids).order_by()
    clicked = {hit.email_id for hit in hits if hit.kind == CLICK}
    clicks = events.filter(
        email_id__in=clicked,
        kind=Kind.CLICK,
        occurred_at__gte=since - timedelta(seconds=history.burst_window),
    )
    for email_id, ip, link_id, at in clicks.values_list(
        "email_id", "ip", "link_id", "occurred_at"
    ).distinct():
        history.clicks[(email_id, ip)].append((at.timestamp(), link_id))
    # The trap links first (a few rows), then their events by the link index: joining
    # from the events read every event the emails ever had, at every batch.
    trap_links = list(
        TrackedLink.objects.filter(email_id__in=email_ids, is_trap=True).values_list(
            "pk", flat=True
        )
    )
    traps = (
        TrackingEvent.objects.filter(link_id__in=trap_links)
        .order_by()
        .values_list("email_id", "ip")
        .distinct()
    )
    history.trap_ips.update(traps)
    # T6 asks "was there a counted open before this click?" only of clicked emails.
    first_opens = {
        email_id: first.timestamp()
        for email_id, first in TrackedEmail.objects.filter(pk__in=clicked)
        .annotate(first=Subquery(_first_counted_open.values("occurred_at")[:1]))
        .filter(first__isnull=False)
        .values_list("pk", "first")
    }
    return history, first_opens


@dataclass
class Batch:
    """A classified batch, ready to store (see `classify_batch` and `store_batch`)."""

    rows: list[EventRow]
    emails: dict[int, EmailRow]
    link_urls: dict[int, str]  # of the batch's clicked links, for the notifications


def _carry_over(
    history: History, first_opens: dict[int, float], rows: Iterable[EventRow]
) -> None:
    """Add a classified batch not yet committed to what the database told `history`.

    Replays exactly what `classify_hits` remembers of each of its hits. A row the
    database already returned is remembered twice, which changes no verdict: every
    check asks "is there one within the window?", and first opens take the minimum.
    """
    for row in rows:
        hit = row.hit
        counted = row.verdict in COUNTED
        if counted and (row.inferred or hit.kind == OPEN):
            first = first_opens.get(hit.email_id)
            if first is None or first > hit.at:
                first_opens[hit.email_id] = hit.at
        if not row.inferred:
            history.remember(hit, row.verdict, trap=row.trap)


def classify_hits(
    parsed: Iterable[tuple[Hit, str, str]],
    in_flight: Iterable[EventRow] = (),
) -> Batch:
    """Verdicts for a batch; `in_flight`: rows of a batch still being stored."""
    items = sorted(parsed, key=lambda item: item[0].at)
    if not items:
        return Batch([], {}, {})
    emails = _emails({hit.email_id for hit, _, _ in items})
    link_ids = {hit.link_id for hit, _, _ in items if hit.link_id}
    links: dict[int, int] = {}
    urls: dict[int, str] = {}
    traps: set[int] = set()
    for pk, email_id, is_trap, url in TrackedLink.objects.filter(
        pk__in=link_ids
    ).values_list("pk", "email_id", "is_trap", "url"):
        links[pk], urls[pk] = email_id, url
        if is_trap:
            traps.add(pk)
    blocked = lists.NetworkSet(blocked_networks())
    sessions = _session_users({key for _, _, key in items if key})
    history, first_opens = _history([hit for hit, _, _ in items], set(emails))
    _carry_over(history, first_opens, in_flight)
    rows: list[EventRow] = []
    for hit, cookie, session_key in items:
        email = emails.get(hit.email_id)
        if email is None or (
            hit.kind == CLICK and links.get(hit.link_id or 0) != hit.email_id
        ):
            logger.info("hit %s for a deleted email or link: not stored", hit.hit_id)
            continue
        if cookie or session_key:
            hit = _with_self(hit, _self_user(cookie, session_key, sessions))
        trap = hit.link_id in traps
        verdict, reason = classify(
            hit, email.facts, history, trap=trap, blocked=blocked
        )
        history.remember(hit, verdict, trap=trap)
        counted = verdict in COUNTED
        occurred_at = iso_time(hit.at)
        first = first_opens.get(hit.email_id)
        if hit.kind == CLICK and counted and (first is None or first > hit.at):
            # T6: a counted click with no counted open before it implies an open.
            inferred_id = inferred_hit_id(hit.hit_id)
            inferred = dataclasses.replace(hit, hit_id=inferred_id)
            rows.append(
                EventRow(
                    inferred,
                    verdict,
                    "inferred from a counted click (T6)",
                    email.contact_id,
                    occurred_at,
                    inferred=True,
                    trap=trap,
                )
            )
            first_opens[hit.email_id] = hit.at
        if hit.kind == OPEN and counted and (first is None or first > hit.at):
            first_opens[hit.email_id] = hit.at
        rows.append(
            EventRow(hit, verdict, reason, email.contact_id, occurred_at, trap=trap)
        )
    return Batch(rows, emails, urls)


def _with_self(hit: Hit, user_id: int | None) -> Hit:
    if user_id is None:
        return hit
    return dataclasses.replace(hit, self_user_id=user_id)


Notify = Callable[[list[tuple[int, dict[str, Any]]]], None]


def ingest_hits(
    raw_hits: Iterable[Mapping[str, str]], *, notify: Notify = notify_tracking_events
) -> int:
    """Store every hit once as an event; returns how many events were newly stored.

    Counted events newly stored are handed to `notify` after commit (a replayed hit
    is stored and notified once).
    """
    with transaction.atomic():
        return store_batch(classify_batch(raw_hits), notify=notify)


def classify_batch(
    raw_hits: Iterable[Mapping[str, str]], *, in_flight: Batch | None = None
) -> Batch:
    """Parse and classify; reads only. `in_flight`: the batch still being stored.

    The stream ingestor classifies the next batch while the previous one is stored (two
    cores: Python here, PostgreSQL there); `in_flight` supplies what the database cannot
    tell yet about that previous batch, so verdicts are those of one batch after the other.
    """
    parsed = [item for item in map(parse_hit, raw_hits) if item is not None]
    return classify_hits(parsed, in_flight.rows if in_flight else ())


def store_batch(batch: Batch, *, notify: Notify = notify_tracking_events) -> int:
    """Insert a classified batch; returns how many events were newly stored.

    Counted events newly stored are handed to `notify` after commit.
    """
    with transaction.atomic():
        rows, stored = events_insert(batch.rows) if batch.rows else ([], {})
        messages = _messages(rows, stored, batch)
        if messages:
            transaction.on_commit(lambda: notify(messages))
    return len(stored)


def _messages(
    rows: list[EventRow], stored: dict[str, int], batch: Batch
) -> list[tuple[int, dict[str, Any]]]:
    """The counted events newly stored, as (sender id, notification payload)."""
    counted = [
        (row, stored[row.hit.hit_id])
        for row in rows
        if row.verdict in COUNTED and row.hit.hit_id in stored
    ]
    messages = []
    for row, event_id in counted:
        email = batch.emails[row.hit.email_id]
        link_id = row.link_id
        payload = tracking_event_payload(
            event_id=event_id,
            email_id=row.hit.email_id,
            subject=email.subject,
            kind=row.kind,
            verdict=row.verdict,
            contact_name=email.contact_name,
            link_url=batch.link_urls.get(link_id) if link_id else None,
            occurred_at=row.occurred_at,
            inferred=row.inferred,
        )
        messages.append((email.facts.sender_id, payload))
    return messages

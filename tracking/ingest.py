"""Turn raw hits into events: classify, insert idempotently on the hit id, notify.

`ingest_hits` is the one write path for hits: the stream ingestor calls it per batch in
services mode, the fast path calls it per request batch in embedded mode.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.db.models import Min

from settings_admin.models import BlockedNetwork
from tracking import lists
from tracking.classifier import EmailFacts, History, Hit, classify
from tracking.models import (
    COUNTED_VERDICTS,
    Kind,
    TrackedEmail,
    TrackedLink,
    TrackingEvent,
)
from tracking.notifications import notify_tracking_events, tracking_event_payload

logger = logging.getLogger(__name__)
SELF_COOKIE_SALT = "tracking.self"
INSERT_CHUNK = 1000
_INFERRED_NAMESPACE = uuid.UUID("6f0c5d1e-3b0a-4d7e-9a51-1f3f3c1b8e21")


def self_cookie_signer() -> signing.Signer:
    """Signs the `self` cookie's user id (set by tracking.middleware)."""
    return signing.get_cookie_signer(salt=SELF_COOKIE_SALT)


def _as_int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def parse_hit(raw: Mapping[str, str]) -> tuple[Hit, str, str] | None:
    """A wire hit (see tracking.fastpath.hit_fields) as a Hit, its cookie and session."""
    try:
        email_id = int(raw["e"])
        hit = Hit(
            hit_id=uuid.UUID(hex=raw["h"]),
            kind=Kind.OPEN if raw["k"] == "o" else Kind.CLICK,
            email_id=email_id,
            link_id=_as_int(raw.get("l")),
            at=datetime.fromtimestamp(float(raw["t"]), UTC),
            ip=raw.get("ip") or None,
            user_agent=raw.get("ua", "")[:2000],
            method=raw.get("m", "GET")[:10],
            purpose=raw.get("p", "")[:100],
        )
    except (KeyError, ValueError) as exc:
        logger.error("malformed hit %r: %s", dict(raw), exc)
        return None
    return hit, raw.get("sc", ""), raw.get("ss", "")


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
        found[row["pk"]] = EmailRow(
            EmailFacts(row["sender_id"], row["sent_at"] or row["created_at"]),
            row["subject"],
            contact_id,
            name if contact_id else "",
        )
    return found


def _history(
    hits: list[Hit], email_ids: set[int]
) -> tuple[History, dict[int, datetime]]:
    """What the database knows that this batch's verdicts depend on.

    Each query is narrowed to this batch's emails, addresses and time window, so a
    batch costs the same however many events an email already has.
    """
    history = History()
    since = hits[0].at
    ips = sorted({hit.ip for hit in hits if hit.ip})
    # The duplicate rule compares the same address AND agent: both narrow the rows
    # read back (a batch's agents are few; one address may have thousands of events).
    agents = sorted({hit.user_agent for hit in hits if hit.ip})
    events = TrackingEvent.objects.filter(email_id__in=email_ids).order_by()
    counted = events.filter(
        verdict__in=COUNTED_VERDICTS, occurred_at__gte=since - history.duplicate_window
    )
    if connection.vendor == "postgresql":
        # One array parameter each: `__in` would bind every value apart.
        counted = counted.extra(
            where=["ip = ANY(%s::inet[])", "user_agent = ANY(%s::text[])"],
            params=[ips, agents],
        )
    else:
        counted = counted.filter(ip__in=ips, user_agent__in=agents)
    for row in counted.values_list(
        "email_id", "kind", "link_id", "ip", "user_agent", "occurred_at"
    ):
        history.counted[row[:5]].append(row[5])
    clicked = {hit.email_id for hit in hits if hit.kind == Kind.CLICK}
    clicks = events.filter(
        email_id__in=clicked,
        kind=Kind.CLICK,
        occurred_at__gte=since - history.burst_window,
    )
    for email_id, ip, link_id, at in clicks.values_list(
        "email_id", "ip", "link_id", "occurred_at"
    ).distinct():
        history.clicks[(email_id, ip)].append((at, link_id))
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
    first_opens = dict(
        TrackingEvent.objects.filter(
            email_id__in=clicked, kind=Kind.OPEN, verdict__in=COUNTED_VERDICTS
        )
        .values("email_id")
        .annotate(first=Min("occurred_at"))
        .values_list("email_id", "first")
    )
    return history, first_opens


@dataclass(slots=True)
class EventRow:
    hit: Hit
    verdict: str
    reason: str
    contact_id: int | None
    inferred: bool = False
    trap: bool = False  # the hit followed a trap link


@dataclass
class Batch:
    """A classified batch, ready to store (see `classify_batch` and `store_batch`)."""

    rows: list[EventRow]
    emails: dict[int, EmailRow]


_COLUMNS = (
    "hit_id", "email_id", "link_id", "kind", "occurred_at", "ip", "user_agent",
    "method", "verdict", "reason", "contact_id", "inferred", "created_at",
)  # fmt: skip


# PostgreSQL types of _COLUMNS, for the load table.
_PG_TYPES = (
    "uuid", "bigint", "bigint", "varchar(5)", "timestamptz", "inet", "text",
    "varchar(10)", "varchar(12)", "varchar(200)", "bigint", "boolean", "timestamptz",
)  # fmt: skip
_LOAD_TABLE = "tracking_event_load"


def _insert_postgresql(
    cursor: Any, rows: list[EventRow], now: datetime
) -> tuple[int, dict[uuid.UUID, int]]:
    """COPY into a temporary table, then one INSERT ... SELECT: the fastest bulk path."""
    table = TrackingEvent._meta.db_table
    columns = ",".join(_COLUMNS)
    definition = ",".join(f"{c} {t}" for c, t in zip(_COLUMNS, _PG_TYPES, strict=True))
    # Two statements, one round trip (no parameters: the simple query protocol).
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_LOAD_TABLE} ({definition}); "
        f"TRUNCATE {_LOAD_TABLE}"
    )
    with cursor.cursor.copy(f"COPY {_LOAD_TABLE} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(_values(row, now))
    counted = ",".join(f"'{verdict}'" for verdict in COUNTED_VERDICTS)
    # Only counted events come back (for notifications), plus a last row with the count.
    cursor.execute(
        f"WITH stored AS (INSERT INTO {table} ({columns}) "  # noqa: S608 - fixed names
        f"SELECT {columns} FROM {_LOAD_TABLE} ON CONFLICT (hit_id) DO NOTHING "
        "RETURNING hit_id, id, verdict) "
        f"SELECT hit_id, id FROM stored WHERE verdict IN ({counted}) "
        "UNION ALL SELECT NULL, count(*) FROM stored"
    )
    result = cursor.fetchall()
    return result[-1][1], dict(result[:-1])


def _values(row: EventRow, now: datetime) -> tuple[Any, ...]:
    hit = row.hit
    return (
        hit.hit_id,
        hit.email_id,
        None if row.inferred else hit.link_id,
        Kind.OPEN if row.inferred else hit.kind,
        hit.at,
        hit.ip,
        hit.user_agent,
        hit.method,
        row.verdict,
        row.reason[:200],
        row.contact_id,
        row.inferred,
        now,
    )


def _insert(rows: list[EventRow]) -> tuple[int, dict[uuid.UUID, int]]:
    """INSERT ... ON CONFLICT (hit_id) DO NOTHING.

    Returns how many rows were newly stored, and the ids of the counted ones among them.
    """
    table = TrackingEvent._meta.db_table
    now = datetime.now(UTC)
    stored: dict[uuid.UUID, int] = {}
    columns = ",".join(_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            return _insert_postgresql(cursor, rows, now)
        uuid_field = TrackingEvent._meta.get_field("hit_id")
        adapt = connection.ops.adapt_datetimefield_value
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            params: list[Any] = []
            for row in chunk:
                values = list(_values(row, now))
                values[0] = uuid_field.get_db_prep_value(values[0], connection)
                values[4], values[12] = adapt(values[4]), adapt(values[12])
                params += values
            placeholders = "(" + ",".join(["%s"] * len(_COLUMNS)) + ")"
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608 - fixed names
                f"{','.join([placeholders] * len(chunk))} "
                "ON CONFLICT (hit_id) DO NOTHING RETURNING hit_id, id",
                params,
            )
            for hit_id, pk in cursor.fetchall():
                stored[uuid.UUID(hit_id)] = pk
    verdicts = {row.hit.hit_id: row.verdict for row in rows}
    counted = {k: v for k, v in stored.items() if verdicts[k] in COUNTED_VERDICTS}
    return len(stored), counted


def _carry_over(
    history: History, first_opens: dict[int, datetime], rows: Iterable[EventRow]
) -> None:
    """Add a classified batch not yet committed to what the database told `history`.

    Replays exactly what `classify_hits` remembers of each of its hits. A row the
    database already returned is remembered twice, which changes no verdict: every
    check asks "is there one within the window?", and first opens take the minimum.
    """
    for row in rows:
        hit = row.hit
        counted = row.verdict in COUNTED_VERDICTS
        if counted and (row.inferred or hit.kind == Kind.OPEN):
            first = first_opens.get(hit.email_id)
            if first is None or first > hit.at:
                first_opens[hit.email_id] = hit.at
        if not row.inferred:
            history.remember(hit, row.verdict, trap=row.trap)


def classify_hits(
    parsed: Iterable[tuple[Hit, str, str]],
    in_flight: Iterable[EventRow] = (),
) -> tuple[list[EventRow], dict[int, EmailRow]]:
    """Verdicts for a batch; `in_flight`: rows of a batch still being stored."""
    items = sorted(parsed, key=lambda item: item[0].at)
    if not items:
        return [], {}
    emails = _emails({hit.email_id for hit, _, _ in items})
    link_ids = {hit.link_id for hit, _, _ in items if hit.link_id}
    links: dict[int, int] = {}
    traps: set[int] = set()
    for pk, email_id, is_trap in TrackedLink.objects.filter(
        pk__in=link_ids
    ).values_list("pk", "email_id", "is_trap"):
        links[pk] = email_id
        if is_trap:
            traps.add(pk)
    blocked = lists.NetworkSet(BlockedNetwork.objects.values_list("cidr", flat=True))
    sessions = _session_users({key for _, _, key in items if key})
    history, first_opens = _history([hit for hit, _, _ in items], set(emails))
    _carry_over(history, first_opens, in_flight)
    rows: list[EventRow] = []
    for hit, cookie, session_key in items:
        email = emails.get(hit.email_id)
        if email is None or (
            hit.kind == Kind.CLICK and links.get(hit.link_id or 0) != hit.email_id
        ):
            logger.info("hit %s for a deleted email or link: not stored", hit.hit_id)
            continue
        hit = _with_self(hit, _self_user(cookie, session_key, sessions))
        trap = hit.link_id in traps
        verdict, reason = classify(
            hit, email.facts, history, trap=trap, blocked=blocked
        )
        history.remember(hit, verdict, trap=trap)
        counted = verdict in COUNTED_VERDICTS
        first = first_opens.get(hit.email_id)
        if hit.kind == Kind.CLICK and counted and (first is None or first > hit.at):
            # T6: a counted click with no counted open before it implies an open.
            inferred_id = uuid.uuid5(_INFERRED_NAMESPACE, hit.hit_id.hex)
            inferred = dataclasses.replace(hit, hit_id=inferred_id)
            rows.append(
                EventRow(
                    inferred,
                    verdict,
                    "inferred from a counted click (T6)",
                    email.contact_id,
                    inferred=True,
                    trap=trap,
                )
            )
            first_opens[hit.email_id] = hit.at
        if hit.kind == Kind.OPEN and counted and (first is None or first > hit.at):
            first_opens[hit.email_id] = hit.at
        rows.append(EventRow(hit, verdict, reason, email.contact_id, trap=trap))
    return rows, emails


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
    rows, emails = classify_hits(parsed, in_flight.rows if in_flight else ())
    return Batch(rows, emails)


def store_batch(batch: Batch, *, notify: Notify = notify_tracking_events) -> int:
    """Insert a classified batch; returns how many events were newly stored.

    Counted events newly stored are handed to `notify` after commit.
    """
    with transaction.atomic():
        count, counted = _insert(batch.rows) if batch.rows else (0, {})
        messages = _messages(batch.rows, counted, batch.emails)
        if messages:
            transaction.on_commit(lambda: notify(messages))
    return count


def _messages(
    rows: list[EventRow], stored: dict[uuid.UUID, int], emails: dict[int, EmailRow]
) -> list[tuple[int, dict[str, Any]]]:
    counted = [
        r for r in rows if r.verdict in COUNTED_VERDICTS and r.hit.hit_id in stored
    ]
    if not counted:
        return []
    urls = dict(
        TrackedLink.objects.filter(
            pk__in={r.hit.link_id for r in counted if r.hit.link_id}
        ).values_list("pk", "url")
    )
    messages = []
    for row in counted:
        email = emails[row.hit.email_id]
        kind = Kind.OPEN if row.inferred else row.hit.kind
        payload = tracking_event_payload(
            event_id=stored[row.hit.hit_id],
            email_id=row.hit.email_id,
            subject=email.subject,
            kind=kind,
            verdict=row.verdict,
            contact_name=email.contact_name,
            link_url=None if kind == Kind.OPEN else urls.get(row.hit.link_id or 0),
            occurred_at=row.hit.at,
            inferred=row.inferred,
        )
        messages.append((email.facts.sender_id, payload))
    return messages

"""Stores classified hits as tracking events: each hit once, only while its email and
link exist (the events table has no foreign keys: docs/decisions/no-event-foreign-keys.md).

PostgreSQL takes a batch by COPY, formatted here; SQLite (embedded mode) by multi-row
INSERT. `tracking.ingest` classifies the hits and calls `events_insert`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import psycopg.errors
from django.db import connection, connections, transaction

from crm.models import Contact
from tracking.classifier import OPEN, Hit
from tracking.models import TrackedEmail, TrackedLink, TrackingEvent

logger = logging.getLogger(__name__)
INSERT_CHUNK = 1000
# A fixed PostgreSQL advisory-lock key (ASCII "track" and 1): the ingestor holds it
# shared while it stores a batch, deletions of an event's parents hold it exclusively.
EVENT_PARENTS_LOCK = 0x74726163_6B000001


@lru_cache(maxsize=4096)
def _second_iso(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def iso_time(at: float) -> str:
    """POSIX seconds as `datetime.isoformat()` of the same UTC microsecond would write
    them; one formatted string per second is cached (a batch spans a few seconds)."""
    second = math.floor(at)
    micro = round((at - second) * 1e6)
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    if micro:
        return f"{_second_iso(second)}.{micro:06d}+00:00"
    return f"{_second_iso(second)}+00:00"


@dataclass(slots=True)
class EventRow:
    hit: Hit
    verdict: str
    reason: str
    contact_id: int | None
    occurred_at: str  # hit.at in ISO 8601 (iso_time): for the COPY and the payload
    inferred: bool = False
    trap: bool = False  # the hit followed a trap link

    @property
    def kind(self) -> str:
        return OPEN if self.inferred else self.hit.kind

    @property
    def link_id(self) -> int | None:
        return None if self.inferred else self.hit.link_id


_COLUMNS = (
    "id", "hit_id", "email_id", "link_id", "kind", "occurred_at", "ip", "user_agent",
    "method", "verdict", "reason", "contact_id", "inferred", "created_at",
)  # fmt: skip
_LOAD_TABLE = "tracking_event_load"
# COPY's text format: backslash, tab and line ends escaped; PostgreSQL text holds no NUL.
_COPY_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": ""}
)
_COPY_SPECIAL = re.compile("[\\\\\t\n\r\x00]")


@lru_cache(maxsize=4096)
def _copy_agent(user_agent: str) -> str:
    """An agent as a COPY field; cached, as agents recur across hits."""
    return _copy_text(user_agent)


def _copy_text(value: str) -> str:
    return value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value


def _copy_data(rows: list[EventRow], ids: list[int], now: str) -> str:
    """The rows as COPY text, formatted here: psycopg's per-value adaptation (UUID,
    datetime, inet objects) cost ~7 us per row."""
    lines = []
    null = "\\N"
    for pk, row in zip(ids, rows, strict=True):
        hit = row.hit
        link_id = row.link_id
        contact_id = row.contact_id
        lines.append(
            f"{pk}\t{hit.hit_id}\t{hit.email_id}\t"
            f"{null if link_id is None else link_id}\t{row.kind}\t"
            f"{row.occurred_at}\t{hit.ip or null}\t{_copy_agent(hit.user_agent)}\t"
            f"{_copy_text(hit.method)}\t{row.verdict}\t{_copy_text(row.reason[:200])}\t"
            f"{null if contact_id is None else contact_id}\t"
            f"{'t' if row.inferred else 'f'}\t{now}\n"
        )
    return "".join(lines)


def lock_event_parents(using: str = "default") -> None:
    """Wait for the batches being stored, and keep new ones out, until this transaction
    ends: called (by tracking.apps) before an email, link or contact is deleted, so the
    cascade sees every event stored for it and no later batch stores one."""
    db = connections[using]
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [EVENT_PARENTS_LOCK])


def _with_parents(cursor: Any, rows: list[EventRow]) -> list[EventRow]:
    """The rows whose email and link still exist, without contacts deleted since they
    were classified: what the events' foreign keys would have checked row by row,
    here once per batch. Runs in the storing transaction, under the shared lock that
    deletions wait for (PostgreSQL; SQLite runs one writer at a time)."""
    if connection.vendor == "postgresql":
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [EVENT_PARENTS_LOCK])
    email_ids = {row.hit.email_id for row in rows}
    link_ids = {row.hit.link_id for row in rows if row.hit.link_id}
    contact_ids = {row.contact_id for row in rows if row.contact_id}
    emails = set(
        TrackedEmail.objects.filter(pk__in=email_ids).values_list("pk", flat=True)
    )
    links = set(
        TrackedLink.objects.filter(pk__in=link_ids).values_list("pk", flat=True)
    )
    contacts = set(
        Contact.objects.filter(pk__in=contact_ids).values_list("pk", flat=True)
    )
    if (len(emails), len(links), len(contacts)) == (
        len(email_ids),
        len(link_ids),
        len(contact_ids),
    ):
        return rows
    kept = []
    for row in rows:
        if row.hit.email_id not in emails or (
            row.hit.link_id and row.hit.link_id not in links
        ):
            logger.info("hit %s: its email or link was deleted", row.hit.hit_id)
            continue
        if row.contact_id and row.contact_id not in contacts:
            row = dataclasses.replace(row, contact_id=None)
        kept.append(row)
    return kept


def _insert_postgresql(cursor: Any, rows: list[EventRow]) -> dict[str, int]:
    """Store rows with ids taken from the table's sequence; returns {hit id: event id}
    of the rows newly stored.

    COPY straight into the table; when a hit is already there (a batch replayed after
    a crash), the COPY fails as a whole and the rows go through a temporary table and
    INSERT ... ON CONFLICT (hit_id) DO NOTHING instead.
    """
    table = TrackingEvent._meta.db_table
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [table, len(rows)],
    )
    ids = [pk for (pk,) in cursor.fetchall()]
    data = _copy_data(rows, ids, iso_time(datetime.now(UTC).timestamp()))
    columns = ",".join(_COLUMNS)
    raw = cursor.cursor  # psycopg's own cursor, for COPY
    try:
        # In a savepoint: a failed COPY leaves the rest of the transaction intact.
        with (
            transaction.atomic(),
            raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            copy.write(data)
        return {row.hit.hit_id: pk for pk, row in zip(ids, rows, strict=True)}
    except psycopg.errors.UniqueViolation:
        logger.info("a batch of %s hits holds hits already stored", len(rows))
    # Two statements, one round trip (no parameters: the simple query protocol).
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_LOAD_TABLE} "  # noqa: S608 - fixed names
        f"AS SELECT {columns} FROM {table} LIMIT 0; TRUNCATE {_LOAD_TABLE}"
    )
    with raw.copy(f"COPY {_LOAD_TABLE} ({columns}) FROM STDIN") as copy:
        copy.write(data)
    cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {_LOAD_TABLE} "  # noqa: S608 - fixed names
        "ON CONFLICT (hit_id) DO NOTHING RETURNING hit_id, id"
    )
    return {hit_id.hex: pk for hit_id, pk in cursor.fetchall()}


def _insert_rows(cursor: Any, rows: list[EventRow]) -> dict[str, int]:
    """Embedded mode (SQLite): multi-row INSERT ... ON CONFLICT (hit_id) DO NOTHING."""
    table = TrackingEvent._meta.db_table
    columns = ",".join(_COLUMNS[1:])
    now = datetime.now(UTC)
    adapt = connection.ops.adapt_datetimefield_value
    stored: dict[str, int] = {}
    placeholders = "(" + ",".join(["%s"] * (len(_COLUMNS) - 1)) + ")"
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        params: list[Any] = []
        for row in chunk:
            hit = row.hit
            params += (
                hit.hit_id, hit.email_id, row.link_id, row.kind,
                adapt(datetime.fromtimestamp(hit.at, UTC)), hit.ip, hit.user_agent,
                hit.method, row.verdict, row.reason[:200], row.contact_id,
                row.inferred, adapt(now),
            )  # fmt: skip
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608 - fixed names
            f"{','.join([placeholders] * len(chunk))} "
            "ON CONFLICT (hit_id) DO NOTHING RETURNING hit_id, id",
            params,
        )
        stored.update(cursor.fetchall())
    return stored


def events_insert(rows: list[EventRow]) -> tuple[list[EventRow], dict[str, int]]:
    """Store the rows whose parents still exist, each hit once.

    Returns the rows as stored and {hit id: event id} of those newly stored.
    """
    with connection.cursor() as cursor:
        rows = _with_parents(cursor, rows)
        if not rows:
            return rows, {}
        if connection.vendor == "postgresql":
            return rows, _insert_postgresql(cursor, rows)
        return rows, _insert_rows(cursor, rows)

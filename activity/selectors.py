"""Reads of logged email: timelines, threads, access helpers."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import Count, Min, Model, Q, QuerySet
from django.shortcuts import get_object_or_404

from activity.models import (
    Attachment,
    InboundEmail,
    InboundStatus,
    LoggedEmail,
    TimelineEntry,
)
from config.api import NotAllowed
from config.digest_cache import fetch_prepared
from crm import selectors as crm
from crm.models import Company, Contact, Deal, Ticket
from settings_admin.models import AccountSettings, UserSettings
from tracking.models import COUNTED_VERDICTS

RECORD_MODELS: dict[str, type[Model]] = {
    "contacts": Contact,
    "companies": Company,
    "deals": Deal,
    "tickets": Ticket,
}
INBOUND_POST_PERMISSION = "activity.post_raw_inbound"


# What LoggedEmailSerializer reads: the associations (ids) and the attachments.
_DETAILS = ("attachments", *RECORD_MODELS)


def logged_emails_with_details() -> QuerySet[LoggedEmail]:
    return (
        LoggedEmail.objects.visible()
        .select_related("sender", "thread")
        .prefetch_related(*_DETAILS)
    )


def record_get(kind: str, pk: int) -> Model:
    """A contact, company, deal or ticket by its plural kind; 404 when missing."""
    return get_object_or_404(RECORD_MODELS[kind], pk=pk)


def timeline_queryset(record: Model) -> QuerySet[LoggedEmail]:
    """The record's logged emails: pinned first, then newest first (V1)."""
    return _in_timeline_order(
        LoggedEmail.objects.visible().filter(**{_link_name(record): record})
    )


def _in_timeline_order(rows: QuerySet[LoggedEmail]) -> QuerySet[LoggedEmail]:
    return (
        rows.select_related("sender", "tracked_email")
        .prefetch_related(*_DETAILS)
        .order_by("-is_pinned", "-sent_at", "-id")
    )


# -- keyset pagination: the pages and the API read the same pages -----------------------

TIMELINE_PAGE_SIZE = 25


class BadCursor(ValueError):
    pass


def cursor_encode(email: LoggedEmail) -> str:
    raw = json.dumps([int(email.is_pinned), email.sent_at.isoformat(), email.pk])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def cursor_decode(cursor: str) -> tuple[bool, datetime, int]:
    try:
        pinned, sent_at, pk = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return bool(pinned), datetime.fromisoformat(sent_at), int(pk)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadCursor("Unknown cursor.") from exc


def _after(pinned: bool, sent_at: datetime, pk: int, *, id_field: str = "id") -> Q:
    """Rows after the cursor in (pinned desc, sent_at desc, id desc) order. The bare
    `sent_at__lte` makes it a range on the timeline's index, so a deep page starts
    where the last one ended instead of filtering everything before it."""
    same = Q(is_pinned=pinned, sent_at__lte=sent_at) & (
        Q(sent_at__lt=sent_at) | Q(**{f"{id_field}__lt": pk})
    )
    return same | Q(is_pinned=False) if pinned else same


def timeline_page(
    record: Model, *, cursor: str | None = None, size: int = TIMELINE_PAGE_SIZE
) -> tuple[list[LoggedEmail], str | None]:
    """One page of the record's timeline and the cursor of the next, if any.
    Raises BadCursor for a cursor this never made."""
    page = list(_timeline_rows(record, cursor, size + 1))
    if len(page) <= size:
        return page, None
    return page[:size], cursor_encode(page[size - 1])


def _timeline_rows(
    record: Model, cursor: str | None, limit: int
) -> QuerySet[LoggedEmail]:
    """The first `limit` of the record's emails after `cursor`, in timeline order. On
    PostgreSQL the page is found in the record's own range of the TimelineEntry index
    (its docstring), then its emails read by id; elsewhere the emails are filtered and
    ordered themselves."""
    after = cursor_decode(cursor) if cursor else None
    if connection.vendor != "postgresql":
        rows = timeline_queryset(record)
        return (rows.filter(_after(*after)) if after else rows)[:limit]
    entries = TimelineEntry.objects.filter(
        record_kind=_link_name(record), record_id=record.pk
    )
    if after:
        entries = entries.filter(_after(*after, id_field="email_id"))
    page = entries.order_by("-is_pinned", "-sent_at", "-email_id").values("email_id")
    return _in_timeline_order(LoggedEmail.objects.visible().filter(id__in=page[:limit]))


# Everything a page of timeline cards shows, per email (activity/_email_card.html and
# the mute buttons), as JSON: the row, its tracked email, attachments, the number of
# associations, the counted events grouped as tracking.selectors.email_statuses groups
# them, and the visible links; then the viewer's mutes. A change to any of them
# changes the digest, so a page cached under it is never stale.
_FINGERPRINT_SQL = """
WITH page AS ({page})
SELECT md5(concat(
  (SELECT json_agg(json_build_array(
      e.id, e.is_pinned, e.sent_at, e.subject, e.from_name, e.from_address, e.to,
      e.cc, e.notes, e.sender_id, e.thread_id, e.tracked_email_id, e.deleted_at,
      t.sender_id, t.contact_id, t.is_anonymous, t.sent_at,
      (SELECT json_agg(json_build_array(a.id, a.filename, a.size, a.is_inline)
                       ORDER BY a.id)
         FROM activity_attachment a WHERE a.logged_email_id = e.id),
      (SELECT count(*) FROM activity_loggedemail_contacts x
        WHERE x.loggedemail_id = e.id)
      + (SELECT count(*) FROM activity_loggedemail_companies x
          WHERE x.loggedemail_id = e.id)
      + (SELECT count(*) FROM activity_loggedemail_deals x
          WHERE x.loggedemail_id = e.id)
      + (SELECT count(*) FROM activity_loggedemail_tickets x
          WHERE x.loggedemail_id = e.id),
      (SELECT json_agg(json_build_array(v.kind, v.link_id, v.n, v.last)
                       ORDER BY v.kind, v.link_id)
         FROM (SELECT kind, link_id, count(*) AS n, max(occurred_at) AS last
                 FROM tracking_trackingevent
                WHERE email_id = t.id AND verdict = ANY(%s)
                GROUP BY kind, link_id) v),
      (SELECT json_agg(json_build_array(k.id, k.position, k.url)
                       ORDER BY k.position, k.id)
         FROM tracking_trackedlink k WHERE k.email_id = t.id AND NOT k.is_trap))
    ORDER BY p.is_pinned DESC, p.sent_at DESC, p.id DESC)
     FROM page p
     JOIN activity_loggedemail e ON e.id = p.id
     LEFT JOIN tracking_trackedemail t ON t.id = e.tracked_email_id),
  '#',
  (SELECT json_agg(json_build_array(m.id, m.email_id, m.contact_id) ORDER BY m.id)
     FROM settings_admin_notificationmute m WHERE m.user_id = %s)
))
"""


def timeline_digest_query(
    record: Model, user: User | AnonymousUser, *, cursor: str | None, size: int
) -> tuple[str, list[Any]]:
    """The query (SQL and parameters) of a digest of what `timeline_page(record,
    cursor=cursor, size=size)` shows to `user`: one row, one column. Its page is the
    selector's own keyset query. Raises BadCursor as timeline_page does."""
    sql, params = _page_sql(type(record), record.pk, cursor, size)
    return (
        _FINGERPRINT_SQL.format(page=sql),
        [*params, list(COUNTED_VERDICTS), user.pk],
    )


@lru_cache(maxsize=1024)
def _page_sql(
    model: type[Model], pk: int, cursor: str | None, size: int
) -> tuple[str, tuple[Any, ...]]:
    """The keyset page's SQL, compiled once per record and cursor (the ORM's compiler
    costs more than the digest query it feeds)."""
    record = model(pk=pk)
    page = (
        _timeline_rows(record, cursor, size + 1)
        .select_related(None)
        .prefetch_related(None)
        .values("id", "is_pinned", "sent_at")
    )
    sql, params = page.query.sql_with_params()
    return sql, tuple(params)


def timeline_fingerprint(
    record: Model, user: User | AnonymousUser, *, cursor: str | None, size: int
) -> str | None:
    """The digest of `timeline_digest_query` (PostgreSQL; None elsewhere)."""
    if connection.vendor != "postgresql":
        return None
    row = fetch_prepared(*timeline_digest_query(record, user, cursor=cursor, size=size))
    return str(row[0]) if row else None


def _link_name(record: Model) -> str:
    return {
        Contact: "contacts",
        Company: "companies",
        Deal: "deals",
        Ticket: "tickets",
    }[type(record)]


def thread_emails(email: LoggedEmail) -> QuerySet[LoggedEmail]:
    return (
        LoggedEmail.objects.visible()
        .filter(thread_id=email.thread_id)
        .select_related("sender")
        .prefetch_related(*_DETAILS)
        .order_by("sent_at", "id")
    )


def _can_edit(user: User | AnonymousUser, email: LoggedEmail) -> bool:
    return bool(getattr(user, "is_superuser", False)) or email.sender_id == user.pk


def logged_email_get_for_user(
    user: User | AnonymousUser, pk: int, *, write: bool = False, details: bool = False
) -> LoggedEmail:
    """Every signed-in user reads logged email (the CRM is shared); only its sender or a
    super admin edits, pins or deletes it. `details`: with what the serializer shows."""
    if not user.is_authenticated:
        raise NotAllowed("Sign in to see logged email.", code="not_authenticated")
    rows = (
        logged_emails_with_details()
        if details
        else LoggedEmail.objects.visible().select_related("sender", "thread")
    )
    email = get_object_or_404(rows, pk=pk)
    if write and not _can_edit(user, email):
        raise NotAllowed("Only the sender or a super admin can change this email.")
    return email


UNLINKED_SHOWN = 20


def logged_unlinked_for_user(user: User | AnonymousUser) -> QuerySet[LoggedEmail]:
    """The user's own logged emails on no record (mail naming no recipient, L5, or
    whose records were all taken off), newest first: theirs to associate."""
    return (
        LoggedEmail.objects.visible()
        .filter(
            sender_id=user.pk,
            contacts=None,
            companies=None,
            deals=None,
            tickets=None,
        )
        .order_by("-sent_at", "-id")
    )


def attachment_get_for_user(user: User | AnonymousUser, pk: int) -> Attachment:
    """Downloadable by signed-in users only, and never from a deleted email (L6)."""
    if not user.is_authenticated:
        raise NotAllowed("Sign in to download attachments.", code="not_authenticated")
    return get_object_or_404(
        Attachment.objects.select_related("logged_email"),
        pk=pk,
        logged_email__deleted_at__isnull=True,
    )


def can_post_any_inbound(user: User | AnonymousUser) -> bool:
    """Super admins and mail gateways (the permission) post any message; others only
    their own sent mail, which the sender check enforces."""
    return bool(getattr(user, "is_superuser", False)) or bool(
        user.is_authenticated and user.has_perm(INBOUND_POST_PERMISSION)
    )


def inbound_for_user(user: User | AnonymousUser) -> QuerySet[InboundEmail]:
    """Super admins see every received message; others those they sent or posted."""
    rows = InboundEmail.objects.select_related("logged_email")
    if not user.is_authenticated:
        return rows.none()
    if user.is_superuser:
        return rows
    return rows.filter(Q(sender_id=user.pk) | Q(posted_by_id=user.pk))


@dataclass(frozen=True)
class BccAddress:
    registration_token: str
    # Whose personal address it is; None: the account-wide address.
    user_id: int | None = None


def bcc_address_parse(address: str, account: AccountSettings) -> BccAddress | None:
    """`<prefix>+<secret>[+<registration>]@<BEACON_BCC_DOMAIN>`, case-insensitively
    (S7); the secret is the account's (the account-wide address) or a user's (that
    user's personal address)."""
    local, at, domain = address.strip().strip("<>").lower().rpartition("@")
    if not at or domain != settings.BEACON_BCC_DOMAIN.lower():
        return None
    pieces = local.split("+")
    if len(pieces) not in (2, 3):
        return None
    if pieces[0] != account.bcc_prefix.lower() or not pieces[1]:
        return None
    token = pieces[2] if len(pieces) == 3 else ""
    if pieces[1] == account.bcc_secret.lower():
        return BccAddress(registration_token=token)
    owner = (
        UserSettings.objects.filter(bcc_secret=pieces[1])
        .values_list("user_id", flat=True)
        .first()
    )
    if owner is None:
        return None
    return BccAddress(registration_token=token, user_id=owner)


def is_bcc_domain(address: str) -> bool:
    return address.lower().rpartition("@")[2] == settings.BEACON_BCC_DOMAIN.lower()


def association_ids(email: LoggedEmail) -> dict[str, list[int]]:
    return {
        kind: sorted(item.pk for item in getattr(email, kind).all())
        for kind in RECORD_MODELS
    }


def records_missing(associations: dict[str, Any]) -> dict[str, list[int]]:
    """Chosen ids that do not exist, per kind."""
    missing: dict[str, list[int]] = {}
    for kind, ids in associations.items():
        wanted = set(ids or [])
        found = set(
            RECORD_MODELS[kind]
            ._default_manager.filter(pk__in=wanted)
            .values_list("pk", flat=True)
        )
        if wanted - found:
            missing[kind] = sorted(wanted - found)
    return missing


# -- the association picker (V1) ----------------------------------------------------------

PICKER_RESULTS = 8


@dataclass(frozen=True)
class Choice:
    kind: str
    pk: int
    label: str
    detail: str
    chosen: bool
    # False: the user may not change the record, so may not link it (shown, not ticked).
    linkable: bool = True


def _label(kind: str, record: Any) -> tuple[str, str]:
    if kind == "contacts":
        return record.full_name or record.primary_email, record.primary_email
    if kind == "companies":
        return record.name, record.domain
    if kind == "deals":
        return record.name, record.stage.name
    return record.subject, record.stage.name


def association_choices(
    email: LoggedEmail, q: str, user: User | AnonymousUser
) -> dict[str, list[Choice]]:
    """Per kind: the email's records (chosen), then those matching `q` (not chosen);
    a found record the user may not change is not linkable (V1)."""
    loaded = {
        "contacts": (crm.contacts_with_details, crm.contact_list),
        "companies": (crm.companies_with_details, crm.company_list),
        "deals": (crm.deals_with_details, crm.deal_list),
        "tickets": (crm.tickets_with_details, crm.ticket_list),
    }
    choices: dict[str, list[Choice]] = {}
    for kind, (rows, search) in loaded.items():
        current = list(rows().filter(logged_emails=email))
        chosen = {record.pk for record in current}
        found = list(search(q=q).exclude(pk__in=chosen)[:PICKER_RESULTS]) if q else []
        choices[kind] = [
            Choice(kind, record.pk, *_label(kind, record), chosen=True)
            for record in current
        ] + [
            Choice(
                kind,
                record.pk,
                *_label(kind, record),
                chosen=False,
                linkable=crm.record_writable_by(user, record),  # type: ignore[arg-type]
            )
            for record in found
        ]
    return choices


def inbound_waiting() -> list[dict[str, Any]]:
    """Stored mail not logged yet, by status and last reason: `received` rows wait for
    a (first or next) attempt, `failed` ones for a super admin's re-process. With the
    oldest `received_at` of each group (for `manage.py tracking_status`)."""
    rows = (
        InboundEmail.objects.filter(
            status__in=[InboundStatus.RECEIVED, InboundStatus.FAILED]
        )
        .values("status", "reason")
        .annotate(count=Count("pk"), oldest=Min("received_at"))
        .order_by("status", "reason")
    )
    return [dict(row) for row in rows]

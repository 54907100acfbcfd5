"""Writes for logged email: receive raw mail, log it, edit, pin and delete it.

Both receivers (SMTP and the API) call `inbound_receive`, which stores the raw bytes first
(L9) and enqueues `activity.tasks.inbound_process` (the SMTP receiver queues several rows
per `inbound_process_many` task); the task calls `inbound_process_batch`, which logs its
rows and any others waiting in one transaction and, for any outcome but a clean log,
hands each row to `inbound_process`. Both parse and hand over to `email_log`, the one
logging workflow (L2-L8).
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Model, Q, When
from django.utils import timezone

from activity.models import (
    Attachment,
    EmailThread,
    InboundEmail,
    InboundStatus,
    LoggedEmail,
    LogRegistration,
)
from activity.parser import MalformedEmail, ParsedEmail, ParsedPart, parse_message
from activity.selectors import (
    RECORD_MODELS,
    bcc_address_parse,
    can_post_any_inbound,
    is_bcc_domain,
    records_missing,
)
from config.api import DomainError
from crm.models import Company, Contact, ContactSource, Deal, MarketingStatus, Ticket
from crm.selectors import (
    RECENT_OPEN_LIMIT,
    contact_get_by_email,
    contact_primary_company,
    contact_recent_open_deals,
    contact_recent_open_tickets,
    contacts_by_emails,
    recent_open_deals_by_contact,
    recent_open_tickets_by_contact,
)
from crm.services import DuplicateEmail, contact_create
from settings_admin.models import AccountSettings
from settings_admin.selectors import (
    EffectiveSettings,
    account_settings_get,
    effective_settings,
    never_log_matches,
    never_log_patterns,
    sending_addresses,
    sending_identity_user,
)
from tracking.models import TrackedEmail

log = logging.getLogger(__name__)
# Raw messages above this are parsed with their large parts spooled to disk.
SPOOL_FROM = 1024 * 1024


class Rejected(Exception):
    """The message is valid mail but must not be logged; waits for review (L2, L6)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class InvalidAssociation(DomainError):
    """A chosen record does not exist or cannot be seen."""

    code = "invalid_association"


# -- receiving ------------------------------------------------------------------------

# The largest raw message either receiver takes: advertised with EHLO SIZE by the SMTP
# receiver, the body limit of POST /api/v1/inbound/. A 51 MB attachment (base64 ≈ 70 MB)
# still fits.
MAX_MESSAGE_BYTES = 80 * 1024 * 1024


def inbound_receive(
    *,
    route: str,
    raw: File | bytes,
    envelope_from: str = "",
    envelope_to: Sequence[str] = (),
    posted_by: User | None = None,
    enqueue: Callable[[int], None] | None = None,
) -> InboundEmail:
    """Stores the raw message in file storage, then its row; processing starts after
    commit. Callers answer "accepted" only once this returns (L9).

    `enqueue`: what queues the row's processing after commit; by default its own task
    at once (`_enqueue`). The SMTP receiver passes one that queues from a thread of
    its own, several rows per task (`inbound_enqueue_many`)."""
    content = ContentFile(raw) if isinstance(raw, bytes) else raw
    name = f"inbound/{timezone.now():%Y/%m/%d}/{uuid.uuid4().hex}.eml"
    stored = default_storage.save(name, content)
    # One INSERT: committed on its own unless the caller holds a transaction.
    inbound = InboundEmail.objects.create(
        route=route,
        raw=stored,
        size=default_storage.size(stored),
        envelope_from=envelope_from[:320],
        envelope_to=[address.lower() for address in envelope_to],
        posted_by=posted_by,
    )
    queue = enqueue or _enqueue
    transaction.on_commit(lambda: queue(inbound.pk))
    return inbound


def inbound_enqueue_many(inbound_ids: list[int]) -> None:
    """Queues one task for several stored rows; they are processed as one batch."""
    from activity.tasks import inbound_process_many as task

    try:
        task.delay(inbound_ids)
    except Exception:
        # As in `_enqueue`: stored rows wait as `received`; the next task that runs
        # also takes them (`inbound_process_batch` drains waiting rows), and the
        # periodic sweep queues them again.
        log.exception("Queueing inbound %s failed", inbound_ids)


# A stored message that no task has taken this long after it arrived (its task was lost:
# queueing failed, or Redis restarted before a worker ran it) is queued again by the
# periodic sweep (`inbound_requeue_waiting`, every minute from Celery beat).
REQUEUE_AFTER = timedelta(minutes=5)
REQUEUE_MAX = 1_000  # rows per sweep; the next sweep takes the rest


def inbound_requeue_waiting(*, now: datetime | None = None) -> int:
    """Queues again the messages still `received` and never tried that arrived more
    than REQUEUE_AFTER ago, oldest first, BATCH_SIZE per task; answers how many.

    Nothing a user sent is left unread because one task went missing. Rows that were
    tried (attempts > 0) are not taken: they wait for a super admin's re-process."""
    cutoff = (now or timezone.now()) - REQUEUE_AFTER
    ids = list(
        InboundEmail.objects.filter(
            status=InboundStatus.RECEIVED, attempts=0, received_at__lt=cutoff
        )
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:REQUEUE_MAX]
    )
    for start in range(0, len(ids), BATCH_SIZE):
        inbound_enqueue_many(ids[start : start + BATCH_SIZE])
    if ids:
        log.warning("Queued again %s inbound messages left waiting", len(ids))
    return len(ids)


def _enqueue(inbound_id: int) -> None:
    from activity.tasks import inbound_process as task

    try:
        task.delay(inbound_id)
    except Exception:
        # The raw message is stored: it waits as `received` until the periodic sweep
        # queues it again (`inbound_requeue_waiting`); the receiver still answers
        # "accepted".
        log.exception("Queueing inbound %s failed", inbound_id)


class _Outcome(Exception):
    """Ends processing without logging: the transaction's writes are rolled back and the
    reason is recorded in a transaction of its own."""

    def __init__(
        self,
        status: str,
        reason: str,
        detail: str,
        *,
        parsed: ParsedEmail | None = None,
        first: LoggedEmail | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail
        self.parsed, self.first = parsed, first


def inbound_process(
    *, inbound_id: int, force: bool = False, run: _Run | None = None
) -> InboundEmail | None:
    """Parses and logs one received message; every outcome is kept on its row.

    Only `received` rows are processed unless `force` (the admin's re-process). The
    happy path is one transaction with no savepoints; anything else is rolled back and
    recorded afterwards. `run`: lookups shared with the other messages of a task run.
    """
    run = run or _Run()
    try:
        with transaction.atomic():
            inbound = _locked(inbound_id)
            if inbound is None or (
                inbound.status != InboundStatus.RECEIVED and not force
            ):
                return inbound
            # Large attachments wait, still encoded, in a temporary folder while
            # logging runs.
            with _spool_folder(inbound.size) as spool_dir:
                parsed = _parse(inbound, spool_dir)
                inbound.logged_email = _log(inbound, parsed, run)
            _finish(inbound, InboundStatus.LOGGED, "", "")
            _save(inbound)
            return inbound
    except _Outcome as outcome:
        return _record(inbound_id, force, outcome)


# Messages one task logs in a single transaction when several are waiting.
BATCH_SIZE = 32
# Only messages this large or smaller join a batch; larger ones go one by one.
BATCH_MAX_BYTES = SPOOL_FROM


def inbound_process_batch(
    *, inbound_ids: Sequence[int], drain: int = BATCH_SIZE
) -> list[int]:
    """Logs the given received messages and up to `drain` others still waiting, in one
    transaction; answers the ids it processed.

    Rows are claimed with FOR UPDATE SKIP LOCKED, so two workers never take the same
    one and a row another worker holds is left to it. When every claimed message logs
    cleanly, all commit together (about two INSERTs per message plus ~17 queries per
    batch). Any other outcome - a rejection, a parse failure, a duplicate Message-ID
    (L7), an error - rolls the whole batch back and each message is then processed on
    its own by `inbound_process`, which records its outcome exactly as for a single
    message.
    """
    run = _Run(batch=True)
    claimed: list[int] = []
    try:
        with transaction.atomic():
            rows = _claim(inbound_ids, drain)
            claimed = [row.pk for row in rows]
            if not rows:
                return []
            if any(row.size > BATCH_MAX_BYTES for row in rows):
                raise _Single()  # Rolled back; taken one by one below.
            parsed = [_parse(row, None) for row in rows]
            run.prefetch(parsed)
            for inbound, message in zip(rows, parsed, strict=True):
                inbound.logged_email = _log(inbound, message, run)
            run.flush_links()
            _logged_in_bulk(rows)
            return claimed
    except Exception as exc:
        if not isinstance(exc, _Outcome | _Single):
            log.exception("Logging a batch of inbound %s failed", claimed)
        single = _Run(account=run.account, senders=run.senders, settings=run.settings)
        for pk in claimed:
            inbound_process(inbound_id=pk, run=single)
        return claimed


def _logged_in_bulk(rows: list[InboundEmail]) -> None:
    """Marks every row of a batch logged in one UPDATE (what `_finish` and `_save`
    do for one row); the row-specific values travel as a VALUES list, which costs far
    less to build than bulk_update's CASE per field and row."""
    now = timezone.now()
    for inbound in rows:
        _finish(inbound, InboundStatus.LOGGED, "", "")
        inbound.attempts += 1
        inbound.processed_at = now
    table = connection.ops.quote_name(InboundEmail._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    params: list[Any] = [InboundStatus.LOGGED, now]
    for inbound in rows:
        params += [
            inbound.pk,
            inbound.sender_id,
            inbound.from_address,
            inbound.subject,
            inbound.message_id,
            inbound.logged_email_id,
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, reason = '', detail = '', "  # noqa: S608
            f"attempts = {table}.attempts + 1, processed_at = %s, "
            "sender_id = v.column2, from_address = v.column3, "
            "subject = v.column4, message_id = v.column5, "
            "logged_email_id = v.column6 "
            f"FROM (VALUES {values}) AS v WHERE {table}.id = v.column1",
            params,
        )


class _Single(Exception):
    """A large message was claimed: the batch takes the ordinary path."""


def _claim(inbound_ids: Sequence[int], drain: int) -> list[InboundEmail]:
    waiting = InboundEmail.objects.select_for_update(skip_locked=True).filter(
        status=InboundStatus.RECEIVED
    )
    mine = Q(pk__in=inbound_ids)
    # With them, others waiting that no worker holds, oldest first; never a row that
    # was tried before (it waits for a super admin).
    others = Q(attempts=0, size__lte=BATCH_MAX_BYTES)
    return list(
        waiting.filter(mine | others).order_by(
            Case(When(mine, then=0), default=1), "received_at", "pk"
        )[: max(len(inbound_ids), drain)]
    )


def _locked(inbound_id: int) -> InboundEmail | None:
    return InboundEmail.objects.select_for_update().filter(pk=inbound_id).first()


def _save(inbound: InboundEmail) -> None:
    inbound.attempts += 1
    inbound.processed_at = timezone.now()
    inbound.save()


@transaction.atomic
def _record(inbound_id: int, force: bool, outcome: _Outcome) -> InboundEmail | None:
    inbound = _locked(inbound_id)
    if inbound is None or (inbound.status != InboundStatus.RECEIVED and not force):
        return inbound  # Another worker finished it meanwhile.
    parsed = outcome.parsed
    if parsed is not None:
        inbound.from_address = parsed.from_address[:320]
        inbound.subject = parsed.subject[:998]
        inbound.message_id = parsed.message_id
        inbound.sender = sending_identity_user(parsed.from_address)  # type: ignore[assignment]
    if outcome.reason == "duplicate":
        message_id = parsed.message_id if parsed else ""
        first = LoggedEmail.objects.filter(message_id=message_id).first()
        if first is None:  # The constraint fired for another reason.
            outcome = _Outcome(
                InboundStatus.FAILED, "processing_error", "IntegrityError"
            )
        else:
            _duplicate(inbound, first)
    if outcome.reason != "duplicate":
        _finish(inbound, outcome.status, outcome.reason, outcome.detail)
    _save(inbound)
    if outcome.reason == "body_too_large":
        _tell_sender(inbound, outcome.detail)
    return inbound


@contextmanager
def _spool_folder(size: int) -> Iterator[Path | None]:
    if size <= SPOOL_FROM:
        yield None  # Small messages are parsed in memory.
        return
    with tempfile.TemporaryDirectory(prefix="beacon-mime-") as folder:
        yield Path(folder)


def _parse(inbound: InboundEmail, spool_dir: Path | None) -> ParsedEmail:
    try:
        with inbound.raw.open("rb") as fp:
            parsed = parse_message(fp, spool_dir=spool_dir)  # type: ignore[arg-type]
    except MalformedEmail as exc:
        raise _Outcome(InboundStatus.FAILED, "parse_error", exc.reason) from exc
    except OSError as exc:
        raise _Outcome(InboundStatus.FAILED, "raw_unreadable", str(exc)) from exc
    inbound.from_address = parsed.from_address[:320]
    inbound.subject = parsed.subject[:998]
    inbound.message_id = parsed.message_id
    return parsed


def _log(inbound: InboundEmail, parsed: ParsedEmail, run: _Run) -> LoggedEmail:
    try:
        return email_log(inbound=inbound, parsed=parsed, run=run)
    except Rejected as exc:
        raise _Outcome(
            InboundStatus.REJECTED, exc.code, exc.detail, parsed=parsed
        ) from exc
    except IntegrityError as exc:
        # Another worker logged the same Message-ID first (L7).
        raise _Outcome(InboundStatus.LOGGED, "duplicate", "", parsed=parsed) from exc
    except Exception as exc:
        log.exception("Logging inbound %s failed", inbound.pk)
        raise _Outcome(
            InboundStatus.FAILED, "processing_error", repr(exc), parsed=parsed
        ) from exc


def _finish(inbound: InboundEmail, status: str, reason: str, detail: str) -> None:
    inbound.status = status
    inbound.reason = reason
    inbound.detail = detail


def _duplicate(inbound: InboundEmail, first: LoggedEmail) -> None:
    inbound.logged_email = first
    _finish(
        inbound,
        InboundStatus.LOGGED,
        "duplicate",
        f"Already logged as email {first.pk}; stored once (L7).",
    )


def _tell_sender(inbound: InboundEmail, detail: str) -> None:
    sender = inbound.sender
    address = getattr(sender, "email", "") or inbound.from_address
    if not address:
        return
    subject = f"Not logged: {inbound.subject or '(no subject)'}"
    transaction.on_commit(
        lambda: send_mail(
            subject,
            f"Beacon did not log your email.\n\n{detail}\n",
            None,
            [address],
            fail_silently=True,
        )
    )


# -- lookups kept for one task run --------------------------------------------------------


@dataclass
class _Run:
    """What one task run reads once and reuses for every message it logs: the account
    settings, each sender's user, effective settings, own addresses and never-log
    patterns. Kept only for the run (never across tasks), so no edit waits on a cache.

    In a batch (`inbound_process_batch`) the association rows are collected and
    inserted together before commit, and the recipients' contacts and their open deals
    and tickets are read for the whole batch at once.
    """

    batch: bool = False
    account: AccountSettings | None = None
    senders: dict[str, User | None] = field(default_factory=dict)
    settings: dict[int, EffectiveSettings] = field(default_factory=dict)
    own: dict[int, set[str]] = field(default_factory=dict)
    never: dict[int, list[str]] = field(default_factory=dict)
    # Filled for a batch: address -> contact (None: no contact had it at batch start).
    contacts: dict[str, Contact | None] | None = None
    deals: dict[int, list[Deal]] = field(default_factory=dict)
    tickets: dict[int, list[Ticket]] = field(default_factory=dict)
    links: dict[type[Model], list[Model]] = field(default_factory=dict)

    def account_settings(self) -> AccountSettings:
        if self.account is None:
            self.account = account_settings_get()
        return self.account

    def sender(self, address: str) -> User | None:
        if address not in self.senders:
            user = sending_identity_user(address)
            self.senders[address] = user if isinstance(user, User) else None
        return self.senders[address]

    def effective(self, user: User) -> EffectiveSettings:
        if user.pk not in self.settings:
            self.settings[user.pk] = effective_settings(
                user, account=self.account_settings()
            )
        return self.settings[user.pk]

    def own_addresses(self, user: User) -> set[str]:
        if user.pk not in self.own:
            self.own[user.pk] = set(sending_addresses(user))
        return self.own[user.pk]

    def never_logged(self, emails: Iterable[str], user: User) -> set[str]:
        """As settings_admin's `never_log_filter`, with the patterns read once."""
        if user.pk not in self.never:
            self.never[user.pk] = never_log_patterns(user)
        return never_log_matches(emails, self.never[user.pk])

    def link(self, rows: list[Model]) -> None:
        if not rows:
            return
        if self.batch:
            self.links.setdefault(type(rows[0]), []).extend(rows)
        else:
            type(rows[0])._default_manager.bulk_create(rows)

    def flush_links(self) -> None:
        for model, rows in self.links.items():
            model._default_manager.bulk_create(rows)
        self.links = {}

    def contacts_by_emails(self, emails: list[str]) -> dict[str, Contact]:
        known = self.contacts
        if known is None or any(email not in known for email in emails):
            return contacts_by_emails(emails)
        return {
            email: contact for email in emails if (contact := known[email]) is not None
        }

    def contact_created(self, address: str, contact: Contact) -> None:
        if self.contacts is not None:
            self.contacts[address] = contact
            # Just created: linked to a company at most, to no deal or ticket yet.
            self.deals[contact.pk] = []
            self.tickets[contact.pk] = []

    def recent_open_deals(self, contact: Contact) -> list[Deal]:
        if contact.pk in self.deals:
            return self.deals[contact.pk]
        return contact_recent_open_deals(contact)

    def recent_open_tickets(self, contact: Contact) -> list[Ticket]:
        if contact.pk in self.tickets:
            return self.tickets[contact.pk]
        return contact_recent_open_tickets(contact)

    def prefetch(self, parsed: Sequence[ParsedEmail]) -> None:
        """Every To/Cc address's contact, and those contacts' newest open deals and
        tickets, in a handful of queries for the whole batch."""
        addresses = {a for item in parsed for a in [*item.to, *item.cc]}
        found = contacts_by_emails(addresses)
        self.contacts = {address: found.get(address) for address in addresses}
        ids = {contact.pk for contact in found.values()}
        self.deals = recent_open_deals_by_contact(ids, RECENT_OPEN_LIMIT)
        self.tickets = recent_open_tickets_by_contact(ids, RECENT_OPEN_LIMIT)


# -- logging --------------------------------------------------------------------------


@dataclass
class Associations:
    contacts: list[Contact] = field(default_factory=list)
    companies: list[Company] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)

    def add(self, kind: str, records: Sequence[Model | None]) -> None:
        bucket: list[Any] = getattr(self, kind)
        for record in records:
            if record is not None and all(item.pk != record.pk for item in bucket):
                bucket.append(record)

    def is_empty(self) -> bool:
        return not (self.contacts or self.companies or self.deals or self.tickets)


def email_log(
    *, inbound: InboundEmail, parsed: ParsedEmail, run: _Run | None = None
) -> LoggedEmail:
    """Logs one parsed message (L2-L8) or raises `Rejected`; run in one transaction.

    The LoggedEmail row is inserted before any contact or association is written, so
    a second worker logging the same Message-ID blocks on the UNIQUE index and then
    raises IntegrityError, having written nothing (L7). `run`: lookups shared with
    the other messages of the same task run.
    """
    run = run or _Run()
    sender = _sender(inbound, parsed, run)
    account = run.account_settings()
    settings = run.effective(sender)
    if parsed.body_bytes > settings.max_body_bytes:
        raise Rejected(
            "body_too_large",
            f"The body is {parsed.body_bytes} bytes; the limit is "
            f"{settings.max_body_bytes} bytes (S9).",
        )
    registration = _registration(inbound, parsed, account, sender)
    recipients = _recipients(parsed, run.own_addresses(sender))
    never = run.never_logged(recipients, sender)
    loggable = [address for address in recipients if address not in never]
    parents = _parents(parsed)
    thread = (
        parents[0].thread
        if parents
        else EmailThread.objects.create(subject=parsed.subject[:998])
    )
    email = LoggedEmail.objects.create(
        message_id=parsed.message_id,
        sender=sender,
        thread=thread,
        from_address=parsed.from_address[:320],
        from_name=parsed.from_name[:255],
        to=parsed.to,
        cc=parsed.cc,
        subject=parsed.subject[:998],
        sent_at=parsed.date or timezone.now(),
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        html_body=parsed.html,
        text_body=parsed.text,
        tracked_email=_tracked_copy(registration),
    )
    chosen = _associations(
        loggable=loggable,
        never=never,
        sender=sender,
        settings=settings,
        registration=registration,
        thread=thread if parents else None,
        run=run,
    )
    if chosen.is_empty():
        raise Rejected(
            "no_records",
            "No recipient can be logged to: each is on a never-log list, lacks a legal "
            "basis (privacy is on) or is not a contact.",
        )
    _link(email, chosen, run)
    email.notes = _attachments_save(email, parsed.parts, settings)
    if email.notes:
        email.save(update_fields=["notes"])
    return email


def _link(email: LoggedEmail, chosen: Associations, run: _Run) -> None:
    """Inserts the association rows of a new email: one INSERT per record kind (in a
    batch, one per kind for the whole batch)."""
    for kind, field_name in (
        ("contacts", "contact_id"),
        ("companies", "company_id"),
        ("deals", "deal_id"),
        ("tickets", "ticket_id"),
    ):
        records = getattr(chosen, kind)
        if records:
            through = getattr(LoggedEmail, kind).through
            run.link(
                [
                    through(loggedemail_id=email.pk, **{field_name: record.pk})
                    for record in records
                ]
            )


def _sender(inbound: InboundEmail, parsed: ParsedEmail, run: _Run) -> User:
    sender = run.sender(parsed.from_address)
    if sender is None:
        raise Rejected(
            "sender_not_identity",
            f"{parsed.from_address} is not a sending identity of any Beacon user (U2).",
        )
    inbound.sender = sender
    poster = inbound.posted_by
    if (
        poster is not None
        and poster.pk != sender.pk
        and not can_post_any_inbound(poster)
    ):
        raise Rejected(
            "sender_mismatch",
            f"{poster} may only post email sent from their own addresses.",
        )
    return sender


def _registration(
    inbound: InboundEmail,
    parsed: ParsedEmail,
    account: AccountSettings,
    sender: User,
) -> LogRegistration | None:
    """The add-in's registration: from the BCC address it was sent to, a Bcc header in
    the sender's own copy, or the X-Beacon-Registration header (L1a)."""
    tokens: list[str] = []
    for address in [*inbound.envelope_to, *parsed.bcc]:
        parsed_bcc = bcc_address_parse(address, account)
        if parsed_bcc and parsed_bcc.registration_token:
            tokens.append(parsed_bcc.registration_token)
    if parsed.registration_header:
        tokens.append(parsed.registration_header.strip().lower())
    if not tokens:
        return None
    # Someone else's token never steers this sender's email.
    return LogRegistration.objects.filter(token__in=tokens, user=sender).first()


def _tracked_copy(registration: LogRegistration | None) -> TrackedEmail | None:
    """The tracked email the add-in registered with this log registration, if any."""
    if registration is None:
        return None
    return TrackedEmail.objects.filter(log_registration=registration).first()


def _recipients(parsed: ParsedEmail, own_addresses: set[str]) -> list[str]:
    """To and Cc, without the BCC address and the sender's own addresses."""
    own = own_addresses | {parsed.from_address}
    found: list[str] = []
    for address in [*parsed.to, *parsed.cc]:
        if address not in own and not is_bcc_domain(address) and address not in found:
            found.append(address)
    return found


def _parents(parsed: ParsedEmail) -> list[LoggedEmail]:
    """Logged emails this one replies to, the direct parent first (L8)."""
    wanted = [parsed.in_reply_to, *reversed(parsed.references)]
    wanted = [item for item in wanted if item and item != parsed.message_id]
    if not wanted:
        return []
    found = {
        email.message_id: email
        for email in LoggedEmail.objects.filter(message_id__in=wanted).select_related(
            "thread"
        )
    }
    return [found[item] for item in wanted if item in found]


def _associations(
    *,
    loggable: list[str],
    never: set[str],
    sender: User,
    settings: EffectiveSettings,
    registration: LogRegistration | None,
    thread: EmailThread | None,
    run: _Run,
) -> Associations:
    skip = set(registration.skip_new_contacts) if registration else set()
    existing, new = _recipient_contacts(loggable, sender, settings, skip, run)
    chosen = Associations()
    if registration is not None and registration.associations is not None:
        # Exactly the records chosen in the add-in, plus the new contacts it proposed.
        for kind, model in RECORD_MODELS.items():
            ids = registration.associations.get(kind) or []
            chosen.add(kind, list(model._default_manager.filter(pk__in=ids)))
        chosen.add("contacts", new)
    else:
        _default_associations(chosen, [*existing, *new], settings.associate, run)
    if thread is not None:
        run.flush_links()  # The thread's rows written earlier in this batch count.
        _inherit(chosen, thread)
    chosen.contacts = [
        contact
        for contact in chosen.contacts
        if _contact_loggable(contact, never, settings.privacy_enabled)
    ]
    return chosen


def _contact_loggable(contact: Contact, never: set[str], privacy: bool) -> bool:
    if privacy and not contact.has_legal_basis:
        return False  # P1
    return not any(item.email in never for item in contact.emails.all())  # L3


def _recipient_contacts(
    loggable: list[str],
    sender: User,
    settings: EffectiveSettings,
    skip: set[str],
    run: _Run,
) -> tuple[list[Contact], list[Contact]]:
    """Existing contacts by any of their emails, and new ones for unknown recipients
    (L4). Under privacy (P1) a new contact could never be logged to (it has no legal
    basis yet), so none is created."""
    found = run.contacts_by_emails(loggable)
    existing: list[Contact] = []
    new: list[Contact] = []
    for address in loggable:
        contact = found.get(address)
        if contact is not None:
            if all(item.pk != contact.pk for item in existing):
                existing.append(contact)
            continue
        if (
            settings.create_contacts
            and not settings.privacy_enabled
            and (address not in skip)
        ):
            created = _contact_for_recipient(address, sender)
            if created is not None:
                new.append(created)
                run.contact_created(address, created)
    return existing, new


def _contact_for_recipient(address: str, sender: User) -> Contact | None:
    try:
        contact = contact_create(
            emails=[address],
            owner=sender,
            marketing_status=MarketingStatus.NON_MARKETING,
            created_via=ContactSource.LOGGED_EMAIL,
        )
    except DuplicateEmail:
        # Created by another worker meanwhile: use theirs.
        return contact_get_by_email(address)
    return Contact.objects.prefetch_related("emails").get(pk=contact.pk)


def _default_associations(
    chosen: Associations,
    contacts: list[Contact],
    associate: dict[str, bool],
    run: _Run,
) -> None:
    """Each contact, its primary company, its five newest open deals and tickets,
    narrowed to the record types of the default association setting (L5, S2)."""
    for contact in contacts:
        if associate.get("contacts"):
            chosen.add("contacts", [contact])
        if associate.get("companies"):
            chosen.add("companies", [contact_primary_company(contact)])
        if associate.get("deals"):
            chosen.add("deals", run.recent_open_deals(contact))
        if associate.get("tickets"):
            chosen.add("tickets", run.recent_open_tickets(contact))


def _inherit(chosen: Associations, thread: EmailThread) -> None:
    """A reply inherits the associations of its thread (L8)."""
    emails = LoggedEmail.objects.visible().filter(thread=thread)
    chosen.add(
        "contacts",
        list(
            Contact.objects.filter(logged_emails__in=emails)
            .prefetch_related("emails")
            .distinct()
        ),
    )
    chosen.add(
        "companies", list(Company.objects.filter(logged_emails__in=emails).distinct())
    )
    chosen.add("deals", list(Deal.objects.filter(logged_emails__in=emails).distinct()))
    chosen.add(
        "tickets", list(Ticket.objects.filter(logged_emails__in=emails).distinct())
    )


def _attachments_save(
    email: LoggedEmail, parts: list[ParsedPart], settings: EffectiveSettings
) -> list[dict[str, Any]]:
    """Stores attachments (S9) and answers the timeline notes for those left out (L6)."""
    notes: list[dict[str, Any]] = []
    folder = uuid.uuid4().hex
    for part in parts:
        if not settings.log_attachments:
            notes.append(
                _note(
                    "attachment_not_logged",
                    part,
                    "Attachment logging is off for this account (S9).",
                )
            )
            continue
        if part.size > settings.max_attachment_bytes:
            notes.append(
                _note(
                    "attachment_too_large",
                    part,
                    f"{part.filename} ({part.size} bytes) is over the "
                    f"{settings.max_attachment_bytes}-byte limit and was left out (L6).",
                )
            )
            continue
        attachment = Attachment(
            logged_email=email,
            filename=part.filename,
            content_type=part.content_type,
            content_id=part.content_id,
            is_inline=part.is_inline,
        )
        # Decoded through a temporary file: a large attachment never sits in memory.
        with tempfile.TemporaryFile() as decoded:
            attachment.size = part.write_to(decoded)
            decoded.seek(0)
            attachment.file.save(f"{folder}/{part.filename}", File(decoded), save=False)
        attachment.save()
    return notes


def _note(code: str, part: ParsedPart, detail: str) -> dict[str, Any]:
    return {
        "code": code,
        "filename": part.filename,
        "size": part.size,
        "detail": detail,
    }


# -- the add-in's registration (L1a) ---------------------------------------------------


@transaction.atomic
def email_log_register(
    *,
    user: User,
    from_address: str,
    to: list[str],
    cc: list[str],
    bcc: list[str],
    subject: str,
    associations: dict[str, list[int]] | None,
    skip_new_contacts: Sequence[str] = (),
) -> LogRegistration:
    """Registers the records chosen in the Log box; the answer's `bcc_address` carries
    the registration, so the copy that arrives is logged to exactly those records (L5).

    `associations` None means "the defaults"; `skip_new_contacts` lists unknown
    recipients whose "new contact" was unticked.
    """
    if associations is not None:
        unknown = sorted(set(associations) - set(RECORD_MODELS))
        if unknown:
            raise InvalidAssociation({"kinds": unknown})
        missing = records_missing(associations)
        if missing:
            raise InvalidAssociation(missing)
        associations = {
            kind: sorted(set(associations.get(kind) or [])) for kind in RECORD_MODELS
        }
    registration = LogRegistration.objects.create(
        user=user,
        from_address=from_address.strip().lower(),
        to=[address.strip().lower() for address in to],
        cc=[address.strip().lower() for address in cc],
        bcc=[address.strip().lower() for address in bcc],
        subject=subject[:998],
        associations=associations,
        skip_new_contacts=[address.strip().lower() for address in skip_new_contacts],
    )
    return registration


# -- edits from the timeline (V1) -------------------------------------------------------


@transaction.atomic
def logged_email_associations_set(
    *,
    email: LoggedEmail,
    actor: User,
    associations: dict[str, list[int]],
) -> LoggedEmail:
    """Replaces the associations of the kinds given; other kinds stay as they are."""
    missing = records_missing(associations)
    if missing:
        raise InvalidAssociation(missing)
    for kind, ids in associations.items():
        getattr(email, kind).set(ids)  # records_missing has checked they all exist
    return email


@transaction.atomic
def logged_email_pin(*, email: LoggedEmail, actor: User, pinned: bool) -> LoggedEmail:
    email.is_pinned = pinned
    email.pinned_at = timezone.now() if pinned else None
    email.save(update_fields=["is_pinned", "pinned_at"])
    return email


@transaction.atomic
def logged_email_delete(*, email: LoggedEmail, actor: User) -> None:
    """Soft delete: kept with who and when, gone from timelines (V1)."""
    email.deleted_at = timezone.now()
    email.deleted_by = actor
    email.is_pinned = False
    email.save(update_fields=["deleted_at", "deleted_by", "is_pinned"])

"""A received message's way from its stored raw bytes to its recorded outcome.

Both receivers (SMTP and the API) call `inbound_receive`, which stores the raw bytes
first (L9) and hands the row's id to the `enqueue` it is given (the tasks' queueing, in
`activity.tasks`: this module never queues a task itself). The task calls
`inbound_process_batch`, which claims its rows and any others waiting, parses them and
logs them in one transaction through `activity.capture.email_log` (the rules, L2-L8);
for any outcome but a clean log it hands each row to `inbound_process`, which records
that outcome on the row. See docs/architecture.md for the whole path.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Q, When
from django.utils import timezone

from activity.capture import Rejected, Run, email_log
from activity.models import InboundEmail, InboundStatus, LoggedEmail
from activity.parser import MalformedEmail, ParsedEmail, parse_message
from config.outages import transient
from settings_admin.selectors import sending_identity_user

log = logging.getLogger(__name__)
# Raw messages above this are parsed with their large parts spooled to disk.
SPOOL_FROM = 1024 * 1024

# -- receiving ------------------------------------------------------------------------

# The largest raw message either receiver takes: advertised with EHLO SIZE by the SMTP
# receiver, the body limit of POST /api/v1/inbound/. A 51 MB attachment (base64 ≈ 70 MB)
# still fits.
MAX_MESSAGE_BYTES = 80 * 1024 * 1024


def inbound_receive(
    *,
    route: str,
    raw: File | bytes,
    enqueue: Callable[[int], None],
    envelope_from: str = "",
    envelope_to: Sequence[str] = (),
    posted_by: User | None = None,
    authentication: dict[str, Any] | None = None,
) -> InboundEmail:
    """Stores the raw message in file storage, then its row; processing starts after
    commit. Callers answer "accepted" only once this returns (L9).

    `enqueue`: what queues the row's processing after commit: the API passes
    `activity.tasks.inbound_enqueue` (its own task at once), the SMTP receiver its
    `Enqueuer`, which queues from a thread of its own, several rows per task."""
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
        authentication=authentication or {},
    )
    transaction.on_commit(lambda: enqueue(inbound.pk))
    return inbound


# A stored message that no task has taken this long after it arrived (its task was lost:
# queueing failed, or Redis restarted before a worker ran it) is queued again by the
# periodic sweep (`activity.tasks.inbound_requeue_waiting`, every minute from Celery beat).
REQUEUE_AFTER = timedelta(minutes=5)
REQUEUE_MAX = 1_000  # rows per sweep; the next sweep takes the rest


# A `received` row's reason after an attempt that an outage of the database (or of
# Redis) cut short: it is tried again, never recorded as failed for it.
TRANSIENT_REASON = "transient_error"


def _may_be_taken() -> Q:
    """Rows no task may still hold: never tried, or last tried during an outage."""
    return Q(attempts=0) | Q(reason=TRANSIENT_REASON)


def inbound_lost(*, now: datetime | None = None) -> list[int]:
    """The messages still `received` that arrived more than REQUEUE_AFTER ago and were
    never tried, or last tried more than REQUEUE_AFTER ago and cut short by an outage,
    oldest first, at most REQUEUE_MAX: their task was lost, or gave up retrying.

    Rows whose attempt failed for any other reason are `failed`: they wait for a super
    admin's re-process."""
    cutoff = (now or timezone.now()) - REQUEUE_AFTER
    return list(
        InboundEmail.objects.filter(
            Q(attempts=0) | Q(reason=TRANSIENT_REASON, processed_at__lt=cutoff),
            status=InboundStatus.RECEIVED,
            received_at__lt=cutoff,
        )
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:REQUEUE_MAX]
    )


# -- processing -----------------------------------------------------------------------


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
    *, inbound_id: int, force: bool = False, run: Run | None = None
) -> InboundEmail | None:
    """Parses and logs one received message; every outcome is kept on its row.

    Only `received` rows are processed unless `force` (the admin's re-process). The
    happy path is one transaction with no savepoints; anything else is rolled back and
    recorded afterwards. `run`: lookups shared with the other messages of a task run.
    """
    run = run or Run()
    try:
        return _process(inbound_id, force, run)
    except Exception as exc:
        if transient(exc):
            inbound_attempt_cut_short([inbound_id], exc)
        raise


def _process(inbound_id: int, force: bool, run: Run) -> InboundEmail | None:
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
    run = Run(batch=True)
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
        if transient(exc):  # the task retries; the rows stay `received`
            inbound_attempt_cut_short(claimed, exc)
            raise
        if not isinstance(exc, _Outcome | _Single):
            log.exception("Logging a batch of inbound %s failed", claimed)
        single = Run(account=run.account, senders=run.senders, settings=run.settings)
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
    # With them, others waiting that no worker holds, oldest first: never tried, or
    # tried during an outage; a row that failed otherwise waits for a super admin.
    others = _may_be_taken() & Q(size__lte=BATCH_MAX_BYTES)
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


def _log(inbound: InboundEmail, parsed: ParsedEmail, run: Run) -> LoggedEmail:
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
        if transient(exc):
            raise  # not the message's failure: the task retries it
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


def inbound_attempt_cut_short(inbound_ids: Sequence[int], exc: BaseException) -> None:
    """Notes on rows still `received` that an outage cut their attempt short (for the
    re-queue sweep and the operators), if the database takes it: it may be the outage.
    The rows are never marked failed for it; the task retries them."""
    log.warning("Logging inbound %s waits for the database: %r", list(inbound_ids), exc)
    if not inbound_ids:
        return
    try:
        InboundEmail.objects.filter(
            pk__in=inbound_ids, status=InboundStatus.RECEIVED
        ).update(
            attempts=F("attempts") + 1,
            reason=TRANSIENT_REASON,
            detail=repr(exc)[:1000],
            processed_at=timezone.now(),
        )
    except Exception as again:
        if not transient(again):
            raise

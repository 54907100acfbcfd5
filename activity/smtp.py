"""Beacon's own SMTP receiver for the BCC address (L1b), built on aiosmtpd.

It accepts RCPT only for the account's BCC address, the users' personal ones and their
registration variants, judges the From domain's DMARC (activity.dmarc) while the
connecting address is known, offers STARTTLS when a certificate is configured, and
answers 250 to DATA only once the raw message is stored (L9); parsing and logging happen
later in a worker, so a hostile message can never take the receiver down.

Database work runs on a small pool of threads of the receiver's own, each keeping its
connection (checked at most once a second, and dropped after any failure), so a
message costs one file write and one INSERT; the account's BCC address, and whether
each recipient is a logging address, are read once per SMTP session; a thread of its
own queues the processing, several messages per task (`Enqueuer`).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import ssl
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, AnyStr, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from celery import current_app
from django.conf import settings
from django.db import close_old_connections, connection

from activity.dmarc import dmarc_check
from activity.inbound import BATCH_SIZE, MAX_MESSAGE_BYTES, inbound_receive
from activity.models import InboundRoute
from activity.selectors import bcc_address_parse
from activity.tasks import inbound_enqueue, inbound_enqueue_many
from settings_admin.models import AccountSettings
from settings_admin.selectors import account_settings_get

log = logging.getLogger(__name__)
# aiosmtpd logs every SMTP command at INFO: too much for a receiver under load.
logging.getLogger("mail.log").setLevel(logging.WARNING)

# Threads storing messages; each holds one database connection.
STORE_THREADS = 2
# How often a storing thread checks its connection (age, health) between messages.
CONNECTION_CHECK_SECONDS = 1.0

# How long the first stored row waits for others to share its task: a few ms of
# latency for fewer broker messages and larger batches in the worker, where each task
# costs ~15 ms of CPU besides its messages' ~4 ms each (claim, settings, contacts).
ENQUEUE_LINGER_SECONDS = 0.025

T = TypeVar("T")
_checked = threading.local()


def _fresh_connection() -> None:
    """Django's per-request connection check, at most once a second per thread."""
    now = time.monotonic()
    if now - getattr(_checked, "at", 0.0) >= CONNECTION_CHECK_SECONDS:
        close_old_connections()
        _checked.at = now


def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    _fresh_connection()
    try:
        return fn(*args)
    except Exception:
        # A broken connection is not reused for the next message.
        connection.close()
        _checked.at = 0.0
        raise


class Enqueuer:
    """Queues the processing of stored messages from a thread of its own, all the rows
    stored meanwhile in one task (at most `inbound.BATCH_SIZE`), so neither the
    reply to the sender nor the worker pays one broker message per email.

    A row stored but never queued (the receiver stopped in between, the broker was
    down) stays `received`: the next task that runs takes it with its own batch, and
    super admins see it in the review list meanwhile."""

    def __init__(self) -> None:
        self.waiting: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self.thread = threading.Thread(
            target=self._loop, name="bcc-enqueue", daemon=True
        )
        self.thread.start()

    def put(self, inbound_id: int) -> None:
        self.waiting.put(inbound_id)

    def stop(self) -> None:
        self.waiting.put(None)
        self.thread.join(30)

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self.waiting.get()
            ids = [] if first is None else [first]
            stopping = first is None
            # Rows stored within a few milliseconds of the first share its task.
            until = time.monotonic() + ENQUEUE_LINGER_SECONDS
            while len(ids) < BATCH_SIZE and not stopping:
                try:
                    item = self.waiting.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                ids.append(item)
            if ids:
                inbound_enqueue_many(ids)


def _store(
    content: bytes,
    mail_from: str,
    rcpt_tos: list[str],
    enqueue: Callable[[int], None],
    authentication: dict[str, Any],
) -> int:
    inbound = inbound_receive(
        route=InboundRoute.SMTP,
        raw=content,
        envelope_from=mail_from,
        envelope_to=rcpt_tos,
        authentication=authentication,
        # Run inline when tasks are eager (development, tests): logged before 250.
        enqueue=inbound_enqueue if current_app.conf.task_always_eager else enqueue,
    )
    return inbound.pk


@dataclass
class _SessionReads:
    """Read once per SMTP session, as a sender's server sends message after message on
    one connection. Only the RCPT answer rests on it: the worker reads the addresses
    anew for each task (activity.senders), so an address regenerated meanwhile logs
    nothing."""

    account: AccountSettings
    accepted: dict[str, bool] = field(default_factory=dict)


class BccHandler:
    def __init__(self, threads: int = STORE_THREADS) -> None:
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="bcc-store")
        self.enqueuer = Enqueuer()
        # What each open SMTP session has read: the account settings, and whether each
        # recipient it gave is a logging address (a personal one is a query).
        self.sessions: weakref.WeakKeyDictionary[Session, _SessionReads] = (
            weakref.WeakKeyDictionary()
        )

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, _in_thread, fn, *args)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        try:
            reads = self.sessions.get(session)
            if reads is None:
                reads = _SessionReads(await self._run(account_settings_get))
                self.sessions[session] = reads
            accepted = reads.accepted.get(address)
            if accepted is None:
                # A personal address is looked up in the database: on a storing thread.
                found = await self._run(bcc_address_parse, address, reads.account)
                accepted = reads.accepted[address] = found is not None
        except Exception:
            log.exception("Checking recipient %s failed", address)
            return "451 4.3.0 Temporary failure; try again later"
        if not accepted:
            return f"550 5.1.1 <{address}>: no such logging address"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = bytes(envelope.original_content or b"")
        # DMARC of the From domain, judged now: only now is the connecting address
        # known. DNS waits on the loop's default threads, not the storing ones.
        peer = session.peer[0] if isinstance(session.peer, tuple) else ""
        try:
            checked = await asyncio.get_running_loop().run_in_executor(
                None,
                lambda: dmarc_check(
                    content,
                    ip=peer,
                    helo=session.host_name or "",
                    mail_from=envelope.mail_from or "",
                ).as_dict(),
            )
        except Exception:
            log.exception("The DMARC check of a message from %s failed", peer)
            checked = {"result": "temperror", "detail": "The check itself failed."}
        try:
            pk = await self._run(
                _store,
                content,
                envelope.mail_from or "",
                list(envelope.rcpt_tos),
                self.enqueuer.put,
                checked,
            )
        except Exception:
            # Not stored, so not accepted: the sending server will retry.
            log.exception("Storing a message from %s failed", envelope.mail_from)
            return "451 4.3.0 Could not store the message; try again later"
        return f"250 2.0.0 Stored as inbound {pk}"


class BeaconSMTP(SMTP):
    """aiosmtpd's SMTP with enhanced status codes on its size refusals."""

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str) and status.startswith("552 Error"):
            status = "552 5.3.4 Message size exceeds fixed maximum message size"
        await super().push(status)


class BccController(Controller):
    def factory(self) -> SMTP:
        return BeaconSMTP(self.handler, **self.SMTP_kwargs)

    def stop(self, no_assert: bool = False) -> None:
        super().stop(no_assert=no_assert)
        # Its threads end, and their database connections with them.
        self.handler.executor.shutdown(wait=True)
        self.handler.enqueuer.stop()


def tls_context() -> ssl.SSLContext | None:
    """STARTTLS's context from BEACON_SMTP_TLS_CERT (and _KEY, when the key is not in
    the certificate's file); None without a certificate: STARTTLS is not offered."""
    cert = settings.BEACON_SMTP_TLS_CERT
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, settings.BEACON_SMTP_TLS_KEY or None)
    return context


def bcc_controller(host: str, port: int, **kwargs: Any) -> BccController:
    """The receiver; it offers STARTTLS when a certificate is configured, and demands
    it before MAIL when BEACON_SMTP_REQUIRE_TLS is on."""
    context = tls_context()
    if context is not None:
        kwargs.setdefault("tls_context", context)
        kwargs.setdefault("require_starttls", settings.BEACON_SMTP_REQUIRE_TLS)
    return BccController(
        BccHandler(),
        hostname=host,
        port=port,
        data_size_limit=MAX_MESSAGE_BYTES,
        ident="Beacon BCC receiver",
        **kwargs,
    )

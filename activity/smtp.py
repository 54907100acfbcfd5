"""Beacon's own SMTP receiver for the BCC address (L1b), built on aiosmtpd.

It accepts RCPT only for the account's BCC address and its registration variants, and
answers 250 to DATA only once the raw message is stored (L9); parsing and logging happen
later in a worker, so a hostile message can never take the receiver down.
"""

from __future__ import annotations

import logging
from typing import Any, AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.db import close_old_connections

from activity.models import InboundRoute
from activity.selectors import bcc_address_parse
from activity.services import inbound_receive
from settings_admin.selectors import account_settings_get

log = logging.getLogger(__name__)
# aiosmtpd logs every SMTP command at INFO: too much for a receiver under load.
logging.getLogger("mail.log").setLevel(logging.WARNING)

# Advertised with EHLO SIZE: a 51 MB attachment (base64 ≈ 70 MB) still fits.
MAX_MESSAGE_BYTES = 80 * 1024 * 1024


def _accepts(address: str) -> bool:
    close_old_connections()
    return bcc_address_parse(address, account_settings_get()) is not None


def _store(content: bytes, mail_from: str, rcpt_tos: list[str]) -> int:
    close_old_connections()
    inbound = inbound_receive(
        route=InboundRoute.SMTP,
        raw=content,
        envelope_from=mail_from,
        envelope_to=rcpt_tos,
    )
    return inbound.pk


class BccHandler:
    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        try:
            accepted = await sync_to_async(_accepts, thread_sensitive=False)(address)
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
        content = envelope.original_content or b""
        try:
            pk = await sync_to_async(_store, thread_sensitive=False)(
                bytes(content), envelope.mail_from or "", list(envelope.rcpt_tos)
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


def bcc_controller(host: str, port: int, **kwargs: Any) -> BccController:
    return BccController(
        BccHandler(),
        hostname=host,
        port=port,
        data_size_limit=MAX_MESSAGE_BYTES,
        ident="Beacon BCC receiver",
        **kwargs,
    )

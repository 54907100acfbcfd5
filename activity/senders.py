"""Who may log mail as whom on the SMTP route (issue 10).

A message is logged as its From's owner U only when it came in on U's personal BCC
address or a registration U made, or on the account-wide address with its From domain
passing DMARC (activity.dmarc, judged by the receiver). A domain that publishes DMARC
and fails it is never logged; one that could not be verified is logged on a personal
address with a note. activity.capture asks this module before it logs a message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User

from activity.dmarc import FAIL as DMARC_FAIL
from activity.dmarc import PASS as DMARC_PASS
from activity.models import InboundEmail, InboundRoute, LogRegistration
from activity.selectors import BccAddress


def _smtp_owners(
    inbound: InboundEmail, bcc_address: Callable[[str], BccAddress | None]
) -> tuple[set[int], bool]:
    """Whose addresses the message came in on (personal addresses, and registrations
    by their maker), and whether it came in on the account-wide address."""
    owners: set[int] = set()
    account_wide = False
    tokens: list[str] = []
    for address in inbound.envelope_to:
        found = bcc_address(address)
        if found is None:
            continue
        if found.user_id is not None:
            owners.add(found.user_id)
        elif not found.registration_token:
            account_wide = True
        if found.registration_token:
            tokens.append(found.registration_token)
    if tokens:
        owners.update(
            LogRegistration.objects.filter(token__in=tokens).values_list(
                "user_id", flat=True
            )
        )
    return owners, account_wide


def smtp_sender_problem(
    inbound: InboundEmail,
    from_address: str,
    sender: User,
    bcc_address: Callable[[str], BccAddress | None],
) -> tuple[str, str] | None:
    """Who may log as whom by mail (issue 10): a message is logged as its From's owner
    U only when it came in on U's personal address or a registration U made, or on the
    account-wide address with the From domain passing DMARC. A From domain that
    publishes DMARC and fails it is never logged. Anything else waits for review."""
    dmarc = inbound.authentication or {}
    result = dmarc.get("result", "")
    owners, account_wide = _smtp_owners(inbound, bcc_address)
    if result == DMARC_FAIL:
        return "dmarc_fail", str(dmarc.get("detail") or "The From domain fails DMARC.")
    if sender.pk in owners:
        return None
    if owners:
        return (
            "sender_not_owner",
            f"The message came in on another user's BCC address, but its From "
            f"({from_address}) is {sender}'s.",
        )
    if not account_wide or result != DMARC_PASS:
        why = str(dmarc.get("detail") or "No DMARC check was made.")
        return (
            "dmarc_unverified",
            "Mail to the account-wide BCC address is logged only when its From domain "
            f"passes DMARC: {why}",
        )
    return None


def authentication_notes(inbound: InboundEmail) -> list[dict[str, Any]]:
    """A logged message whose From domain could not be verified says so."""
    dmarc = inbound.authentication or {}
    if inbound.route != InboundRoute.SMTP or dmarc.get("result") in (None, DMARC_PASS):
        return []
    return [
        {
            "code": "sender_unverified",
            "detail": "The sender's domain could not be verified (DMARC "
            f"{dmarc.get('result')}): {dmarc.get('detail', '')}".rstrip(": "),
        }
    ]

"""The add-in's reads: its tokens, and what it shows before Send (C1, C2), built from the
other apps' rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from activity.selectors import is_bcc_domain
from addin.models import AddinToken
from addin.tokens import token_hash
from crm.models import Company, Contact, Deal, Ticket
from crm.selectors import (
    contact_primary_company,
    recent_open_deals_by_contact,
    recent_open_tickets_by_contact,
)
from settings_admin.selectors import effective_settings, sending_addresses
from tracking.services import ANONYMOUS_NOTICE, recipient_decisions, unique_addresses

TRACK_LABELS = {True: "Track email opens and clicks", False: "Track email opens"}


@dataclass
class RecipientContext:
    email: str
    kind: str  # to, cc or bcc
    tracked: bool
    track_reason: str
    never_log: bool
    # Why logging would leave this recipient out (L3, P1): "", never_log, no_legal_basis.
    log_reason: str
    contact: Contact | None
    new_contact: bool
    company: Company | None = None
    deals: list[Deal] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)


@dataclass
class ComposeContext:
    log_default: bool
    log_allowed: bool
    log_locked: bool
    log_reason: str
    bcc_address: str
    track_default: bool
    track_enabled: bool
    track_locked: bool
    track_label: str
    anonymous_notice: str
    associate: dict[str, bool]
    recipients: list[RecipientContext]


def compose_context(
    *,
    user: AbstractBaseUser,
    from_address: str,
    to: Sequence[str],
    cc: Sequence[str],
    bcc: Sequence[str],
) -> ComposeContext:
    effective = effective_settings(user)
    kinds: dict[str, str] = {}
    for kind, addresses in (("to", to), ("cc", cc), ("bcc", bcc)):
        for address in unique_addresses(addresses):
            # Beacon's own BCC address (added when Log is ticked) is no recipient.
            if not is_bcc_domain(address):
                kinds.setdefault(address, kind)
    recipients = list(kinds)
    tracked, decisions, contacts = recipient_decisions(
        user=user, recipients=recipients, track=True, effective=effective
    )
    sender_ok = from_address.strip().lower() in sending_addresses(user)
    known = {contact.pk for contact in contacts.values()}
    deals = recent_open_deals_by_contact(known)
    tickets = recent_open_tickets_by_contact(known)
    rows = []
    for decision in decisions:
        contact = contacts.get(decision.email)
        never_log = decision.reason == "never_log"
        no_basis = (
            effective.privacy_enabled
            and contact is not None
            and not contact.has_legal_basis
        )
        row = RecipientContext(
            email=decision.email,
            kind=kinds[decision.email],
            tracked=decision.tracked,
            track_reason=decision.reason,
            never_log=never_log,
            log_reason="never_log"
            if never_log
            else "no_legal_basis"
            if no_basis
            else "",
            contact=contact,
            # L4: an unknown recipient would become a new contact (it can be unticked).
            new_contact=contact is None
            and not never_log
            and sender_ok
            and effective.create_contacts,
        )
        if contact is not None:
            row.company = contact_primary_company(contact)
            row.deals = deals[contact.pk]
            row.tickets = tickets[contact.pk]
        rows.append(row)
    return ComposeContext(
        log_default=effective.log_by_default and sender_ok,
        log_allowed=sender_ok,
        log_locked=effective.log_locked,
        log_reason="" if sender_ok else "not_a_sending_identity",
        bcc_address=effective.bcc_address,
        track_default=effective.track_by_default and tracked,
        track_enabled=tracked,
        track_locked=effective.track_locked,
        track_label=TRACK_LABELS[effective.track_clicks],
        anonymous_notice=ANONYMOUS_NOTICE if len(recipients) > 1 else "",
        associate=effective.associate,
        recipients=rows,
    )


def addin_tokens_for_user(user: AbstractBaseUser) -> QuerySet[AddinToken]:
    """The user's own add-in tokens, newest first, with their last use."""
    return AddinToken.objects.filter(user_id=user.pk)


def addin_token_get_for_user(user: AbstractBaseUser, pk: object) -> AddinToken:
    """One of the user's own tokens; another user's is a 404, as if it did not exist."""
    return get_object_or_404(addin_tokens_for_user(user), pk=pk)


def addin_token_find(key: str) -> AddinToken | None:
    """The token a request presents, with its user, or None if unknown or revoked."""
    return (
        AddinToken.objects.select_related("user")
        .filter(key_hash=token_hash(key))
        .first()
    )

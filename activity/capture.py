"""The logging rules: what one parsed message becomes as a logged email (L2-L8).

`email_log` checks the sender (U2) and the body limit (S9), picks the recipients that may
be logged (L3, P1), finds or creates their contacts (L4), chooses the records to
associate (L5, L1a) or inherits them from the thread (L8), and stores the attachments
(S9, L6); a message that must not be logged raises `Rejected`. It runs inside the
caller's transaction: `activity.inbound` owns claiming, parsing and recording outcomes.
See docs/rules.md for each rule.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.core.files import File
from django.db.models import Model
from django.utils import timezone

from activity.models import (
    Attachment,
    EmailThread,
    InboundEmail,
    InboundRoute,
    LoggedEmail,
    LogRegistration,
)
from activity.parser import ParsedEmail, ParsedPart
from activity.selectors import (
    RECORD_MODELS,
    BccAddress,
    bcc_address_parse,
    can_post_any_inbound,
    is_bcc_domain,
)
from activity.senders import authentication_notes, smtp_sender_problem
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
from tracking.untracking import strip_live_tracking


class Rejected(Exception):
    """The message is valid mail but must not be logged; waits for review (L2, L6)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# L5: mail naming nobody (no To or Cc but the sender's own and Beacon's addresses) is
# the sender's own: logged on no record, found in their "Logged to no record" list.
NO_RECIPIENT_NOTE = {
    "code": "no_recipient",
    "detail": "The message names no recipient, so it is on no record yet: "
    "choose its records with Associations.",
}


# -- lookups kept for one task run --------------------------------------------------------


@dataclass
class Run:
    """What one task run reads once and reuses for every message it logs: the account
    settings, each sender's user, effective settings, own addresses and never-log
    patterns. Kept only for the run (never across tasks), so no edit waits on a cache.

    In a batch (`activity.inbound.inbound_process_batch`) the association rows are
    collected and inserted together before commit, and the recipients' contacts and
    their open deals and tickets are read for the whole batch at once.
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
    bcc: dict[str, BccAddress | None] = field(default_factory=dict)

    def account_settings(self) -> AccountSettings:
        if self.account is None:
            self.account = account_settings_get()
        return self.account

    def bcc_address(self, address: str) -> BccAddress | None:
        """What a BCC address is (account-wide, whose personal one), read once."""
        key = address.strip().lower()
        if key not in self.bcc:
            self.bcc[key] = bcc_address_parse(key, self.account_settings())
        return self.bcc[key]

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
    *, inbound: InboundEmail, parsed: ParsedEmail, run: Run | None = None
) -> LoggedEmail:
    """Logs one parsed message (L2-L8) or raises `Rejected`; run in one transaction.

    The LoggedEmail row is inserted before any contact or association is written, so
    a second worker logging the same Message-ID blocks on the UNIQUE index and then
    raises IntegrityError, having written nothing (L7). `run`: lookups shared with
    the other messages of the same task run.
    """
    run = run or Run()
    sender = _sender(inbound, parsed, run)
    settings = run.effective(sender)
    if parsed.body_bytes > settings.max_body_bytes:
        raise Rejected(
            "body_too_large",
            f"The body is {parsed.body_bytes} bytes; the limit is "
            f"{settings.max_body_bytes} bytes (S9).",
        )
    registration = _registration(inbound, parsed, run, sender)
    recipients = _recipients(parsed, run.own_addresses(sender))
    never = run.never_logged(recipients, sender)
    loggable = [address for address in recipients if address not in never]
    parents = _parents(parsed)
    thread = (
        parents[0].thread
        if parents
        else EmailThread.objects.create(subject=parsed.subject[:998])
    )
    # The sender's copy of a tracked email: no live click URL or pixel is stored.
    html_body, text_body = strip_live_tracking(parsed.html, parsed.text)
    # Defects of a message read leniently and what was over a limit: written with the
    # row, which is updated only for the notes known later (below).
    notes = parsed.notes + authentication_notes(inbound)
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
        html_body=html_body,
        text_body=text_body,
        tracked_email=_tracked_copy(registration),
        notes=notes,
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
    if chosen.is_empty() and recipients:
        raise Rejected(
            "no_records",
            "No recipient can be logged to: each is on a never-log list, lacks a legal "
            "basis (privacy is on) or is not a contact.",
        )
    _link(email, chosen, run)
    # Notes known only now: no recipient to log to (nothing chosen either), then the
    # attachments left out.
    later = (
        [] if recipients or not chosen.is_empty() else [NO_RECIPIENT_NOTE]
    ) + _attachments_save(email, parsed.parts, settings)
    if later:
        email.notes = notes + later
        email.save(update_fields=["notes"])
    return email


def _link(email: LoggedEmail, chosen: Associations, run: Run) -> None:
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


def _sender(inbound: InboundEmail, parsed: ParsedEmail, run: Run) -> User:
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
    if inbound.route == InboundRoute.SMTP:
        problem = smtp_sender_problem(
            inbound, parsed.from_address, sender, run.bcc_address
        )
        if problem is not None:
            raise Rejected(*problem)
    return sender


def _registration(
    inbound: InboundEmail,
    parsed: ParsedEmail,
    run: Run,
    sender: User,
) -> LogRegistration | None:
    """The add-in's registration: from the BCC address it was sent to, a Bcc header in
    the sender's own copy, or the X-Beacon-Registration header (L1a)."""
    tokens: list[str] = []
    for address in [*inbound.envelope_to, *parsed.bcc]:
        parsed_bcc = run.bcc_address(address)
        if parsed_bcc and parsed_bcc.registration_token:
            tokens.append(parsed_bcc.registration_token)
    if parsed.registration_header:
        tokens.append(parsed.registration_header.strip().lower())
    if not tokens:
        return None
    # Someone else's token never steers this sender's email.
    return LogRegistration.objects.filter(token__in=tokens, user=sender).first()


def _tracked_copy(registration: LogRegistration | None) -> TrackedEmail | None:
    """The tracked email the add-in registered with this log registration, if any: its
    timeline card shows the tracking status (T8)."""
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
    run: Run,
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
    run: Run,
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
    run: Run,
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
    """Stores attachments (S9), their rows in one INSERT, and answers the timeline
    notes for those left out (L6)."""
    notes: list[dict[str, Any]] = []
    rows: list[Attachment] = []
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
        rows.append(attachment)
    Attachment.objects.bulk_create(rows)
    return notes


def _note(code: str, part: ParsedPart, detail: str) -> dict[str, Any]:
    return {
        "code": code,
        "filename": part.filename,
        "size": part.size,
        "detail": detail,
    }

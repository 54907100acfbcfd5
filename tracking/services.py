"""Writes of tracked emails. Hits are written by `tracking.ingest`; their verdicts are
decided again by `tracking_events_reclassify`."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from activity.models import LogRegistration
from activity.selectors import is_bcc_domain
from activity.services import email_log_register
from config.api import Conflict, DomainError
from crm.models import Contact
from crm.selectors import contacts_by_emails
from settings_admin.selectors import (
    EffectiveSettings,
    blocked_networks,
    effective_settings,
    never_log_filter,
)
from tracking import lists, rewriting, tokens
from tracking.classifier import EmailFacts
from tracking.event_store import lock_event_parents
from tracking.ingest import inferred_hit_id
from tracking.models import Kind, TrackedEmail, TrackedLink, TrackingEvent
from tracking.replay import ReplayHit, replay_email, stored_hit
from tracking.selectors import tracked_email_summary


class Reason:
    """Why a recipient is (not) tracked; stable codes the add-in shows (P2, S3)."""

    TRACKED = "tracked"
    NOT_REQUESTED = "not_requested"
    TRACKING_DISABLED = "tracking_disabled"
    NEVER_LOG = "never_log"
    NOT_A_CONTACT = "not_a_contact"
    NO_LEGAL_BASIS = "no_legal_basis"
    OTHER_RECIPIENT = "other_recipient_not_trackable"


@dataclass(frozen=True)
class RecipientDecision:
    email: str
    tracked: bool
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"email": self.email, "tracked": self.tracked, "reason": self.reason}


@dataclass(frozen=True)
class RegisteredEmail:
    email: TrackedEmail
    html: str
    log: LogRegistration | None = None

    @property
    def notice(self) -> str:
        """What the add-in tells the sender of an anonymous email (C2); else empty."""
        return ANONYMOUS_NOTICE if self.email.is_anonymous else ""


def _own_reason(
    address: str,
    *,
    contacts: dict[str, Contact],
    never_logged: set[str],
    effective: EffectiveSettings,
) -> str:
    if address in never_logged:
        return Reason.NEVER_LOG
    if effective.privacy_enabled:  # P1, P2
        contact = contacts.get(address)
        if contact is None:
            return Reason.NOT_A_CONTACT
        if not contact.has_legal_basis:
            return Reason.NO_LEGAL_BASIS
    return Reason.TRACKED


def recipient_decisions(
    *,
    user: AbstractBaseUser,
    recipients: Sequence[str],
    track: bool,
    effective: EffectiveSettings,
) -> tuple[bool, list[RecipientDecision], dict[str, Contact]]:
    """Whether the email is tracked, and why per recipient (S3, P1-P3, never-log).

    One HTML goes to everyone, so one untrackable recipient leaves the whole email untracked.
    """
    contacts = contacts_by_emails(recipients)
    never_logged = never_log_filter(recipients, user)
    own = {
        address: _own_reason(
            address, contacts=contacts, never_logged=never_logged, effective=effective
        )
        for address in recipients
    }
    blocker = None
    if not effective.tracking_allowed:
        blocker = Reason.TRACKING_DISABLED
    elif not track:
        blocker = Reason.NOT_REQUESTED
    tracked = blocker is None and bool(recipients)
    tracked = tracked and all(reason == Reason.TRACKED for reason in own.values())
    decisions = []
    for address in recipients:
        reason = blocker or own[address]
        if reason == Reason.TRACKED and not tracked:
            reason = Reason.OTHER_RECIPIENT
        decisions.append(RecipientDecision(address, tracked, reason))
    return tracked, decisions, contacts


# T2: shown wherever a sender sees that an email will be (or was) tracked anonymously.
ANONYMOUS_NOTICE = (
    "This email has more than one recipient, so opens will be reported as “someone”."
)


def unique_addresses(addresses: Sequence[str]) -> list[str]:
    """Lower-cased, stripped, without blanks or repeats, in their first order."""
    seen: list[str] = []
    for address in addresses:
        clean = address.strip().lower()
        if clean and clean not in seen:
            seen.append(clean)
    return seen


def _check_click_targets(source: str) -> None:
    """Each link to rewrite must be a URL a click can be sent on to (invalid_link)."""
    problems = [
        {"position": link.position, "url": link.url[:300], "reason": problem}
        for link in rewriting.find_links(source)
        if (problem := rewriting.link_problem(link.url)) is not None
    ]
    if problems:
        raise DomainError(problems, code="invalid_link")


def _tracked_html(email: TrackedEmail, source: str) -> str:
    # T1: links are rewritten for sales seats only (U1). T7: the trap link goes into
    # every tracked email; a scanner that follows it also marks its own pixel fetches.
    found = rewriting.find_links(source) if email.track_clicks else []
    # A draft registered again keeps the links it had, matched by URL in order (a hit
    # on one is never lost); new links take positions after the existing ones.
    kept: dict[tuple[str, bool], list[TrackedLink]] = {}
    last = 0
    for link in email.links.order_by("position"):
        kept.setdefault((link.url, link.is_trap), []).append(link)
        last = max(last, link.position)
    wanted = [(f.url, False) for f in found] + [(f"{settings.PUBLIC_BASE_URL}/", True)]
    chosen: list[TrackedLink] = []
    new: list[TrackedLink] = []
    for url, is_trap in wanted:
        reusable = kept.get((url, is_trap))
        if reusable:
            chosen.append(reusable.pop(0))
            continue
        last += 1
        link = TrackedLink(email=email, position=last, url=url, is_trap=is_trap)
        chosen.append(link)
        new.append(link)
    TrackedLink.objects.bulk_create(new)
    *links, trap = chosen
    html = source
    if found:
        by_position = {f.position: link for f, link in zip(found, links, strict=True)}
        html = rewriting.rewrite_links(
            source,
            found,
            lambda f: tokens.click_url(email.pk, by_position[f.position].pk),
        )
    markup = rewriting.trap_markup(tokens.click_url(email.pk, trap.pk))
    markup += rewriting.pixel_markup(tokens.pixel_url(email.pk))
    return rewriting.insert_before_body_end(html, markup)


def _untracked_html(email: TrackedEmail, source: str) -> str:
    """The HTML without what this email's earlier registration put in."""
    links = {link.pk: link for link in email.links.all()}
    click_prefix = f"{settings.PUBLIC_BASE_URL}/t/c/"

    def ours(url: str) -> TrackedLink | None:
        if not url.startswith(click_prefix):
            return None
        ids = tokens.click_token_verify(url[len(click_prefix) :])
        return links.get(ids[1]) if ids and ids[0] == email.pk else None

    def original_url(url: str) -> str | None:
        link = ours(url)
        return None if link is None or link.is_trap else link.url

    def is_trap(url: str) -> bool:
        link = ours(url)
        return link is not None and link.is_trap

    pixel = tokens.pixel_url(email.pk)
    return rewriting.untrack(
        source,
        original_url=original_url,
        is_pixel=lambda url: url == pixel,
        is_trap=is_trap,
    )


class AlreadySent(Conflict):
    """This draft's email has already been sent; a sent email is not registered again."""

    code = "already_sent"


def _outgoing(addresses: Sequence[str]) -> list[str]:
    # Beacon's own BCC addresses are not recipients: they would make the email
    # anonymous (T2) and show as a new contact.
    return [a for a in unique_addresses(addresses) if not is_bcc_domain(a)]


def _draft_registration(user: AbstractBaseUser, draft_key: str) -> TrackedEmail | None:
    if not draft_key:
        return None
    existing = (
        TrackedEmail.objects.select_for_update(of=("self",))
        .select_related("log_registration")
        .filter(sender_id=user.pk, draft_key=draft_key)
        .first()
    )
    if existing is not None and existing.sent_at is not None:
        raise AlreadySent({"id": existing.pk})
    return existing


@transaction.atomic
def tracked_email_register(
    *,
    user: AbstractBaseUser,
    from_address: str,
    to: Sequence[str],
    cc: Sequence[str],
    bcc: Sequence[str],
    subject: str,
    html: str,
    track: bool,
    log: bool = False,
    associations: dict[str, list[int]] | None = None,
    skip_new_contacts: Sequence[str] = (),
    draft_key: str = "",
) -> RegisteredEmail:
    """Register an outgoing email: when it is tracked, the HTML to send instead; when it
    is logged, the Log box's registration, whose BCC address the add-in adds (L1a, L5).

    With a `draft_key` (the add-in's id for the draft) registering the same draft again
    updates its one registration: same id, same BCC address, the earlier pixel and
    click URLs taken out of `html` before it is tracked again.
    """
    to, cc, bcc = _outgoing(to), _outgoing(cc), _outgoing(bcc)
    recipients = unique_addresses([*to, *cc, *bcc])
    effective = effective_settings(user)
    tracked, decisions, contacts = recipient_decisions(
        user=user, recipients=recipients, track=track, effective=effective
    )
    anonymous = len(recipients) > 1  # T2, P3
    email = _draft_registration(user, draft_key) or TrackedEmail(
        sender_id=user.pk, draft_key=draft_key
    )
    if email.pk is not None:
        html = _untracked_html(email, html)
    if tracked and effective.track_clicks:
        _check_click_targets(html)  # before anything is written
    previous_log = email.log_registration
    email.from_address = from_address.strip().lower()
    email.to, email.cc, email.bcc = to, cc, bcc
    email.subject = subject
    email.tracked = tracked
    email.track_clicks = tracked and effective.track_clicks
    email.is_anonymous = anonymous
    email.contact = None if anonymous or not recipients else contacts.get(recipients[0])
    email.decisions = [decision.as_dict() for decision in decisions]
    try:
        with transaction.atomic():
            email.log_registration = (
                email_log_register(
                    user=user,  # type: ignore[arg-type]
                    from_address=from_address,
                    to=to,
                    cc=cc,
                    bcc=bcc,
                    subject=subject,
                    associations=associations,
                    skip_new_contacts=skip_new_contacts,
                    registration=previous_log,
                )
                if log
                else None
            )
            email.save()
    except IntegrityError:
        # The same draft registered at the same moment by another request (the pane
        # and the send handler, or a retry): update that one instead.
        existing = _draft_registration(user, draft_key)
        if existing is None:
            raise
        return tracked_email_register(
            user=user,
            from_address=from_address,
            to=to,
            cc=cc,
            bcc=bcc,
            subject=subject,
            html=html,
            track=track,
            log=log,
            associations=associations,
            skip_new_contacts=skip_new_contacts,
            draft_key=draft_key,
        )
    if previous_log is not None and email.log_registration is None:
        previous_log.delete()  # Log was unticked: its BCC address stops logging.
    return RegisteredEmail(
        email,
        _tracked_html(email, html) if tracked else html,
        email.log_registration,
    )


@transaction.atomic
def tracked_email_mark_sent(*, email: TrackedEmail) -> TrackedEmail:
    """The email left the outbox (T8 *Sent*). Marking it again keeps the first time."""
    locked = TrackedEmail.objects.select_for_update().get(pk=email.pk)
    if locked.sent_at is None:
        locked.sent_at = timezone.now()
        locked.save(update_fields=["sent_at"])
    return locked


# -- re-deciding stored verdicts ----------------------------------------------------

INFERRED_REASON = "inferred from a counted click (T6)"
_EVENT_FIELDS = (
    "pk", "hit_id", "email_id", "link_id", "kind", "occurred_at", "ip", "user_agent",
    "method", "verdict", "reason", "contact_id", "inferred",
)  # fmt: skip


@dataclass
class ReclassifySummary:
    emails: int = 0  # emails replayed
    events: int = 0  # events re-decided
    changed: Counter[tuple[str, str]] = field(default_factory=Counter)  # (old, new)
    emails_changed: int = 0
    inferred_added: int = 0
    inferred_removed: int = 0
    inferred_changed: int = 0
    statuses: Counter[tuple[str, str]] = field(default_factory=Counter)  # (old, new)


def tracking_events_reclassify(
    *,
    since: datetime | None = None,
    email_ids: Sequence[int] = (),
    dry_run: bool = False,
    batch_size: int = 100,
) -> ReclassifySummary:
    """Decide stored events' verdicts again with the current lists and rules.

    Each email's events are replayed in time order through the classifier and its
    history (tracking.replay); events before `since` keep their verdicts but still
    count as history. Verdicts, reasons and inferred opens (T6) are updated; statuses
    and counts follow, being derived from them. `batch_size` emails per transaction,
    each holding the lock that keeps the ingestor from storing meanwhile. Nobody is
    notified: these hits were notified (or not) when they arrived.
    """
    emails = TrackedEmail.objects.order_by("pk")
    if email_ids:
        emails = emails.filter(pk__in=email_ids)
    events = TrackingEvent.objects.filter(email_id=OuterRef("pk"))
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    ids = list(emails.filter(Exists(events)).values_list("pk", flat=True))
    blocked = lists.NetworkSet(blocked_networks())
    summary = ReclassifySummary()
    for start in range(0, len(ids), batch_size):
        with transaction.atomic():
            lock_event_parents()
            _reclassify_batch(ids[start : start + batch_size], since, blocked, summary)
            if dry_run:
                transaction.set_rollback(True)
    return summary


def _reclassify_batch(
    ids: list[int],
    since: datetime | None,
    blocked: lists.NetworkSet,
    summary: ReclassifySummary,
) -> None:
    emails = TrackedEmail.objects.in_bulk(ids)
    traps = set(
        TrackedLink.objects.filter(email_id__in=ids, is_trap=True).values_list(
            "pk", flat=True
        )
    )
    rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in (
        TrackingEvent.objects.filter(email_id__in=ids)
        .order_by("email_id", "occurred_at", "id")
        .values(*_EVENT_FIELDS)
    ):
        rows[row["email_id"]].append(row)
    for email_id in ids:
        email = emails.get(email_id)
        if email is None:
            continue
        summary.emails += 1
        updates, creates, deletes = _reclassify_email(
            email, rows[email_id], since, traps, blocked, summary
        )
        if not (updates or creates or deletes):
            continue
        summary.emails_changed += 1
        before = tracked_email_summary(email).status
        TrackingEvent.objects.bulk_update(updates, ["verdict", "reason"])
        TrackingEvent.objects.filter(pk__in=deletes).delete()
        TrackingEvent.objects.bulk_create(creates)
        after = tracked_email_summary(email).status
        if before != after:
            summary.statuses[(before, after)] += 1


def _reclassify_email(
    email: TrackedEmail,
    rows: list[dict[str, Any]],
    since: datetime | None,
    traps: set[int],
    blocked: lists.NetworkSet,
    summary: ReclassifySummary,
) -> tuple[list[TrackingEvent], list[TrackingEvent], list[int]]:
    """(events to update, inferred opens to create, inferred opens to delete)."""
    sent_at = (email.sent_at or email.created_at).timestamp()
    real = [row for row in rows if not row["inferred"]]
    inferred = {row["hit_id"].hex: row for row in rows if row["inferred"]}
    items = []
    for row in real:
        in_range = since is None or row["occurred_at"] >= since
        kept = None if in_range else (row["verdict"], row["reason"])
        hit = stored_hit(row, email.sender_id)
        items.append(ReplayHit(hit, trap=row["link_id"] in traps, kept=kept))
    decisions = replay_email(items, EmailFacts(email.sender_id, sent_at), blocked)
    updates: list[TrackingEvent] = []
    creates: list[TrackingEvent] = []
    deletes: list[int] = []
    for row, item, decision in zip(real, items, decisions, strict=True):
        if item.kept is not None:
            continue
        summary.events += 1
        if (decision.verdict, decision.reason) != (row["verdict"], row["reason"]):
            summary.changed[(row["verdict"], decision.verdict)] += 1
            updates.append(
                TrackingEvent(
                    pk=row["pk"], verdict=decision.verdict, reason=decision.reason[:200]
                )
            )
        if row["kind"] != Kind.CLICK:
            continue
        implied = inferred.get(inferred_hit_id(row["hit_id"].hex))
        if implied is not None and not decision.implies_open:
            deletes.append(implied["pk"])
            summary.inferred_removed += 1
        elif implied is not None and implied["verdict"] != decision.verdict:
            updates.append(
                TrackingEvent(
                    pk=implied["pk"], verdict=decision.verdict, reason=INFERRED_REASON
                )
            )
            summary.inferred_changed += 1
        elif implied is None and decision.implies_open:
            creates.append(_inferred_open(row, decision.verdict))
            summary.inferred_added += 1
    return updates, creates, deletes


def _inferred_open(click: dict[str, Any], verdict: str) -> TrackingEvent:
    return TrackingEvent(
        hit_id=uuid.UUID(inferred_hit_id(click["hit_id"].hex)),
        email_id=click["email_id"],
        link_id=None,
        kind=Kind.OPEN,
        occurred_at=click["occurred_at"],
        ip=click["ip"],
        user_agent=click["user_agent"],
        method=click["method"],
        verdict=verdict,
        reason=INFERRED_REASON,
        contact_id=click["contact_id"],
        inferred=True,
    )

"""The rep's writes to logged email: the add-in's registration (L1a), then the timeline's
edits (V1): associations, pin, delete.

Logging a received message is not here: `activity.inbound` takes it from the receivers
to its outcome, and `activity.capture` holds the rules it is logged by.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from activity.models import LoggedEmail, LogRegistration
from activity.selectors import RECORD_MODELS, association_ids, records_missing
from config.api import DomainError
from crm.selectors import record_check_writable, records_reached_by


class InvalidAssociation(DomainError):
    """A chosen record does not exist or cannot be seen."""

    code = "invalid_association"


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
    registration: LogRegistration | None = None,
) -> LogRegistration:
    """Registers the records chosen in the Log box; the answer's `bcc_address` carries
    the registration, so the copy that arrives is logged to exactly those records (L5).

    `associations` None means "the defaults"; `skip_new_contacts` lists unknown
    recipients whose "new contact" was unticked. Given a `registration` (the same
    draft registered again), that one is updated and keeps its token and BCC address.
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
        _check_chosen(user, associations, [*to, *cc, *bcc])
    registration = registration or LogRegistration(user=user)
    registration.from_address = from_address.strip().lower()
    registration.to = [address.strip().lower() for address in to]
    registration.cc = [address.strip().lower() for address in cc]
    registration.bcc = [address.strip().lower() for address in bcc]
    registration.subject = subject[:998]
    registration.associations = associations
    registration.skip_new_contacts = [
        address.strip().lower() for address in skip_new_contacts
    ]
    registration.save()
    return registration


def _check_chosen(
    user: User, associations: dict[str, list[int]], recipients: list[str]
) -> None:
    """A record chosen in the Log box is one the recipients lead to (L5, whoever owns
    it, as default logging would) or one the rep may change (V1: as linking it from a
    timeline); anything else is refused before anything is written."""
    reached = records_reached_by(recipients)
    for kind, ids in associations.items():
        others = set(ids) - reached[kind]
        for record in RECORD_MODELS[kind]._default_manager.filter(pk__in=others):
            record_check_writable(user, record)  # type: ignore[arg-type]


# -- edits from the timeline (V1) -------------------------------------------------------


@transaction.atomic
def logged_email_associations_set(
    *,
    email: LoggedEmail,
    actor: User,
    associations: dict[str, list[int]],
) -> LoggedEmail:
    """Replaces the associations of the kinds given; other kinds stay as they are.

    Linking the email to a record adds to that record's timeline: the actor must be
    allowed to change each record newly linked (V1, the record edits' own check), or
    nothing changes. Records kept or unlinked are not checked: the email is the
    actor's own, which they may delete from every timeline anyway."""
    missing = records_missing(associations)
    if missing:
        raise InvalidAssociation(missing)
    current = association_ids(email)
    for kind, ids in associations.items():
        added = set(ids) - set(current[kind])
        for record in (
            RECORD_MODELS[kind]._default_manager.filter(pk__in=added).order_by("pk")
        ):
            record_check_writable(actor, record)  # type: ignore[arg-type]
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

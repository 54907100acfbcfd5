"""Writes to CRM records. Every write is one function, run in a transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.api import DomainError
from crm import events
from crm.models import (
    Company,
    Contact,
    ContactCompany,
    ContactEmail,
    ContactSource,
    Deal,
    Pipeline,
    Stage,
    Ticket,
)
from crm.selectors import (
    Record,
    association_model,
    company_get_by_domain,
    email_domain,
    is_free_mail,
)


class DuplicateEmail(DomainError):
    """This email address already belongs to a contact."""

    code = "duplicate_email"


class DuplicateDomain(DomainError):
    """A company with this domain already exists."""

    code = "duplicate_domain"


class InvalidStage(DomainError):
    """The stage does not belong to the pipeline."""

    code = "invalid_stage"


def _pk(user: AbstractBaseUser | None) -> Any:
    return user.pk if user is not None else None


def _normalise_emails(emails: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for email in emails:
        clean = email.strip().lower()
        if clean and clean not in seen:
            seen.append(clean)
    return seen


def _ensure_emails_free(
    emails: Sequence[str], *, contact: Contact | None = None
) -> None:
    taken = ContactEmail.objects.filter(email__in=emails)
    if contact is not None:
        taken = taken.exclude(contact=contact)
    clash = list(taken.values_list("email", flat=True))
    if clash:
        raise DuplicateEmail({"emails": sorted(clash)})


def company_for_email(
    *, email: str, owner: AbstractBaseUser | None = None
) -> Company | None:
    """The company that owns `email`'s domain, created if missing; none for free mail (R5)."""
    domain = email_domain(email)
    if not domain or is_free_mail(email):
        return None
    company = company_get_by_domain(domain)
    if company is not None:
        return company
    name = domain.split(".")[0].replace("-", " ").title()
    try:
        with transaction.atomic():
            return Company.objects.create(name=name, domain=domain, owner_id=_pk(owner))
    except IntegrityError:
        # Another worker created it between our read and our write.
        return Company.objects.get(domain=domain)


@transaction.atomic
def contact_create(
    *,
    emails: Sequence[str],
    first_name: str = "",
    last_name: str = "",
    owner: AbstractBaseUser | None = None,
    marketing_status: str = "non_marketing",
    legal_basis: str = "",
    created_via: str = ContactSource.MANUAL,
    join_company: bool = True,
) -> Contact:
    """A contact with its emails (the first is primary); joins its company by domain (R5)."""
    clean = _normalise_emails(emails)
    if not clean:
        raise DomainError(
            "A contact needs at least one email address.", code="email_required"
        )
    _ensure_emails_free(clean)
    contact = Contact.objects.create(
        first_name=first_name,
        last_name=last_name,
        owner_id=_pk(owner),
        marketing_status=marketing_status,
        legal_basis=legal_basis,
        created_via=created_via,
    )
    try:
        with transaction.atomic():
            ContactEmail.objects.bulk_create(
                ContactEmail(contact=contact, email=email, is_primary=index == 0)
                for index, email in enumerate(clean)
            )
    except IntegrityError as exc:
        raise DuplicateEmail({"emails": clean}) from exc
    if join_company:
        company = company_for_email(email=clean[0], owner=owner)
        if company is not None:
            contact_company_associate(contact=contact, company=company, primary=True)
    return contact


def _archive_after(record: Any, data: dict[str, Any]) -> Callable[[], Any]:
    """`data`'s `archived` (the API's PATCH), taken out of `data`: the call to make once
    the other fields are saved (nothing when `data` has none)."""
    archived = data.pop("archived", None)
    if archived is None:
        return lambda: None
    return partial(record_archive, record=record, archived=archived)


@transaction.atomic
def contact_update(*, contact: Contact, data: dict[str, Any]) -> Contact:
    """Update plain fields and, when `emails` is given, replace the addresses (first
    primary); `archived` archives or restores it."""
    archive = _archive_after(contact, data)
    emails = data.pop("emails", None)
    for field, value in data.items():
        setattr(contact, field, value)
    contact.full_clean(exclude=["owner"])
    contact.save()
    if emails is not None:
        clean = _normalise_emails(emails)
        if not clean:
            raise DomainError(
                "A contact needs at least one email address.", code="email_required"
            )
        _ensure_emails_free(clean, contact=contact)
        contact.emails.exclude(email__in=clean).delete()
        contact.emails.update(is_primary=False)
        for index, email in enumerate(clean):
            ContactEmail.objects.update_or_create(
                contact=contact, email=email, defaults={"is_primary": index == 0}
            )
    archive()
    return contact


@transaction.atomic
def contact_delete(*, contact: Contact) -> None:
    """Deletes the contact; its tracking events and email links go with it (P4, cascades)."""
    contact.delete()


@transaction.atomic
def company_create(
    *, name: str, domain: str, owner: AbstractBaseUser | None = None
) -> Company:
    domain = domain.strip().lower()
    if Company.objects.filter(domain=domain).exists():
        raise DuplicateDomain({"domain": domain})
    try:
        with transaction.atomic():
            return Company.objects.create(name=name, domain=domain, owner_id=_pk(owner))
    except IntegrityError as exc:
        # Another request created it between our check and our write.
        raise DuplicateDomain({"domain": domain}) from exc


@transaction.atomic
def company_update(*, company: Company, data: dict[str, Any]) -> Company:
    archive = _archive_after(company, data)
    if "domain" in data:
        data["domain"] = data["domain"].strip().lower()
        if (
            Company.objects.filter(domain=data["domain"])
            .exclude(pk=company.pk)
            .exists()
        ):
            raise DuplicateDomain({"domain": data["domain"]})
    for field, value in data.items():
        setattr(company, field, value)
    try:
        with transaction.atomic():
            company.save()
    except IntegrityError as exc:
        raise DuplicateDomain({"domain": company.domain}) from exc
    archive()
    return company


@transaction.atomic
def company_delete(*, company: Company) -> None:
    """Deletes the company; its contacts that had it as primary get their newest other
    company as primary instead."""
    orphaned = list(
        ContactCompany.objects.filter(company=company, is_primary=True).values_list(
            "contact_id", flat=True
        )
    )
    company.delete()
    for contact_id in orphaned:
        _promote_newest_company(contact_id)


def _promote_newest_company(contact_id: int) -> None:
    newest = (
        ContactCompany.objects.filter(contact_id=contact_id)
        .order_by("-created_at", "-id")
        .first()
    )
    if newest is not None:
        newest.is_primary = True
        newest.save(update_fields=["is_primary"])


def _check_stage(pipeline: Pipeline, stage: Stage) -> None:
    if stage.pipeline_id != pipeline.pk:
        raise InvalidStage({"stage": stage.pk, "pipeline": pipeline.pk})


@transaction.atomic
def deal_create(
    *,
    name: str,
    pipeline: Pipeline,
    stage: Stage,
    owner: AbstractBaseUser | None = None,
    amount: Any = None,
    close_date: Any = None,
) -> Deal:
    _check_stage(pipeline, stage)
    return Deal.objects.create(
        name=name,
        pipeline=pipeline,
        stage=stage,
        owner_id=_pk(owner),
        amount=amount,
        close_date=close_date,
    )


@transaction.atomic
def ticket_create(
    *,
    subject: str,
    pipeline: Pipeline,
    stage: Stage,
    owner: AbstractBaseUser | None = None,
    priority: str = "medium",
) -> Ticket:
    _check_stage(pipeline, stage)
    return Ticket.objects.create(
        subject=subject,
        pipeline=pipeline,
        stage=stage,
        owner_id=_pk(owner),
        priority=priority,
    )


@transaction.atomic
def record_delete(*, record: Deal | Ticket) -> None:
    """Deletes a deal or ticket with its associations."""
    record.delete()


@transaction.atomic
def record_archive(*, record: Record, archived: bool) -> Record:
    """Archives a record, or restores it (V5). An archived record leaves lists, search,
    pickers, boards and default associations; it keeps its links and timeline and can
    be opened by its URL. A deal or ticket leaves (or comes back to) the open boards
    once the change is committed."""
    if (record.archived_at is not None) is archived:
        return record
    record.archived_at = timezone.now() if archived else None
    record.save(update_fields=["archived_at", "updated_at"])
    if isinstance(record, Deal | Ticket):
        transaction.on_commit(
            partial(
                events.send_record_moved, record, old_pipeline_id=record.pipeline_id
            ),
            robust=True,
        )
    return record


@transaction.atomic
def record_update(*, record: Deal | Ticket, data: dict[str, Any]) -> Deal | Ticket:
    """Changes a deal or ticket; a new stage or pipeline reaches the open boards once
    the change is committed. `archived` archives or restores it."""
    archive = _archive_after(record, data)
    old_place = (record.pipeline_id, record.stage_id)
    for field, value in data.items():
        setattr(record, field, value)
    _check_stage(record.pipeline, record.stage)
    record.save()
    if (record.pipeline_id, record.stage_id) != old_place:
        transaction.on_commit(
            partial(events.send_record_moved, record, old_pipeline_id=old_place[0]),
            robust=True,  # The move is saved; a lost live update must not undo it.
        )
    archive()
    return record


@transaction.atomic
def contact_company_associate(
    *, contact: Contact, company: Company, primary: bool = False
) -> ContactCompany:
    """Links contact and company; `primary` moves the contact's one primary company here."""
    has_primary = ContactCompany.objects.filter(contact=contact, is_primary=True)
    if primary:
        has_primary.exclude(company=company).update(is_primary=False)
    elif not has_primary.exists():
        primary = True  # The first company a contact joins is its primary one (R4).
    link, created = ContactCompany.objects.get_or_create(
        contact=contact, company=company, defaults={"is_primary": primary}
    )
    if not created and primary and not link.is_primary:
        link.is_primary = True
        link.save(update_fields=["is_primary"])
    return link


# Pairs that can be associated (R4), by the two record kinds.
@transaction.atomic
def association_create(*, left: Contact | Company, right: Deal | Ticket) -> Any:
    """Contact-deal, contact-ticket, company-deal or company-ticket; idempotent."""
    left_kind = str(left._meta.model_name)
    right_kind = str(right._meta.model_name)
    model = association_model(left_kind, right_kind)
    sides: dict[str, Any] = {left_kind: left, right_kind: right}
    link, _ = model._default_manager.get_or_create(**sides)
    return link


@transaction.atomic
def association_delete(*, link: Any) -> None:
    was_primary = isinstance(link, ContactCompany) and link.is_primary
    link.delete()
    if was_primary:
        # Another company of the contact, the newest, becomes primary.
        _promote_newest_company(link.contact_id)

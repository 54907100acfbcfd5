from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import Exists, Model, OuterRef, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from config.api import NotAllowed
from crm.models import (
    Company,
    CompanyDeal,
    CompanyTicket,
    Contact,
    ContactCompany,
    ContactDeal,
    ContactEmail,
    ContactTicket,
    Deal,
    Pipeline,
    Stage,
    Ticket,
)

Record = TypeVar("Record", Contact, Company, Deal, Ticket)
AnyUser = AbstractBaseUser | AnonymousUser

FREE_MAIL_FILE = Path(__file__).resolve().parent / "data" / "free_mail_domains.txt"
RECENT_OPEN_LIMIT = 5


@lru_cache(maxsize=1)
def free_mail_domains() -> frozenset[str]:
    lines = FREE_MAIL_FILE.read_text().splitlines()
    return frozenset(
        line.strip().lower()
        for line in lines
        if line.strip() and not line.startswith("#")
    )


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower() if "@" in email else ""


def is_free_mail(email: str) -> bool:
    return email_domain(email) in free_mail_domains()


def _primary_company_prefetch() -> Prefetch[Any]:
    return Prefetch(
        "company_links",
        queryset=ContactCompany.objects.filter(is_primary=True).select_related(
            "company"
        ),
        to_attr="primary_company_links",
    )


def contacts_with_details() -> QuerySet[Contact]:
    """Contacts with owner, emails and primary company loaded (no N+1 in lists)."""
    return Contact.objects.select_related("owner").prefetch_related(
        "emails", _primary_company_prefetch()
    )


def contact_get_by_email(email: str) -> Contact | None:
    """The contact owning `email` as its primary or any further address (case-insensitive)."""
    return contacts_with_details().filter(emails__email=email.strip().lower()).first()


def contacts_by_emails(emails: Iterable[str]) -> dict[str, Contact]:
    """Each given address (lower-cased) mapped to its contact, in one query."""
    wanted = {email.strip().lower() for email in emails}
    found: dict[str, Contact] = {}
    for contact in contacts_with_details().filter(emails__email__in=wanted).distinct():
        for item in contact.emails.all():
            if item.email in wanted:
                found[item.email] = contact
    return found


def company_get_by_domain(domain: str) -> Company | None:
    return Company.objects.filter(domain=domain.strip().lower()).first()


def contact_primary_company(contact: Contact) -> Company | None:
    # Uses the links `contacts_with_details` prefetched, when it did.
    prefetched = getattr(contact, "primary_company_links", None)
    if prefetched is not None:
        return prefetched[0].company if prefetched else None
    return Company.objects.filter(
        contact_links__contact=contact, contact_links__is_primary=True
    ).first()


def contact_recent_open_deals(
    contact: Contact, limit: int = RECENT_OPEN_LIMIT
) -> list[Deal]:
    """The contact's most recently associated deals whose stage is open and that are
    not archived (C1, L5)."""
    return _contact_recent_open(contact, ContactDeal, "deal", limit)


def contact_recent_open_tickets(
    contact: Contact, limit: int = RECENT_OPEN_LIMIT
) -> list[Ticket]:
    """The contact's most recently associated tickets whose status is open and that
    are not archived (C1, L5)."""
    return _contact_recent_open(contact, ContactTicket, "ticket", limit)


def _contact_recent_open(
    contact: Contact, link_model: type[Model], record: str, limit: int
) -> list[Any]:
    open_records = {
        f"{record}__stage__is_closed": False,
        f"{record}__archived_at": None,
    }
    links = (
        link_model._default_manager.filter(contact=contact, **open_records)
        .select_related(f"{record}__stage", f"{record}__pipeline")
        .order_by("-created_at", "-id")[:limit]
    )
    return [getattr(link, record) for link in links]


def _recent_open_by_contact(
    link_model: type[Model],
    model: type[Deal | Ticket],
    contact_ids: set[int],
    limit: int,
) -> dict[int, list[Any]]:
    # Ranked in SQL, one ROW_NUMBER per contact; written out because the ORM's
    # filter on a window (QUALIFY, an inner query) took ~3 ms of CPU to build, more
    # than PostgreSQL took to answer, on every batch of the inbound worker.
    qn = connection.ops.quote_name
    link, table = qn(link_model._meta.db_table), qn(model._meta.db_table)
    stage, column = qn(Stage._meta.db_table), qn(f"{model._meta.model_name}_id")
    ranked = model._default_manager.raw(
        f"SELECT r.*, ranked.contact_id AS linked_contact_id FROM ("  # noqa: S608
        f"SELECT l.contact_id, l.{column} AS record_id, ROW_NUMBER() OVER ("
        "PARTITION BY l.contact_id ORDER BY l.created_at DESC, l.id DESC) AS rank "
        f"FROM {link} l JOIN {table} r ON r.id = l.{column} "
        f"JOIN {stage} s ON s.id = r.stage_id "
        "WHERE l.contact_id = ANY(%s) AND NOT s.is_closed AND r.archived_at IS NULL"
        f") ranked JOIN {table} r ON r.id = ranked.record_id "
        "WHERE ranked.rank <= %s ORDER BY ranked.contact_id, ranked.rank",
        [sorted(contact_ids), limit],
    )
    found: dict[int, list[Any]] = {pk: [] for pk in contact_ids}
    for item in ranked:
        found[item.linked_contact_id].append(item)  # type: ignore[union-attr]
    return found


def recent_open_deals_by_contact(
    contact_ids: set[int], limit: int = RECENT_OPEN_LIMIT
) -> dict[int, list[Deal]]:
    """Each contact's newest open deals, as `contact_recent_open_deals`, in one query."""
    if not contact_ids:
        return {}
    return _recent_open_by_contact(ContactDeal, Deal, contact_ids, limit)


def recent_open_tickets_by_contact(
    contact_ids: set[int], limit: int = RECENT_OPEN_LIMIT
) -> dict[int, list[Ticket]]:
    """Each contact's newest open tickets, as `contact_recent_open_tickets`, in one
    query."""
    if not contact_ids:
        return {}
    return _recent_open_by_contact(ContactTicket, Ticket, contact_ids, limit)


def records_reached_by(addresses: Iterable[str]) -> dict[str, set[int]]:
    """The records an email to these addresses is logged to by default (L5): each
    recipient's contact, its primary company, its newest open deals and tickets. The
    add-in offers these in its Log box, whoever owns them."""
    contacts = list(contacts_by_emails(addresses).values())
    ids = {contact.pk for contact in contacts}
    companies = (contact_primary_company(contact) for contact in contacts)
    deals = recent_open_deals_by_contact(ids)
    tickets = recent_open_tickets_by_contact(ids)
    return {
        "contacts": ids,
        "companies": {company.pk for company in companies if company is not None},
        "deals": {deal.pk for found in deals.values() for deal in found},
        "tickets": {ticket.pk for found in tickets.values() for ticket in found},
    }


# Access: one rule for every CRM record (contacts, companies, deals, tickets).


def record_writable_by(
    user: AnyUser, record: Contact | Company | Deal | Ticket
) -> bool:
    """Every signed-in user reads records; the owner, anyone when there is no owner,
    and super admins change them."""
    if not user.is_authenticated:
        return False
    return (
        record.owner_id is None
        or record.owner_id == user.pk
        or bool(getattr(user, "is_superuser", False))
    )


def record_check_writable(
    user: AnyUser, record: Contact | Company | Deal | Ticket
) -> None:
    """Refuses a change to `record` by `user`: the one check of record edits and of
    association writes, which check it on both records they link."""
    if not record_writable_by(user, record):
        raise NotAllowed("Only the record's owner or a super admin can change it.")


def _record_get_for_user(
    queryset: QuerySet[Record], user: AnyUser, pk: Any, *, write: bool
) -> Record:
    if not user.is_authenticated:
        raise NotAllowed("Sign in to see CRM records.")
    record = get_object_or_404(queryset, pk=pk)
    if write:
        record_check_writable(user, record)
    return record


def contact_get_for_user(user: AnyUser, pk: Any, *, write: bool = False) -> Contact:
    return _record_get_for_user(contacts_with_details(), user, pk, write=write)


def company_get_for_user(user: AnyUser, pk: Any, *, write: bool = False) -> Company:
    return _record_get_for_user(companies_with_details(), user, pk, write=write)


def deal_get_for_user(user: AnyUser, pk: Any, *, write: bool = False) -> Deal:
    return _record_get_for_user(deals_with_details(), user, pk, write=write)


def ticket_get_for_user(user: AnyUser, pk: Any, *, write: bool = False) -> Ticket:
    return _record_get_for_user(tickets_with_details(), user, pk, write=write)


# Lists and search.


def companies_with_details() -> QuerySet[Company]:
    return Company.objects.select_related("owner")


def deals_with_details() -> QuerySet[Deal]:
    return Deal.objects.select_related("owner", "pipeline", "stage")


def tickets_with_details() -> QuerySet[Ticket]:
    return Ticket.objects.select_related("owner", "pipeline", "stage")


def _archived(records: QuerySet[Record], archived: bool) -> QuerySet[Record]:
    """Lists, search, pickers and boards show the records in use; `archived` lists the
    archived ones instead (to find and restore them)."""
    return records.filter(archived_at__isnull=not archived)


def contact_list(
    *, q: str = "", owner: int | None = None, archived: bool = False
) -> QuerySet[Contact]:
    """Every word of `q` must be in the first name, last name or any email."""
    contacts = _archived(contacts_with_details(), archived)
    for term in q.split():
        any_email = ContactEmail.objects.filter(
            contact=OuterRef("pk"), email__icontains=term
        )
        contacts = contacts.filter(
            Q(first_name__icontains=term)
            | Q(last_name__icontains=term)
            | Exists(any_email)
        )
    if owner is not None:
        contacts = contacts.filter(owner_id=owner)
    return contacts.order_by("last_name", "first_name", "id")


def company_list(
    *, q: str = "", owner: int | None = None, archived: bool = False
) -> QuerySet[Company]:
    companies = _archived(companies_with_details(), archived)
    for term in q.split():
        companies = companies.filter(
            Q(name__icontains=term) | Q(domain__icontains=term)
        )
    if owner is not None:
        companies = companies.filter(owner_id=owner)
    return companies.order_by("name", "id")


def _pipeline_record_list(
    records: QuerySet[Any], title: str, q: str, owner: int | None, pipeline: int | None
) -> QuerySet[Any]:
    """Deals or tickets, newest first: every word of `q` in the `title` field."""
    for term in q.split():
        records = records.filter(**{f"{title}__icontains": term})
    if owner is not None:
        records = records.filter(owner_id=owner)
    if pipeline is not None:
        records = records.filter(pipeline_id=pipeline)
    return records.order_by("-created_at", "-id")


def deal_list(
    *,
    q: str = "",
    owner: int | None = None,
    pipeline: int | None = None,
    archived: bool = False,
) -> QuerySet[Deal]:
    deals = _archived(deals_with_details(), archived)
    return _pipeline_record_list(deals, "name", q, owner, pipeline)


def ticket_list(
    *,
    q: str = "",
    owner: int | None = None,
    pipeline: int | None = None,
    archived: bool = False,
) -> QuerySet[Ticket]:
    tickets = _archived(tickets_with_details(), archived)
    return _pipeline_record_list(tickets, "subject", q, owner, pipeline)


def pipeline_list(*, kind: str | None = None) -> QuerySet[Pipeline]:
    pipelines = Pipeline.objects.prefetch_related("stages")
    if kind:
        pipelines = pipelines.filter(kind=kind)
    return pipelines.order_by("kind", "name", "id")


# Associations (R4), newest first. Each loads what its other side shows.

ASSOCIATION_LINKS: dict[tuple[str, str], type[Model]] = {
    ("contact", "company"): ContactCompany,
    ("contact", "deal"): ContactDeal,
    ("contact", "ticket"): ContactTicket,
    ("company", "deal"): CompanyDeal,
    ("company", "ticket"): CompanyTicket,
}
_OTHER_SIDE_LOADS: dict[str, tuple[list[str], list[str | Prefetch[Any]]]] = {
    "contact": (["contact__owner"], ["contact__emails"]),
    "company": (["company__owner"], []),
    "deal": (["deal__owner", "deal__pipeline", "deal__stage"], []),
    "ticket": (["ticket__owner", "ticket__pipeline", "ticket__stage"], []),
}


def association_model(left: str, right: str) -> type[Model]:
    return ASSOCIATION_LINKS.get((left, right)) or ASSOCIATION_LINKS[(right, left)]


def association_links(
    record: Contact | Company | Deal | Ticket, other: str
) -> QuerySet[Any]:
    """The links between `record` and records of kind `other`, newest first."""
    kind = str(record._meta.model_name)
    model = association_model(kind, other)
    related, prefetched = _OTHER_SIDE_LOADS[other]
    links = model._default_manager.filter(**{kind: record})
    order = ["-created_at", "-id"]
    if model is ContactCompany:
        order.insert(0, "-is_primary")
    return links.select_related(*related).prefetch_related(*prefetched).order_by(*order)


def association_link_get(record: Contact | Company, other: str, other_pk: Any) -> Any:
    """One link of `record` to the `other` record `other_pk`, or 404."""
    return get_object_or_404(
        association_links(record, other), **{f"{other}_id": other_pk}
    )


# Boards (V5): a pipeline's records, one column per stage.


def board_columns(pipeline: Pipeline, kind: str) -> list[tuple[Stage, list[Any]]]:
    """Each stage of `pipeline` in order with its deals or tickets, newest first."""
    lister = deal_list if kind == "deal" else ticket_list
    by_stage: dict[int, list[Any]] = {stage.pk: [] for stage in pipeline.stages.all()}
    for record in lister(pipeline=pipeline.pk):
        by_stage.setdefault(record.stage_id, []).append(record)
    return [(stage, by_stage[stage.pk]) for stage in pipeline.stages.all()]

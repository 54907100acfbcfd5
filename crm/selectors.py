from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from django.db.models import QuerySet

from crm.models import Company, Contact, ContactDeal, ContactTicket, Deal, Ticket

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


def contacts_with_details() -> QuerySet[Contact]:
    return Contact.objects.select_related("owner").prefetch_related("emails")


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
    return Company.objects.filter(
        contact_links__contact=contact, contact_links__is_primary=True
    ).first()


def contact_recent_open_deals(
    contact: Contact, limit: int = RECENT_OPEN_LIMIT
) -> list[Deal]:
    """The contact's most recently associated deals whose stage is open (C1, L5)."""
    links = (
        ContactDeal.objects.filter(contact=contact, deal__stage__is_closed=False)
        .select_related("deal__stage", "deal__pipeline")
        .order_by("-created_at", "-id")[:limit]
    )
    return [link.deal for link in links]


def contact_recent_open_tickets(
    contact: Contact, limit: int = RECENT_OPEN_LIMIT
) -> list[Ticket]:
    """The contact's most recently associated tickets whose status is open (C1, L5)."""
    links = (
        ContactTicket.objects.filter(contact=contact, ticket__stage__is_closed=False)
        .select_related("ticket__stage", "ticket__pipeline")
        .order_by("-created_at", "-id")[:limit]
    )
    return [link.ticket for link in links]

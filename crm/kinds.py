"""The four kinds of CRM record, each with the selectors that list and find one and the
services that create, change and delete one; the record API is configured by it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from crm import selectors, services


@dataclass(frozen=True)
class Kind:
    name: str
    plural: str
    search: Callable[..., QuerySet[Any]]
    get_for_user: Callable[..., Any]  # the access helper: (user, pk, *, write=False)
    create: Callable[..., Any]
    update: Callable[[Any, dict[str, Any]], Any]
    delete: Callable[[Any], None]


CONTACT = Kind(
    "contact",
    "contacts",
    selectors.contact_list,
    selectors.contact_get_for_user,
    services.contact_create,
    lambda record, data: services.contact_update(contact=record, data=data),
    lambda record: services.contact_delete(contact=record),
)
COMPANY = Kind(
    "company",
    "companies",
    selectors.company_list,
    selectors.company_get_for_user,
    services.company_create,
    lambda record, data: services.company_update(company=record, data=data),
    lambda record: services.company_delete(company=record),
)
DEAL = Kind(
    "deal",
    "deals",
    selectors.deal_list,
    selectors.deal_get_for_user,
    services.deal_create,
    lambda record, data: services.record_update(record=record, data=data),
    lambda record: services.record_delete(record=record),
)
TICKET = Kind(
    "ticket",
    "tickets",
    selectors.ticket_list,
    selectors.ticket_get_for_user,
    services.ticket_create,
    lambda record, data: services.record_update(record=record, data=data),
    lambda record: services.record_delete(record=record),
)

"""Every CRM endpoint refuses anonymous callers, and bob cannot change alice's records."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from addin.services import addin_token_create
from crm.models import (
    Company,
    CompanyDeal,
    CompanyTicket,
    Contact,
    ContactCompany,
    ContactDeal,
    ContactTicket,
    Deal,
    Ticket,
)
from crm.services import association_create, contact_company_associate
from crm.tests import factories

pytestmark = pytest.mark.django_db

LINK_MODELS = (
    ContactCompany,
    ContactDeal,
    ContactTicket,
    CompanyDeal,
    CompanyTicket,
)


@pytest.fixture
def world(alice: User) -> dict[str, Any]:
    """Alice's records, linked every way R4 allows."""
    contact = factories.contact("ann@acme.com", owner=alice)
    company = factories.company(domain="globex.example", owner=alice)
    deal = factories.deal(owner=alice)
    ticket = factories.ticket(owner=alice)
    contact_company_associate(contact=contact, company=company)
    for left in (contact, company):
        association_create(left=left, right=deal)
        association_create(left=left, right=ticket)
    return {"contact": contact, "company": company, "deal": deal, "ticket": ticket}


def _snapshot() -> tuple[int, ...]:
    models = (Contact, Company, Deal, Ticket, *LINK_MODELS)
    return tuple(model.objects.count() for model in models)


def _reads(w: dict[str, Any]) -> list[str]:
    c, co, d, t = w["contact"].pk, w["company"].pk, w["deal"].pk, w["ticket"].pk
    return [
        "/api/v1/contacts/",
        f"/api/v1/contacts/{c}/",
        f"/api/v1/contacts/{c}/companies/",
        f"/api/v1/contacts/{c}/deals/",
        f"/api/v1/contacts/{c}/tickets/",
        "/api/v1/companies/",
        f"/api/v1/companies/{co}/",
        f"/api/v1/companies/{co}/contacts/",
        f"/api/v1/companies/{co}/deals/",
        f"/api/v1/companies/{co}/tickets/",
        "/api/v1/deals/",
        f"/api/v1/deals/{d}/",
        "/api/v1/tickets/",
        f"/api/v1/tickets/{t}/",
        "/api/v1/pipelines/",
    ]


def _writes(w: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    c, co, d, t = w["contact"].pk, w["company"].pk, w["deal"].pk, w["ticket"].pk
    other_deal = factories.deal().pk
    other_ticket = factories.ticket().pk
    other_company = factories.company().pk
    return [
        ("patch", f"/api/v1/contacts/{c}/", {"first_name": "X"}),
        ("delete", f"/api/v1/contacts/{c}/", {}),
        ("post", f"/api/v1/contacts/{c}/companies/", {"company": other_company}),
        ("delete", f"/api/v1/contacts/{c}/companies/{co}/", {}),
        ("post", f"/api/v1/contacts/{c}/deals/", {"deal": other_deal}),
        ("delete", f"/api/v1/contacts/{c}/deals/{d}/", {}),
        ("post", f"/api/v1/contacts/{c}/tickets/", {"ticket": other_ticket}),
        ("delete", f"/api/v1/contacts/{c}/tickets/{t}/", {}),
        ("patch", f"/api/v1/companies/{co}/", {"name": "X"}),
        ("delete", f"/api/v1/companies/{co}/", {}),
        ("post", f"/api/v1/companies/{co}/deals/", {"deal": other_deal}),
        ("delete", f"/api/v1/companies/{co}/deals/{d}/", {}),
        ("post", f"/api/v1/companies/{co}/tickets/", {"ticket": other_ticket}),
        ("delete", f"/api/v1/companies/{co}/tickets/{t}/", {}),
        ("patch", f"/api/v1/deals/{d}/", {"name": "X"}),
        ("delete", f"/api/v1/deals/{d}/", {}),
        ("patch", f"/api/v1/tickets/{t}/", {"subject": "X"}),
        ("delete", f"/api/v1/tickets/{t}/", {}),
    ]


def test_anonymous_callers_read_nothing(
    anon_api: APIClient, world: dict[str, Any]
) -> None:
    for path in _reads(world):
        response = anon_api.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"] == "not_authenticated"


def test_anonymous_callers_write_nothing(
    anon_api: APIClient, world: dict[str, Any]
) -> None:
    writes = _writes(world)
    creates = [
        ("post", "/api/v1/contacts/", {"emails": ["x@y.example"]}),
        ("post", "/api/v1/companies/", {"name": "X", "domain": "x.example"}),
        ("post", "/api/v1/deals/", {"name": "X"}),
        ("post", "/api/v1/tickets/", {"subject": "X"}),
    ]
    before = _snapshot()

    for method, path, data in [*writes, *creates]:
        response = getattr(anon_api, method)(path, data, format="json")
        assert response.status_code == 401, (method, path)

    assert _snapshot() == before


def test_bob_reads_alices_records_but_changes_none(
    bob_api: APIClient, world: dict[str, Any]
) -> None:
    for path in _reads(world):
        assert bob_api.get(path).status_code == 200, path
    writes = _writes(world)
    before = _snapshot()

    for method, path, data in writes:
        response = getattr(bob_api, method)(path, data, format="json")
        assert response.status_code == 403, (method, path)
        assert response.json()["error"] == "forbidden"

    assert _snapshot() == before
    world["contact"].refresh_from_db()
    assert world["contact"].first_name == ""


def test_a_super_admin_may_change_alices_records(
    admin_api: APIClient, world: dict[str, Any]
) -> None:
    contact, ticket = world["contact"], world["ticket"]

    patch = admin_api.patch(
        f"/api/v1/contacts/{contact.pk}/", {"first_name": "Ann"}, format="json"
    )
    unlink = admin_api.delete(f"/api/v1/contacts/{contact.pk}/tickets/{ticket.pk}/")
    delete = admin_api.delete(f"/api/v1/tickets/{ticket.pk}/")

    assert (patch.status_code, unlink.status_code, delete.status_code) == (
        200,
        204,
        204,
    )
    contact.refresh_from_db()
    assert contact.first_name == "Ann"
    assert not Ticket.objects.filter(pk=ticket.pk).exists()


def test_the_add_in_authenticates_with_a_token(alice: User) -> None:
    issued = addin_token_create(user=alice, name="Outlook")
    client = APIClient()

    ok = client.get("/api/v1/contacts/", HTTP_AUTHORIZATION=f"Token {issued.key}")
    bad = client.get("/api/v1/contacts/", HTTP_AUTHORIZATION="Token not-a-token")

    assert ok.status_code == 200
    assert bad.status_code == 401


def test_web_pages_authenticate_with_the_session_and_need_csrf(alice: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)

    read = client.get("/api/v1/contacts/")
    write = client.post("/api/v1/contacts/", {"emails": ["x@acme.com"]}, format="json")

    assert read.status_code == 200
    assert write.status_code == 403  # no CSRF token
    assert Contact.objects.count() == 0

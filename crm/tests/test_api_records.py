"""Companies, deals, tickets and pipelines over the API."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from crm.models import Company, ContactCompany, Deal, PipelineKind, Ticket
from crm.services import association_create
from crm.tests import factories

pytestmark = pytest.mark.django_db


def test_it_creates_a_company_with_a_lowercase_domain(
    alice_api: APIClient, alice: User
) -> None:
    response = alice_api.post(
        "/api/v1/companies/", {"name": "Acme", "domain": "ACME.com"}, format="json"
    )

    assert response.status_code == 201
    company = Company.objects.get()
    assert (company.domain, company.owner) == ("acme.com", alice)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"name": "Acme", "domain": "Acme.COM"}, "duplicate_domain"),
        ({"name": "Bad", "domain": "not a domain"}, "validation_error"),
        ({"name": "X", "domain": "x.example", "size": 10}, "unknown_field"),
    ],
)
def test_it_refuses_bad_companies_and_changes_nothing(
    alice_api: APIClient, payload: dict[str, object], code: str
) -> None:
    factories.company(domain="acme.com")

    response = alice_api.post("/api/v1/companies/", payload, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == code
    assert Company.objects.count() == 1


def test_it_searches_companies_by_name_or_domain(alice_api: APIClient) -> None:
    acme = factories.company(domain="acme.com", name="Acme Corp")
    globex = factories.company(domain="globex.example", name="Globex")

    def ids(q: str) -> list[int]:
        body = alice_api.get("/api/v1/companies/", {"q": q}).json()
        return [c["id"] for c in body["results"]]

    assert ids("acme corp") == [acme.pk]
    assert ids("GLOBEX.example") == [globex.pk]


def test_it_paginates_companies(alice_api: APIClient) -> None:
    for _ in range(3):
        factories.company()

    body = alice_api.get("/api/v1/companies/", {"page_size": 2}).json()

    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]


def test_bob_cannot_change_or_delete_alices_company(
    bob_api: APIClient, alice: User
) -> None:
    company = factories.company(domain="acme.com", name="Acme", owner=alice)

    patch = bob_api.patch(
        f"/api/v1/companies/{company.pk}/", {"name": "Mine"}, format="json"
    )
    delete = bob_api.delete(f"/api/v1/companies/{company.pk}/")

    assert (patch.status_code, delete.status_code) == (403, 403)
    company.refresh_from_db()
    assert company.name == "Acme"


def test_deleting_a_primary_company_promotes_the_contacts_next_company(
    alice_api: APIClient, alice: User
) -> None:
    contact = factories.contact("ann@acme.com", owner=alice)
    acme = Company.objects.get(domain="acme.com")
    other = factories.company(domain="other.example")
    ContactCompany.objects.create(contact=contact, company=other)

    assert alice_api.delete(f"/api/v1/companies/{acme.pk}/").status_code == 204

    link = ContactCompany.objects.get(contact=contact)
    assert link.company == other and link.is_primary


def test_it_creates_a_deal_in_a_stage_of_its_pipeline(alice_api: APIClient) -> None:
    pipe = factories.pipeline(PipelineKind.DEAL)
    stage = factories.open_stage(pipe)

    response = alice_api.post(
        "/api/v1/deals/",
        {
            "name": "Big one",
            "pipeline": pipe.pk,
            "stage": stage.pk,
            "amount": "1200.50",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["stage"] == {"id": stage.pk, "name": "New", "is_closed": False}
    assert body["amount"] == "1200.50"
    assert body["contacts"] == [] and body["companies"] == []


def test_it_refuses_a_stage_of_another_pipeline(alice_api: APIClient) -> None:
    pipe = factories.pipeline(PipelineKind.DEAL)
    other = factories.pipeline(PipelineKind.DEAL)

    response = alice_api.post(
        "/api/v1/deals/",
        {"name": "X", "pipeline": pipe.pk, "stage": factories.open_stage(other).pk},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_stage"
    assert Deal.objects.count() == 0


def test_it_refuses_a_stage_of_another_pipeline_on_update(
    alice_api: APIClient, alice: User
) -> None:
    ticket = factories.ticket(owner=alice)
    other = factories.pipeline(PipelineKind.TICKET)
    stage_before = ticket.stage_id

    response = alice_api.patch(
        f"/api/v1/tickets/{ticket.pk}/",
        {"stage": factories.open_stage(other).pk},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_stage"
    ticket.refresh_from_db()
    assert ticket.stage_id == stage_before


def test_it_moves_a_deal_to_a_closed_stage(alice_api: APIClient, alice: User) -> None:
    deal = factories.deal(owner=alice)
    closed = factories.closed_stage(deal.pipeline)

    response = alice_api.patch(
        f"/api/v1/deals/{deal.pk}/", {"stage": closed.pk}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["stage"]["is_closed"] is True


def test_a_deal_shows_its_contacts_and_companies(alice_api: APIClient) -> None:
    deal = factories.deal()
    contact = factories.contact("ann@acme.com", first_name="Ann")
    company = Company.objects.get(domain="acme.com")
    association_create(left=contact, right=deal)
    association_create(left=company, right=deal)

    body = alice_api.get(f"/api/v1/deals/{deal.pk}/").json()

    assert [c["contact"] for c in body["contacts"]] == [
        {"id": contact.pk, "full_name": "Ann", "primary_email": "ann@acme.com"}
    ]
    assert [c["company"]["id"] for c in body["companies"]] == [company.pk]
    assert body["contacts"][0]["created_at"]


def test_a_ticket_shows_its_contacts_and_companies(alice_api: APIClient) -> None:
    ticket = factories.ticket(subject="Broken login")
    contact = factories.contact("ann@acme.com")
    association_create(left=contact, right=ticket)

    body = alice_api.get(f"/api/v1/tickets/{ticket.pk}/").json()

    assert body["subject"] == "Broken login"
    assert [c["contact"]["id"] for c in body["contacts"]] == [contact.pk]
    assert body["companies"] == []


def test_it_searches_deals_and_tickets(alice_api: APIClient) -> None:
    wanted = factories.deal(name="Renewal 2027")
    factories.deal(name="Upsell")
    ticket = factories.ticket(subject="Printer on fire")
    factories.ticket(subject="Password reset")

    deals = alice_api.get("/api/v1/deals/", {"q": "renewal"}).json()["results"]
    tickets = alice_api.get("/api/v1/tickets/", {"q": "FIRE"}).json()["results"]

    assert [d["id"] for d in deals] == [wanted.pk]
    assert [t["id"] for t in tickets] == [ticket.pk]


def test_bob_cannot_change_or_delete_alices_deal_or_ticket(
    bob_api: APIClient, alice: User
) -> None:
    deal = factories.deal(owner=alice, name="Alice's")
    ticket = factories.ticket(owner=alice, subject="Alice's")

    responses = [
        bob_api.patch(f"/api/v1/deals/{deal.pk}/", {"name": "Bob's"}, format="json"),
        bob_api.delete(f"/api/v1/deals/{deal.pk}/"),
        bob_api.patch(
            f"/api/v1/tickets/{ticket.pk}/", {"subject": "Bob's"}, format="json"
        ),
        bob_api.delete(f"/api/v1/tickets/{ticket.pk}/"),
    ]

    assert [r.status_code for r in responses] == [403] * 4
    deal.refresh_from_db()
    ticket.refresh_from_db()
    assert (deal.name, ticket.subject) == ("Alice's", "Alice's")


def test_the_owner_deletes_a_deal_and_a_ticket(
    alice_api: APIClient, alice: User
) -> None:
    deal = factories.deal(owner=alice)
    ticket = factories.ticket(owner=alice)

    assert alice_api.delete(f"/api/v1/deals/{deal.pk}/").status_code == 204
    assert alice_api.delete(f"/api/v1/tickets/{ticket.pk}/").status_code == 204
    assert (Deal.objects.count(), Ticket.objects.count()) == (0, 0)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/companies/", "/api/v1/deals/", "/api/v1/tickets/", "/api/v1/pipelines/"],
)
def test_anonymous_callers_cannot_list(anon_api: APIClient, path: str) -> None:
    response = anon_api.get(path)

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_anonymous_callers_cannot_create_or_change_records(
    anon_api: APIClient,
) -> None:
    company = factories.company(name="Acme")
    deal = factories.deal()

    responses = [
        anon_api.post("/api/v1/companies/", {"name": "X", "domain": "x.io"}),
        anon_api.patch(f"/api/v1/companies/{company.pk}/", {"name": "X"}),
        anon_api.delete(f"/api/v1/deals/{deal.pk}/"),
    ]

    assert [r.status_code for r in responses] == [401] * 3
    assert Company.objects.count() == 1 and Deal.objects.count() == 1


def test_it_lists_pipelines_with_open_and_closed_stages(alice_api: APIClient) -> None:
    pipe = factories.pipeline(PipelineKind.TICKET, name="Support")
    factories.pipeline(PipelineKind.DEAL, name="Sales")

    body = alice_api.get("/api/v1/pipelines/", {"kind": "ticket"}).json()

    assert body["count"] == 1
    assert body["results"][0]["id"] == pipe.pk
    assert [(s["name"], s["is_closed"]) for s in body["results"][0]["stages"]] == [
        ("New", False),
        ("Done", True),
    ]

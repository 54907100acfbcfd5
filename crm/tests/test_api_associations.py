"""Associations (R4) over the API: list with their creation time, link, unlink."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from crm.models import (
    Company,
    CompanyDeal,
    CompanyTicket,
    ContactCompany,
    ContactDeal,
    ContactTicket,
)
from crm.services import association_create
from crm.tests import factories

pytestmark = pytest.mark.django_db


def test_it_links_a_company_as_primary_and_lists_links_with_their_time(
    alice_api: APIClient, alice: User
) -> None:
    contact = factories.contact("ann@acme.com", owner=alice)
    other = factories.company(domain="globex.example", name="Globex")
    url = f"/api/v1/contacts/{contact.pk}/companies/"

    created = alice_api.post(url, {"company": other.pk, "primary": True}, format="json")
    listed = alice_api.get(url).json()

    assert created.status_code == 201, created.json()
    assert created.json()["primary"] is True
    assert listed["count"] == 2
    assert [(r["company"]["name"], r["primary"]) for r in listed["results"]] == [
        ("Globex", True),
        ("Acme", False),
    ]
    assert all(r["created_at"] for r in listed["results"])
    assert ContactCompany.objects.get(contact=contact, is_primary=True).company == other


def test_unlinking_the_primary_company_promotes_the_other(
    alice_api: APIClient, alice: User
) -> None:
    contact = factories.contact("ann@acme.com", owner=alice)
    acme = Company.objects.get(domain="acme.com")
    other = factories.company(domain="globex.example")
    ContactCompany.objects.create(contact=contact, company=other)

    response = alice_api.delete(f"/api/v1/contacts/{contact.pk}/companies/{acme.pk}/")

    assert response.status_code == 204
    assert list(ContactCompany.objects.values_list("company", "is_primary")) == [
        (other.pk, True)
    ]


def test_unlinking_a_company_that_is_not_linked_is_404(
    alice_api: APIClient, alice: User
) -> None:
    contact = factories.contact("ann@gmail.com", owner=alice)
    company = factories.company()

    response = alice_api.delete(
        f"/api/v1/contacts/{contact.pk}/companies/{company.pk}/"
    )

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("left", "right", "model"),
    [
        ("contacts", "deals", ContactDeal),
        ("contacts", "tickets", ContactTicket),
        ("companies", "deals", CompanyDeal),
        ("companies", "tickets", CompanyTicket),
    ],
)
def test_it_links_lists_and_unlinks_deals_and_tickets(
    alice_api: APIClient, alice: User, left: str, right: str, model: type[Any]
) -> None:
    record = (
        factories.contact(owner=alice)
        if left == "contacts"
        else factories.company(owner=alice)
    )
    other = factories.deal() if right == "deals" else factories.ticket()
    field = right[:-1]
    url = f"/api/v1/{left}/{record.pk}/{right}/"

    created = alice_api.post(url, {field: other.pk}, format="json")
    again = alice_api.post(url, {field: other.pk}, format="json")
    listed = alice_api.get(url).json()

    assert (created.status_code, again.status_code) == (201, 201)
    assert model.objects.count() == 1  # linking twice is one link
    assert listed["count"] == 1
    assert listed["results"][0][field]["id"] == other.pk
    assert listed["results"][0][field]["stage"]["is_closed"] is False
    assert listed["results"][0]["created_at"]

    assert alice_api.delete(f"{url}{other.pk}/").status_code == 204
    assert model.objects.count() == 0


def test_it_lists_the_newest_association_first(alice_api: APIClient) -> None:
    contact = factories.contact()
    older, newer = factories.deal(name="Older"), factories.deal(name="Newer")
    association_create(left=contact, right=older)
    association_create(left=contact, right=newer)

    body = alice_api.get(f"/api/v1/contacts/{contact.pk}/deals/").json()

    assert [r["deal"]["name"] for r in body["results"]] == ["Newer", "Older"]


def test_it_lists_a_companys_contacts(alice_api: APIClient) -> None:
    contact = factories.contact("ann@acme.com")
    acme = Company.objects.get(domain="acme.com")

    body = alice_api.get(f"/api/v1/companies/{acme.pk}/contacts/").json()

    assert [(r["contact"]["id"], r["primary"]) for r in body["results"]] == [
        (contact.pk, True)
    ]


def test_it_refuses_an_unknown_record_or_field(alice_api: APIClient) -> None:
    contact = factories.contact()
    url = f"/api/v1/contacts/{contact.pk}/deals/"

    missing = alice_api.post(url, {"deal": 999999}, format="json")
    unknown = alice_api.post(url, {"deal": factories.deal().pk, "x": 1}, format="json")

    assert missing.status_code == 400 and unknown.status_code == 400
    assert unknown.json()["error"] == "unknown_field"
    assert ContactDeal.objects.count() == 0


def test_bob_cannot_link_or_unlink_alices_records(
    bob_api: APIClient, alice: User
) -> None:
    contact = factories.contact("ann@acme.com", owner=alice)
    company = factories.company(owner=alice)
    deal = factories.deal()
    association_create(left=contact, right=deal)
    acme = Company.objects.get(domain="acme.com")

    responses = [
        bob_api.post(
            f"/api/v1/contacts/{contact.pk}/companies/",
            {"company": company.pk},
            format="json",
        ),
        bob_api.delete(f"/api/v1/contacts/{contact.pk}/companies/{acme.pk}/"),
        bob_api.post(
            f"/api/v1/contacts/{contact.pk}/tickets/",
            {"ticket": factories.ticket().pk},
            format="json",
        ),
        bob_api.delete(f"/api/v1/contacts/{contact.pk}/deals/{deal.pk}/"),
        bob_api.post(
            f"/api/v1/companies/{company.pk}/deals/", {"deal": deal.pk}, format="json"
        ),
    ]

    assert [r.status_code for r in responses] == [403] * 5
    assert {r.json()["error"] for r in responses} == {"forbidden"}
    assert ContactCompany.objects.filter(contact=contact).count() == 1
    assert ContactDeal.objects.count() == 1
    assert (ContactTicket.objects.count(), CompanyDeal.objects.count()) == (0, 0)
    # Reading them stays open to every signed-in user.
    assert bob_api.get(f"/api/v1/contacts/{contact.pk}/deals/").status_code == 200


def test_anonymous_callers_see_and_change_no_association(
    anon_api: APIClient,
) -> None:
    contact = factories.contact("ann@acme.com")
    deal = factories.deal()
    association_create(left=contact, right=deal)

    responses = [
        anon_api.get(f"/api/v1/contacts/{contact.pk}/deals/"),
        anon_api.post(f"/api/v1/contacts/{contact.pk}/deals/", {"deal": deal.pk}),
        anon_api.delete(f"/api/v1/contacts/{contact.pk}/deals/{deal.pk}/"),
        anon_api.get(f"/api/v1/contacts/{contact.pk}/companies/"),
    ]

    assert [r.status_code for r in responses] == [401] * 4
    assert ContactDeal.objects.count() == 1


def test_association_lists_are_paginated(alice_api: APIClient) -> None:
    company = factories.company()
    for _ in range(3):
        association_create(left=company, right=factories.ticket())

    body = alice_api.get(
        f"/api/v1/companies/{company.pk}/tickets/", {"page_size": 2}
    ).json()

    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]

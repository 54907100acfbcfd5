"""The server-rendered record pages."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from crm.models import Company
from crm.services import association_create
from crm.tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.mark.parametrize(
    "name", ["contact-list", "company-list", "deal-list", "ticket-list"]
)
def test_lists_send_anonymous_visitors_to_sign_in(client: Client, name: str) -> None:
    url = reverse(name)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_record_pages_send_anonymous_visitors_to_sign_in(client: Client) -> None:
    contact = factories.contact()

    response = client.get(reverse("contact-detail", args=[contact.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_contact_list_shows_name_email_company_and_owner(
    alice_client: Client, alice: User
) -> None:
    factories.contact("anna@acme.com", first_name="Anna", owner=alice)

    html = alice_client.get(reverse("contact-list")).content.decode()

    assert "Anna" in html
    assert "anna@acme.com" in html
    assert "Acme" in html
    assert "Alice" in html


def test_the_contact_list_searches_by_name_or_email(alice_client: Client) -> None:
    factories.contact("anna@acme.com", first_name="Anna")
    factories.contact("bert@globex.example", first_name="Bert")

    by_email = alice_client.get(reverse("contact-list"), {"q": "GLOBEX"})
    by_name = alice_client.get(reverse("contact-list"), {"q": "ann"})

    assert [c.first_name for c in by_email.context["page"]] == ["Bert"]
    assert [c.first_name for c in by_name.context["page"]] == ["Anna"]
    assert 'value="GLOBEX"' in by_email.content.decode()


def test_the_contact_list_is_paginated(alice_client: Client) -> None:
    for _ in range(30):
        factories.contact()

    first = alice_client.get(reverse("contact-list"))
    second = alice_client.get(reverse("contact-list"), {"page": 2})

    assert len(first.context["page"]) == 25
    assert len(second.context["page"]) == 5
    assert "Page 1 of 2" in first.content.decode()


def test_the_pages_links_keep_the_search(alice_client: Client) -> None:
    for n in range(30):
        factories.contact(f"p{n}@acme.com")

    page = alice_client.get(reverse("contact-list"), {"q": "acme", "page": "2"})

    html = page.content.decode()
    assert 'href="?q=acme&amp;page=1" rel="prev"' in html
    assert 'rel="next"' not in html


def test_the_contact_page_shows_fields_links_and_an_empty_timeline(
    alice_client: Client,
) -> None:
    contact = factories.contact("anna@acme.com", first_name="Anna", last_name="Berg")
    deal = factories.deal(name="Big deal")
    ticket = factories.ticket(subject="Printer jam")
    association_create(left=contact, right=deal)
    association_create(left=contact, right=ticket)
    acme = Company.objects.get(domain="acme.com")

    html = alice_client.get(
        reverse("contact-detail", args=[contact.pk])
    ).content.decode()

    assert "Anna Berg" in html
    assert reverse("company-detail", args=[acme.pk]) in html
    assert reverse("deal-detail", args=[deal.pk]) in html
    assert reverse("ticket-detail", args=[ticket.pk]) in html
    assert 'id="timeline"' in html


def test_the_company_deal_and_ticket_pages_show_their_associations(
    alice_client: Client,
) -> None:
    contact = factories.contact("anna@acme.com", first_name="Anna")
    acme = Company.objects.get(domain="acme.com")
    deal = factories.deal(name="Big deal")
    ticket = factories.ticket(subject="Printer jam")
    for left in (contact, acme):
        association_create(left=left, right=deal)
        association_create(left=left, right=ticket)
    contact_url = reverse("contact-detail", args=[contact.pk])
    company_url = reverse("company-detail", args=[acme.pk])

    company_html = alice_client.get(company_url).content.decode()
    deal_html = alice_client.get(
        reverse("deal-detail", args=[deal.pk])
    ).content.decode()
    ticket_html = alice_client.get(
        reverse("ticket-detail", args=[ticket.pk])
    ).content.decode()

    assert contact_url in company_html
    assert reverse("deal-detail", args=[deal.pk]) in company_html
    assert contact_url in deal_html and company_url in deal_html
    assert contact_url in ticket_html and company_url in ticket_html
    for html in (company_html, deal_html, ticket_html):
        assert 'id="timeline"' in html


@pytest.mark.parametrize(
    "name", ["contact-detail", "company-detail", "deal-detail", "ticket-detail"]
)
def test_a_missing_record_is_404(alice_client: Client, name: str) -> None:
    assert alice_client.get(reverse(name, args=[999999])).status_code == 404


def test_the_other_lists_search(alice_client: Client) -> None:
    factories.company(domain="acme.com", name="Acme")
    factories.company(domain="globex.example", name="Globex")
    factories.deal(name="Renewal")
    factories.ticket(subject="Printer jam")

    companies = alice_client.get(reverse("company-list"), {"q": "acme"})
    deals = alice_client.get(reverse("deal-list"), {"q": "renew"})
    tickets = alice_client.get(reverse("ticket-list"), {"q": "nothing"})

    assert [c.name for c in companies.context["page"]] == ["Acme"]
    assert [d.name for d in deals.context["page"]] == ["Renewal"]
    assert list(tickets.context["page"]) == []
    assert "No ticket matches" in tickets.content.decode()

"""Association writes check the caller's right on both records, by the rule the
record edits use (issue 10): bob may not link, make primary or unlink alice's records
from his own."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from crm.models import CompanyDeal, ContactCompany, ContactDeal, ContactTicket
from crm.services import association_create
from crm.tests import factories

pytestmark = pytest.mark.django_db


def _refused(response: object) -> None:
    assert response.status_code == 403, response.content  # type: ignore[attr-defined]
    assert response.json()["error"] == "forbidden"  # type: ignore[attr-defined]


def test_bob_cannot_link_alices_deal_or_ticket_to_his_contact(
    bob_api: APIClient, alice: User, bob: User
) -> None:
    his = factories.contact("ann@bobs.example", owner=bob)
    deal = factories.deal(owner=alice)
    ticket = factories.ticket(owner=alice)
    assert bob_api.patch(f"/api/v1/deals/{deal.pk}/", {"name": "x"}).status_code == 403
    _refused(bob_api.post(f"/api/v1/contacts/{his.pk}/deals/", {"deal": deal.pk}))
    _refused(bob_api.post(f"/api/v1/contacts/{his.pk}/tickets/", {"ticket": ticket.pk}))
    assert not ContactDeal.objects.exists() and not ContactTicket.objects.exists()


def test_bob_cannot_make_alices_company_the_primary_of_his_contact(
    bob_api: APIClient, alice: User, bob: User
) -> None:
    his = factories.contact("ann@bobs.example", owner=bob)
    hers = factories.company(domain="alices.example", owner=alice)
    _refused(
        bob_api.post(
            f"/api/v1/contacts/{his.pk}/companies/",
            {"company": hers.pk, "primary": True},
        )
    )
    assert not ContactCompany.objects.filter(company=hers).exists()


def test_bob_cannot_link_alices_deal_to_his_company(
    bob_api: APIClient, alice: User, bob: User
) -> None:
    his = factories.company(domain="bobs.example", owner=bob)
    deal = factories.deal(owner=alice)
    _refused(bob_api.post(f"/api/v1/companies/{his.pk}/deals/", {"deal": deal.pk}))
    assert not CompanyDeal.objects.exists()


def test_bob_cannot_unlink_alices_deal_from_his_contact(
    bob_api: APIClient, alice: User, bob: User
) -> None:
    his = factories.contact("ann@bobs.example", owner=bob)
    deal = factories.deal(owner=alice)
    association_create(left=his, right=deal)
    _refused(bob_api.delete(f"/api/v1/contacts/{his.pk}/deals/{deal.pk}/"))
    assert ContactDeal.objects.filter(contact=his, deal=deal).exists()


def test_records_without_an_owner_and_his_own_link_as_before(
    bob_api: APIClient, bob: User
) -> None:
    his = factories.contact("ann@bobs.example", owner=bob)
    mine = factories.deal(owner=bob)
    nobodys = factories.deal()
    for deal in (mine, nobodys):
        response = bob_api.post(f"/api/v1/contacts/{his.pk}/deals/", {"deal": deal.pk})
        assert response.status_code == 201, response.content
    assert ContactDeal.objects.filter(contact=his).count() == 2


def test_a_super_admin_links_anyones_records(
    admin_api: APIClient, alice: User, bob: User
) -> None:
    his = factories.contact("ann@bobs.example", owner=bob)
    deal = factories.deal(owner=alice)
    response = admin_api.post(f"/api/v1/contacts/{his.pk}/deals/", {"deal": deal.pk})
    assert response.status_code == 201

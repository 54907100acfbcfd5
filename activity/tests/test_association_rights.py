"""Re-associating a logged email needs the right to change each record it newly links
(V1, the record edits' own check): the API and the picker page refuse alike."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from activity.models import LoggedEmail
from activity.selectors import association_ids
from activity.tests.cockpit import logged
from crm.tests import factories

pytestmark = pytest.mark.django_db
FRAGMENT = {"Beacon-Fragment": "1"}


@pytest.fixture
def alices(alice: User) -> dict[str, Any]:
    """One record of each kind, owned by alice."""
    return {
        "contacts": factories.contact("ada@ada.example", owner=alice),
        "companies": factories.company("alice.example", owner=alice),
        "deals": factories.deal(name="Alice's renewal", owner=alice),
        "tickets": factories.ticket(subject="Alice's outage", owner=alice),
    }


@pytest.fixture
def bobs_email(bob: User) -> LoggedEmail:
    ben = factories.contact("ben@bob.example", owner=bob)
    return logged(bob, [ben])


def _api(email: LoggedEmail) -> str:
    return f"/api/v1/logged-emails/{email.pk}/associations/"


def _page(email: LoggedEmail) -> str:
    return reverse("logged-email-associations-page", args=[email.pk])


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("kind", ["contacts", "companies", "deals", "tickets"])
def test_bob_cannot_link_alices_record_to_his_email_through_the_api(
    bob_api: APIClient, bobs_email: LoggedEmail, alices: dict[str, Any], kind: str
) -> None:
    before = association_ids(bobs_email)
    record = alices[kind]

    patched = bob_api.patch(_api(bobs_email), {kind: [record.pk]}, format="json")
    put = bob_api.put(
        _api(bobs_email), {**before, kind: [*before[kind], record.pk]}, format="json"
    )

    for response in (patched, put):
        assert response.status_code == 403, response.content
        assert response.json()["error"] == "forbidden"
    assert association_ids(bobs_email) == before
    assert not record.logged_emails.exists()


def test_one_refused_record_leaves_the_other_kinds_unchanged_too(
    bob: User, bob_api: APIClient, bobs_email: LoggedEmail, alices: dict[str, Any]
) -> None:
    own_deal = factories.deal(owner=bob)
    before = association_ids(bobs_email)

    response = bob_api.put(
        _api(bobs_email),
        {"contacts": [], "deals": [own_deal.pk], "tickets": [alices["tickets"].pk]},
        format="json",
    )

    assert response.status_code == 403
    assert association_ids(bobs_email) == before


@pytest.mark.parametrize("kind", ["contacts", "companies", "deals", "tickets"])
def test_bob_cannot_link_alices_record_to_his_email_through_the_page(
    bob: User, bobs_email: LoggedEmail, alices: dict[str, Any], kind: str
) -> None:
    before = association_ids(bobs_email)
    chosen = {**before, kind: [*before[kind], alices[kind].pk]}

    response = _client(bob).post(_page(bobs_email), chosen)

    assert response.status_code == 403
    assert "owner or a super admin" in response.content.decode()
    assert association_ids(bobs_email) == before


def test_alice_links_her_records_and_bob_links_his_and_unowned_ones(
    alice: User,
    alice_api: APIClient,
    bob: User,
    bob_api: APIClient,
    bobs_email: LoggedEmail,
    alices: dict[str, Any],
) -> None:
    alices_email, alices_other = logged(alice, []), logged(alice, [])
    everything = {kind: [record.pk] for kind, record in alices.items()}
    mine = bob_api.patch(
        _api(bobs_email),
        {"deals": [factories.deal(owner=bob).pk, factories.deal().pk]},
        format="json",
    )

    api = alice_api.put(_api(alices_email), everything, format="json")
    page = _client(alice).post(_page(alices_other), everything)

    assert mine.status_code == 200 and len(mine.json()["deals"]) == 2
    assert api.status_code == 200 and api.json() == everything
    assert page.status_code == 302
    assert association_ids(alices_email) == association_ids(alices_other) == everything


def test_a_record_already_linked_may_stay_or_go_whoever_owns_it(
    bob: User, bob_api: APIClient, alices: dict[str, Any]
) -> None:
    """Mail is logged to the recipients' records whoever owns them (L5): the sender
    keeps them when editing other kinds, and may take his own email off them."""
    email = logged(bob, [alices["contacts"]])

    kept = bob_api.patch(_api(email), {"deals": []}, format="json")
    replaced = bob_api.put(
        _api(email), {"contacts": [alices["contacts"].pk]}, format="json"
    )
    removed = bob_api.patch(_api(email), {"contacts": []}, format="json")

    assert kept.status_code == replaced.status_code == removed.status_code == 200
    assert replaced.json()["contacts"] == [alices["contacts"].pk]
    assert association_ids(email)["contacts"] == []


def test_the_picker_shows_records_bob_may_not_link_without_a_box_to_tick(
    bob: User, bobs_email: LoggedEmail, alices: dict[str, Any]
) -> None:
    found = (
        _client(bob)
        .get(_page(bobs_email), {"q": "Alice's"}, headers=FRAGMENT)
        .content.decode()
    )

    assert "Alice&#x27;s renewal" in found
    assert f'name="deals" value="{alices["deals"].pk}" disabled' in found
    assert "not yours to link" in found


def test_a_super_admin_links_anyones_records(
    admin_api: APIClient, bobs_email: LoggedEmail, alices: dict[str, Any]
) -> None:
    response = admin_api.patch(
        _api(bobs_email), {"deals": [alices["deals"].pk]}, format="json"
    )
    assert response.status_code == 200
    assert association_ids(bobs_email)["deals"] == [alices["deals"].pk]

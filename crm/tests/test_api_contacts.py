from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from crm.models import Company, Contact, ContactCompany, ContactEmail, ContactSource
from crm.tests import factories

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/"


def _counts() -> tuple[int, int, int, int]:
    return (
        Contact.objects.count(),
        ContactEmail.objects.count(),
        Company.objects.count(),
        ContactCompany.objects.count(),
    )


def test_it_creates_a_contact_that_joins_its_company_by_domain(
    alice_api: APIClient, alice: User
) -> None:
    response = alice_api.post(
        URL,
        {"emails": ["Anna@Acme.com", "anna.s@acme.com"], "first_name": "Anna"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    company = Company.objects.get(domain="acme.com")
    assert body["primary_email"] == "anna@acme.com"
    assert body["emails"] == ["anna@acme.com", "anna.s@acme.com"]
    assert body["primary_company"] == {
        "id": company.pk,
        "name": "Acme",
        "domain": "acme.com",
    }
    assert body["created_via"] == ContactSource.API
    assert body["owner"]["id"] == alice.pk
    link = ContactCompany.objects.get(contact_id=body["id"])
    assert link.company == company and link.is_primary


def test_it_joins_an_existing_company_instead_of_creating_one(
    alice_api: APIClient,
) -> None:
    existing = factories.company(domain="globex.com", name="Globex Corporation")

    response = alice_api.post(URL, {"emails": ["hank@globex.com"]}, format="json")

    assert response.status_code == 201
    assert response.json()["primary_company"]["id"] == existing.pk
    assert Company.objects.count() == 1


def test_it_never_joins_a_free_mail_company(alice_api: APIClient) -> None:
    response = alice_api.post(URL, {"emails": ["someone@gmail.com"]}, format="json")

    assert response.status_code == 201
    assert response.json()["primary_company"] is None
    assert not Company.objects.filter(domain="gmail.com").exists()
    assert ContactCompany.objects.count() == 0


def test_it_creates_a_contact_without_owner_when_asked(alice_api: APIClient) -> None:
    response = alice_api.post(
        URL,
        {
            "emails": ["x@acme.com"],
            "owner": None,
            "marketing_status": "marketing",
            "legal_basis": "consent",
        },
        format="json",
    )

    assert response.status_code == 201
    contact = Contact.objects.get()
    assert contact.owner is None
    assert (contact.marketing_status, contact.legal_basis) == ("marketing", "consent")


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"emails": ["a@acme.com"], "nickname": "A"}, "unknown_field"),
        ({"emails": ["not-an-email"]}, "invalid_email"),
        ({"emails": ["ok@acme.com", "also bad@acme"]}, "invalid_email"),
    ],
)
def test_it_refuses_bad_input_and_changes_nothing(
    alice_api: APIClient, payload: dict[str, Any], code: str
) -> None:
    before = _counts()

    response = alice_api.post(URL, payload, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == code
    assert _counts() == before


def test_it_refuses_an_email_another_contact_has_ignoring_case(
    alice_api: APIClient,
) -> None:
    factories.contact("anna@acme.com")
    before = _counts()

    response = alice_api.post(
        URL, {"emails": ["new@initech.com", "ANNA@Acme.COM"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "duplicate_email"
    assert _counts() == before
    assert not Company.objects.filter(domain="initech.com").exists()


def test_it_refuses_a_duplicate_email_on_update_and_keeps_the_old_ones(
    alice_api: APIClient, alice: User
) -> None:
    factories.contact("anna@acme.com")
    mine = factories.contact("me@acme.com", owner=alice)

    response = alice_api.patch(
        f"{URL}{mine.pk}/", {"emails": ["Anna@acme.com"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "duplicate_email"
    assert list(mine.emails.values_list("email", flat=True)) == ["me@acme.com"]


def test_it_reads_a_contact_with_all_its_emails(alice_api: APIClient) -> None:
    contact = factories.contact("b@acme.com", first_name="Bea", last_name="Lind")
    ContactEmail.objects.create(contact=contact, email="bea@home.example")

    body = alice_api.get(f"{URL}{contact.pk}/").json()

    assert body["full_name"] == "Bea Lind"
    assert body["primary_email"] == "b@acme.com"
    assert body["emails"] == ["b@acme.com", "bea@home.example"]
    assert body["primary_company"]["domain"] == "acme.com"
    assert body["created_via"] == "manual"


def test_it_searches_by_name_or_any_email_ignoring_case(alice_api: APIClient) -> None:
    anna = factories.contact("anna@acme.com", first_name="Anna", last_name="Svensson")
    bert = factories.contact("bert@globex.com", first_name="Bert")
    ContactEmail.objects.create(contact=bert, email="b.private@mail.example")
    factories.contact("carl@initech.com", first_name="Carl")

    def ids(q: str) -> list[int]:
        return [c["id"] for c in alice_api.get(URL, {"q": q}).json()["results"]]

    assert ids("SVENSSON") == [anna.pk]
    assert ids("anna svens") == [anna.pk]
    assert ids("Private@MAIL") == [bert.pk]
    assert ids("nobody") == []


def test_it_filters_by_owner(alice_api: APIClient, alice: User, bob: User) -> None:
    mine = factories.contact(owner=alice)
    factories.contact(owner=bob)

    body = alice_api.get(URL, {"owner": alice.pk}).json()

    assert [c["id"] for c in body["results"]] == [mine.pk]


def test_it_paginates_the_list(alice_api: APIClient) -> None:
    for _ in range(3):
        factories.contact()

    first = alice_api.get(URL, {"page_size": 2}).json()
    second = alice_api.get(URL, {"page_size": 2, "page": 2}).json()

    assert first["count"] == 3 and len(first["results"]) == 2
    assert first["next"] is not None and first["previous"] is None
    assert len(second["results"]) == 1 and second["next"] is None


def test_it_lets_the_owner_update_and_delete(alice_api: APIClient, alice: User) -> None:
    contact = factories.contact("a@acme.com", owner=alice)

    response = alice_api.patch(
        f"{URL}{contact.pk}/",
        {"first_name": "Ann", "emails": ["ann@acme.com", "a@acme.com"]},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["primary_email"] == "ann@acme.com"
    contact.refresh_from_db()
    assert contact.first_name == "Ann"
    assert alice_api.delete(f"{URL}{contact.pk}/").status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_it_refuses_unknown_fields_on_update(alice_api: APIClient, alice: User) -> None:
    contact = factories.contact(owner=alice, first_name="Ann")

    response = alice_api.patch(
        f"{URL}{contact.pk}/", {"first_name": "X", "vip": True}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unknown_field"
    contact.refresh_from_db()
    assert contact.first_name == "Ann"


def test_bob_cannot_change_or_delete_alices_contact(
    bob_api: APIClient, alice: User
) -> None:
    contact = factories.contact("a@acme.com", owner=alice, first_name="Anna")

    patch = bob_api.patch(f"{URL}{contact.pk}/", {"first_name": "X"}, format="json")
    delete = bob_api.delete(f"{URL}{contact.pk}/")

    assert patch.status_code == 403 and patch.json()["error"] == "forbidden"
    assert delete.status_code == 403 and delete.json()["error"] == "forbidden"
    contact.refresh_from_db()
    assert contact.first_name == "Anna"
    assert bob_api.get(f"{URL}{contact.pk}/").status_code == 200  # reading is open


def test_anyone_may_change_a_contact_without_owner(bob_api: APIClient) -> None:
    contact = factories.contact(owner=None)

    response = bob_api.patch(f"{URL}{contact.pk}/", {"last_name": "Moe"}, format="json")

    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.last_name == "Moe"


def test_a_super_admin_may_change_anyones_contact(
    admin_api: APIClient, alice: User
) -> None:
    contact = factories.contact(owner=alice)

    response = admin_api.patch(f"{URL}{contact.pk}/", {"owner": None}, format="json")

    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.owner is None


def test_anonymous_callers_see_and_change_nothing(
    anon_api: APIClient, alice: User
) -> None:
    contact = factories.contact(owner=alice, first_name="Anna")

    responses = [
        anon_api.get(URL),
        anon_api.post(URL, {"emails": ["x@acme.com"]}, format="json"),
        anon_api.get(f"{URL}{contact.pk}/"),
        anon_api.patch(f"{URL}{contact.pk}/", {"first_name": "X"}, format="json"),
        anon_api.delete(f"{URL}{contact.pk}/"),
    ]

    assert {r.status_code for r in responses} == {401}
    assert {r.json()["error"] for r in responses} == {"not_authenticated"}
    assert Contact.objects.count() == 1
    contact.refresh_from_db()
    assert contact.first_name == "Anna"


def test_it_answers_404_for_a_missing_contact(alice_api: APIClient) -> None:
    response = alice_api.get(f"{URL}999999/")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_the_list_costs_the_same_queries_however_many_contacts(
    alice_api: APIClient, alice: User
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alice_api.get(URL).status_code == 200
        return len(captured)

    factories.contact("a@acme.com", owner=alice)
    few = queries()
    for n in range(5):
        factories.contact(f"p{n}@org{n}.example", owner=alice)

    assert queries() == few

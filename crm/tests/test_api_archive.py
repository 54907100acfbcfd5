"""Archiving through the API (V5): `archived` on every record, writable by PATCH for
whoever may edit the record; lists leave archived records out unless `?archived=true`."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from crm.models import Company, Contact, Deal, Ticket
from crm.services import record_archive
from crm.tests import factories

pytestmark = pytest.mark.django_db

KINDS = {
    "contacts": lambda owner: factories.contact("zed@gmail.com", owner=owner),
    "companies": lambda owner: factories.company("zed.example", owner=owner),
    "deals": lambda owner: factories.deal(owner=owner),
    "tickets": lambda owner: factories.ticket(owner=owner),
}
MODELS: dict[str, Any] = {
    "contacts": Contact,
    "companies": Company,
    "deals": Deal,
    "tickets": Ticket,
}


@pytest.mark.parametrize("plural", KINDS)
def test_the_owner_archives_and_restores_a_record(
    alice_api: APIClient, alice: User, plural: str
) -> None:
    record = KINDS[plural](alice)
    url = f"/api/v1/{plural}/{record.pk}/"

    archived = alice_api.patch(url, {"archived": True}, format="json")
    listed = alice_api.get(f"/api/v1/{plural}/").json()
    only_archived = alice_api.get(f"/api/v1/{plural}/", {"archived": "true"}).json()
    read = alice_api.get(url).json()

    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert MODELS[plural].objects.get(pk=record.pk).archived_at is not None
    assert record.pk not in [item["id"] for item in listed["results"]]
    assert [item["id"] for item in only_archived["results"]] == [record.pk]
    assert read["archived"] is True

    restored = alice_api.patch(url, {"archived": False}, format="json")

    assert restored.status_code == 200 and restored.json()["archived"] is False
    assert MODELS[plural].objects.get(pk=record.pk).archived_at is None
    listed = alice_api.get(f"/api/v1/{plural}/").json()
    assert record.pk in [item["id"] for item in listed["results"]]


def test_bob_cannot_archive_or_restore_alices_deal(
    bob_api: APIClient, alice: User
) -> None:
    deal = factories.deal(owner=alice)
    gone = factories.deal(owner=alice)
    record_archive(record=gone, archived=True)

    archive = bob_api.patch(
        f"/api/v1/deals/{deal.pk}/", {"archived": True}, format="json"
    )
    restore = bob_api.patch(
        f"/api/v1/deals/{gone.pk}/", {"archived": False}, format="json"
    )

    assert archive.status_code == restore.status_code == 403
    assert archive.json()["error"] == "forbidden"
    assert Deal.objects.get(pk=deal.pk).archived_at is None
    assert Deal.objects.get(pk=gone.pk).archived_at is not None


def test_archived_must_be_a_boolean_and_nothing_changes_otherwise(
    alice_api: APIClient, alice: User
) -> None:
    contact = factories.contact("anna@gmail.com", owner=alice, first_name="Anna")

    response = alice_api.patch(
        f"/api/v1/contacts/{contact.pk}/",
        {"archived": "someday", "first_name": "Changed"},
        format="json",
    )

    contact.refresh_from_db()
    assert response.status_code == 400
    assert (contact.first_name, contact.archived_at) == ("Anna", None)


def test_anonymous_callers_cannot_archive(anon_api: APIClient, alice: User) -> None:
    deal = factories.deal(owner=alice)

    response = anon_api.patch(
        f"/api/v1/deals/{deal.pk}/", {"archived": True}, format="json"
    )

    assert response.status_code in (401, 403)
    assert Deal.objects.get(pk=deal.pk).archived_at is None

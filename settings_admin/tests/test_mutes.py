"""Notification mutes over the API (V3): a user's own, of contacts and own emails only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from crm.models import Contact
from settings_admin.models import NotificationMute
from tracking.models import TrackedEmail

URL = "/api/v1/settings/mutes/"


def test_a_user_mutes_a_contact_and_an_email_and_lists_them(
    alice_api: APIClient, alice: User, anna: Contact, proposal: TrackedEmail
) -> None:
    contact = alice_api.post(URL, {"contact": anna.pk})
    email = alice_api.post(URL, {"email": proposal.pk})

    assert (contact.status_code, email.status_code) == (201, 201)
    assert contact.json()["contact"] == {"id": anna.pk, "name": "Anna Svensson"}
    assert email.json()["email"] == {"id": proposal.pk, "subject": "Proposal"}
    body = alice_api.get(URL).json()
    assert body["count"] == 2
    assert [(m["contact"], m["email"]) for m in body["results"]] == [
        (None, {"id": proposal.pk, "subject": "Proposal"}),
        ({"id": anna.pk, "name": "Anna Svensson"}, None),
    ]
    assert set(
        NotificationMute.objects.filter(user=alice).values_list("contact", "email")
    ) == {(anna.pk, None), (None, proposal.pk)}


def test_muting_twice_is_one_mute(alice_api: APIClient, anna: Contact) -> None:
    first = alice_api.post(URL, {"contact": anna.pk}).json()
    again = alice_api.post(URL, {"contact": anna.pk}).json()
    assert first["id"] == again["id"]
    assert NotificationMute.objects.count() == 1


def test_unmuting_deletes_the_mute(alice_api: APIClient, anna: Contact) -> None:
    mute = alice_api.post(URL, {"contact": anna.pk}).json()
    assert alice_api.delete(f"{URL}{mute['id']}/").status_code == 204
    assert not NotificationMute.objects.exists()


def test_nobody_mutes_someone_elses_email(
    bob_api: APIClient, proposal: TrackedEmail
) -> None:
    response = bob_api.post(URL, {"email": proposal.pk})
    assert (response.status_code, response.json()["error"]) == (404, "not_found")
    assert not NotificationMute.objects.exists()


def test_nobody_sees_or_removes_someone_elses_mutes(
    alice_api: APIClient, bob_api: APIClient, anna: Contact
) -> None:
    mute = alice_api.post(URL, {"contact": anna.pk}).json()
    assert bob_api.get(URL).json()["count"] == 0
    response = bob_api.delete(f"{URL}{mute['id']}/")
    assert (response.status_code, response.json()["error"]) == (404, "not_found")
    assert NotificationMute.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [{}, {"contact": 1, "email": 1}, {"contact": "x"}, {"muted": True}],
)
def test_bad_input_changes_nothing(
    alice_api: APIClient, body: dict[str, object]
) -> None:
    response = alice_api.post(URL, body)
    assert response.status_code == 400
    assert response.json()["error"] in ("validation_error", "unknown_field")
    assert not NotificationMute.objects.exists()


def test_an_unknown_contact_is_not_found(alice_api: APIClient, db: None) -> None:
    response = alice_api.post(URL, {"contact": 999999})
    assert (response.status_code, response.json()["error"]) == (404, "not_found")


def test_it_is_for_signed_in_users_only(anon_api: APIClient, anna: Contact) -> None:
    assert anon_api.get(URL).status_code in (401, 403)
    assert anon_api.post(URL, {"contact": anna.pk}).status_code in (401, 403)
    assert not NotificationMute.objects.exists()

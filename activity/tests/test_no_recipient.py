"""Mail from a sending identity that names no recipient is the sender's own: logged on
no record with a note, and listed on their activity page to be associated (L5)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from activity.models import InboundStatus
from activity.selectors import association_ids
from activity.tests.conftest import PostInbound
from activity.tests.mail import message, raw
from crm.models import Contact

pytestmark = pytest.mark.django_db
NOBODY: dict[str, list[int]] = {
    "contacts": [],
    "companies": [],
    "deals": [],
    "tickets": [],
}


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "to", [[], ["alice@beacon.example"]], ids=["nobody", "only-herself"]
)
def test_mail_naming_no_recipient_is_logged_on_no_record_with_a_note(
    alice_api: APIClient, post_inbound: PostInbound, to: list[str]
) -> None:
    inbound = post_inbound(alice_api, raw(message(to=to, subject="Notes to self")))

    assert inbound.status == InboundStatus.LOGGED, inbound.detail
    email = inbound.logged_email
    assert email is not None
    assert association_ids(email) == NOBODY
    assert [note["code"] for note in email.notes] == ["no_recipient"]
    assert Contact.objects.count() == 0


def test_the_sender_finds_it_on_the_activity_page_and_nobody_else_does(
    alice: User,
    bob: User,
    alice_api: APIClient,
    post_inbound: PostInbound,
    anna: Contact,
) -> None:
    inbound = post_inbound(alice_api, raw(message(to=[], subject="Notes to self")))
    email = inbound.logged_email
    assert email is not None
    picker = reverse("logged-email-associations-page", args=[email.pk])

    mine = _client(alice).get(reverse("activity-feed")).content.decode()
    theirs = _client(bob).get(reverse("activity-feed")).content.decode()

    assert "Logged to no record" in mine and "Notes to self" in mine
    assert picker in mine
    assert "Notes to self" not in theirs

    _client(alice).post(picker, {"contacts": [anna.pk]})
    after = _client(alice).get(reverse("activity-feed")).content.decode()
    assert association_ids(email)["contacts"] == [anna.pk]
    assert "Logged to no record" not in after

"""The rep's personal BCC address and the confirmation of sending identities on the
settings page (S7, U2): shown and changed by their owner only, through the services the
API calls."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.utils import timezone

from activity.selectors import bcc_address_parse
from settings_admin.models import SendingIdentity
from settings_admin.selectors import (
    account_settings_get,
    sending_identity_user,
    user_settings_get,
)
from settings_admin.services import sending_identity_add, sending_identity_token

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _bcc(user: User) -> str:
    return user_settings_get(user).bcc_address(account_settings_get())


def test_each_rep_sees_their_own_bcc_address_only(alice: User, bob: User) -> None:
    alice_page = _client(alice).get("/settings/").content.decode()
    bob_page = _client(bob).get("/settings/").content.decode()
    api = _client(alice).get("/api/v1/settings/me/").json()

    assert _bcc(alice) in alice_page and api["bcc_address"] == _bcc(alice)
    assert _bcc(alice) not in bob_page and _bcc(bob) in bob_page
    assert 'data-copy="#bcc-address"' in alice_page


def test_regenerating_asks_first_then_the_old_address_stops_working(
    alice: User, bob: User
) -> None:
    client, old, bobs = _client(alice), _bcc(alice), _bcc(bob)

    asked = client.get("/settings/bcc/regenerate/")
    unchanged = _bcc(alice)
    done = client.post("/settings/bcc/regenerate/")
    new = _bcc(alice)

    assert asked.status_code == 200 and "stops working" in asked.content.decode()
    assert unchanged == old
    assert done["Location"] == "/settings/" and new != old
    assert bcc_address_parse(old, account_settings_get()) is None
    parsed = bcc_address_parse(new, account_settings_get())
    assert parsed is not None and parsed.user_id == alice.pk
    assert _bcc(bob) == bobs  # only hers changed
    assert new in client.get("/settings/").content.decode()


def test_regenerating_needs_a_signed_in_user(alice: User) -> None:
    old = _bcc(alice)

    response = Client().post("/settings/bcc/regenerate/")

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert _bcc(alice) == old


def _link(message: mail.EmailMessage) -> str:
    found = re.search(
        r"https?://\S+(/settings/identities/confirm/\S+/)", str(message.body)
    )
    assert found is not None, message.body
    return found.group(1)


def test_an_added_address_is_unconfirmed_until_its_owner_opens_the_mailed_link(
    alice: User, django_capture_on_commit_callbacks: object
) -> None:
    client = _client(alice)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        added = client.post("/settings/identities/", {"email": "Sales@Acme.com"})
    identity = SendingIdentity.objects.get()
    listed = client.get("/settings/").content.decode()

    assert added["Location"] == "/settings/"
    assert identity.confirmed_at is None
    assert "Not confirmed" in listed and "Send link again" in listed
    assert sending_identity_user("sales@acme.com") is None  # logs nothing yet (U2)
    assert [m.to for m in mail.outbox] == [["sales@acme.com"]]
    link = _link(mail.outbox[0])

    asked = client.get(link)
    identity.refresh_from_db()
    assert asked.status_code == 200 and identity.confirmed_at is None
    confirmed = client.post(link)
    identity.refresh_from_db()

    assert confirmed["Location"] == "/settings/"
    assert identity.confirmed_at is not None
    assert sending_identity_user("sales@acme.com") == alice
    listed = client.get("/settings/").content.decode()
    assert "Confirmed" in listed and "Not confirmed" not in listed
    api = client.get("/api/v1/settings/identities/").json()["results"]
    assert [(i["email"], i["confirmed"]) for i in api] == [
        ("alice@beacon.example", True),
        ("sales@acme.com", True),
    ]


def test_another_user_can_neither_confirm_nor_see_the_address(
    alice: User, bob: User
) -> None:
    identity = sending_identity_add(user=alice, email="sales@acme.com")
    link = f"/settings/identities/confirm/{sending_identity_token(identity)}/"
    bob_client = _client(bob)

    shown = bob_client.get(link)
    posted = bob_client.post(link)
    resent = bob_client.post(f"/settings/identities/{identity.pk}/resend/")
    settings_page = bob_client.get("/settings/").content.decode()
    identity.refresh_from_db()

    assert shown.status_code == posted.status_code == 400
    assert "sales@acme.com" not in shown.content.decode()
    assert "sales@acme.com" not in posted.content.decode()
    assert resent.status_code == 404
    assert "sales@acme.com" not in settings_page
    assert identity.confirmed_at is None
    assert sending_identity_user("sales@acme.com") is None


def test_an_altered_expired_or_stale_link_confirms_nothing(alice: User) -> None:
    client = _client(alice)
    identity = sending_identity_add(user=alice, email="sales@acme.com")
    token = sending_identity_token(identity)

    with pytest.MonkeyPatch.context() as patch:  # a link mailed four days ago
        past = (timezone.now() - timedelta(days=4)).timestamp()
        patch.setattr("time.time", lambda: past)
        old_token = sending_identity_token(identity)

    altered = client.post(f"/settings/identities/confirm/{token[:-2]}xx/")
    expired = client.post(f"/settings/identities/confirm/{old_token}/")
    client.post(f"/settings/identities/{identity.pk}/delete/")
    readded = sending_identity_add(user=alice, email="sales@acme.com")
    stale = client.post(f"/settings/identities/confirm/{token}/")
    readded.refresh_from_db()

    assert altered.status_code == 400
    assert expired.status_code == 400 and "expired" in expired.content.decode()
    assert stale.status_code == 400 and readded.confirmed_at is None


def test_sending_the_link_again_mails_the_address_once_more(
    alice: User, django_capture_on_commit_callbacks: object
) -> None:
    identity = sending_identity_add(user=alice, email="sales@acme.com")
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = _client(alice).post(f"/settings/identities/{identity.pk}/resend/")

    assert response["Location"] == "/settings/"
    assert [m.to for m in mail.outbox] == [["sales@acme.com"]]

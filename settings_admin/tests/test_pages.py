"""The rep's settings page: defaults with the account's locks, never-log list, addresses."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from addin.models import AddinToken
from addin.services import addin_token_create
from settings_admin.models import NeverLogEntry, NeverLogScope, SendingIdentity
from settings_admin.selectors import user_settings_get
from settings_admin.services import (
    account_settings_update,
    never_log_add,
    sending_identity_add,
)

pytestmark = pytest.mark.django_db

ALL_DEFAULTS = {
    "log_by_default": "on",
    "track_by_default": "on",
    "create_contacts": "on",
    "associate_contacts": "on",
    "associate_companies": "on",
    "associate_deals": "on",
    "associate_tickets": "on",
}


@pytest.fixture
def alice_client(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def test_the_settings_page_needs_a_signed_in_user(client: Client) -> None:
    response = client.get("/settings/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_rep_turns_off_tracking_and_creating_contacts(
    alice_client: Client, alice: User
) -> None:
    data = dict(ALL_DEFAULTS)
    del data["track_by_default"], data["create_contacts"]

    response = alice_client.post("/settings/defaults/", data)

    own = user_settings_get(alice)
    assert response["Location"] == "/settings/"
    assert (own.track_by_default, own.create_contacts, own.log_by_default) == (
        False,
        False,
        True,
    )


def test_a_setting_the_account_applies_is_shown_locked_with_why_and_kept(
    alice_client: Client, alice: User
) -> None:
    account_settings_update(
        data={"apply_log_for_all": True, "log_all_by_default": False}
    )

    html = alice_client.get("/settings/").content.decode()
    data = dict(ALL_DEFAULTS)  # a forged "log" tick for the locked field
    del data["track_by_default"]
    alice_client.post("/settings/defaults/", data)

    assert "Set by your admin for everyone: emails are not logged by default." in html
    assert (
        '<input type="checkbox" name="log_by_default" disabled '
        'aria-describedby="id_log_by_default_helptext" id="id_log_by_default">'
    ) in html  # disabled, and unticked as the account decides
    own = user_settings_get(alice)
    assert own.log_by_default is True  # untouched: the account decides
    assert own.track_by_default is False  # the unlocked field was saved


def test_with_tracking_off_the_track_default_is_locked(alice_client: Client) -> None:
    account_settings_update(data={"allow_tracking": False})

    html = alice_client.get("/settings/").content.decode()

    assert "Tracking is switched off for the whole account by your admin." in html


def test_a_rep_adds_an_address_and_a_domain_to_her_never_log_list(
    alice_client: Client, alice: User
) -> None:
    alice_client.post("/settings/never-log/", {"pattern": "Boss@Acme.com"})
    alice_client.post("/settings/never-log/", {"pattern": "*@family.example"})

    patterns = set(
        NeverLogEntry.objects.filter(user=alice).values_list("pattern", flat=True)
    )
    assert patterns == {"boss@acme.com", "*@family.example"}


def test_a_bad_never_log_pattern_is_refused_beside_its_field(
    alice_client: Client,
) -> None:
    response = alice_client.post("/settings/never-log/", {"pattern": "acme.com"})

    assert response.status_code == 400
    assert 'id="id_pattern_error"' in response.content.decode()
    assert not NeverLogEntry.objects.exists()


def test_a_rep_removes_her_entry_but_not_the_accounts_or_bobs(
    alice_client: Client, alice: User, bob: User
) -> None:
    mine = never_log_add(pattern="x@acme.com", user=alice)
    account = never_log_add(pattern="*@rival.example")
    bobs = never_log_add(pattern="y@acme.com", user=bob)

    alice_client.post(f"/settings/never-log/{mine.pk}/delete/")
    alice_client.post(f"/settings/never-log/{account.pk}/delete/")
    hidden = alice_client.post(f"/settings/never-log/{bobs.pk}/delete/")

    left = set(NeverLogEntry.objects.values_list("pattern", flat=True))
    assert left == {"*@rival.example", "y@acme.com"}
    assert hidden.status_code == 404


def test_one_rep_never_sees_anothers_list_or_addresses(
    alice_client: Client, bob: User
) -> None:
    never_log_add(pattern="secret@bob.example", user=bob)
    sending_identity_add(user=bob, email="bob.alias@acme.com")
    never_log_add(pattern="*@everyone.example")

    html = alice_client.get("/settings/").content.decode()

    assert "secret@bob.example" not in html
    assert "bob.alias@acme.com" not in html
    assert "*@everyone.example" in html
    assert NeverLogEntry.objects.filter(scope=NeverLogScope.ACCOUNT).count() == 1


def test_a_rep_adds_a_sending_address_and_cannot_take_someone_elses(
    alice_client: Client, alice: User, bob: User
) -> None:
    alice_client.post("/settings/identities/", {"email": "Sales@Acme.com"})
    refused = alice_client.post("/settings/identities/", {"email": bob.email})

    assert list(SendingIdentity.objects.values_list("user", "email")) == [
        (alice.pk, "sales@acme.com")
    ]
    assert refused.status_code == 400
    assert "This address belongs to another user." in refused.content.decode()


def test_a_rep_cannot_remove_someone_elses_address(
    alice_client: Client, bob: User
) -> None:
    identity = sending_identity_add(user=bob, email="bob.alias@acme.com")

    response = alice_client.post(f"/settings/identities/{identity.pk}/delete/")

    assert response.status_code == 404
    assert SendingIdentity.objects.filter(pk=identity.pk).exists()


def test_a_rep_creates_a_named_token_sees_it_once_and_revokes_it(
    alice_client: Client, alice: User
) -> None:
    created = alice_client.post("/settings/tokens/", {"name": "Outlook laptop"})
    token = AddinToken.objects.get(user=alice)
    key = created.context["issued"].key

    listed = alice_client.get("/settings/").content.decode()
    used = Client().get(
        "/api/v1/settings/me/", headers={"Authorization": f"Token {key}"}
    )
    alice_client.post(f"/settings/tokens/{token.pk}/revoke/")
    after = Client().get(
        "/api/v1/settings/me/", headers={"Authorization": f"Token {key}"}
    )

    assert created.status_code == 201
    assert key in created.content.decode()
    assert key not in listed  # shown once only
    assert "Outlook laptop" in listed
    assert "Never" in listed
    assert used.status_code == 200
    assert after.status_code == 401
    assert not AddinToken.objects.exists()


def test_a_rep_cannot_see_or_revoke_anothers_token(
    alice_client: Client, bob: User
) -> None:
    issued = addin_token_create(user=bob, name="Bob's Outlook")

    html = alice_client.get("/settings/").content.decode()
    response = alice_client.post(f"/settings/tokens/{issued.token.pk}/revoke/")

    assert "Bob&#x27;s Outlook" not in html
    assert response.status_code == 404
    assert AddinToken.objects.filter(pk=issued.token.pk).exists()


def test_a_token_without_a_name_is_refused_beside_its_field(
    alice_client: Client,
) -> None:
    response = alice_client.post("/settings/tokens/", {"name": "  "})

    assert response.status_code == 400
    assert 'id="id_name_error"' in response.content.decode()
    assert not AddinToken.objects.exists()

"""Settings over the API: effective, own, account, never-log lists, identities."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from settings_admin.models import (
    AccountSettings,
    NeverLogEntry,
    NeverLogScope,
    SendingIdentity,
    UserSettings,
)
from settings_admin.selectors import account_settings_get
from settings_admin.services import (
    account_settings_update,
    never_log_add,
    sending_identity_add,
)

pytestmark = pytest.mark.django_db


# Effective settings.


def test_it_answers_the_callers_effective_settings(
    alice_api: APIClient, alice: User
) -> None:
    account_settings_update(
        data={"apply_log_for_all": True, "log_all_by_default": False}
    )

    body = alice_api.get("/api/v1/settings/effective/").json()

    assert body["seat"] == "sales"
    assert (body["log_by_default"], body["log_locked"]) == (False, True)
    assert body["track_clicks"] is True
    assert body["associate"] == {
        "contacts": True,
        "companies": True,
        "deals": True,
        "tickets": True,
    }
    # The caller's own BCC address, not the account-wide one.
    own = UserSettings.objects.get(user=alice)
    assert body["bcc_address"] == own.bcc_address(account_settings_get())
    assert body["bcc_address"] != account_settings_get().bcc_address


def test_the_effective_track_default_is_off_while_s3_is_off(
    bob_api: APIClient,
) -> None:
    account_settings_update(data={"allow_tracking": False})

    body = bob_api.get("/api/v1/settings/effective/").json()

    assert (body["tracking_allowed"], body["track_by_default"]) == (False, False)
    assert body["track_locked"] is True


# The caller's own settings.


def test_it_reads_and_changes_the_callers_own_settings(
    alice_api: APIClient, alice: User
) -> None:
    response = alice_api.patch(
        "/api/v1/settings/me/",
        {"create_contacts": False, "associate_tickets": False},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["create_contacts"] is False
    assert response.json()["locked"] == []
    own = UserSettings.objects.get(user=alice)
    assert (own.create_contacts, own.associate_tickets) == (False, False)
    assert alice_api.get("/api/v1/settings/me/").json()["seat"] == "sales"


def test_the_seat_is_read_only_here(bob_api: APIClient, bob: User) -> None:
    response = bob_api.patch("/api/v1/settings/me/", {"seat": "sales"}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"]["seat"][0]["code"] == "read_only_field"
    assert UserSettings.objects.get(user=bob).seat == "core"


@pytest.mark.parametrize(
    ("switch", "field"),
    [
        ("apply_log_for_all", "log_by_default"),
        ("apply_track_for_all", "track_by_default"),
        ("apply_association_for_all", "associate_deals"),
    ],
)
def test_a_setting_locked_by_the_account_is_refused(
    alice_api: APIClient, alice: User, switch: str, field: str
) -> None:
    account_settings_update(data={switch: True})
    before = getattr(UserSettings.objects.get(user=alice), field)

    response = alice_api.patch(
        "/api/v1/settings/me/", {field: not before}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "setting_locked"
    assert getattr(UserSettings.objects.get(user=alice), field) is before
    assert field in alice_api.get("/api/v1/settings/me/").json()["locked"]


def test_unknown_fields_are_refused(alice_api: APIClient, alice: User) -> None:
    response = alice_api.patch(
        "/api/v1/settings/me/",
        {"create_contacts": False, "user": 1},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unknown_field"
    assert UserSettings.objects.get(user=alice).create_contacts is True


def test_bob_changes_only_his_own_settings_never_alices(
    bob_api: APIClient, alice: User, bob: User
) -> None:
    alice_before = UserSettings.objects.get(user=alice)

    response = bob_api.patch(
        "/api/v1/settings/me/",
        {"desktop_notifications": False, "log_by_default": False},
        format="json",
    )

    assert response.status_code == 200
    bob_row = UserSettings.objects.get(user=bob)
    assert (bob_row.desktop_notifications, bob_row.log_by_default) == (False, False)
    alice_after = UserSettings.objects.get(user=alice)
    assert alice_after.desktop_notifications is True
    assert alice_after.log_by_default is True
    assert alice_after.updated_at == alice_before.updated_at


def test_anonymous_callers_have_no_settings(anon_api: APIClient) -> None:
    responses = [
        anon_api.get("/api/v1/settings/effective/"),
        anon_api.get("/api/v1/settings/me/"),
        anon_api.patch("/api/v1/settings/me/", {"log_by_default": False}),
        anon_api.get("/api/v1/settings/account/"),
        anon_api.patch("/api/v1/settings/account/", {"allow_tracking": False}),
        anon_api.post("/api/v1/settings/account/regenerate-bcc/"),
        anon_api.get("/api/v1/settings/never-log/"),
        anon_api.post("/api/v1/settings/never-log/", {"pattern": "*@x.com"}),
        anon_api.get("/api/v1/settings/identities/"),
        anon_api.post("/api/v1/settings/identities/", {"email": "a@x.com"}),
    ]

    assert [r.status_code for r in responses] == [401] * len(responses)
    assert UserSettings.objects.count() == 0
    assert NeverLogEntry.objects.count() == SendingIdentity.objects.count() == 0


# Account settings.


def test_everyone_signed_in_reads_the_account_settings(bob_api: APIClient) -> None:
    body = bob_api.get("/api/v1/settings/account/").json()

    assert body["allow_tracking"] is True
    assert body["bcc_address"] == account_settings_get().bcc_address
    assert "bcc_secret" not in body


def test_bob_gets_403_changing_the_account_settings(bob_api: APIClient) -> None:
    account_settings_get()

    patch = bob_api.patch(
        "/api/v1/settings/account/", {"allow_tracking": False}, format="json"
    )
    regenerate = bob_api.post("/api/v1/settings/account/regenerate-bcc/")

    assert (patch.status_code, regenerate.status_code) == (403, 403)
    assert patch.json()["error"] == regenerate.json()["error"] == "forbidden"
    assert AccountSettings.objects.get().allow_tracking is True


def test_a_super_admin_changes_the_account_settings(admin_api: APIClient) -> None:
    response = admin_api.patch(
        "/api/v1/settings/account/",
        {"apply_log_for_all": True, "log_all_by_default": False, "bcc_prefix": "crm"},
        format="json",
    )

    assert response.status_code == 200
    account = AccountSettings.objects.get()
    assert (account.apply_log_for_all, account.log_all_by_default) == (True, False)
    assert response.json()["bcc_address"].startswith("crm+")


def test_s4_while_s3_is_off_is_refused_and_changes_nothing(
    admin_api: APIClient,
) -> None:
    account_settings_update(data={"allow_tracking": False})

    response = admin_api.patch(
        "/api/v1/settings/account/",
        {"apply_track_for_all": True, "track_all_by_default": True},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"] == "track_default_needs_tracking"
    assert AccountSettings.objects.get().apply_track_for_all is False


def test_turning_s3_off_while_s4_is_on_is_refused(admin_api: APIClient) -> None:
    account_settings_update(data={"apply_track_for_all": True})

    response = admin_api.patch(
        "/api/v1/settings/account/", {"allow_tracking": False}, format="json"
    )

    assert response.json()["error"] == "track_default_needs_tracking"
    assert AccountSettings.objects.get().allow_tracking is True


def test_a_super_admin_regenerates_the_bcc_address(admin_api: APIClient) -> None:
    old = account_settings_get().bcc_address

    response = admin_api.post("/api/v1/settings/account/regenerate-bcc/")

    assert response.status_code == 200
    assert response.json()["bcc_address"] != old
    assert AccountSettings.objects.get().bcc_address == response.json()["bcc_address"]


# Never-log lists.


def test_it_lists_the_account_list_and_the_callers_own_only(
    alice_api: APIClient, alice: User, bob: User
) -> None:
    never_log_add(pattern="*@lawyers.example")
    never_log_add(pattern="mine@acme.com", user=alice)
    never_log_add(pattern="bobs@acme.com", user=bob)

    body = alice_api.get("/api/v1/settings/never-log/").json()

    assert [(e["pattern"], e["scope"], e["editable"]) for e in body["results"]] == [
        ("*@lawyers.example", "account", False),
        ("mine@acme.com", "user", True),
    ]
    assert body["count"] == 2


def test_a_user_adds_and_removes_personal_entries(
    alice_api: APIClient, alice: User
) -> None:
    created = alice_api.post(
        "/api/v1/settings/never-log/", {"pattern": "*@Private.example"}, format="json"
    )

    assert created.status_code == 201
    entry = NeverLogEntry.objects.get()
    assert (entry.pattern, entry.scope, entry.user) == (
        "*@private.example",
        NeverLogScope.USER,
        alice,
    )
    deleted = alice_api.delete(f"/api/v1/settings/never-log/{entry.pk}/")
    assert deleted.status_code == 204
    assert NeverLogEntry.objects.count() == 0


def test_a_malformed_pattern_is_refused(alice_api: APIClient) -> None:
    response = alice_api.post(
        "/api/v1/settings/never-log/", {"pattern": "acme.com"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_never_log_pattern"
    assert NeverLogEntry.objects.count() == 0


def test_only_super_admins_change_the_account_list(
    bob_api: APIClient, admin_api: APIClient
) -> None:
    refused = bob_api.post(
        "/api/v1/settings/never-log/",
        {"pattern": "*@x.example", "scope": "account"},
        format="json",
    )
    accepted = admin_api.post(
        "/api/v1/settings/never-log/",
        {"pattern": "*@x.example", "scope": "account"},
        format="json",
    )
    entry = NeverLogEntry.objects.get()
    bob_delete = bob_api.delete(f"/api/v1/settings/never-log/{entry.pk}/")

    assert (refused.status_code, accepted.status_code) == (403, 201)
    assert (entry.scope, entry.user) == (NeverLogScope.ACCOUNT, None)
    assert bob_delete.status_code == 403
    assert NeverLogEntry.objects.count() == 1
    assert (
        admin_api.delete(f"/api/v1/settings/never-log/{entry.pk}/").status_code == 204
    )


def test_bob_cannot_see_or_remove_alices_personal_entry(
    bob_api: APIClient, alice: User
) -> None:
    entry = never_log_add(pattern="secret@acme.com", user=alice)

    listed = bob_api.get("/api/v1/settings/never-log/").json()
    deleted = bob_api.delete(f"/api/v1/settings/never-log/{entry.pk}/")

    assert listed["count"] == 0
    assert deleted.status_code == 404
    assert NeverLogEntry.objects.filter(pk=entry.pk).exists()


# Sending identities (U2).


def test_it_lists_the_login_email_and_the_callers_aliases(
    alice_api: APIClient, alice: User, bob: User
) -> None:
    alias = sending_identity_add(user=alice, email="sales@beacon.example")
    sending_identity_add(user=bob, email="bob.alias@beacon.example")

    body = alice_api.get("/api/v1/settings/identities/").json()

    assert body["results"] == [
        {
            "id": None,
            "email": "alice@beacon.example",
            "kind": "login",
            "confirmed": True,
        },
        {
            "id": alias.pk,
            "email": "sales@beacon.example",
            "kind": "alias",
            "confirmed": False,
        },
    ]


def test_a_user_adds_and_removes_an_alias(alice_api: APIClient, alice: User) -> None:
    created = alice_api.post(
        "/api/v1/settings/identities/", {"email": "Me@Alias.example"}, format="json"
    )

    assert created.status_code == 201
    identity = SendingIdentity.objects.get()
    assert (identity.email, identity.user, identity.kind) == (
        "me@alias.example",
        alice,
        "alias",
    )
    assert (
        alice_api.delete(f"/api/v1/settings/identities/{identity.pk}/").status_code
        == 204
    )
    assert SendingIdentity.objects.count() == 0


def test_nobody_claims_another_users_address(bob_api: APIClient, alice: User) -> None:
    sending_identity_add(user=alice, email="sales@beacon.example")

    alias = bob_api.post(
        "/api/v1/settings/identities/", {"email": "sales@beacon.example"}, format="json"
    )
    login = bob_api.post(
        "/api/v1/settings/identities/", {"email": "ALICE@beacon.example"}, format="json"
    )
    bad = bob_api.post(
        "/api/v1/settings/identities/", {"email": "not-an-email"}, format="json"
    )

    assert (alias.status_code, login.status_code) == (409, 409)
    assert alias.json()["error"] == login.json()["error"] == "identity_taken"
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_email"
    assert SendingIdentity.objects.count() == 1


def test_bob_cannot_remove_alices_alias(bob_api: APIClient, alice: User) -> None:
    identity = sending_identity_add(user=alice, email="sales@beacon.example")

    response = bob_api.delete(f"/api/v1/settings/identities/{identity.pk}/")

    assert response.status_code == 404
    assert SendingIdentity.objects.filter(pk=identity.pk).exists()


def test_settings_lists_are_paginated(alice_api: APIClient, alice: User) -> None:
    for n in range(3):
        never_log_add(pattern=f"p{n}@acme.com", user=alice)

    body = alice_api.get("/api/v1/settings/never-log/", {"page_size": 2}).json()

    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]


def test_each_caller_gets_their_own_effective_settings(
    alice_api: APIClient, bob_api: APIClient
) -> None:
    alice_body = alice_api.get("/api/v1/settings/effective/").json()
    bob_body = bob_api.get("/api/v1/settings/effective/").json()

    assert (alice_body["seat"], alice_body["track_clicks"]) == ("sales", True)
    assert (bob_body["seat"], bob_body["track_clicks"]) == ("core", False)


# The personal BCC address (issue 10).


def test_the_personal_bcc_address_is_shown_to_its_owner_and_regenerable(
    alice_api: APIClient, bob_api: APIClient, alice: User, bob: User
) -> None:
    mine = alice_api.get("/api/v1/settings/me/").json()["bcc_address"]
    bobs = bob_api.get("/api/v1/settings/me/").json()["bcc_address"]
    assert mine != bobs
    secret = UserSettings.objects.get(user=alice).bcc_secret
    assert secret in mine and secret not in bobs
    assert alice_api.get("/api/v1/settings/effective/").json()["bcc_address"] == mine

    response = alice_api.post("/api/v1/settings/me/regenerate-bcc/")
    assert response.status_code == 200
    new = response.json()["bcc_address"]
    assert new != mine and secret not in new
    assert UserSettings.objects.get(user=alice).bcc_secret in new
    # Bob's is untouched, and he never sees Alice's.
    assert bob_api.get("/api/v1/settings/me/").json()["bcc_address"] == bobs


def test_regenerating_needs_a_signed_in_user(anon_api: APIClient) -> None:
    response = anon_api.post("/api/v1/settings/me/regenerate-bcc/")
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"error", "detail"}

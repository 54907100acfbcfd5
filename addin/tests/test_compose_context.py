from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from crm.models import LegalBasis, PipelineKind
from crm.services import association_create
from crm.tests import factories
from settings_admin.models import AccountSettings, NeverLogEntry
from settings_admin.selectors import account_settings_get, user_settings_get

pytestmark = pytest.mark.django_db
URL = "/api/v1/addin/compose-context/"


def _account(**fields: object) -> AccountSettings:
    account = account_settings_get()
    for name, value in fields.items():
        setattr(account, name, value)
    account.save()
    return account


def test_it_suggests_the_contact_its_company_and_open_deals_for_one_recipient(
    alice_api: APIClient, alice: User
) -> None:
    anna = factories.contact("anna@acme.com", first_name="Anna", last_name="Svensson")
    pipe = factories.pipeline(PipelineKind.DEAL)
    open_deal = factories.deal(name="Renewal", pipeline=pipe)
    won = factories.deal(name="Won", pipeline=pipe, stage=factories.closed_stage(pipe))
    association_create(left=anna, right=open_deal)
    association_create(left=anna, right=won)

    response = alice_api.post(URL, {"to": ["Anna@Acme.com"]}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["log"] == {
        "default": True,
        "allowed": True,
        "locked": False,
        "reason": "",
        "bcc_address": user_settings_get(alice).bcc_address(account_settings_get()),
    }
    assert body["track"] == {
        "default": True,
        "enabled": True,
        "locked": False,
        "label": "Track email opens and clicks",
    }
    assert body["anonymous_notice"] == ""
    [recipient] = body["recipients"]
    assert recipient["contact"]["id"] == anna.pk
    assert recipient["company"]["name"] == "Acme"
    assert [d["name"] for d in recipient["deals"]] == ["Renewal"]
    assert recipient["new_contact"] is False


def test_it_warns_that_several_recipients_are_reported_as_someone(
    alice_api: APIClient,
) -> None:
    response = alice_api.post(
        URL, {"to": ["a@acme.com"], "cc": ["b@acme.com"]}, format="json"
    )

    body = response.json()
    assert "someone" in body["anonymous_notice"]
    assert [r["new_contact"] for r in body["recipients"]] == [True, True]
    assert [r["kind"] for r in body["recipients"]] == ["to", "cc"]


def test_it_greys_out_track_under_privacy_with_a_reason_per_recipient(
    alice_api: APIClient,
) -> None:
    _account(privacy_enabled=True)
    factories.contact("ok@acme.com", legal_basis=LegalBasis.CONSENT)
    factories.contact("nobasis@acme.com")

    response = alice_api.post(
        URL, {"to": ["ok@acme.com", "nobasis@acme.com", "new@acme.com"]}, format="json"
    )

    body = response.json()
    assert body["track"]["enabled"] is False
    assert body["track"]["default"] is False
    reasons = {r["email"]: r["track_reason"] for r in body["recipients"]}
    assert reasons == {
        "ok@acme.com": "other_recipient_not_trackable",
        "nobasis@acme.com": "no_legal_basis",
        "new@acme.com": "not_a_contact",
    }


def test_a_core_seat_tracks_opens_only_and_never_log_recipients_are_not_suggested(
    bob_api: APIClient,
) -> None:
    NeverLogEntry.objects.create(scope="account", pattern="*@lawyers.example")

    response = bob_api.post(URL, {"to": ["x@lawyers.example"]}, format="json")

    body = response.json()
    assert body["track"]["label"] == "Track email opens"
    [recipient] = body["recipients"]
    assert recipient["never_log"] is True
    assert recipient["new_contact"] is False


def test_tracking_switched_off_for_the_account_locks_track_off(
    alice_api: APIClient,
) -> None:
    _account(allow_tracking=False)

    body = alice_api.post(URL, {"to": ["a@acme.com"]}, format="json").json()

    assert body["track"]["enabled"] is False
    assert body["track"]["locked"] is True
    assert body["recipients"][0]["track_reason"] == "tracking_disabled"


def test_a_sender_that_is_not_an_identity_cannot_log(alice_api: APIClient) -> None:
    body = alice_api.post(
        URL,
        {"from_address": "ceo@elsewhere.example", "to": ["a@acme.com"]},
        format="json",
    ).json()

    assert body["log"]["allowed"] is False
    assert body["log"]["default"] is False
    assert body["log"]["reason"] == "not_a_sending_identity"
    assert body["recipients"][0]["new_contact"] is False


def test_it_refuses_unknown_fields_and_malformed_addresses(
    alice_api: APIClient,
) -> None:
    unknown = alice_api.post(URL, {"to": ["a@acme.com"], "track": True}, format="json")
    malformed = alice_api.post(URL, {"to": ["not an address"]}, format="json")

    assert unknown.status_code == 400
    assert unknown.json()["error"] == "unknown_field"
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "invalid_email"


def test_someone_signed_out_cannot_ask(anon_api: APIClient) -> None:
    factories.contact("anna@acme.com")

    response = anon_api.post(URL, {"to": ["anna@acme.com"]}, format="json")

    assert response.status_code in (401, 403)
    assert "recipients" not in response.json()


def test_its_queries_do_not_grow_with_the_known_recipients(
    alice_api: APIClient,
) -> None:
    """Deals and tickets of every known recipient come in one query each."""
    pipe = factories.pipeline(PipelineKind.DEAL)

    def known(n: int) -> list[str]:
        emails = [f"p{n}-{i}@acme.com" for i in range(n)]
        for email in emails:
            contact = factories.contact(email)
            association_create(left=contact, right=factories.deal(pipeline=pipe))
        return emails

    one, five = known(1), known(5)
    alice_api.post(URL, {"to": one}, format="json")  # warms per-process caches
    counts = []
    for emails in (one, five):
        with CaptureQueriesContext(connection) as captured:
            response = alice_api.post(URL, {"to": emails}, format="json")
        assert response.status_code == 200
        assert all(len(r["deals"]) == 1 for r in response.json()["recipients"])
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_beacons_bcc_address_is_no_recipient_and_never_a_new_contact(
    alice_api: APIClient,
) -> None:
    factories.contact("anna@acme.com", first_name="Anna")
    bcc = account_settings_get().bcc_address
    registration_bcc = bcc.replace("@", "+a1b2c3@")

    response = alice_api.post(
        URL,
        {"to": ["anna@acme.com"], "bcc": [bcc, registration_bcc.upper()]},
        format="json",
    )

    body = response.json()
    assert [r["email"] for r in body["recipients"]] == ["anna@acme.com"]
    assert body["anonymous_notice"] == ""
    assert body["track"]["enabled"] is True


def test_it_says_which_recipients_logging_would_leave_out(
    alice_api: APIClient,
) -> None:
    _account(privacy_enabled=True)
    NeverLogEntry.objects.create(scope="account", pattern="*@lawyers.example")
    factories.contact("anna@acme.com", legal_basis=LegalBasis.CONSENT)
    factories.contact("olle@acme.com", legal_basis=LegalBasis.NONE)

    response = alice_api.post(
        URL,
        {"to": ["anna@acme.com", "olle@acme.com"], "cc": ["x@lawyers.example"]},
        format="json",
    )

    reasons = {r["email"]: r["log_reason"] for r in response.json()["recipients"]}
    assert reasons == {
        "anna@acme.com": "",
        "olle@acme.com": "no_legal_basis",
        "x@lawyers.example": "never_log",
    }

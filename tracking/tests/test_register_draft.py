"""A draft registered again (two Sends, a retry, the pane then Send) stays one
registration: one pixel, links wrapped once, one BCC address."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from activity.models import LogRegistration
from settings_admin.selectors import account_settings_get
from tracking.models import TrackedEmail, TrackedLink
from tracking.tests.conftest import make_contact

pytestmark = pytest.mark.django_db

URL = "/api/v1/emails/"
DRAFT = "draft-6f1c2a9e"
HTML = (
    "<html><body><p>Hi <a href='https://acme.example/offer'>the offer</a> and "
    '<a href="https://acme.example/terms">terms</a>.</p></body></html>'
)


def register(api: APIClient, **body: Any) -> Any:
    body.setdefault("to", ["anna@acme.example"])
    body.setdefault("subject", "Proposal")
    body.setdefault("html", HTML)
    body.setdefault("track", True)
    body.setdefault("log", True)
    body.setdefault("draft_key", DRAFT)
    return api.post(URL, body, format="json")


def pixels(html: str) -> int:
    return len(re.findall(r"/t/o/[^\"']+\.gif", html))


def click_urls(html: str) -> list[str]:
    return re.findall(r"/t/c/[A-Za-z0-9_-]+", html)


def test_sending_the_same_draft_twice_gives_one_registration(
    alice: User, alice_api: APIClient
) -> None:
    make_contact("anna@acme.example", first_name="Anna")
    first = register(alice_api)
    assert first.status_code == 201, first.json()
    # The second Send reads back the body the first one put in, and Beacon's BCC.
    second = register(
        alice_api, html=first.json()["html"], bcc=[first.json()["log"]["bcc_address"]]
    )

    assert second.status_code == 201, second.json()
    one, two = first.json(), second.json()
    assert two["id"] == one["id"]
    assert two["log"]["bcc_address"] == one["log"]["bcc_address"]
    assert two["log"]["token"] == one["log"]["token"]
    assert pixels(two["html"]) == 1
    # Two links and the trap, each wrapped once, by the same links as the first time.
    assert click_urls(two["html"]) == click_urls(one["html"])
    assert len(click_urls(two["html"])) == 3
    assert "https://acme.example/offer" not in two["html"]
    assert TrackedEmail.objects.count() == 1
    assert LogRegistration.objects.count() == 1
    assert TrackedLink.objects.count() == 3
    email = TrackedEmail.objects.get()
    # The BCC address is not a recipient: one recipient, attributed (T2).
    assert (email.bcc, email.is_anonymous) == ([], False)
    assert two["anonymous"] is False


def test_an_edit_between_two_sends_is_tracked_without_doubling(
    alice_api: APIClient,
) -> None:
    make_contact("anna@acme.example")
    first = register(alice_api).json()
    edited = first["html"].replace(
        "</p>", " <a href='https://acme.example/new'>new</a></p>", 1
    )

    second = register(alice_api, html=edited, subject="Proposal v2").json()

    assert pixels(second["html"]) == 1
    assert len(click_urls(second["html"])) == 4
    links = TrackedLink.objects.filter(is_trap=False).values_list("url", flat=True)
    assert sorted(links) == [
        "https://acme.example/new",
        "https://acme.example/offer",
        "https://acme.example/terms",
    ]
    assert TrackedEmail.objects.get().subject == "Proposal v2"


def test_unticking_log_on_the_second_send_drops_the_registration(
    alice_api: APIClient,
) -> None:
    make_contact("anna@acme.example")
    register(alice_api)

    second = register(alice_api, log=False).json()

    assert second["log"] is None
    assert LogRegistration.objects.count() == 0
    assert TrackedEmail.objects.get().log_registration is None


def test_a_sent_draft_is_not_registered_again(alice_api: APIClient) -> None:
    make_contact("anna@acme.example")
    first = register(alice_api).json()
    assert alice_api.post(f"{URL}{first['id']}/sent/").status_code == 200

    again = register(alice_api)

    assert again.status_code == 409
    assert again.json() == {"error": "already_sent", "detail": {"id": first["id"]}}
    assert TrackedEmail.objects.count() == 1


def test_without_a_draft_key_each_registration_is_new(alice_api: APIClient) -> None:
    alice_api.post(URL, {"to": ["anna@acme.example"], "html": HTML}, format="json")
    alice_api.post(URL, {"to": ["anna@acme.example"], "html": HTML}, format="json")

    assert TrackedEmail.objects.count() == 2


def test_someone_elses_draft_key_never_reaches_their_registration(
    alice_api: APIClient, bob_api: APIClient
) -> None:
    make_contact("anna@acme.example")
    alices = register(alice_api).json()

    bobs = register(bob_api, subject="Bob's").json()

    assert bobs["id"] != alices["id"]
    assert TrackedEmail.objects.get(pk=alices["id"]).subject == "Proposal"
    assert LogRegistration.objects.count() == 2


def test_beacons_own_bcc_address_is_never_a_recipient(alice_api: APIClient) -> None:
    make_contact("anna@acme.example")
    account = account_settings_get().bcc_address

    body = register(alice_api, bcc=[account.upper()], draft_key="draft-00000002").json()

    assert body["anonymous"] is False
    assert [r["email"] for r in body["recipients"]] == ["anna@acme.example"]


@pytest.mark.parametrize("key", ["short", "has space in it", "x" * 65])
def test_a_malformed_draft_key_is_refused(alice_api: APIClient, key: str) -> None:
    response = register(alice_api, draft_key=key)

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert not TrackedEmail.objects.exists()

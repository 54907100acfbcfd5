from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from crm.models import LegalBasis
from settings_admin.models import AccountSettings, NeverLogEntry, NeverLogScope
from tracking import tokens
from tracking.models import Kind, TrackedEmail, TrackedLink, TrackingEvent, Verdict
from tracking.tests.conftest import HTML, make_contact

URL = "/api/v1/emails/"


def _post(api: APIClient, **body: Any) -> Any:
    body.setdefault("to", ["anna@acme.example"])
    body.setdefault("subject", "Proposal")
    body.setdefault("html", HTML)
    body.setdefault("track", True)
    return api.post(URL, body, format="json")


def _privacy(on: bool = True) -> None:
    AccountSettings.objects.update_or_create(pk=1, defaults={"privacy_enabled": on})


def test_a_sales_seat_gets_a_pixel_rewritten_links_and_a_trap(
    alice_api: APIClient, alice: User
) -> None:
    contact = make_contact("anna@acme.example", first_name="Anna")
    response = _post(alice_api, log=True, associations={"contacts": [contact.pk]})
    assert response.status_code == 201, response.json()
    data = response.json()
    email = TrackedEmail.objects.get(pk=data["id"])
    assert data["tracked"] is True and data["track_clicks"] is True
    assert data["anonymous"] is False and data["notice"] == ""
    assert data["recipients"] == [
        {"email": "anna@acme.example", "tracked": True, "reason": "tracked"}
    ]
    assert data["log"]["registration_id"] == email.log_registration_id
    assert data["log"]["associations"]["contacts"] == [contact.pk]
    assert email.contact == contact and email.sender == alice
    links = list(email.links.order_by("position"))
    assert [(link.url, link.is_trap) for link in links] == [
        ("https://acme.example/proposal?x=1&y=2", False),
        ("http://acme.example/pricing", False),
        ("http://127.0.0.1:8000/", True),
    ]
    html = data["html"]
    for link in links:
        assert f'href="{tokens.click_url(email.pk, link.pk)}"' in html
    assert html.count(tokens.pixel_url(email.pk)) == 1
    assert "mailto:sales@beacon.example" in html and 'href="tel:+4612345"' in html
    assert 'href="#top"' in html and "<!-- keep me -->" in html
    assert "acme.example/proposal" not in html
    assert re.search(r"<img [^>]*/t/o/[^\"]+\.gif\" [^>]*/></body>", html)


def test_a_core_seat_gets_the_pixel_but_no_link_rewriting(bob_api: APIClient) -> None:
    data = _post(bob_api).json()
    assert data["tracked"] is True and data["track_clicks"] is False
    assert "https://acme.example/proposal?x=1&amp;y=2" in data["html"]
    assert "/t/o/" in data["html"]
    assert list(
        TrackedLink.objects.filter(email_id=data["id"]).values_list(
            "is_trap", flat=True
        )
    ) == [True]


def test_several_recipients_make_an_anonymous_email(alice_api: APIClient) -> None:
    make_contact("anna@acme.example")
    data = _post(alice_api, cc=["bo@acme.example"]).json()
    assert data["anonymous"] is True and "someone" in data["notice"]
    email = TrackedEmail.objects.get(pk=data["id"])
    assert email.contact is None and email.is_anonymous


def test_untracked_email_is_answered_unchanged(alice_api: APIClient) -> None:
    data = _post(alice_api, track=False).json()
    assert data["tracked"] is False and data["html"] == HTML
    assert data["recipients"][0]["reason"] == "not_requested"
    assert not TrackedLink.objects.exists()


def test_nobody_tracks_when_the_account_disallows_it(alice_api: APIClient) -> None:
    AccountSettings.objects.update_or_create(pk=1, defaults={"allow_tracking": False})
    data = _post(alice_api).json()
    assert data["tracked"] is False and data["html"] == HTML
    assert data["recipients"][0]["reason"] == "tracking_disabled"


def test_privacy_on_never_tracks_an_ineligible_recipient(alice_api: APIClient) -> None:
    _privacy()
    make_contact("anna@acme.example", legal_basis=LegalBasis.CONSENT)
    make_contact("nobasis@acme.example", legal_basis=LegalBasis.NONE)
    for recipients, reasons in [
        (["stranger@acme.example"], ["not_a_contact"]),
        (["nobasis@acme.example"], ["no_legal_basis"]),
        (
            ["anna@acme.example", "nobasis@acme.example"],
            ["other_recipient_not_trackable", "no_legal_basis"],
        ),
    ]:
        data = _post(alice_api, to=recipients).json()
        assert data["tracked"] is False
        assert [r["reason"] for r in data["recipients"]] == reasons
        assert data["html"] == HTML
    assert _post(alice_api, to=["anna@acme.example"]).json()["tracked"] is True


def test_never_log_recipients_are_not_tracked(
    alice_api: APIClient, alice: User
) -> None:
    NeverLogEntry.objects.create(
        scope=NeverLogScope.USER, user=alice, pattern="*@acme.example"
    )
    data = _post(alice_api).json()
    assert data["tracked"] is False
    assert data["recipients"][0]["reason"] == "never_log"


def test_unknown_fields_and_bad_addresses_are_refused(alice_api: APIClient) -> None:
    assert _post(alice_api, colour="red").json()["error"] == "unknown_field"
    assert _post(alice_api, to=["not-an-address"]).json()["error"] == "invalid_email"
    assert _post(alice_api, associations={"x": [1]}).json()["error"] == "unknown_field"


def test_signed_out_callers_cannot_register(anon_api: APIClient) -> None:
    assert _post(anon_api).status_code in (401, 403)


def test_mark_sent_then_status_and_counts(alice_api: APIClient, alice: User) -> None:
    data = _post(alice_api).json()
    email_id = data["id"]
    detail = alice_api.get(f"{URL}{email_id}/").json()
    assert detail["status"] == "registered" and detail["opens"] == 0
    sent = alice_api.post(f"{URL}{email_id}/sent/").json()
    assert sent["status"] == "sent" and sent["sent_at"]
    first_sent = sent["sent_at"]
    assert alice_api.post(f"{URL}{email_id}/sent/").json()["sent_at"] == first_sent
    email = TrackedEmail.objects.get(pk=email_id)
    link = email.links.get(position=1)
    _event(email, Kind.OPEN, Verdict.APPLE_MPP)
    assert alice_api.get(f"{URL}{email_id}/").json()["status"] == "sent"
    _event(email, Kind.OPEN, Verdict.HUMAN)
    _event(email, Kind.OPEN, Verdict.PROXY)
    assert alice_api.get(f"{URL}{email_id}/").json()["opens"] == 2
    _event(email, Kind.CLICK, Verdict.SCANNER, link=link)
    assert alice_api.get(f"{URL}{email_id}/").json()["status"] == "opened"
    _event(email, Kind.CLICK, Verdict.HUMAN, link=link)
    detail = alice_api.get(f"{URL}{email_id}/").json()
    assert detail["status"] == "clicked" and detail["clicks"] == 1
    assert [(item["position"], item["clicks"]) for item in detail["links"]] == [
        (1, 1),
        (2, 0),
    ]
    events = alice_api.get(f"{URL}{email_id}/events/").json()
    assert events["count"] == 5
    assert [(e["verdict"], e["counted"]) for e in events["results"]] == [
        ("apple_mpp", False),
        ("human", True),
        ("proxy", True),
        ("scanner", False),
        ("human", True),
    ]
    assert events["results"][3]["link_url"] == link.url


def _event(
    email: TrackedEmail, kind: str, verdict: str, link: TrackedLink | None = None
) -> None:
    import uuid

    from django.utils import timezone

    TrackingEvent.objects.create(
        hit_id=uuid.uuid4(), email=email, link=link, kind=kind, occurred_at=timezone.now(),
        verdict=verdict, reason="test", ip="198.51.100.1", method="GET",
    )  # fmt: skip


def test_someone_else_cannot_see_or_change_an_email(
    alice_api: APIClient, bob_api: APIClient, anon_api: APIClient
) -> None:
    email_id = _post(alice_api).json()["id"]
    for api, status in [(bob_api, 404), (anon_api, 401)]:
        for path in [f"{URL}{email_id}/", f"{URL}{email_id}/events/"]:
            response = api.get(path)
            assert response.status_code in (status, 403), path
        response = api.post(f"{URL}{email_id}/sent/")
        assert response.status_code in (status, 403)
    assert bob_api.get(f"{URL}{email_id}/").json()["error"] == "not_found"
    assert TrackedEmail.objects.get(pk=email_id).sent_at is None

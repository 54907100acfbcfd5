"""GET /api/v1/notifications/?after=<event id>: the catch-up after a reconnect (T9)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from settings_admin.models import NotificationMute, UserSettings
from tracking.ingest import ingest_hits
from tracking.models import TrackedEmail, TrackingEvent
from tracking.tests.conftest import make_contact, raw_hit, register
from tracking.tokens import self_cookie_signer

URL = "/api/v1/notifications/"


@pytest.fixture
def proposal(alice: User) -> TrackedEmail:
    make_contact("anna@acme.example", first_name="Anna", last_name="Svensson")
    email, _ = register(alice, subject="Proposal")
    return email


def events_of(email: TrackedEmail) -> list[TrackingEvent]:
    return list(TrackingEvent.objects.filter(email=email).order_by("pk"))


def test_it_answers_the_events_after_the_given_id_with_the_live_payload(
    alice_api: APIClient, alice: User, proposal: TrackedEmail
) -> None:
    link = proposal.links.get(position=1)
    ingest_hits([raw_hit(proposal)])
    ingest_hits([raw_hit(proposal, link_id=link.pk, ip="203.0.113.5")])
    first, click = events_of(proposal)

    response = alice_api.get(URL, {"after": first.pk})

    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "type": "tracking.event",
                "event_id": click.pk,
                "email_id": proposal.pk,
                "subject": "Proposal",
                "kind": "click",
                "verdict": "human",
                "contact": "Anna Svensson",
                "link_url": "https://acme.example/proposal?x=1&y=2",
                "occurred_at": click.occurred_at.isoformat(),
                "inferred": False,
                "desktop": True,
            }
        ],
        "next": None,
        "cursor": click.pk,
    }


def test_nothing_new_keeps_the_cursor(
    alice_api: APIClient, proposal: TrackedEmail
) -> None:
    ingest_hits([raw_hit(proposal)])
    (event,) = events_of(proposal)
    body = alice_api.get(URL, {"after": event.pk}).json()
    assert body == {"results": [], "next": None, "cursor": event.pk}


def test_a_new_browser_gets_only_a_cursor_to_start_from(
    alice_api: APIClient, proposal: TrackedEmail
) -> None:
    ingest_hits([raw_hit(proposal)])
    (event,) = events_of(proposal)
    assert alice_api.get(URL).json() == {
        "results": [],
        "next": None,
        "cursor": event.pk,
    }


def test_it_pages_oldest_first_and_the_pages_join_up(
    alice_api: APIClient, proposal: TrackedEmail
) -> None:
    ingest_hits([raw_hit(proposal, ip=f"203.0.113.{n}") for n in range(1, 6)])
    ids = [event.pk for event in events_of(proposal)]

    first = alice_api.get(URL, {"after": 0, "page_size": 2}).json()
    assert [m["event_id"] for m in first["results"]] == ids[:2]
    assert first["cursor"] == ids[1]
    assert first["next"] == f"http://testserver{URL}?after={ids[1]}&page_size=2"
    second = alice_api.get(first["next"]).json()
    third = alice_api.get(second["next"]).json()
    assert [m["event_id"] for m in second["results"] + third["results"]] == ids[2:]
    assert third["next"] is None


def test_only_counted_events_are_notifications(
    alice_api: APIClient, alice: User, proposal: TrackedEmail
) -> None:
    own = raw_hit(proposal, sc=self_cookie_signer().sign(str(alice.pk)))
    ingest_hits([own, raw_hit(proposal, method="HEAD", ip="203.0.113.9")])
    assert TrackingEvent.objects.count() == 2
    assert alice_api.get(URL, {"after": 0}).json()["results"] == []


def test_another_user_never_sees_them(
    bob_api: APIClient, bob: User, proposal: TrackedEmail
) -> None:
    bobs, _ = register(bob, subject="Bob's")
    ingest_hits([raw_hit(proposal), raw_hit(bobs, ip="203.0.113.8")])
    body = bob_api.get(URL, {"after": 0}).json()
    assert [m["subject"] for m in body["results"]] == ["Bob's"]


def test_muted_contacts_and_emails_are_left_out_as_on_the_socket(
    alice_api: APIClient, alice: User, proposal: TrackedEmail
) -> None:
    other, _ = register(alice, to=["bo@beta.example"], subject="Other")
    anonymous, _ = register(alice, to=["anna@acme.example", "x@y.example"])
    ingest_hits([raw_hit(email) for email in (proposal, other, anonymous)])
    NotificationMute.objects.create(user=alice, contact=proposal.contact)
    NotificationMute.objects.create(user=alice, email=other)
    UserSettings.objects.filter(user=alice).update(desktop_notifications=False)

    body = alice_api.get(URL, {"after": 0}).json()

    # The anonymous email went to Anna too, but is never attributed to her (T2).
    assert [(m["email_id"], m["contact"], m["desktop"]) for m in body["results"]] == [
        (anonymous.pk, "Someone", False)
    ]


@pytest.mark.parametrize(
    "query", [{"after": "x"}, {"after": -1}, {"after": 0, "page_size": 0}]
)
def test_bad_input_is_a_validation_error(
    alice_api: APIClient, query: dict[str, Any]
) -> None:
    response = alice_api.get(URL, query)
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_it_is_for_signed_in_users_only(anon_api: APIClient) -> None:
    response = anon_api.get(URL, {"after": 0})
    assert response.status_code in (401, 403)
    assert response.json()["error"] in ("not_authenticated", "forbidden")

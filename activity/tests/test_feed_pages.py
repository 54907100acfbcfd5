"""The email page for its sender (V4) and the activity feed (V2)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from activity.tests.cockpit import BASE_TIME, FRAGMENT, event, tracked
from conftest import client_for
from crm.models import Company, Contact
from crm.tests import factories
from tracking.models import Kind, Verdict

pytestmark = [pytest.mark.django_db, pytest.mark.plain_anna]


def test_the_email_page_shows_recipients_status_clicks_and_counted_events_first(
    alice: User, anna: Contact
) -> None:
    email = tracked(alice, contact=anna)
    link = email.links.get(is_trap=False)
    event(
        email, verdict=Verdict.SCANNER, reason="known scanner network", ip="192.0.2.1"
    )
    event(email, at=BASE_TIME + timedelta(minutes=9), reason="a person's mail client")
    event(email, kind=Kind.CLICK, link=link, at=BASE_TIME + timedelta(minutes=10))
    client = client_for(alice)

    counted = client.get(reverse("email-page", args=[email.pk])).content.decode()
    every = client.get(reverse("email-page", args=[email.pk]), {"all": "1"})
    every_html = every.content.decode()

    assert "anna@acme.com" in counted and ">Tracked<" in counted
    assert 'data-tracking-status="clicked"' in counted
    assert "1 open" in counted and "1 click" in counted
    assert "https://acme.example/pricing" in counted
    assert "known scanner network" not in counted
    assert "Show all hits (1 more)" in counted
    assert "known scanner network" in every_html and "192.0.2.1" in every_html
    # Counted events first, then the rest.
    assert every_html.index("a person&#x27;s mail client") < every_html.index(
        "known scanner network"
    )


def test_the_email_page_is_its_senders_only(
    alice: User, bob: User, anna: Contact
) -> None:
    email = tracked(alice, contact=anna)

    response = client_for(bob).get(reverse("email-page", args=[email.pk]))

    assert response.status_code == 404


def test_the_email_page_answers_its_live_part_as_a_fragment(
    alice: User, anna: Contact
) -> None:
    email = tracked(alice, contact=anna)
    event(email)

    html = (
        client_for(alice)
        .get(reverse("email-page", args=[email.pk]), headers=FRAGMENT)
        .content.decode()
    )

    assert "<html" not in html and 'data-tracking-status="opened"' in html


def test_the_feed_lists_my_tracked_emails_with_status_and_last_activity(
    alice: User, bob: User, anna: Contact
) -> None:
    opened = tracked(alice, contact=anna, subject="Opened one")
    event(opened, at=BASE_TIME + timedelta(minutes=7))
    tracked(alice, contact=anna, subject="Quiet one")
    tracked(bob, contact=anna, subject="Bob's own")

    html = client_for(alice).get(reverse("activity-feed")).content.decode()

    assert "Opened one" in html and "Quiet one" in html
    assert "Bob&#x27;s own" not in html and "Bob's own" not in html
    assert (
        f'id="feed-row-{opened.pk}" data-email-id="{opened.pk}" data-status="opened"'
        in html
    )
    assert 'datetime="2026-11-20T09:07:00+00:00"' in html
    assert "Anna" in html


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        ("opened", {"Opened", "Clicked"}),
        ("clicked", {"Clicked"}),
        ("not_opened", {"Silent", "Scanned"}),
        ("", {"Opened", "Clicked", "Silent", "Scanned"}),
    ],
)
def test_the_feed_filters_by_what_happened(
    alice: User, anna: Contact, state: str, shown: set[str]
) -> None:
    opened = tracked(alice, contact=anna, subject="Opened")
    event(opened)
    clicked = tracked(alice, contact=anna, subject="Clicked")
    event(clicked)
    event(clicked, kind=Kind.CLICK, link=clicked.links.first())
    tracked(alice, contact=anna, subject="Silent")
    scanned = tracked(alice, contact=anna, subject="Scanned")
    event(scanned, verdict=Verdict.SCANNER, reason="scanner")

    html = client_for(alice).get(reverse("activity-feed"), {"state": state})
    page = html.content.decode()

    for subject in ["Opened", "Clicked", "Silent", "Scanned"]:
        assert (f">{subject}</a>" in page) == (subject in shown), subject


def test_the_feed_filters_by_date_contact_and_company(
    alice: User, anna: Contact
) -> None:
    bert = factories.contact("bert@globex.example", first_name="Bert", owner=alice)
    globex = Company.objects.get(domain="globex.example")
    tracked(
        alice,
        contact=anna,
        subject="November",
        to=("anna@acme.com",),
        created_at=BASE_TIME,
    )
    tracked(
        alice,
        contact=bert,
        subject="December",
        to=("bert@globex.example",),
        created_at=BASE_TIME + timedelta(days=15),
    )
    client = client_for(alice)

    def subjects(**query: str | int) -> set[str]:
        page = client.get(reverse("activity-feed"), query).content.decode()
        return {s for s in ["November", "December"] if f">{s}</a>" in page}

    assert subjects(since="2026-12-01") == {"December"}
    assert subjects(until="2026-11-30") == {"November"}
    assert subjects(contact=anna.pk) == {"November"}
    assert subjects(company=globex.pk) == {"December"}
    assert subjects(since="not a date", contact="x") == {"November", "December"}


def test_a_feed_row_is_rendered_alone_for_its_owner_only(
    alice: User, bob: User, anna: Contact
) -> None:
    email = tracked(alice, contact=anna)
    event(email)
    url = reverse("activity-feed-row", args=[email.pk])

    mine = client_for(alice).get(url)
    theirs = client_for(bob).get(url)

    assert mine.status_code == 200
    assert mine.content.decode().strip().startswith(f'<tr id="feed-row-{email.pk}"')
    assert theirs.status_code == 404


def test_the_feed_and_email_pages_send_anonymous_visitors_to_sign_in(
    alice: User, anna: Contact
) -> None:
    email = tracked(alice, contact=anna)

    for url in [
        reverse("activity-feed"),
        reverse("activity-feed-row", args=[email.pk]),
        reverse("email-page", args=[email.pk]),
    ]:
        response = Client().get(url)
        assert response.status_code == 302, url


def test_the_feed_reads_a_fixed_number_of_queries(
    alice: User, anna: Contact, django_assert_max_num_queries: object
) -> None:
    for n in range(25):
        email = tracked(alice, contact=anna, subject=f"E{n}")
        event(email)
    client = client_for(alice)

    with django_assert_max_num_queries(12):  # type: ignore[operator]
        response = client.get(reverse("activity-feed"))

    assert response.content.decode().count('data-status="opened"') == 25


def test_company_filter_lists_only_companies_of_my_contacts(
    alice: User, bob: User, anna: Contact
) -> None:
    tracked(alice, contact=anna)
    other = factories.contact("zed@zeta.example", first_name="Zed")
    tracked(bob, contact=other, to=("zed@zeta.example",))

    html = client_for(alice).get(reverse("activity-feed")).content.decode()

    assert "<option value=" in html and ">Acme</option>" in html
    assert "Zeta" not in html and "Zed" not in html


def test_the_feed_api_answers_my_emails_with_status_and_counts(
    alice: User, bob: User, anna: Contact, alice_api: Any, bob_api: Any
) -> None:
    email = tracked(alice, contact=anna, subject="Proposal")
    event(email, at=BASE_TIME + timedelta(minutes=4))
    event(email, kind=Kind.CLICK, link=email.links.filter(is_trap=False).first())
    tracked(alice, contact=anna, subject="Quiet")

    mine = alice_api.get("/api/v1/feed/", {"state": "clicked"}).json()
    theirs = bob_api.get("/api/v1/feed/").json()

    assert mine["count"] == 1
    item = mine["results"][0]
    assert item["id"] == email.pk and item["status"] == "clicked"
    assert item["opens"] == 1 and item["clicks"] == 1
    assert item["contact_name"] == "Anna"
    assert item["links"] == [{"url": "https://acme.example/pricing", "clicks": 1}]
    assert theirs["count"] == 0


@pytest.mark.parametrize(
    "query",
    [{"state": "maybe"}, {"since": "yesterday"}, {"contact": "x"}, {"company": 2**64}],
)
def test_the_feed_api_refuses_bad_filters(
    alice_api: Any, query: dict[str, object]
) -> None:
    response = alice_api.get("/api/v1/feed/", query)

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_the_feed_api_needs_a_signed_in_caller(anon_api: Any) -> None:
    assert anon_api.get("/api/v1/feed/").status_code in (401, 403)

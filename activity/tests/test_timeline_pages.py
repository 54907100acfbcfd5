"""Timelines on the record pages and the logged-email card's actions (V1, T8, T10)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from activity.models import LoggedEmail
from activity.selectors import timeline_page
from activity.tests.cockpit import (
    BASE_TIME,
    FRAGMENT,
    event,
    logged,
    tracked,
)
from conftest import client_for
from crm.models import Company, Contact
from crm.tests import factories
from tracking.models import Kind, Verdict

pytestmark = [pytest.mark.django_db, pytest.mark.plain_anna]


def test_the_contact_page_shows_a_logged_email_with_its_tracking_status(
    alice: User, anna: Contact
) -> None:
    email = tracked(alice, contact=anna)
    link = email.links.get(is_trap=False)
    event(email, at=BASE_TIME + timedelta(minutes=1))
    event(email, at=BASE_TIME + timedelta(minutes=2))
    event(email, verdict=Verdict.SCANNER, reason="known scanner")
    event(email, kind=Kind.CLICK, link=link, at=BASE_TIME + timedelta(minutes=3))
    logged(alice, [anna], tracked_email=email)

    html = client_for(alice).get(reverse("contact-detail", args=[anna.pk])).content
    page = html.decode()

    assert "Proposal" in page
    assert "anna@acme.com" in page and "carl@acme.com" in page
    assert 'data-tracking-status="clicked"' in page
    assert "Opened 2 times" in page  # the scanner's hit is not counted (T5)
    assert "1 click" in page
    assert 'datetime="2026-11-20T09:03:00+00:00"' in page  # last counted event
    assert "https://acme.example/pricing" in page
    assert "No activity yet." not in page


def test_the_tracking_status_is_shown_to_its_sender_only(
    alice: User, bob: User, anna: Contact
) -> None:
    email = tracked(alice, contact=anna)
    event(email)
    logged(alice, [anna], tracked_email=email)

    page = client_for(bob).get(reverse("contact-detail", args=[anna.pk])).content
    page_text = page.decode()

    assert "Proposal" in page_text  # the CRM is shared ...
    assert "data-tracking-status" not in page_text  # ... the opens are not (V2)
    assert reverse("email-page", args=[email.pk]) not in page_text


def test_every_record_kind_shows_its_timeline(alice: User) -> None:
    company = factories.company("acme.com")
    deal = factories.deal(name="Acme renewal")
    ticket = factories.ticket(subject="Login broken")
    logged(alice, [company, deal, ticket], subject="All four")
    client = client_for(alice)

    for name, record in [
        ("company-detail", company),
        ("deal-detail", deal),
        ("ticket-detail", ticket),
    ]:
        page = client.get(reverse(name, args=[record.pk])).content.decode()
        assert "All four" in page, name


def test_the_page_and_the_api_read_the_same_pages_pinned_on_top(
    alice: User, anna: Contact
) -> None:
    emails = [
        logged(alice, [anna], subject=f"Email {n}", sent_at=BASE_TIME + timedelta(n))
        for n in range(30)
    ]
    LoggedEmail.objects.filter(pk=emails[3].pk).update(is_pinned=True)
    client = client_for(alice)

    first, cursor = timeline_page(anna)
    api = client.get(f"/api/v1/contacts/{anna.pk}/timeline/").json()
    html = client.get(reverse("contact-detail", args=[anna.pk])).content.decode()

    assert [email.pk for email in first] == [item["id"] for item in api["results"]]
    assert first[0].subject == "Email 3"
    assert [email.subject for email in first[1:4]] == [
        "Email 29",
        "Email 28",
        "Email 27",
    ]
    assert cursor is not None and cursor in api["next"]
    assert html.index("Email 3<") < html.index("Email 29<")
    assert "Email 4<" not in html  # on the second page
    older = client.get(
        reverse("timeline-page", args=["contacts", anna.pk]) + f"?cursor={cursor}",
        headers=FRAGMENT,
    ).content.decode()
    assert "Email 4<" in older and "Email 0<" in older and "Email 29<" not in older
    assert "<html" not in older  # a fragment, for "Older" in place


def test_a_deep_page_follows_the_keyset_without_gaps_or_repeats(
    alice: User, anna: Contact
) -> None:
    # Same sent_at for many: the id breaks the tie.
    for n in range(12):
        logged(alice, [anna], subject=f"Tie {n}", sent_at=BASE_TIME)
    LoggedEmail.objects.filter(subject="Tie 5").update(is_pinned=True)
    seen: list[int] = []
    cursor = None
    while True:
        page, cursor = timeline_page(anna, cursor=cursor, size=5)
        seen.extend(email.pk for email in page)
        if cursor is None:
            break

    assert len(seen) == len(set(seen)) == 12
    assert LoggedEmail.objects.get(pk=seen[0]).subject == "Tie 5"
    assert seen[1:] == sorted(seen[1:], reverse=True)


def test_an_unknown_cursor_is_a_404(alice: User, anna: Contact) -> None:
    response = client_for(alice).get(
        reverse("contact-detail", args=[anna.pk]) + "?cursor=nonsense"
    )

    assert response.status_code == 404


def test_pin_moves_the_email_on_top_and_unpin_back(alice: User, anna: Contact) -> None:
    old = logged(alice, [anna], subject="Old one", sent_at=BASE_TIME)
    logged(alice, [anna], subject="New one", sent_at=BASE_TIME + timedelta(days=1))
    client = client_for(alice)
    page_url = reverse("contact-detail", args=[anna.pk])

    response = client.post(
        reverse("logged-email-pin-page", args=[old.pk]),
        {"pinned": "1", "next": page_url},
    )

    assert response.status_code == 302 and response["Location"] == page_url
    html = client.get(page_url).content.decode()
    assert html.index("Old one<") < html.index("New one<")
    assert "Unpin" in html
    client.post(reverse("logged-email-pin-page", args=[old.pk]), {"pinned": "0"})
    old.refresh_from_db()
    assert not old.is_pinned


def test_someone_else_cannot_pin_or_delete_it(
    alice: User, bob: User, anna: Contact
) -> None:
    email = logged(alice, [anna])
    client = client_for(bob)

    pin = client.post(
        reverse("logged-email-pin-page", args=[email.pk]), {"pinned": "1"}
    )
    delete = client.post(
        reverse("logged-email-delete-page", args=[email.pk]), {"confirmed": "1"}
    )
    page = client.get(reverse("contact-detail", args=[anna.pk])).content.decode()

    assert pin.status_code == 403 and delete.status_code == 403
    email.refresh_from_db()
    assert not email.is_pinned and email.deleted_at is None
    assert "data-card-pin" not in page and "data-card-delete" not in page


def test_delete_asks_first_then_keeps_who_and_when(alice: User, anna: Contact) -> None:
    email = logged(alice, [anna], subject="To delete")
    client = client_for(alice)
    url = reverse("logged-email-delete-page", args=[email.pk])

    asked = client.post(url)
    email.refresh_from_db()
    assert asked.status_code == 200 and "Delete this email?" in asked.content.decode()
    assert email.deleted_at is None

    done = client.post(url, {"confirmed": "1"}, headers=FRAGMENT)

    email.refresh_from_db()
    assert done.status_code == 204
    assert email.deleted_at is not None and email.deleted_by == alice
    page = client.get(reverse("contact-detail", args=[anna.pk])).content.decode()
    assert "To delete" not in page


def test_associations_are_edited_with_the_search_picker(
    alice: User, anna: Contact
) -> None:
    email = logged(alice, [anna])
    deal = factories.deal(name="Acme renewal")
    company = Company.objects.get(domain="acme.com")
    client = client_for(alice)
    url = reverse("logged-email-associations-page", args=[email.pk])

    found = client.get(url, {"q": "acme"}, headers=FRAGMENT).content.decode()

    assert "Acme renewal" in found and f'name="deals" value="{deal.pk}"' in found
    assert "checked" in found  # Anna, already chosen
    response = client.post(
        url, {"contacts": [anna.pk], "deals": [deal.pk], "companies": [company.pk]}
    )
    assert response.status_code == 302
    assert set(email.deals.all()) == {deal}
    assert set(email.companies.all()) == {company}
    assert set(email.contacts.all()) == {anna}


def test_associations_cannot_be_changed_by_someone_else_or_to_missing_records(
    alice: User, bob: User, anna: Contact
) -> None:
    email = logged(alice, [anna])
    url = reverse("logged-email-associations-page", args=[email.pk])

    forbidden = client_for(bob).post(url, {"contacts": []})
    missing = client_for(alice).post(url, {"contacts": [anna.pk], "deals": [999999]})

    assert forbidden.status_code == 403
    assert missing.status_code == 400
    assert set(email.contacts.all()) == {anna} and not email.deals.exists()


def test_details_show_the_events_by_verdict_with_reasons_to_the_sender(
    alice: User, bob: User, anna: Contact
) -> None:
    email = tracked(alice, contact=anna)
    event(email, verdict=Verdict.APPLE_MPP, reason="Apple Mail Privacy Protection")
    event(email, verdict=Verdict.HUMAN, reason="a person's mail client")
    copy = logged(alice, [anna], tracked_email=email)
    url = reverse("logged-email-details", args=[copy.pk])

    mine = client_for(alice).get(url, headers=FRAGMENT).content.decode()
    theirs = client_for(bob).get(url, headers=FRAGMENT).content.decode()

    assert "Apple Mail Privacy Protection" in mine and "not counted" in mine
    assert "a person&#x27;s mail client" in mine
    assert "carl@acme.com" in mine  # cc
    assert "Apple Mail Privacy Protection" not in theirs
    assert "carl@acme.com" in theirs


def test_the_expanded_body_loads_nothing_remote_and_no_pixel(
    alice: User, anna: Contact
) -> None:
    html = (
        '<p>Hi</p><img src="https://tracker.example/p.gif">'
        '<img src="http://testserver/t/o/abc.gif"><script>alert(1)</script>'
    )
    email = logged(alice, [anna], html=html)

    response = client_for(alice).get(reverse("logged-email-body-page", args=[email.pk]))
    body = response.content.decode()

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "img-src http://testserver/attachments/ data:" in policy
    assert "sandbox" in policy and "allow-scripts" not in policy
    assert "tracker.example" not in body and "/t/o/" not in body
    assert "<script>" not in body
    assert response["X-Frame-Options"] == "SAMEORIGIN"


def test_the_thread_page_lists_the_thread_oldest_first(
    alice: User, anna: Contact
) -> None:
    first = logged(alice, [anna], subject="Proposal", sent_at=BASE_TIME)
    logged(
        alice,
        [anna],
        subject="Re: Proposal",
        sent_at=BASE_TIME + timedelta(hours=2),
        thread=first.thread,
    )

    page = client_for(alice).get(reverse("logged-email-thread", args=[first.pk]))
    html = page.content.decode()

    assert html.index("Proposal<") < html.index("Re: Proposal<")
    assert "2 emails" in html


def test_reply_opens_the_mail_client_with_the_thread_subject_and_recipients(
    alice: User, anna: Contact
) -> None:
    logged(alice, [anna], subject="Proposal")

    html = client_for(alice).get(reverse("contact-detail", args=[anna.pk])).content

    assert (
        b'href="mailto:anna@acme.com?subject=Re%3A%20Proposal&amp;cc=carl%40acme.com"'
        in html
    )


def test_pages_send_anonymous_visitors_to_sign_in(alice: User, anna: Contact) -> None:
    email = logged(alice, [anna])

    for name in [
        "logged-email-thread",
        "logged-email-details",
        "logged-email-body-page",
        "logged-email-associations-page",
    ]:
        response = Client().get(reverse(name, args=[email.pk]))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login"))


def test_the_timeline_reads_a_fixed_number_of_queries(
    alice: User, anna: Contact, django_assert_max_num_queries: object
) -> None:
    for n in range(20):
        email = tracked(alice, contact=anna, subject=f"T{n}")
        event(email)
        logged(alice, [anna], subject=f"T{n}", tracked_email=email)
    client = client_for(alice)
    url = reverse("timeline-page", args=["contacts", anna.pk])

    # The cards' reads, plus the digest of the cached page (activity.timeline_cache)
    # twice and a savepoint around the second inside the test's transaction.
    with django_assert_max_num_queries(18):  # type: ignore[operator]
        response = client.get(url, headers=FRAGMENT)
    # From the cache: the session and user, the digest.
    with django_assert_max_num_queries(3):  # type: ignore[operator]
        again = client.get(url, headers=FRAGMENT)

    assert response.content.decode().count("data-tracking-status") == 10  # a page
    assert again.content.decode().count("data-tracking-status") == 10

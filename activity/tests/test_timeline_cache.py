"""The cached page of timeline cards (activity.timeline_cache): served from the cache
while nothing it shows changed, and never stale: every write that changes a card, by
whichever path, shows on the next request; each viewer sees only their own view."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from activity import services
from activity.models import Attachment, LoggedEmail
from activity.tests.cockpit import BASE_TIME, event, logged, tracked
from config.digest_cache import CSRF_PLACEHOLDER
from crm.models import Contact
from crm.tests import factories
from settings_admin.models import NotificationMute
from settings_admin.services import notification_mute_add
from tracking.models import Kind, TrackedEmail, TrackingEvent, Verdict

pytestmark = pytest.mark.django_db
FRAGMENT = {"Beacon-Fragment": "1"}
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def anna(alice: User) -> Contact:
    return factories.contact("anna@acme.com", first_name="Anna", owner=alice)


@pytest.fixture
def sent(alice: User, anna: Contact) -> tuple[TrackedEmail, LoggedEmail]:
    email = tracked(alice, contact=anna)
    event(email)
    return email, logged(alice, [anna], tracked_email=email)


def client_for(user: User, *, enforce_csrf_checks: bool = False) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf_checks)
    client.force_login(user)
    return client


def fragment(client: Client, contact: Contact) -> tuple[str, int]:
    """The first page of cards and how many card queries it took (0: from the cache)."""
    url = reverse("timeline-page", args=["contacts", contact.pk])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=FRAGMENT)
    assert response.status_code == 200
    cards = [q for q in queries.captured_queries if "activity_attachment" in q["sql"]]
    reads = [q for q in cards if not q["sql"].lstrip().startswith("WITH page")]
    return response.content.decode(), len(reads)


def served_from_cache(client: Client, contact: Contact) -> str:
    fragment(client, contact)  # the miss that fills it, when it was not
    html, reads = fragment(client, contact)
    assert reads == 0, "the unchanged page was not read from the cache"
    return html


def test_an_unchanged_page_comes_from_the_cache_with_the_same_cards(
    alice: User, anna: Contact, sent: tuple[TrackedEmail, LoggedEmail]
) -> None:
    client = client_for(alice)
    first, reads = fragment(client, anna)
    assert reads == 1  # the miss renders from the selector

    again = served_from_cache(client, anna)

    assert CSRF_INPUT.sub("", again) == CSRF_INPUT.sub("", first)
    assert "Opened 1 time" in again and "Proposal" in again


def _new_email(alice: User, anna: Contact, **_: object) -> str:
    logged(alice, [anna], subject="Brand new", sent_at=BASE_TIME + timedelta(days=1))
    return "Brand new"


def _pin(alice: User, anna: Contact, copy: LoggedEmail, **_: object) -> str:
    services.logged_email_pin(email=copy, actor=alice, pinned=True)
    return "Unpin"


def _subject_by_bulk_update(copy: LoggedEmail, **_: object) -> str:
    LoggedEmail.objects.filter(pk=copy.pk).update(subject="Renamed offer")
    return "Renamed offer"


def _associate(alice: User, copy: LoggedEmail, **_: object) -> str:
    company = factories.company("globex.example")
    services.logged_email_associations_set(
        email=copy, actor=alice, associations={"companies": [company.pk]}
    )
    return "(2)"  # associations on the card: anna and globex


def _attach(copy: LoggedEmail, **_: object) -> str:
    pdf = {"filename": "price-list.pdf", "content_type": "application/pdf", "size": 10}
    Attachment.objects.create(logged_email=copy, file="attachments/a.pdf", **pdf)
    return "price-list.pdf"


def _open(email: TrackedEmail, **_: object) -> str:
    event(email, at=BASE_TIME + timedelta(minutes=30), ip="198.51.100.8")
    return "Opened 2 times"


def _click(email: TrackedEmail, **_: object) -> str:
    event(email, kind=Kind.CLICK, link=email.links.get(is_trap=False))
    return "1 click"


def _verdict_changed(email: TrackedEmail, **_: object) -> str:
    # The classifier's second look (tracking.services) rewrites verdicts in bulk.
    TrackingEvent.objects.filter(email=email).update(verdict=Verdict.SCANNER)
    return 'data-tracking-status="sent"'


def _mute_email(alice: User, email: TrackedEmail, **_: object) -> str:
    notification_mute_add(user=alice, email_id=email.pk)
    return "Unmute this email"


def _mute_contact(alice: User, anna: Contact, **_: object) -> str:
    notification_mute_add(user=alice, contact_id=anna.pk)
    return "Unmute this contact"


@pytest.mark.parametrize(
    "write",
    [
        _new_email,
        _pin,
        _subject_by_bulk_update,
        _associate,
        _attach,
        _open,
        _click,
        _verdict_changed,
        _mute_email,
        _mute_contact,
    ],
)
def test_every_write_to_what_a_card_shows_is_seen_on_the_next_request(
    alice: User,
    anna: Contact,
    sent: tuple[TrackedEmail, LoggedEmail],
    write: Callable[..., str],
) -> None:
    email, copy = sent
    client = client_for(alice)
    before = served_from_cache(client, anna)

    shown = write(alice=alice, anna=anna, email=email, copy=copy)

    after, reads = fragment(client, anna)
    assert shown not in before
    assert shown in after
    assert reads == 1  # rendered anew from the selector ...
    assert shown in served_from_cache(client, anna)  # ... then cached again


def test_a_deleted_email_and_a_removed_mute_leave_the_cached_page(
    alice: User, anna: Contact, sent: tuple[TrackedEmail, LoggedEmail]
) -> None:
    email, copy = sent
    mute = notification_mute_add(user=alice, email_id=email.pk)
    client = client_for(alice)
    assert "Unmute this email" in served_from_cache(client, anna)

    NotificationMute.objects.filter(pk=mute.pk).delete()
    assert "Mute this email" in fragment(client, anna)[0]

    services.logged_email_delete(email=copy, actor=alice)
    html = fragment(client, anna)[0]
    assert "Proposal" not in html and "No activity yet." in html


def test_an_older_page_is_cached_under_its_cursor_and_follows_writes(
    alice: User, anna: Contact
) -> None:
    for n in range(12):
        logged(alice, [anna], subject=f"Mail {n:02}", sent_at=BASE_TIME + timedelta(n))
    client = client_for(alice)
    first = served_from_cache(client, anna)
    older = re.search(r'data-older="([^"]+)"', first)[1].replace("&amp;", "&")  # type: ignore[index]
    page = client.get(older, headers=FRAGMENT).content.decode()
    assert "Mail 01" in page and "Mail 11" not in page

    LoggedEmail.objects.filter(subject="Mail 00").update(subject="Mail zero")

    page = client.get(older, headers=FRAGMENT).content.decode()
    assert "Mail zero" in page and "Mail 00" not in page


def test_each_viewer_gets_their_own_view_never_anothers(
    alice: User,
    bob: User,
    admin_user: User,
    anna: Contact,
    sent: tuple[TrackedEmail, LoggedEmail],
) -> None:
    email, _ = sent
    alices = served_from_cache(client_for(alice), anna)

    bobs = served_from_cache(client_for(bob), anna)
    admins = served_from_cache(client_for(admin_user), anna)

    assert "data-tracking-status" in alices and "Mute this email" in alices
    # The CRM is shared, the sender's opens and mutes are not (V2, V3) ...
    assert "Proposal" in bobs
    assert "data-tracking-status" not in bobs and "Mute this" not in bobs
    assert reverse("email-page", args=[email.pk]) not in bobs
    assert ">Pin<" not in bobs and ">Delete<" not in bobs
    # ... and a super admin may edit, not read alice's tracking.
    assert ">Pin<" in admins and "data-tracking-status" not in admins


def test_each_response_carries_its_own_csrf_token_that_a_post_accepts(
    alice: User, anna: Contact, sent: tuple[TrackedEmail, LoggedEmail]
) -> None:
    _, copy = sent
    client = client_for(alice, enforce_csrf_checks=True)
    page = reverse("contact-detail", args=[anna.pk])
    client.get(page)

    html = client.get(page).content.decode()  # the cards from the cache
    tokens = set(CSRF_INPUT.findall(html))

    assert CSRF_PLACEHOLDER not in html
    assert tokens and CSRF_PLACEHOLDER not in tokens
    response = client.post(
        reverse("logged-email-pin-page", args=[copy.pk]),
        {"pinned": "1", "next": page, "csrfmiddlewaretoken": tokens.pop()},
    )
    assert response.status_code == 302
    copy.refresh_from_db()
    assert copy.is_pinned
    assert "Unpin" in client.get(page).content.decode()


def test_pages_shown_in_another_time_zone_are_cached_apart(
    alice: User, anna: Contact, sent: tuple[TrackedEmail, LoggedEmail]
) -> None:
    client = client_for(alice)
    assert 'datetime="2026-11-20T09:00:00+00:00"' in served_from_cache(client, anna)

    with timezone.override("Asia/Tokyo"):
        html = fragment(client, anna)[0]

    assert 'datetime="2026-11-20T18:00:00+09:00"' in html

"""The record pages cached whole (crm.page_cache): served from the cache while nothing
they show changed, and never stale: every write to the record, its side panel or its
timeline, by whichever path, shows on the next request; flash messages and picker
searches are never cached; each viewer and each session gets their own page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from activity.tests.cockpit import BASE_TIME, logged
from config.digest_cache import CSRF_PLACEHOLDER
from crm.models import (
    Company,
    Contact,
    ContactCompany,
    ContactDeal,
    ContactEmail,
    Deal,
    Stage,
)
from crm.tests import factories

pytestmark = pytest.mark.django_db
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def anna(alice: User) -> Contact:
    anna = factories.contact("anna@acme.com", first_name="Anna", owner=alice)
    # Her address's domain made its company (contact_create): Acme, her primary.
    ContactCompany.objects.update_or_create(
        contact=anna,
        company=Company.objects.get(domain="acme.com"),
        defaults={"is_primary": True},
    )
    Company.objects.filter(domain="acme.com").update(name="Acme", owner=alice)
    ContactDeal.objects.create(contact=anna, deal=factories.deal(name="Renewal"))
    logged(alice, [anna], subject="Proposal")
    return anna


def client_for(user: User, *, enforce_csrf_checks: bool = False) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf_checks)
    client.force_login(user)
    return client


def page(client: Client, url: str) -> tuple[str, int]:
    """The page and how many record or card queries it took (0: from the cache; the
    signed-in user and the page's digest are read every time)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    reads = [
        q
        for q in queries.captured_queries
        if not q["sql"].startswith(("WITH rec", 'SELECT "auth_user"'))
        and "django_session" not in q["sql"]
    ]
    return response.content.decode(), len(reads)


def served_from_cache(client: Client, url: str) -> str:
    page(client, url)  # the miss that fills it, when it was not
    html, reads = page(client, url)
    assert reads == 0, "the unchanged page was not read from the cache"
    return html


def url_of(record: Any) -> str:
    return reverse(f"{record._meta.model_name}-detail", args=[record.pk])


def test_an_unchanged_page_comes_from_the_cache_with_the_same_content(
    alice: User, anna: Contact
) -> None:
    client = client_for(alice)
    first, reads = page(client, url_of(anna))
    assert reads > 0  # the miss renders from the selectors

    again = served_from_cache(client, url_of(anna))

    assert CSRF_INPUT.sub("", again) == CSRF_INPUT.sub("", first)
    assert "Acme" in again and "Renewal" in again and "Proposal" in again


def _renamed_by_bulk_update(anna: Contact, **_: Any) -> str:
    Contact.objects.filter(pk=anna.pk).update(first_name="Annabel")
    return "Annabel"


def _address_added(anna: Contact, **_: Any) -> str:
    ContactEmail.objects.create(contact=anna, email="anna.b@acme.com")
    return "anna.b@acme.com"


def _company_linked(anna: Contact, **_: Any) -> str:
    globex = factories.company("globex.example", name="Globex")
    ContactCompany.objects.create(contact=anna, company=globex)
    return "Globex"


def _linked_company_renamed(**_: Any) -> str:
    Company.objects.filter(name="Acme").update(name="Acme Holdings")
    return "Acme Holdings"


def _linked_deal_moved(**_: Any) -> str:
    deal = Deal.objects.get(name="Renewal")
    Stage.objects.filter(pk=deal.stage_id).update(name="Negotiation")
    return "Negotiation"


def _owner_renamed(alice: User, **_: Any) -> str:
    User.objects.filter(pk=alice.pk).update(first_name="Alicia", last_name="Moss")
    return "Alicia Moss"


def _unlinked(anna: Contact, **_: Any) -> str:
    ContactDeal.objects.filter(contact=anna).delete()
    return "No deals."


def _archived(anna: Contact, **_: Any) -> str:
    Contact.objects.filter(pk=anna.pk).update(archived_at=timezone.now())
    return 'id="archived-banner"'


def _email_logged(alice: User, anna: Contact, **_: Any) -> str:
    logged(alice, [anna], subject="Brand new", sent_at=BASE_TIME + timedelta(days=1))
    return "Brand new"


@pytest.mark.parametrize(
    "write",
    [
        _renamed_by_bulk_update,
        _address_added,
        _company_linked,
        _linked_company_renamed,
        _linked_deal_moved,
        _owner_renamed,
        _unlinked,
        _archived,
        _email_logged,
    ],
)
def test_every_write_to_what_the_page_shows_is_seen_on_the_next_request(
    alice: User, bob: User, anna: Contact, write: Callable[..., str]
) -> None:
    client = client_for(bob)  # a colleague: the owner's name is not the viewer's
    before = served_from_cache(client, url_of(anna))

    shown = write(alice=alice, anna=anna)

    after, reads = page(client, url_of(anna))
    assert shown not in before
    assert shown in after
    assert reads > 0  # rendered anew ...
    assert shown in served_from_cache(client, url_of(anna))  # ... then cached again


def test_a_deal_page_follows_its_linked_contacts_addresses(
    alice: User, anna: Contact
) -> None:
    deal = Deal.objects.get(name="Renewal")
    client = client_for(alice)
    assert "anna@acme.com" in served_from_cache(client, url_of(deal))

    ContactEmail.objects.filter(contact=anna).update(email="anna@acme.org")

    assert "anna@acme.org" in page(client, url_of(deal))[0]


def test_a_flash_message_is_shown_once_and_never_cached(
    alice: User, anna: Contact
) -> None:
    ContactEmail.objects.create(contact=anna, email="anna.b@acme.com")
    client = client_for(alice)
    served_from_cache(client, url_of(anna))

    response = client.post(
        reverse("contact-primary-email", args=[anna.pk]),
        {"email": "anna.b@acme.com"},
        follow=True,
    )

    shown = response.content.decode()
    assert 'class="messages"' in shown
    again = served_from_cache(client, url_of(anna))
    assert 'class="messages"' not in again


def test_a_picker_search_is_never_served_from_the_cache(
    alice: User, anna: Contact
) -> None:
    client = client_for(alice)
    search = f"{url_of(anna)}?find=company&q=Initech"
    html, reads = page(client, search)
    assert "Initech Labs" not in html and reads > 0

    factories.company("initech.example", name="Initech Labs")

    html, reads = page(client, search)
    assert "Initech Labs" in html and reads > 0


def test_each_viewer_gets_their_own_page_never_anothers(
    alice: User, bob: User, admin_user: User, anna: Contact
) -> None:
    alices = served_from_cache(client_for(alice), url_of(anna))

    bobs = served_from_cache(client_for(bob), url_of(anna))
    admins = served_from_cache(client_for(admin_user), url_of(anna))

    assert ">Edit<" in alices and 'id="read-only-note"' not in alices
    assert 'id="read-only-note"' in bobs and ">Edit<" not in bobs
    assert ">Edit<" in admins and ">Admin<" in admins and ">Admin<" not in alices


def test_each_session_gets_its_own_csrf_token_that_a_post_accepts(
    alice: User, anna: Contact
) -> None:
    ContactEmail.objects.create(contact=anna, email="anna.b@acme.com")
    laptop = client_for(alice, enforce_csrf_checks=True)
    phone = client_for(alice, enforce_csrf_checks=True)
    served_from_cache(laptop, url_of(anna))

    html = served_from_cache(phone, url_of(anna))  # the copy the laptop filled
    tokens = set(CSRF_INPUT.findall(html))

    assert CSRF_PLACEHOLDER not in html and tokens
    response = phone.post(
        reverse("contact-primary-email", args=[anna.pk]),
        {"email": "anna.b@acme.com", "csrfmiddlewaretoken": tokens.pop()},
    )
    assert response.status_code == 302
    assert anna.emails.get(is_primary=True).email == "anna.b@acme.com"


@pytest.mark.parametrize("pk", [987654, 2**63, 10**30])
def test_a_missing_record_is_a_404_whatever_its_id(alice: User, pk: int) -> None:
    response = client_for(alice).get(f"/contacts/{pk}/")

    assert response.status_code == 404


def test_an_older_timeline_page_is_cached_under_its_cursor(
    alice: User, anna: Contact
) -> None:
    for day in range(1, 12):
        logged(alice, [anna], subject=f"Day {day}", sent_at=BASE_TIME + timedelta(day))
    client = client_for(alice)
    first = served_from_cache(client, url_of(anna))
    older = re.search(r'href="\?cursor=([^"#]+)', first)
    assert older, "no link to older cards"

    deep = served_from_cache(client, f"{url_of(anna)}?cursor={older.group(1)}")

    assert "Proposal" in deep and "Proposal" not in first

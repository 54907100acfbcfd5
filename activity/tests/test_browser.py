"""A rep's cockpit in a real Chromium against the real ASGI server and ingestor: the
contact page's timeline and its card actions, the expanded body (T10), the email page
and the activity feed updating in place (V1, V2, V4)."""

from __future__ import annotations

import base64
import re
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from playwright.sync_api import Page, Request, expect

from activity.models import Attachment, LoggedEmail
from activity.tests.cockpit import logged
from config.testing import ServerProcesses, screenshot_path, sign_in
from crm.models import Contact
from crm.tests import factories
from tracking.models import TrackedEmail, TrackingEvent
from tracking.services import tracked_email_mark_sent, tracked_email_register
from tracking.tokens import open_token

pytestmark = pytest.mark.browser
GIF = (
    "data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="
)


@pytest.fixture(autouse=True)
def _media_in_tmp() -> None:
    """The server subprocess reads attachments from the configured MEDIA_ROOT, so this
    module keeps it (activity's conftest would point the test process elsewhere)."""


@pytest.fixture
def cockpit(transactional_db: None, alice: User) -> Iterator[dict[str, Any]]:
    anna = factories.contact(
        "anna@acme.com", first_name="Amara", last_name="Costa", owner=alice
    )
    registered = tracked_email_register(
        user=alice,
        from_address=alice.email,
        to=["anna@acme.com"],
        cc=[],
        bcc=[],
        subject="Proposal",
        html='<p>Hi <a href="https://acme.example/pricing">pricing</a></p>',
        track=True,
    )
    email = tracked_email_mark_sent(email=registered.email)
    assert email.sent_at is not None
    TrackedEmail.objects.filter(pk=email.pk).update(
        sent_at=email.sent_at - timedelta(minutes=10)
    )
    pixel = re.search(r'src="([^"]*/t/o/[^"]+)"', registered.html)
    assert pixel is not None
    body = (
        f"<p>Hi Amara,</p><p>Our proposal.</p>"
        f'<img alt="remote" src="https://tracker.example/p.gif">'
        f'<img alt="pixel" src="{pixel.group(1)}">'
        f'<img alt="inline" src="cid:logo@beacon">'
        f'<img alt="data" src="{GIF}">'
    )
    older = logged(alice, [anna], subject="Intro call", html="<p>Intro</p>")
    copy = logged(
        alice,
        [anna],
        subject="Proposal",
        sent_at=older.sent_at + timedelta(days=1),
        tracked_email=email,
        html=body,
    )
    name = default_storage.save(
        f"attachments/browser-{copy.pk}.pdf", ContentFile(b"%PDF-1.4 proposal")
    )
    Attachment.objects.create(
        logged_email=copy,
        filename="proposal.pdf",
        content_type="application/pdf",
        size=17,
        file=name,
    )
    logo = default_storage.save(
        f"attachments/browser-{copy.pk}-logo.gif",
        ContentFile(base64.b64decode(GIF.split(",", 1)[1])),
    )
    Attachment.objects.create(
        logged_email=copy,
        filename="logo.gif",
        content_type="image/gif",
        size=6,
        content_id="logo@beacon",
        is_inline=True,
        file=logo,
    )
    yield {"anna": anna, "email": email, "copy": copy, "older": older}
    default_storage.delete(name)
    default_storage.delete(logo)


def hit_pixel(server: ServerProcesses, email: TrackedEmail, agent: str) -> None:
    url = f"{server.url}/t/o/{open_token(email.pk)}.gif"
    request = urllib.request.Request(url, headers={"User-Agent": agent})  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback
        assert answer.status == 200


def wait_for_events(email: TrackedEmail, count: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while TrackingEvent.objects.filter(email=email).count() < count:
        assert time.monotonic() < deadline, "the ingestor did not store the hit"
        time.sleep(0.1)


def announce(page: Page, email: TrackedEmail) -> None:
    """What the notification socket does with each payload it receives (the contract
    between the socket module and these pages)."""
    event = TrackingEvent.objects.filter(email=email).order_by("-id").first()
    assert event is not None
    page.evaluate(
        """(payload) => document.dispatchEvent(
            new CustomEvent("beacon:tracking-event", {detail: payload}))""",
        {"event_id": event.pk, "email_id": email.pk, "kind": "open"},
    )


def agent(n: int) -> str:
    return (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        f"(KHTML, like Gecko) Chrome/13{n}.0.0.0 Safari/537.36"
    )


def test_a_rep_works_the_timeline_of_a_contact(
    asgi_server: ServerProcesses, page: Page, cockpit: dict[str, Any], alice: User
) -> None:
    anna: Contact = cockpit["anna"]
    copy: LoggedEmail = cockpit["copy"]
    older: LoggedEmail = cockpit["older"]
    hit_pixel(asgi_server, cockpit["email"], agent(1))
    wait_for_events(cockpit["email"], 1)
    sign_in(page, asgi_server.url, "alice")
    page.goto(f"{asgi_server.url}/contacts/{anna.pk}/")

    cards = page.locator(".email-card")
    expect(cards).to_have_count(2)
    proposal = page.locator(f"#email-{copy.pk}")
    expect(proposal.locator("[data-tracking-status]")).to_contain_text("Opened")
    expect(proposal.locator("[data-tracking-status]")).to_contain_text("Opened 1 time")
    page.screenshot(path=str(screenshot_path("contact_page.png")), full_page=True)

    # Pin the older one: on top, and still after a reload.
    page.locator(f"#email-{older.pk}").get_by_role("button", name="Pin").click()
    expect(cards.first).to_have_attribute("id", f"email-{older.pk}")
    page.reload()
    expect(cards.first).to_have_attribute("id", f"email-{older.pk}")
    expect(cards.first.get_by_role("button", name="Unpin")).to_be_visible()

    # Expand: no request to another host, none to /t/.
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    proposal.get_by_role("link", name="Expand").click()
    frame = page.frame_locator(f"#email-{copy.pk}-body iframe")
    expect(frame.get_by_text("Our proposal.")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(screenshot_path("expanded_email.png")), full_page=True)
    host = urlsplit(asgi_server.url).netloc
    seen = [urlsplit(request.url) for request in requests]
    assert [url.path for url in seen if url.path.startswith("/t/")] == []
    assert {url.netloc for url in seen if url.scheme.startswith("http")} == {host}
    assert any(url.path.startswith("/attachments/") for url in seen)  # inline image

    # Details: the events by verdict with their reasons.
    proposal.get_by_role("link", name="Details").click()
    expect(proposal.locator(".details")).to_contain_text("Tracking events")
    expect(proposal.locator(".details")).to_contain_text("counted")

    # Download the attachment.
    with page.expect_download() as download:
        proposal.get_by_role("link", name="proposal.pdf").click()
    assert download.value.suggested_filename == "proposal.pdf"

    # Edit associations with the picker.
    deal = factories.deal(name="Acme renewal")
    proposal.get_by_role("link", name="Associations").click()
    page.get_by_label("Search contacts, companies, deals and tickets").fill("renewal")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_label("Acme renewal")).to_be_visible(timeout=30_000)
    page.get_by_label("Acme renewal").check()
    page.get_by_role("button", name="Save associations").click()
    # The picker's own URL ends in ?next=/contacts/<id>/: wait for the saved page.
    expect(page.get_by_text("Associations saved.")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/contacts/{anna.pk}/$"))
    assert list(copy.deals.all()) == [deal]

    # View the thread.
    page.locator(f"#email-{copy.pk}").get_by_role("link", name="View thread").click()
    expect(page.get_by_role("heading", name="Proposal", level=1)).to_be_visible()
    page.go_back()

    # Delete, after the confirm.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#email-{older.pk}").get_by_role("button", name="Delete").click()
    expect(page.locator(f"#email-{older.pk}")).to_have_count(0)
    older.refresh_from_db()
    assert older.deleted_at is not None and older.deleted_by == alice


def test_the_email_page_and_the_feed_change_in_place_on_an_event(
    asgi_server: ServerProcesses, page: Page, cockpit: dict[str, Any]
) -> None:
    email: TrackedEmail = cockpit["email"]
    sign_in(page, asgi_server.url, "alice")

    page.goto(f"{asgi_server.url}/emails/{email.pk}/")
    status = page.locator("[data-email-live] [data-tracking-status]")
    expect(status).to_contain_text("0 opens")
    hit_pixel(asgi_server, email, agent(2))
    wait_for_events(email, 1)
    announce(page, email)
    expect(status).to_contain_text("1 open")
    expect(page.locator("table.events tbody tr")).to_have_count(1)
    page.screenshot(path=str(screenshot_path("email_page.png")), full_page=True)

    page.goto(f"{asgi_server.url}/activity/")
    row = page.locator(f"#feed-row-{email.pk}")
    expect(row.locator("[data-count=opens]")).to_have_text("1")
    hit_pixel(asgi_server, email, agent(3))
    wait_for_events(email, 2)
    announce(page, email)
    expect(row.locator("[data-count=opens]")).to_have_text("2")
    expect(row).to_have_attribute("data-status", "opened")
    page.screenshot(path=str(screenshot_path("feed.png")), full_page=True)


def test_bob_sees_neither_alices_feed_nor_her_email_page(
    asgi_server: ServerProcesses, page: Page, cockpit: dict[str, Any], bob: User
) -> None:
    email: TrackedEmail = cockpit["email"]
    sign_in(page, asgi_server.url, "bob")

    page.goto(f"{asgi_server.url}/activity/")
    expect(page.locator("table.feed tbody")).to_contain_text("No tracked email yet")
    answer = page.goto(f"{asgi_server.url}/emails/{email.pk}/")
    assert answer is not None and answer.status == 404

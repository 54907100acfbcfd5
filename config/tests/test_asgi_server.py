"""The browser tests' server: Beacon's real ASGI app and ingestor as subprocesses."""

from __future__ import annotations

import re
import time
import urllib.request

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from config.testing import ServerProcesses, screenshot_path, sign_in
from tracking.models import TrackingEvent
from tracking.tests.conftest import make_contact, register

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_serves_the_pages_to_a_signed_in_rep(
    asgi_server: ServerProcesses, page: Page, alice: User
) -> None:
    sign_in(page, asgi_server.url, "alice")

    expect(page).to_have_url(re.compile(r"/contacts/$"))
    expect(page.locator(".session__user")).to_have_text("Alice")
    page.screenshot(path=str(screenshot_path("asgi_contact_list.png")))


def test_a_pixel_hit_on_the_server_is_stored_by_the_ingestor(
    asgi_server: ServerProcesses, alice: User
) -> None:
    make_contact("anna@acme.example", first_name="Anna")
    email, html = register(alice)
    pixel = re.search(r'src="[^"]*(/t/o/[^"]+)"', html)
    assert pixel is not None

    with urllib.request.urlopen(f"{asgi_server.url}{pixel.group(1)}") as answer:  # noqa: S310 - loopback
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "image/gif"

    deadline = time.monotonic() + 10
    while not TrackingEvent.objects.filter(email=email).exists():
        assert time.monotonic() < deadline, asgi_server.output()
        time.sleep(0.1)
    assert TrackingEvent.objects.get(email=email).kind == "open"

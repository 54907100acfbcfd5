"""A real Chromium drives Beacon through the pages a sales rep uses first.

Chromium comes from the system (`CHROMIUM_PATH`, default /usr/bin/chromium); playwright only
drives it (the `page` fixture of the root conftest). Without Chromium the test skips, and
under REQUIRE_SERVICES=1 (CI) it fails.
"""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from config.testing import screenshot_path
from crm.models import Contact

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(transactional_db: None) -> None:
    call_command("seed_demo", "--allow-production", stdout=StringIO())


def test_a_rep_signs_in_searches_opens_a_contact_and_reads_the_api_docs(
    live_server: LiveServer, page: Page, demo: None
) -> None:
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Sign in to Beacon")).to_be_visible()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-demo-2026")
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(r"/contacts/$"))
    expect(page.get_by_role("heading", name="Contacts", exact=True)).to_be_visible()
    expect(page.get_by_text("50 contacts")).to_be_visible()
    expect(page.locator(".session__user")).to_have_text("Alice Moreau")
    page.screenshot(path=str(screenshot_path("contact_list.png")))

    wanted = Contact.objects.prefetch_related("emails").filter(owner=None).last()
    assert wanted is not None
    page.get_by_role("searchbox").fill(wanted.primary_email.upper())
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"\?q="))
    rows = page.locator("table.records tbody tr")
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name=wanted.full_name).click()

    expect(page).to_have_url(re.compile(rf"/contacts/{wanted.pk}/$"))
    expect(page.get_by_role("heading", name=wanted.full_name)).to_be_visible()
    expect(page.get_by_text(wanted.primary_email).first).to_be_visible()

    page.get_by_role("link", name="API docs").click()
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Beacon CRM API")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()

    page.go_back()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Beacon")).to_be_visible()


def test_a_wrong_password_keeps_the_visitor_out(
    live_server: LiveServer, page: Page, demo: None
) -> None:
    page.goto(f"{live_server.url}/contacts/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))

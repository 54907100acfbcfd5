"""A rep's whole day in a real browser, against the real ASGI server: alice creates a
company and a contact with two emails, links them, creates a deal, drags it to the next
stage and moves another with the keyboard, archives and restores a deal (it leaves bob's
board live), edits a ticket, sets her never-log list and track default, creates an add-in
token and revokes it, and opens every list, the ticket board and the notification
preferences from the menu; bob sees the board change live and cannot edit or archive what
the API forbids him to. Every page visited passes axe-core
with no serious or critical violation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect

from addin.models import AddinToken
from config.axe import serious_violations
from config.testing import ServerProcesses, screenshot_path, sign_in
from crm.models import (
    Company,
    Contact,
    ContactCompany,
    Deal,
    PipelineKind,
    Stage,
    Ticket,
)
from crm.tests import factories
from settings_admin.models import NeverLogEntry
from settings_admin.selectors import user_settings_get

pytestmark = pytest.mark.browser


def assert_accessible(page: Page, visited: list[str]) -> None:
    visited.append(page.url)
    violations = serious_violations(page)
    assert violations == [], f"{page.url}: {violations}"


def _sales_pipeline() -> tuple[Any, list[Stage]]:
    pipe = factories.pipeline(PipelineKind.DEAL, name="Sales")
    Stage.objects.create(pipeline=pipe, name="Proposal", position=1)
    pipe.stages.filter(name="Done").update(position=2)
    return pipe, list(pipe.stages.order_by("position"))


def _second_page(browser: Browser, base_url: str, username: str) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, base_url, username)
    return page


def test_a_reps_day_in_the_browser(
    transactional_db: None,
    asgi_server: ServerProcesses,
    chromium: Browser,
    page: Page,
    alice: User,
    bob: User,
) -> None:
    base = asgi_server.url
    visited: list[str] = []
    pipe, stages = _sales_pipeline()
    ticket_pipe = factories.pipeline(PipelineKind.TICKET, name="Support")
    ticket = factories.ticket(
        subject="Printer on fire", pipeline=ticket_pipe, owner=alice
    )
    page.goto(f"{base}/accounts/login/")
    assert_accessible(page, visited)
    sign_in(page, base, "alice")

    # A company, first with a mistake the form shows beside its field.
    page.goto(f"{base}/companies/")
    page.get_by_role("link", name="New company").click()
    page.get_by_label("Name").fill("Acme")
    page.get_by_label("Domain").fill("not a domain")
    page.get_by_role("button", name="Create company").click()
    expect(page.locator("#id_domain_error")).to_contain_text("A domain looks like")
    expect(page.get_by_label("Domain")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(screenshot_path("record_form_error.png")), full_page=True)
    assert_accessible(page, visited)
    page.get_by_label("Domain").fill("acme.example")
    page.get_by_role("button", name="Create company").click()
    expect(page.get_by_role("heading", name="Acme", exact=True)).to_be_visible()
    acme = Company.objects.get(domain="acme.example")
    assert acme.owner == alice

    # A contact with two free-mail addresses (no company by domain), linked by hand.
    page.goto(f"{base}/contacts/new/")
    assert_accessible(page, visited)
    page.get_by_label("First name").fill("Anna")
    page.get_by_label("Email addresses").fill("anna@gmail.com\nanna.work@outlook.com")
    page.get_by_role("button", name="Create contact").click()
    expect(page.get_by_role("heading", name="Anna")).to_be_visible()
    contact = Contact.objects.get(first_name="Anna")
    assert [e.email for e in contact.emails.all()] == [
        "anna@gmail.com",
        "anna.work@outlook.com",
    ]
    page.get_by_text("Link a company").click()
    page.get_by_label("Search company records to link").fill("acme")
    page.get_by_label("Search company records to link").press("Enter")
    assert_accessible(page, visited)
    page.get_by_role("button", name="Link Acme (acme.example)").click()
    expect(page.locator(".message--success")).to_contain_text("Linked.")
    assert ContactCompany.objects.get(contact=contact).company == acme

    # A deal, linked to the contact from the contact's page.
    page.goto(f"{base}/deals/new/")
    assert_accessible(page, visited)
    page.get_by_label("Name").fill("Acme rollout")
    page.get_by_label("Pipeline").select_option(value=str(pipe.pk))
    page.get_by_label("Stage").select_option(label="Sales: New (open)")
    page.get_by_label("Amount").fill("12000")
    page.get_by_role("button", name="Create deal").click()
    expect(page.get_by_text("12,000.00 USD")).to_be_visible()
    assert_accessible(page, visited)
    deal = Deal.objects.get(name="Acme rollout")
    other = factories.deal(name="Globex pilot", pipeline=pipe, stage=stages[0])
    other.owner = alice
    other.save()

    # The board: bob watches while alice drags one card and moves another by keyboard.
    bob_page = _second_page(chromium, base, "bob")
    bob_page.goto(f"{base}/deals/board/?pipeline={pipe.pk}")
    expect(bob_page.locator(".board[data-live=on]")).to_be_attached()
    expect(bob_page.locator(f"#move-{deal.pk}")).to_have_count(0)  # not his

    page.goto(f"{base}/deals/board/?pipeline={pipe.pk}")
    expect(page.locator(".board[data-live=on]")).to_be_attached()
    assert_accessible(page, visited)
    page.locator(f"#card-{deal.pk}").drag_to(
        page.locator(f'.board__column[data-stage="{stages[1].pk}"]')
    )
    next_column = f'.board__cards[data-stage="{stages[1].pk}"]'
    expect(page.locator(f"{next_column} #card-{deal.pk}")).to_be_visible()
    expect(page.locator("#board-status")).to_contain_text("moved to Proposal")
    expect(bob_page.locator(f"{next_column} #card-{deal.pk}")).to_be_visible()
    deal.refresh_from_db()
    assert deal.stage == stages[1]

    page.locator(f"#move-{other.pk}").focus()
    page.keyboard.press("ArrowDown")  # New -> Proposal
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Move Globex pilot")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(f"{next_column} #card-{other.pk}")).to_be_visible()
    expect(bob_page.locator(f"{next_column} #card-{other.pk}")).to_be_visible()
    other.refresh_from_db()
    assert other.stage == stages[1]
    page.screenshot(path=str(screenshot_path("deal_board.png")), full_page=True)
    bob_page.screenshot(path=str(screenshot_path("deal_board_bob_live.png")))

    # Bob cannot edit what the API forbids him to: alice's deal is read-only to him.
    bob_page.goto(f"{base}/deals/{deal.pk}/")
    expect(bob_page.locator("#read-only-note")).to_be_visible()
    expect(bob_page.get_by_role("link", name="Edit")).to_have_count(0)
    assert_accessible(bob_page, visited)
    expect(bob_page.get_by_role("link", name="Archive")).to_have_count(0)
    refused = bob_page.goto(f"{base}/deals/{deal.pk}/edit/")
    assert refused is not None and refused.status == 403
    refused = bob_page.goto(f"{base}/deals/{deal.pk}/archive/")
    assert refused is not None and refused.status == 403

    # Alice archives a deal: it leaves bob's board live, opens by URL with a banner,
    # and comes back when restored.
    bob_page.goto(f"{base}/deals/board/?pipeline={pipe.pk}")
    expect(bob_page.locator(".board[data-live=on]")).to_be_attached()
    page.goto(f"{base}/deals/{other.pk}/")
    page.get_by_role("link", name="Archive").click()
    assert_accessible(page, visited)
    page.get_by_role("button", name="Archive deal").click()
    expect(page.locator(".message--success")).to_contain_text("archived")
    expect(page.locator(f"a[href='/deals/{other.pk}/']")).to_have_count(0)
    expect(bob_page.locator(f"#card-{other.pk}")).to_have_count(0)
    page.goto(f"{base}/deals/{other.pk}/")
    expect(page.locator("#archived-banner")).to_contain_text("Archived")
    page.screenshot(path=str(screenshot_path("deal_archived.png")))
    assert_accessible(page, visited)
    page.get_by_role("button", name="Restore").click()
    expect(page.locator(".message--success")).to_contain_text("restored")
    expect(page.locator("#archived-banner")).to_have_count(0)
    other.refresh_from_db()
    assert other.archived_at is None
    bob_page.context.close()

    # A ticket edited from its page.
    page.goto(f"{base}/tickets/{ticket.pk}/")
    page.get_by_role("link", name="Edit").click()
    assert_accessible(page, visited)
    page.get_by_label("Priority").select_option(label="High")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".message--success")).to_contain_text("Changes saved.")
    assert Ticket.objects.get(pk=ticket.pk).priority == "high"

    # Settings: the track default, the never-log list, an add-in token.
    page.goto(f"{base}/settings/")
    page.get_by_label("Track my emails by default").uncheck()
    page.get_by_role("button", name="Save defaults").click()
    expect(page.locator(".message--success")).to_contain_text("defaults are saved")
    for pattern in ("*@family.example", "boss@acme.example"):
        page.get_by_label("Address or domain never to log").fill(pattern)
        page.get_by_role("button", name="Add to never-log list").click()
    page.get_by_label("Token name").fill("Outlook laptop")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-token")).to_have_text(re.compile(r"\S{20,}"))
    page.screenshot(path=str(screenshot_path("settings.png")), full_page=True)
    assert_accessible(page, visited)
    assert AddinToken.objects.filter(user=alice, name="Outlook laptop").exists()
    page.get_by_role("button", name="Revoke Outlook laptop").click()
    expect(page.locator(".message--success")).to_contain_text("Token revoked")
    assert_accessible(page, visited)

    # The menu's Notifications link, then every list and the ticket board.
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Notifications"
    ).click()
    page.wait_for_url(f"{base}/settings/notifications/")
    expect(
        page.get_by_role("heading", name="Notifications", exact=True)
    ).to_be_visible()
    assert_accessible(page, visited)
    for path in (
        "/contacts/",
        "/companies/",
        f"/companies/{acme.pk}/",
        "/deals/",
        "/deals/?archived=1",
        "/tickets/",
        f"/tickets/{ticket.pk}/",
        f"/tickets/board/?pipeline={ticket_pipe.pk}",
    ):
        page.goto(f"{base}{path}")
        assert_accessible(page, visited)

    assert user_settings_get(alice).track_by_default is False
    assert set(
        NeverLogEntry.objects.filter(user=alice).values_list("pattern", flat=True)
    ) == {"*@family.example", "boss@acme.example"}
    assert not AddinToken.objects.filter(user=alice).exists()
    assert len(visited) >= 22

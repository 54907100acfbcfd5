"""The settings page in a real browser: the rep's personal BCC address with a copy
button worked by keyboard (announced "Copied") and its regeneration; a sending identity
added unconfirmed and confirmed by the mailed link; bob sees neither."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect

from activity.selectors import bcc_address_parse
from config.axe import serious_violations
from config.testing import ServerProcesses, screenshot_path, sign_in
from settings_admin.models import SendingIdentity
from settings_admin.selectors import account_settings_get, user_settings_get
from settings_admin.services import sending_identity_token

pytestmark = pytest.mark.browser


def _accessible(page: Page) -> None:
    assert serious_violations(page) == [], page.url


def _bcc(user: User) -> str:
    return user_settings_get(user).bcc_address(account_settings_get())


def test_bcc_address_and_sending_identities_on_the_settings_page(
    transactional_db: None,
    asgi_server: ServerProcesses,
    chromium: Browser,
    alice: User,
    bob: User,
) -> None:
    base = asgi_server.url
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, base, "alice")
    old = _bcc(alice)

    # The copy button, by keyboard: focus it, press Enter; a live region says so.
    page.goto(f"{base}/settings/")
    expect(page.locator("#bcc-address")).to_have_text(old)
    copy = page.get_by_role("button", name="Copy your BCC address")
    copy.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == old

    # Regenerate: asked first; the old address stops working.
    page.get_by_role("link", name="Regenerate…").click()
    expect(page.get_by_role("heading", name="Give yourself a new BCC address?"))
    _accessible(page)
    page.get_by_role("button", name="Regenerate my BCC address").click()
    expect(page.locator(".message--success")).to_contain_text("BCC address is new")
    new = _bcc(alice)
    assert new != old
    expect(page.locator("#bcc-address")).to_have_text(new)
    assert bcc_address_parse(old, account_settings_get()) is None

    # A sending identity: unconfirmed until the mailed link is opened, signed in.
    page.get_by_label("Another address you send from").fill("sales@acme.example")
    page.get_by_role("button", name="Add address").click()
    expect(page.locator(".message--success")).to_contain_text("We sent a link")
    identity = SendingIdentity.objects.get(email="sales@acme.example")
    row = page.locator(f"#identity-{identity.pk}")
    expect(row).to_contain_text("Not confirmed")
    page.screenshot(path=str(screenshot_path("settings_identity_unconfirmed.png")))
    _accessible(page)

    link = f"{base}/settings/identities/confirm/{sending_identity_token(identity)}/"
    bob_page = chromium.new_context().new_page()
    sign_in(bob_page, base, "bob")
    refused = bob_page.goto(link)
    assert refused is not None and refused.status == 400
    expect(bob_page.get_by_role("alert")).to_contain_text("not valid for you")
    expect(bob_page.locator("body")).not_to_contain_text("sales@acme.example")
    bob_page.goto(f"{base}/settings/")
    expect(bob_page.locator("body")).not_to_contain_text("sales@acme.example")
    expect(bob_page.locator("#bcc-address")).not_to_have_text(new)
    bob_page.context.close()
    identity.refresh_from_db()
    assert identity.confirmed_at is None

    page.goto(link)
    _accessible(page)
    page.get_by_role("button", name="Confirm sales@acme.example").click()
    expect(page.locator(".message--success")).to_contain_text("is confirmed")
    expect(row).to_contain_text("Confirmed")
    expect(row).not_to_contain_text("Not confirmed")
    identity.refresh_from_db()
    assert identity.confirmed_at is not None
    page.screenshot(
        path=str(screenshot_path("settings_bcc_identities.png")), full_page=True
    )
    _accessible(page)
    context.close()

"""The super admin's pages in a real browser pass axe-core with no serious or critical
violation: the admin's index, *Email log & track*, the sending identities and the inbound
review list (each rejection reason in words, with the action to take)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from activity.models import InboundEmail
from config.axe import serious_violations
from config.testing import ServerProcesses, screenshot_path, sign_in
from settings_admin.services import sending_identity_add

pytestmark = pytest.mark.browser

REASONS = {
    "sender_not_identity": "eve@elsewhere.example is not a sending identity.",
    "dmarc_fail": "The From domain fails DMARC.",
    "dmarc_unverified": "No DMARC check was made.",
    "sender_not_owner": "The message came in on another user's BCC address.",
}


def test_the_admin_pages_pass_axe(
    transactional_db: None,
    asgi_server: ServerProcesses,
    page: Page,
    admin_user: User,
    alice: User,
) -> None:
    base = asgi_server.url
    for reason, detail in REASONS.items():
        InboundEmail.objects.create(
            route="smtp",
            status="rejected",
            reason=reason,
            detail=detail,
            raw="inbound/x.eml",
            from_address="eve@elsewhere.example",
            subject=f"About {reason}",
        )
    sending_identity_add(user=alice, email="sales@acme.example")
    sign_in(page, base, admin_user.get_username())
    visited: list[str] = []

    def check(path: str, shot: str = "") -> None:
        page.goto(f"{base}{path}")
        if shot:
            page.screenshot(path=str(screenshot_path(shot)), full_page=True)
        violations = serious_violations(page)
        assert violations == [], f"{page.url}: {violations}"
        visited.append(page.url)

    check("/admin/")
    check("/admin/settings_admin/accountsettings/", "admin_email_log_and_track.png")
    expect(
        page.get_by_role("heading", name="Attachments and size limits")
    ).to_be_visible()
    page.get_by_role("button", name="Copy").first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Cop")).to_be_visible()
    check("/admin/activity/inboundemail/", "admin_review_list.png")
    expect(page.locator("#result_list")).to_contain_text("this message fails it")
    expect(page.locator("#result_list")).to_contain_text("What to do:")
    first = InboundEmail.objects.order_by("pk").first()
    assert first is not None
    check(f"/admin/activity/inboundemail/{first.pk}/change/")
    check("/admin/settings_admin/sendingidentity/")
    expect(page.locator("#result_list")).to_contain_text("sales@acme.example")
    assert len(visited) == 5

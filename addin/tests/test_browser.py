"""The task pane and the sign-in dialog in Chromium, against Beacon's real ASGI server,
with the Office.js stand-in served where Outlook would load Microsoft's office.js."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, Route, expect

from addin.models import AddinToken
from addin.services import addin_token_create
from config.testing import TEST_PASSWORD, ServerProcesses, screenshot_path
from crm.models import LegalBasis, PipelineKind
from crm.services import association_create, contact_company_associate
from crm.tests import factories
from settings_admin.selectors import account_settings_get

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JS = Path(__file__).resolve().parent / "js"
OFFICE_JS = "https://appsforoffice.microsoft.com/**"


@pytest.fixture
def pane(page: Page) -> Iterator[Page]:
    script = (JS / "office-standin.js").read_text() + (
        JS / "browser-boot.js"
    ).read_text()

    def office_js(route: Route) -> None:
        route.fulfill(status=200, content_type="text/javascript", body=script)

    page.context.route(OFFICE_JS, office_js)
    yield page


def stand_in(page: Page, **options: object) -> None:
    page.context.add_init_script(f"window.__standIn = {json.dumps(options)};")


def api(server: ServerProcesses, path: str, token: str) -> int:
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        f"{server.url}{path}", headers={"Authorization": f"Token {token}"}
    )
    try:
        with urllib.request.urlopen(request) as answer:  # noqa: S310 - loopback
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_the_pane_labels_greys_and_dedupes_what_beacon_will_do(
    asgi_server: ServerProcesses, pane: Page, alice: User
) -> None:
    account = account_settings_get()
    account.privacy_enabled = True
    account.save()
    acme = factories.company("acme.example", name="Acme")
    anna = factories.contact(
        "anna@acme.example", first_name="Anna", legal_basis=LegalBasis.CONSENT
    )
    olle = factories.contact(
        "olle@acme.example", first_name="Olle", legal_basis=LegalBasis.NONE
    )
    deal = factories.deal(
        name="Renewal", pipeline=factories.pipeline(PipelineKind.DEAL)
    )
    for contact in (anna, olle):
        contact_company_associate(contact=contact, company=acme, primary=True)
        association_create(left=contact, right=deal)
    issued = addin_token_create(user=alice, name="Outlook")
    stand_in(
        pane,
        item={
            "from": "alice@beacon.example",
            "to": ["anna@acme.example", "olle@acme.example"],
            "cc": ["new@elsewhere.example"],
            "bcc": [account.bcc_address],
        },
        stored={"beacon.token": issued.key, "beacon.baseUrl": asgi_server.url},
    )

    pane.goto(f"{asgi_server.url}/addin/taskpane/")

    expect(pane.locator("#track-label")).to_have_text("Track email opens and clicks")
    expect(pane.locator("#track")).to_be_disabled()
    expect(pane.locator("#track-reason")).to_contain_text(
        "olle@acme.example: No legal basis for processing: cannot be tracked."
    )
    expect(pane.locator("#track-reason")).to_contain_text(
        "new@elsewhere.example: Not a contact yet"
    )
    expect(pane.locator("#log")).to_be_checked()
    expect(pane.locator("#anonymous-notice")).to_contain_text("“someone”")
    rows = pane.locator("#picker li")
    expect(rows).to_have_count(5)
    expect(pane.get_by_label("Acme")).to_have_count(1)
    expect(pane.get_by_label("Renewal")).to_have_count(1)
    expect(pane.get_by_label("Anna")).to_be_checked()
    expect(pane.get_by_label("Olle")).not_to_be_checked()
    expect(rows.filter(has_text="Olle")).to_contain_text(
        "No legal basis for processing: logging leaves it out"
    )
    expect(pane.get_by_label("New contact: new@elsewhere.example")).to_be_checked()
    expect(pane.locator("#picker")).not_to_contain_text("bcc.beacon")
    pane.screenshot(path=str(screenshot_path("addin_pane.png")))

    pane.get_by_label("New contact: new@elsewhere.example").uncheck()

    # The choice is in the item, where the send handler reads it with the pane closed.
    pane.wait_for_function(
        "() => (Office.context.mailbox.item.state.session['beacon.choices'] || '')"
        ".includes('new@elsewhere.example')"
    )
    stored = pane.evaluate(
        "() => JSON.parse(Office.context.mailbox.item.state.session['beacon.choices'])"
    )
    assert stored["skip_new_contacts"] == ["new@elsewhere.example"]
    assert stored["associations"]["contacts"] == [anna.pk]
    assert stored["associations"]["companies"] == [acme.pk]
    assert stored["associations"]["deals"] == [deal.pk]


def test_the_dialog_signs_in_and_the_pane_calls_the_api_with_the_token(
    asgi_server: ServerProcesses, pane: Page, alice: User
) -> None:
    stand_in(pane, item={"to": ["anna@acme.example"]})
    pane.goto(f"{asgi_server.url}/addin/taskpane/")
    expect(pane.get_by_role("button", name="Sign in to Beacon")).to_be_visible()

    with pane.context.expect_page() as opened:
        pane.get_by_role("button", name="Sign in to Beacon").click()
    dialog = opened.value
    dialog.get_by_label("Username").fill("alice")
    dialog.get_by_label("Password").fill(TEST_PASSWORD)
    dialog.get_by_label("Name of this connection").fill("Outlook at work")
    dialog.screenshot(path=str(screenshot_path("addin_sign_in.png")))
    dialog.get_by_role("button", name="Connect").click()

    expect(pane.locator("#who")).to_have_text("Outlook at work")
    expect(pane.locator("#log")).to_be_visible()
    token = pane.evaluate("() => OfficeRuntime.storage.values.get('beacon.token')")
    assert AddinToken.objects.get().user == alice
    assert api(asgi_server, "/api/v1/addin/tokens/current/", token) == 200
    pane.screenshot(path=str(screenshot_path("addin_pane_signed_in.png")))

    pane.get_by_role("button", name="Sign out").click()

    expect(pane.get_by_role("button", name="Sign in to Beacon")).to_be_visible()
    assert not AddinToken.objects.exists()
    assert api(asgi_server, "/api/v1/addin/tokens/current/", token) == 401

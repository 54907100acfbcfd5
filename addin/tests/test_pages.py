"""The add-in's manifest and pages: structure, served URLs, framing, sign-in dialog."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import Client

from addin.models import AddinToken
from addin.views import ICON_SIZES
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

NS = {
    "o": "http://schemas.microsoft.com/office/appforoffice/1.1",
    "bt": "http://schemas.microsoft.com/office/officeappbasictypes/1.0",
    "v10": "http://schemas.microsoft.com/office/mailappversionoverrides",
    "v11": "http://schemas.microsoft.com/office/mailappversionoverrides/1.1",
}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def served(client: Client, path: str, **extra: object) -> bytes | None:
    """The body at `path`; static files as the static files app finds them (the tests'
    server does not serve them; WhiteNoise does in production)."""
    if path.startswith("/static/"):
        found = finders.find(path.removeprefix("/static/"))
        return Path(str(found)).read_bytes() if found else None
    response = client.get(path, **extra)  # type: ignore[arg-type]
    return response.content or b"redirect" if response.status_code < 400 else None


def manifest(client: Client, host: str = "beacon.example:8443") -> ET.Element:
    response = client.get("/addin/manifest.xml", HTTP_HOST=host, secure=True)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    return ET.fromstring(response.content)  # noqa: S314 - our own template


def test_every_url_is_absolute_on_the_served_host_and_is_served(
    client: Client, settings: object
) -> None:
    settings.ALLOWED_HOSTS = ["beacon.example"]  # type: ignore[attr-defined]
    root = manifest(client)
    urls = {
        value
        for element in root.iter()
        for name, value in element.attrib.items()
        if name == "DefaultValue" and "://" in value
    } | {element.text or "" for element in root.iter(f"{{{NS['o']}}}AppDomain")}

    assert len(urls) > 10
    for url in urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("https", "beacon.example:8443"), url
        if parts.path:
            body = served(
                client, parts.path, HTTP_HOST="beacon.example:8443", secure=True
            )
            assert body, url


def test_the_icons_are_pngs_of_their_sizes(client: Client) -> None:
    root = manifest(client, host="testserver")
    images = {
        element.attrib["id"]: element.attrib["DefaultValue"]
        for element in root.iter(f"{{{NS['bt']}}}Image")
        if "id" in element.attrib
    }

    assert set(images) == {f"Icon.{s}x{s}" for s in ICON_SIZES}
    for size in ICON_SIZES:
        path = urlsplit(images[f"Icon.{size}x{size}"]).path
        body = served(client, path)
        assert body is not None
        assert body[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", body[16:24]) == (size, size)


def test_the_manifest_has_a_pinnable_pane_and_a_soft_blocking_send_handler(
    client: Client,
) -> None:
    """Microsoft's documented structure for event-based activation (LaunchEvent,
    Mailbox 1.12) and pinning (SupportsPinning), which the VersionOverrides 1.1 schema
    Microsoft published predates."""
    root = manifest(client, host="testserver")
    v10 = root.find("v10:VersionOverrides", NS)
    assert v10 is not None and v10.attrib[XSI_TYPE] == "VersionOverridesV1_0"
    # The nested 1.1 comes last in the 1.0, as the schema orders them.
    v11 = list(v10)[-1]
    assert v11.tag == f"{{{NS['v11']}}}VersionOverrides"
    assert v11.attrib[XSI_TYPE] == "VersionOverridesV1_1"
    sets = v11.find("v11:Requirements/bt:Sets", NS)
    assert sets is not None and sets.attrib["DefaultMinVersion"] == "1.12"
    host = v11.find("v11:Hosts/v11:Host", NS)
    assert host is not None and host.attrib[XSI_TYPE] == "MailHost"
    # Runtimes precede the form factor; the runtime's resid is the launch event's.
    assert [child.tag.split("}")[1] for child in host] == [
        "Runtimes",
        "DesktopFormFactor",
    ]
    runtime = host.find("v11:Runtimes/v11:Runtime", NS)
    assert runtime is not None
    override = runtime.find("v11:Override", NS)
    assert override is not None
    assert override.attrib == {"type": "javascript", "resid": "JSRuntime.Url"}
    points = host.findall("v11:DesktopFormFactor/v11:ExtensionPoint", NS)
    by_type = {point.attrib[XSI_TYPE]: point for point in points}
    assert set(by_type) == {"MessageComposeCommandSurface", "LaunchEvent"}
    launch = by_type["LaunchEvent"]
    [event] = launch.findall("v11:LaunchEvents/v11:LaunchEvent", NS)
    assert event.attrib == {
        "Type": "OnMessageSend",
        "FunctionName": "onMessageSendHandler",
        "SendMode": "SoftBlock",
    }
    source = launch.find("v11:SourceLocation", NS)
    assert source is not None
    assert source.attrib["resid"] == runtime.attrib["resid"] == "WebViewRuntime.Url"
    action = by_type["MessageComposeCommandSurface"].find(".//v11:Action", NS)
    assert action is not None and action.attrib[XSI_TYPE] == "ShowTaskpane"
    assert [child.tag.split("}")[1] for child in action] == [
        "SourceLocation",
        "SupportsPinning",
    ]
    pinning = action.find("v11:SupportsPinning", NS)
    assert pinning is not None and pinning.text == "true"
    # Every resid used in the 1.1 is defined in its own Resources.
    defined = {e.attrib["id"] for e in v11.iter() if "id" in e.attrib}
    used = {e.attrib["resid"] for e in v11.iter() if "resid" in e.attrib}
    assert used <= defined
    # The handler's JavaScript names the same function.
    script = served(client, "/static/addin/beacon-addin.js")
    assert script is not None
    text = script.decode()
    assert 'associate("onMessageSendHandler"' in text


def test_the_manifest_asks_for_no_more_than_the_code_needs(client: Client) -> None:
    root = manifest(client, host="testserver")
    base = root.find("o:Requirements/o:Sets/o:Set", NS)
    v10 = root.find("v10:VersionOverrides/v10:Requirements/bt:Sets", NS)
    assert base is not None and base.attrib["MinVersion"] == "1.1"
    assert v10 is not None and v10.attrib["DefaultMinVersion"] == "1.11"  # sessionData
    assert root.find("o:WebApplicationInfo", NS) is None  # no SSO is built


@pytest.mark.parametrize("path", ["/addin/taskpane/", "/addin/commands/"])
def test_outlook_may_frame_the_pane_and_the_runtime_page(
    client: Client, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    policy = response["Content-Security-Policy"]
    assert policy.startswith("frame-ancestors 'self' https://outlook.office.com ")
    assert "https://outlook.live.com" in policy


def test_nothing_else_of_beacon_may_be_framed(client: Client, alice: User) -> None:
    client.force_login(alice)
    for path in ["/accounts/login/", "/", "/api/docs/"]:
        response = client.get(path, follow=True)
        assert response["X-Frame-Options"] == "DENY", path


def test_the_dialog_signs_in_and_hands_a_named_token_to_the_pane(
    client: Client, alice: User
) -> None:
    page = client.get("/addin/sign-in/")
    assert page.status_code == 200
    assert "frame-ancestors" in page["Content-Security-Policy"]

    done = client.post(
        "/addin/sign-in/",
        {"username": "alice", "password": PASSWORD, "name": "Outlook at work"},
    )

    assert done.status_code == 200
    assert "no-store" in done["Cache-Control"]
    token = AddinToken.objects.get()
    assert (token.user, token.name) == (alice, "Outlook at work")
    assert b'id="beacon-token"' in done.content
    assert b"messageParent" not in done.content  # the logic is in dialog.js
    # No session was opened by the dialog: the token is its only credential.
    assert "_auth_user_id" not in client.session


def test_a_wrong_password_issues_nothing(client: Client, alice: User) -> None:
    response = client.post(
        "/addin/sign-in/", {"username": "alice", "password": "wrong", "name": "x"}
    )

    assert response.status_code == 400
    assert not AddinToken.objects.exists()


def test_a_signed_in_rep_only_names_the_connection(client: Client, bob: User) -> None:
    client.force_login(bob)

    response = client.post("/addin/sign-in/", {"name": "Bob's Mac"})

    assert response.status_code == 200
    assert AddinToken.objects.get().user == bob


def test_the_api_answers_cross_origin_preflights_without_credentials(
    client: Client,
) -> None:
    response = client.options(
        "/api/v1/emails/",
        HTTP_ORIGIN="null",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response
    page = client.get("/accounts/login/", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in page

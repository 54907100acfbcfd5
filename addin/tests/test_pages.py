from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_manifest_points_outlook_at_the_task_pane(
    client: Client, settings: object
) -> None:
    response = client.get("/addin/manifest.xml")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)  # noqa: S314 - our own template
    ns = {"o": "http://schemas.microsoft.com/office/appforoffice/1.1"}
    source = root.find("o:FormSettings/o:Form/o:DesktopSettings/o:SourceLocation", ns)
    assert source is not None
    assert source.attrib["DefaultValue"].endswith("/addin/taskpane/")


def test_the_task_pane_needs_a_signed_in_user(client: Client, alice: User) -> None:
    assert client.get("/addin/taskpane/").status_code == 302

    client.force_login(alice)
    response = client.get("/addin/taskpane/")

    assert response.status_code == 200
    assert b"taskpane.js" in response.content
    # Outlook frames the pane.
    assert "X-Frame-Options" not in response

"""A logged copy of a tracked email carries no live tracking, and a message read
leniently carries its notes (issue 10)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from activity.models import InboundStatus, LoggedEmail
from activity.tests.conftest import PostInbound
from activity.tests.mail import message, raw, with_attachment
from crm.models import Contact
from tracking import tokens
from tracking.models import TrackedEmail, TrackingEvent
from tracking.tests.conftest import HTML, register
from tracking.untracking import strip_live_tracking

pytestmark = pytest.mark.django_db


def _tracked(alice: User) -> tuple[TrackedEmail, str]:
    email, html = register(alice, to=["anna@acme.com"])
    assert "/t/c/" in html and "/t/o/" in html
    return email, html


def test_the_logged_copy_of_a_tracked_email_has_its_targets_and_no_pixel(
    alice: User, alice_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    email, html = _tracked(alice)
    link = email.links.get(position=1)
    text = f"The proposal: {tokens.click_url(email.pk, link.pk)}\n"
    inbound = post_inbound(alice_api, raw(message(html=html, text=text)))
    assert inbound.status == InboundStatus.LOGGED, inbound.detail
    logged = inbound.logged_email
    assert logged is not None
    assert "/t/" not in logged.html_body and "/t/" not in logged.text_body
    assert 'href="https://acme.example/proposal?x=1&amp;y=2"' in logged.html_body
    assert 'href="http://acme.example/pricing"' in logged.html_body
    assert "aria-hidden" not in logged.html_body  # the trap link is gone
    assert "<img" not in logged.html_body  # and the pixel
    assert "<!-- keep me -->" in logged.html_body
    assert (
        logged.text_body.strip()
        == "The proposal: https://acme.example/proposal?x=1&y=2"
    )
    body = alice_api.get(f"/api/v1/logged-emails/{logged.pk}/body/").json()
    assert "/t/" not in str(body)
    assert not TrackingEvent.objects.exists()


def test_urls_that_only_look_like_beacons_are_left_alone(alice: User) -> None:
    html = (
        '<a href="https://other.example/t/c/AAAA">theirs</a>'
        '<img src="https://other.example/t/o/BBBB.gif">'
    )
    assert strip_live_tracking(html, "") == (html, "")
    assert strip_live_tracking(HTML, "plain") == (HTML, "plain")


def test_the_migration_strips_copies_stored_before(
    alice: User, alice_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    _, html = _tracked(alice)
    inbound = post_inbound(alice_api, raw(message(html="<p>x</p>")))
    assert inbound.logged_email is not None
    # As stored before this change: the live copy.
    LoggedEmail.objects.filter(pk=inbound.logged_email.pk).update(html_body=html)
    migration = importlib.import_module("activity.migrations.0003_strip_live_tracking")
    migration.strip(apps, None)
    stored = LoggedEmail.objects.get(pk=inbound.logged_email.pk)
    assert "/t/" not in stored.html_body
    assert "https://acme.example/proposal" in stored.html_body


def test_defects_are_noted_on_the_timeline_item(
    alice_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    data = raw(with_attachment(message(), data=b"z" * 3000, filename="a.bin"))
    data = data.replace(b"Date: ", b"Date: not a date ", 1)
    inbound = post_inbound(alice_api, data[: data.rindex(b"\r\n--") + 2])
    assert inbound.status == InboundStatus.LOGGED, inbound.detail
    assert inbound.logged_email is not None
    detail = alice_api.get(f"/api/v1/logged-emails/{inbound.logged_email.pk}/").json()
    assert [note["code"] for note in detail["notes"]] == [
        "bad_date",
        "missing_closing_boundary",
    ]
    assert all(note["detail"] for note in detail["notes"])
    assert [a["filename"] for a in detail["attachments"]] == ["a.bin"]

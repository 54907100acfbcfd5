"""Click targets: refused at registration when they are no URL, percent-encoded for
`Location` when they are followed (issue 10)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tracking import tokens
from tracking.fastpath import TrackingApp
from tracking.models import TrackedEmail, TrackedLink
from tracking.rewriting import link_problem, location_url
from tracking.tests.conftest import Req, drive, make_contact, register


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://acme.example/a b", "https://acme.example/a%20b"),
        (
            "https://acme.example/x\r\nSet-Cookie: a=b",
            "https://acme.example/xSet-Cookie:%20a=b",
        ),
        ("https://acme.example/\x7fdel", "https://acme.example/%7Fdel"),
        (
            "https://acme.example/caf\u00e9?q=\u00e5#\u00f6",
            "https://acme.example/caf%C3%A9?q=%C3%A5#%C3%B6",
        ),
        ("https://b\u00fccher.example/", "https://xn--bcher-kva.example/"),
        (
            "https://acme.example/already%20escaped?a=1&b=%2F",
            "https://acme.example/already%20escaped?a=1&b=%2F",
        ),
        ('https://acme.example/"<x>"', "https://acme.example/%22%3Cx%3E%22"),
        ("  https://acme.example/\t \n", "https://acme.example/"),
    ],
)
def test_location_urls_are_ascii_without_control_characters(
    url: str, expected: str
) -> None:
    assert location_url(url) == expected
    assert location_url(url).isascii()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://acme.example/a\nb", "control character"),
        ("https://acme.example/\x7f", "control character"),
        ("https://", "no host"),
        ("https://[::1/x", "not a valid URL"),
        ("https://acme.example:99999/", "not a valid URL"),
        ("https://acme_example!/", "not a valid domain name"),
        ("https://acme.example/" + "x" * 9000, "longer than"),
    ],
)
def test_invalid_click_targets_are_found_with_a_reason(url: str, reason: str) -> None:
    problem = link_problem(url)
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.example/path?q=1#x",
        "http://192.0.2.1:8080/x",
        "https://[2001:db8::1]/x",
        "https://b\u00fccher.example/caf\u00e9",
        "HTTPS://ACME.EXAMPLE/",
    ],
)
def test_valid_click_targets_pass(url: str) -> None:
    assert link_problem(url) is None


def test_an_email_with_an_invalid_link_is_refused_with_the_reason(
    alice_api: APIClient, alice: User
) -> None:
    make_contact("anna@acme.example")
    html = (
        '<p><a href="https://acme.example/ok">fine</a> '
        '<a href="https://acme.example/a&#10;b">broken</a></p>'
    )
    response = alice_api.post(
        "/api/v1/emails/",
        {"to": ["anna@acme.example"], "html": html, "track": True},
        format="json",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid_link"
    [problem] = body["detail"]
    assert problem["position"] == 2
    assert "control character" in problem["reason"]
    assert not TrackedEmail.objects.exists()
    assert not TrackedLink.objects.exists()


def test_an_untracked_email_is_not_checked(alice_api: APIClient) -> None:
    html = '<a href="https://acme.example/a&#10;b">broken</a>'
    response = alice_api.post(
        "/api/v1/emails/",
        {"to": ["anna@acme.example"], "html": html, "track": False},
        format="json",
    )
    assert response.status_code == 201


def test_a_stored_target_with_control_and_non_ascii_characters_redirects_encoded(
    embedded_app: TrackingApp, alice: User
) -> None:
    make_contact("anna@acme.example")
    email, _ = register(alice)
    link = email.links.filter(is_trap=False).first()
    assert link is not None
    # Stored before targets were checked: the redirect must still be a valid header.
    link.url = "https://b\u00fccher.example/caf\u00e9\r\nX-Evil: 1\x7f"
    link.save()
    [reply] = drive(
        embedded_app, [Req(f"/t/c/{tokens.click_token(email.pk, link.pk)}")]
    )
    assert reply.status == 302
    assert (
        reply.headers["location"]
        == "https://xn--bcher-kva.example/caf%C3%A9X-Evil:%201%7F"
    )

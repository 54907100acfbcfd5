"""Nobody logs mail as someone else (issue 10): by SMTP a message is logged as U only
when it came in on U's personal address (or a registration U made) with a From of U's,
or on the account-wide address with its From domain passing DMARC; by HTTP only the
sender (or a gateway) may post it."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from activity.models import InboundEmail, InboundStatus, LoggedEmail
from activity.smtp import BccController, bcc_controller
from activity.tests.conftest import PostInbound, _close_other_sessions, free_port
from activity.tests.dns_server import RecordsResolver, dns_server
from activity.tests.mail import bcc_address, message, personal_bcc, raw
from crm.models import Contact
from settings_admin.selectors import account_settings_get

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver(
    transactional_db: None, settings: Any
) -> Iterator[tuple[BccController, RecordsResolver]]:
    with dns_server() as (resolver, address):
        settings.DMARC_DNS_SERVERS = address
        controller = bcc_controller("127.0.0.1", free_port())
        controller.start()
        yield controller, resolver
        controller.stop()
    _close_other_sessions()


def _send(server: BccController, rcpt: str, data: bytes) -> InboundEmail:
    with smtplib.SMTP(server.hostname, server.port, timeout=60) as client:
        client.sendmail("alice@beacon.example", [rcpt], data)
    return InboundEmail.objects.latest("id")


def _publish_dmarc(dns: RecordsResolver, *, spf_allows_us: bool) -> None:
    allowed = "ip4:127.0.0.1" if spf_allows_us else "ip4:192.0.2.1"
    dns.txt("beacon.example", f"v=spf1 {allowed} -all")
    dns.txt("_dmarc.beacon.example", "v=DMARC1; p=reject")


def test_bob_cannot_log_alices_mail_through_the_account_address(
    receiver: tuple[BccController, RecordsResolver], anna: Contact, bob: User
) -> None:
    server, _ = receiver
    inbound = _send(server, bcc_address(account_settings_get()), raw(message()))
    assert inbound.status == InboundStatus.REJECTED
    assert inbound.reason == "dmarc_unverified"
    assert "publishes no DMARC record" in inbound.detail
    assert not LoggedEmail.objects.exists()


def test_bob_cannot_log_alices_mail_through_his_own_address(
    receiver: tuple[BccController, RecordsResolver], anna: Contact, bob: User
) -> None:
    server, _ = receiver
    inbound = _send(server, personal_bcc("bob"), raw(message()))
    assert (inbound.status, inbound.reason) == (
        InboundStatus.REJECTED,
        "sender_not_owner",
    )
    assert not LoggedEmail.objects.exists()


def test_alices_own_address_logs_her_mail_marked_unverified_without_dmarc(
    receiver: tuple[BccController, RecordsResolver], anna: Contact, alice: User
) -> None:
    server, _ = receiver
    inbound = _send(server, personal_bcc("alice"), raw(message()))
    assert inbound.status == InboundStatus.LOGGED, inbound.detail
    assert inbound.authentication["result"] == "none"
    email = LoggedEmail.objects.get()
    assert email.sender == alice
    assert [note["code"] for note in email.notes] == ["sender_unverified"]


def test_the_account_address_logs_mail_whose_domain_passes_dmarc(
    receiver: tuple[BccController, RecordsResolver], anna: Contact, alice: User
) -> None:
    server, dns = receiver
    _publish_dmarc(dns, spf_allows_us=True)
    inbound = _send(server, bcc_address(account_settings_get()), raw(message()))
    assert inbound.status == InboundStatus.LOGGED, inbound.detail
    assert inbound.authentication["result"] == "pass"
    email = LoggedEmail.objects.get()
    assert email.sender == alice and email.notes == []


def test_a_domain_failing_its_dmarc_is_refused_for_review_even_on_a_personal_address(
    receiver: tuple[BccController, RecordsResolver], anna: Contact, alice: User
) -> None:
    server, dns = receiver
    _publish_dmarc(dns, spf_allows_us=False)
    inbound = _send(server, personal_bcc("alice"), raw(message()))
    assert (inbound.status, inbound.reason) == (InboundStatus.REJECTED, "dmarc_fail")
    assert "p=reject" in inbound.detail
    assert not LoggedEmail.objects.exists()


def test_a_regenerated_personal_address_stops_logging(
    receiver: tuple[BccController, RecordsResolver],
    anna: Contact,
    alice: User,
    alice_api: APIClient,
) -> None:
    server, _ = receiver
    old = personal_bcc("alice")
    alice_api.post("/api/v1/settings/me/regenerate-bcc/")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        _send(server, old, raw(message()))
    assert not InboundEmail.objects.exists()


def test_bob_cannot_post_alices_mail_over_http(
    bob_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    inbound = post_inbound(bob_api, raw(message()))
    assert (inbound.status, inbound.reason) == (
        InboundStatus.REJECTED,
        "sender_mismatch",
    )
    assert not LoggedEmail.objects.exists()

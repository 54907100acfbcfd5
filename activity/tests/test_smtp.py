from __future__ import annotations

import smtplib
from typing import Any

import pytest
from rest_framework.test import APIClient

from activity.models import InboundEmail, InboundRoute, InboundStatus, LoggedEmail
from activity.services import email_log_register
from activity.smtp import MAX_MESSAGE_BYTES, BccController
from activity.tests.mail import (
    bcc_address,
    message,
    personal_bcc,
    raw,
    with_attachment,
)
from crm.models import Contact
from settings_admin.selectors import account_settings_get

pytestmark = pytest.mark.django_db(transaction=True)


def send(server: BccController, rcpt: list[str], data: bytes) -> dict[str, Any]:
    with smtplib.SMTP(server.hostname, server.port, timeout=60) as client:
        return client.sendmail("alice@beacon.example", rcpt, data)


def test_it_advertises_size_and_logs_a_bcc_copy(
    smtp_server: BccController, anna: Contact
) -> None:
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port) as client:
        client.ehlo()
        assert int(client.esmtp_features["size"]) == MAX_MESSAGE_BYTES
    # Mail clients may change the case of the address.
    send(smtp_server, [personal_bcc().upper()], raw(message()))

    inbound = InboundEmail.objects.get()
    assert inbound.route == InboundRoute.SMTP
    assert inbound.status == InboundStatus.LOGGED, inbound.detail
    assert inbound.envelope_from == "alice@beacon.example"
    assert inbound.logged_email is not None
    assert list(inbound.logged_email.contacts.all()) == [anna]


def test_it_refuses_unknown_recipients_with_550(smtp_server: BccController) -> None:
    account = account_settings_get()
    for address in (
        "someone@bcc.beacon.localhost",
        f"{account.bcc_prefix}+wrongsecret@bcc.beacon.localhost",
        f"{account.bcc_prefix}+{account.bcc_secret}@other.example",
    ):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            send(smtp_server, [address], raw(message()))
        code, reply = caught.value.recipients[address]
        assert code == 550
        assert reply.startswith(b"5.1.1")
    assert InboundEmail.objects.count() == 0


def test_it_refuses_an_oversized_message_with_552(smtp_server: BccController) -> None:
    account = account_settings_get()
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port) as client:
        client.ehlo()
        code, reply = client.mail(
            "alice@beacon.example", [f"SIZE={MAX_MESSAGE_BYTES + 1}"]
        )
    assert code == 552
    assert reply.startswith(b"5.3.4")
    assert bcc_address(account)  # the address was valid; the size was not
    assert InboundEmail.objects.count() == 0


def test_the_same_message_by_bcc_and_by_api_is_logged_once(
    smtp_server: BccController, alice_api: APIClient, anna: Contact
) -> None:
    data = raw(message())
    send(smtp_server, [personal_bcc()], data)
    response = alice_api.post(
        "/api/v1/inbound/", data=data, content_type="message/rfc822"
    )
    assert response.status_code == 202
    rows = list(InboundEmail.objects.order_by("id"))
    assert [row.status for row in rows] == ["logged", "logged"]
    assert [row.reason for row in rows] == ["", "duplicate"]
    assert LoggedEmail.objects.count() == 1


def test_a_registered_copy_is_logged_to_exactly_the_chosen_records(
    smtp_server: BccController, alice: Any, anna: Contact, open_deal: Any
) -> None:
    other = Contact.objects.create(first_name="Other")
    registration = email_log_register(
        user=alice,
        from_address="alice@beacon.example",
        to=["anna@acme.com"],
        cc=[],
        bcc=[],
        subject="Proposal",
        associations={"contacts": [other.pk], "deals": [open_deal.pk]},
    )
    send(smtp_server, [registration.bcc_address], raw(message()))

    email = LoggedEmail.objects.get()
    assert list(email.contacts.all()) == [other]
    assert list(email.deals.all()) == [open_deal]
    assert email.companies.count() == 0 and email.tickets.count() == 0


def test_a_51_mb_attachment_over_smtp_is_accepted_and_logged_without_it(
    smtp_server: BccController, anna: Contact
) -> None:
    msg = with_attachment(
        message(), data=b"\x01" * (51 * 1024 * 1024), filename="big.bin"
    )
    send(smtp_server, [personal_bcc()], raw(msg))

    inbound = InboundEmail.objects.get()
    assert inbound.status == InboundStatus.LOGGED, inbound.detail
    assert inbound.size > 51 * 1024 * 1024
    assert inbound.logged_email is not None
    assert inbound.logged_email.attachments.count() == 0
    [note] = [n for n in inbound.logged_email.notes if "filename" in n]
    assert (note["code"], note["filename"]) == ("attachment_too_large", "big.bin")


def test_garbage_over_smtp_is_stored_and_fails_without_hurting_the_receiver(
    smtp_server: BccController, anna: Contact
) -> None:
    address = personal_bcc()
    send(smtp_server, [address], b"\x00\xff\xfe not mail at all \r\n" * 10)
    send(smtp_server, [address], raw(message()))
    rows = list(InboundEmail.objects.order_by("id"))
    assert [(row.status, row.reason) for row in rows] == [
        ("failed", "parse_error"),
        ("logged", ""),
    ]

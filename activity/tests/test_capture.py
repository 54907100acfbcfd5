from __future__ import annotations

import os
from typing import Any

import pytest
from django.core import mail as django_mail
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from activity.inbound import inbound_process
from activity.models import InboundStatus, LoggedEmail
from activity.tests.conftest import PostInbound
from activity.tests.mail import latin1_mime_multipart, message, raw, with_attachment
from crm.models import Company, Contact, ContactSource, LegalBasis, MarketingStatus
from crm.selectors import contact_get_by_email
from settings_admin.models import AccountSettings
from settings_admin.services import (
    never_log_add,
    sending_identity_add,
    sending_identity_confirm,
    sending_identity_token,
    user_settings_update,
)

pytestmark = pytest.mark.django_db


def test_it_logs_a_multipart_email_to_the_contact_its_company_deal_and_ticket(
    alice_api: APIClient,
    post_inbound: PostInbound,
    anna: Contact,
    open_deal: Any,
    open_ticket: Any,
) -> None:
    inbound = post_inbound(alice_api, raw(message(to=["Anna.Svensson@ACME.com"])))

    assert inbound.status == InboundStatus.LOGGED, inbound.detail
    email = inbound.logged_email
    assert email is not None
    assert email.subject == "Proposal"
    assert email.message_id == "proposal-1@mail.beacon.example"
    assert list(email.contacts.all()) == [anna]
    assert [c.domain for c in email.companies.all()] == ["acme.com"]
    assert list(email.deals.all()) == [open_deal]
    assert list(email.tickets.all()) == [open_ticket]
    assert "<b>proposal</b>" in email.html_body


def test_it_creates_unknown_recipients_as_non_marketing_contacts_of_the_sender(
    alice: Any, alice_api: APIClient, post_inbound: PostInbound
) -> None:
    inbound = post_inbound(
        alice_api, raw(message(to=["new.person@globex.com"], cc=["friend@gmail.com"]))
    )

    assert inbound.status == InboundStatus.LOGGED
    new = contact_get_by_email("new.person@globex.com")
    assert new is not None
    assert new.owner == alice
    assert new.marketing_status == MarketingStatus.NON_MARKETING
    assert new.created_via == ContactSource.LOGGED_EMAIL
    assert Company.objects.filter(domain="globex.com").exists()  # R5
    assert not Company.objects.filter(domain="gmail.com").exists()
    assert inbound.logged_email is not None
    assert inbound.logged_email.contacts.count() == 2


def test_it_does_not_create_contacts_when_the_sender_switched_it_off(
    alice: Any, alice_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    user_settings_update(user=alice, data={"create_contacts": False})
    inbound = post_inbound(
        alice_api, raw(message(to=["anna@acme.com", "x@globex.com"]))
    )
    assert inbound.status == InboundStatus.LOGGED
    assert contact_get_by_email("x@globex.com") is None
    assert inbound.logged_email is not None
    assert list(inbound.logged_email.contacts.all()) == [anna]


def test_it_logs_a_latin1_message_built_with_mimemultipart(
    alice_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    inbound = post_inbound(alice_api, latin1_mime_multipart())
    assert inbound.status == InboundStatus.LOGGED
    assert inbound.logged_email is not None
    assert inbound.logged_email.subject == "Café crème brûlée"


def test_it_rejects_a_sender_that_is_not_an_identity_for_review(
    admin_api: APIClient, post_inbound: PostInbound
) -> None:
    inbound = post_inbound(admin_api, raw(message(sender="stranger@evil.example")))
    assert inbound.status == InboundStatus.REJECTED
    assert inbound.reason == "sender_not_identity"
    assert "stranger@evil.example" in inbound.detail
    assert LoggedEmail.objects.count() == 0
    assert inbound.raw.size == inbound.size > 0  # kept for review (L2, L9)


def test_it_logs_mail_sent_from_an_alias(
    alice: Any, alice_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    alias = sending_identity_add(user=alice, email="Alice.Sales@Beacon.example")
    unconfirmed = post_inbound(
        alice_api,
        raw(message(sender="alice.sales@beacon.example", message_id="<a1@x>")),
    )
    assert unconfirmed.status == InboundStatus.REJECTED  # not hers until confirmed
    sending_identity_confirm(user=alice, token=sending_identity_token(alias))
    inbound = post_inbound(alice_api, raw(message(sender="alice.sales@beacon.example")))
    assert inbound.status == InboundStatus.LOGGED
    assert inbound.logged_email is not None
    assert inbound.logged_email.sender == alice


def test_a_user_cannot_post_someone_elses_mail(
    bob_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    inbound = post_inbound(bob_api, raw(message()))
    assert inbound.status == InboundStatus.REJECTED
    assert inbound.reason == "sender_mismatch"
    assert LoggedEmail.objects.count() == 0


def test_never_log_recipients_are_left_out_and_the_others_still_logged(
    alice: Any, alice_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    never_log_add(pattern="*@lawyers.example")
    never_log_add(pattern="secret@globex.com", user=alice)
    inbound = post_inbound(
        alice_api,
        raw(
            message(
                to=["anna@acme.com", "counsel@lawyers.example"],
                cc=["secret@globex.com", "open@globex.com"],
            )
        ),
    )
    assert inbound.status == InboundStatus.LOGGED
    assert contact_get_by_email("counsel@lawyers.example") is None
    assert contact_get_by_email("secret@globex.com") is None
    email = inbound.logged_email
    assert email is not None
    emails = sorted(c.primary_email for c in email.contacts.all())
    assert emails == ["anna@acme.com", "open@globex.com"]


def test_only_never_log_recipients_means_nothing_is_logged(
    alice_api: APIClient, post_inbound: PostInbound
) -> None:
    never_log_add(pattern="*@lawyers.example")
    inbound = post_inbound(alice_api, raw(message(to=["counsel@lawyers.example"])))
    assert inbound.status == InboundStatus.REJECTED
    assert inbound.reason == "no_records"
    assert Contact.objects.count() == 0


def test_with_privacy_on_only_contacts_with_a_legal_basis_are_logged_to(
    alice_api: APIClient,
    post_inbound: PostInbound,
    anna: Contact,
    account: AccountSettings,
) -> None:
    account.privacy_enabled = True
    account.save()
    anna.legal_basis = LegalBasis.CONSENT
    anna.save()
    no_basis = Contact.objects.create(first_name="Nils")
    no_basis.emails.create(email="nils@acme.com", is_primary=True)
    inbound = post_inbound(
        alice_api, raw(message(to=["anna@acme.com", "nils@acme.com", "new@globex.com"]))
    )
    assert inbound.status == InboundStatus.LOGGED
    assert inbound.logged_email is not None
    assert list(inbound.logged_email.contacts.all()) == [anna]
    assert contact_get_by_email("new@globex.com") is None


def test_the_same_message_twice_is_logged_once(
    alice_api: APIClient, admin_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    first = post_inbound(alice_api, raw(message()))
    second = post_inbound(admin_api, raw(message()))
    assert first.status == second.status == InboundStatus.LOGGED
    assert second.reason == "duplicate"
    assert second.logged_email == first.logged_email
    assert LoggedEmail.objects.count() == 1


def test_a_message_without_message_id_twice_is_still_logged_once(
    alice_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    first = post_inbound(alice_api, raw(message(message_id=None)))
    second = post_inbound(alice_api, raw(message(message_id=None)))
    assert first.status == InboundStatus.LOGGED and first.reason == ""
    assert second.reason == "duplicate"
    assert LoggedEmail.objects.count() == 1
    assert first.logged_email is not None
    assert first.logged_email.message_id.endswith("@derived.beacon")


def test_a_three_message_reply_chain_shares_one_thread_and_its_associations(
    alice_api: APIClient, post_inbound: PostInbound, anna: Contact, open_deal: Any
) -> None:
    one = post_inbound(alice_api, raw(message(message_id="<m1@x.example>")))
    # The reply goes to a new address only: it still inherits Anna and the deal.
    two = post_inbound(
        alice_api,
        raw(
            message(
                message_id="<m2@x.example>",
                subject="Re: Proposal",
                to=["boss@globex.com"],
                in_reply_to="<m1@X.example>",
                references=["<m1@x.example>"],
            )
        ),
    )
    three = post_inbound(
        alice_api,
        raw(
            message(
                message_id="<m3@x.example>",
                subject="Re: Proposal",
                to=["anna@acme.com"],
                in_reply_to="<m2@x.example>",
                references=["<m1@x.example>", "<m2@x.example>"],
            )
        ),
    )
    emails = [row.logged_email for row in (one, two, three)]
    assert all(email is not None for email in emails)
    assert len({email.thread_id for email in emails if email}) == 1
    assert emails[1] is not None and anna in emails[1].contacts.all()
    assert emails[1] is not None and open_deal in emails[1].deals.all()


def test_a_body_over_the_limit_is_rejected_and_the_sender_told(
    alice_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    body = ("x" * 99 + "\n") * 30_000  # 3 MB
    inbound = post_inbound(alice_api, raw(message(text=body, html=None)))
    assert inbound.status == InboundStatus.REJECTED
    assert inbound.reason == "body_too_large"
    assert LoggedEmail.objects.count() == 0
    assert [m.to for m in django_mail.outbox] == [["alice@beacon.example"]]
    assert "limit" in django_mail.outbox[0].body
    shown = alice_api.get(f"/api/v1/inbound/{inbound.pk}/").json()
    assert shown["status"] == "rejected" and shown["reason"] == "body_too_large"


def test_a_51_mb_attachment_is_left_out_with_a_note_and_the_email_logged(
    alice_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    msg = with_attachment(
        message(), data=b"\x00" * (51 * 1024 * 1024), filename="big.iso"
    )
    with_attachment(msg, data=b"%PDF small", filename="offer.pdf")
    inbound = post_inbound(alice_api, raw(msg))
    assert inbound.status == InboundStatus.LOGGED, inbound.detail
    email = inbound.logged_email
    assert email is not None
    assert [a.filename for a in email.attachments.all()] == ["offer.pdf"]
    assert [(n["code"], n["filename"]) for n in email.notes] == [
        ("attachment_too_large", "big.iso")
    ]


def test_attachments_are_not_stored_when_attachment_logging_is_off(
    alice_api: APIClient,
    post_inbound: PostInbound,
    anna: Contact,
    account: AccountSettings,
) -> None:
    account.log_attachments = False
    account.save()
    inbound = post_inbound(
        alice_api, raw(with_attachment(message(), data=b"data", filename="a.pdf"))
    )
    assert inbound.logged_email is not None
    assert inbound.logged_email.attachments.count() == 0
    assert inbound.logged_email.notes[0]["code"] == "attachment_not_logged"


@pytest.mark.parametrize(
    "data",
    [b"\x00\xff\xfe\x89PNG garbage\r\n" * 100, b"not an email"],
)
def test_garbage_ends_failed_with_a_reason(
    alice_api: APIClient, admin_api: APIClient, post_inbound: PostInbound, data: bytes
) -> None:
    inbound = post_inbound(admin_api, data)
    assert inbound.status == InboundStatus.FAILED
    assert inbound.reason == "parse_error"
    assert inbound.detail


def test_a_message_missing_its_closing_boundary_is_logged(
    admin_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    data = raw(with_attachment(message(), data=b"y" * 20_000, filename="a.bin"))
    inbound = post_inbound(admin_api, data[: data.rindex(b"\r\n--") + 2])
    assert inbound.status == InboundStatus.LOGGED
    assert inbound.logged_email is not None
    assert inbound.logged_email.attachments.get().size == 20_000


def test_a_failed_message_can_be_repaired_and_reprocessed(
    admin_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    data = raw(with_attachment(message(), data=b"y" * 20_000, filename="a.bin"))
    inbound = post_inbound(admin_api, data.replace(b"From:", b"Frm:", 1))
    assert inbound.status == InboundStatus.FAILED
    assert "From" in inbound.detail
    # An operator repairs the stored file, then re-processes (L9).
    inbound.raw.save("fixed.eml", ContentFile(data))
    again = inbound_process(inbound_id=inbound.pk, force=True)
    assert again is not None and again.status == InboundStatus.LOGGED
    assert again.attempts == 2


def test_a_large_attachment_is_stored_byte_for_byte_through_the_spool(
    alice_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    data = os.urandom(3 * 1024 * 1024)
    inbound = post_inbound(
        alice_api, raw(with_attachment(message(), data=data, filename="scan.pdf"))
    )
    assert inbound.logged_email is not None
    attachment = inbound.logged_email.attachments.get()
    assert attachment.size == len(data)
    with attachment.file.open("rb") as stored:
        assert stored.read() == data


def test_a_broken_queue_leaves_the_stored_message_received_for_review(
    alice_api: APIClient, post_inbound: PostInbound, monkeypatch: pytest.MonkeyPatch
) -> None:
    from activity import tasks

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.inbound_process, "delay", broker_down)
    inbound = post_inbound(alice_api, raw(message()))
    assert inbound.status == InboundStatus.RECEIVED
    assert inbound.raw.size == inbound.size

"""`POST /api/v1/emails/` with both halves: Track (tracking) and Log (activity)."""

from __future__ import annotations

import smtplib
from typing import Any

import pytest
from rest_framework.test import APIClient

from activity.models import InboundEmail, InboundStatus, LoggedEmail, LogRegistration
from activity.smtp import BccController
from activity.tests.conftest import (  # noqa: F401 - fixtures used by name
    _media_in_tmp,
    anna,
    open_deal,
    open_ticket,
    smtp_server,
)
from activity.tests.mail import message, raw
from crm.models import Contact, Deal, Ticket
from settings_admin.selectors import account_settings_get, user_settings_get
from tracking.models import TrackedEmail

URL = "/api/v1/emails/"


def _register(api: APIClient, **body: Any) -> Any:
    body.setdefault("to", ["anna@acme.com"])
    body.setdefault("subject", "Proposal")
    body.setdefault("html", "<p>Hello <a href='https://acme.com/p'>proposal</a></p>")
    return api.post(URL, body, format="json")


@pytest.mark.django_db(transaction=True)
def test_a_logged_and_tracked_email_arrives_on_exactly_the_chosen_records(
    alice_api: APIClient,
    smtp_server: BccController,  # noqa: F811
    anna: Contact,  # noqa: F811
    open_deal: Deal,  # noqa: F811
    open_ticket: Ticket,  # noqa: F811
) -> None:
    response = _register(
        alice_api, track=True, log=True, associations={"deals": [open_deal.pk]}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    email = TrackedEmail.objects.get(pk=body["id"])
    registration = LogRegistration.objects.get(pk=body["log"]["registration_id"])
    assert email.tracked is True
    assert email.log_registration == registration
    bcc = body["log"]["bcc_address"]
    own = user_settings_get(registration.user)
    personal_local = own.bcc_address(account_settings_get()).partition("@")[0]
    assert bcc.startswith(f"{personal_local}+{registration.token}@")

    # The copy Outlook sends to the BCC address, with the tracked HTML.
    msg = message(html=body["html"])
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port, timeout=60) as client:
        client.sendmail("alice@beacon.example", [bcc], raw(msg))

    inbound = InboundEmail.objects.get()
    assert inbound.status == InboundStatus.LOGGED, inbound.detail
    logged = LoggedEmail.objects.get()
    # Exactly the chosen records (L5): not Anna, her company or her ticket.
    assert list(logged.deals.all()) == [open_deal]
    assert list(logged.contacts.all()) == []
    assert list(logged.tickets.all()) == []
    # The logged copy knows its tracked email: its card shows the status (T8).
    assert logged.tracked_email == email


@pytest.mark.django_db
def test_track_only_registers_no_log(alice_api: APIClient) -> None:
    body = _register(alice_api, track=True, log=False).json()

    assert body["log"] is None
    assert LogRegistration.objects.count() == 0
    assert TrackedEmail.objects.get(pk=body["id"]).log_registration is None


@pytest.mark.django_db
def test_an_unknown_record_refuses_the_whole_registration(alice_api: APIClient) -> None:
    response = _register(
        alice_api, track=True, log=True, associations={"deals": [987654]}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_association"
    # Nothing half-registered: neither the tracked email nor the log registration.
    assert TrackedEmail.objects.count() == 0
    assert LogRegistration.objects.count() == 0


@pytest.mark.django_db
def test_someone_signed_out_cannot_register(anon_api: APIClient) -> None:
    response = _register(anon_api, track=True, log=True)

    assert response.status_code in (401, 403)
    assert TrackedEmail.objects.count() == 0
    assert LogRegistration.objects.count() == 0

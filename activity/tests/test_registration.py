from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from activity.api import LogAssociationsInputSerializer
from activity.models import InboundStatus
from activity.services import InvalidAssociation, email_log_register
from activity.tests.conftest import PostInbound
from activity.tests.mail import message, raw
from crm.models import Contact
from crm.selectors import contact_get_by_email
from settings_admin.models import AccountSettings, UserSettings

pytestmark = pytest.mark.django_db


def register(user: Any, **kwargs: Any) -> Any:
    defaults: dict[str, Any] = {
        "from_address": "alice@beacon.example",
        "to": ["anna@acme.com"],
        "cc": [],
        "bcc": [],
        "subject": "Proposal",
        "associations": None,
    }
    return email_log_register(user=user, **{**defaults, **kwargs})


def test_it_answers_the_bcc_address_carrying_the_registration(
    alice: Any, account: AccountSettings, anna: Contact
) -> None:
    registration = register(alice, associations={"contacts": [anna.pk]})
    assert registration.pk
    own = UserSettings.objects.get(user=alice)
    assert registration.bcc_address == (
        f"{account.bcc_prefix}+{own.bcc_secret}+{registration.token}"
        "@bcc.beacon.localhost"
    )
    assert registration.associations == {
        "contacts": [anna.pk],
        "companies": [],
        "deals": [],
        "tickets": [],
    }


def test_it_refuses_records_that_do_not_exist(alice: Any, anna: Contact) -> None:
    with pytest.raises(InvalidAssociation) as caught:
        register(alice, associations={"contacts": [anna.pk], "deals": [999_999]})
    assert caught.value.code == "invalid_association"
    assert caught.value.detail == {"deals": [999_999]}


def test_the_header_registration_logs_to_exactly_the_chosen_records(
    alice: Any,
    alice_api: APIClient,
    post_inbound: PostInbound,
    anna: Contact,
    open_deal: Any,
) -> None:
    registration = register(
        alice,
        to=["anna@acme.com", "new@globex.com", "skip@globex.com"],
        associations={"deals": [open_deal.pk]},
        skip_new_contacts=["skip@globex.com"],
    )
    data = raw(
        message(
            to=["anna@acme.com", "new@globex.com", "skip@globex.com"],
            headers={"X-Beacon-Registration": registration.token},
        )
    )
    inbound = post_inbound(alice_api, data)
    email = inbound.logged_email
    assert inbound.status == InboundStatus.LOGGED and email is not None
    # Anna was unticked (not chosen); the new contact was kept; the skipped one not made.
    assert [c.primary_email for c in email.contacts.all()] == ["new@globex.com"]
    assert list(email.deals.all()) == [open_deal]
    assert email.companies.count() == 0
    assert contact_get_by_email("skip@globex.com") is None


def test_someone_elses_registration_does_not_steer_the_log(
    bob: Any,
    alice_api: APIClient,
    post_inbound: PostInbound,
    anna: Contact,
    open_deal: Any,
) -> None:
    other = Contact.objects.create(first_name="Decoy")
    registration = email_log_register(
        user=bob,
        from_address="bob@beacon.example",
        to=[],
        cc=[],
        bcc=[],
        subject="",
        associations={"contacts": [other.pk]},
    )
    data = raw(message(headers={"X-Beacon-Registration": registration.token}))
    inbound = post_inbound(alice_api, data)
    assert inbound.logged_email is not None
    assert list(inbound.logged_email.contacts.all()) == [anna]  # the defaults


def test_the_associations_serializer_accepts_optional_lists_and_refuses_unknown() -> (
    None
):
    ok = LogAssociationsInputSerializer(data={"contacts": [1, 2], "deals": []})
    assert ok.is_valid()
    assert ok.validated_data == {"contacts": [1, 2], "deals": []}
    unknown = LogAssociationsInputSerializer(data={"owners": [1]})
    assert not unknown.is_valid()
    assert unknown.errors["owners"][0].code == "unknown_field"
    bad = LogAssociationsInputSerializer(data={"contacts": ["x"]})
    assert not bad.is_valid()
    assert set(bad.errors) == {"contacts"}

"""The Log box's chosen records (`POST /api/v1/emails/`): a rep may choose what the
recipients lead to, whoever owns it (L5), and otherwise only what they may change (V1)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from activity.models import LogRegistration
from activity.tests.conftest import anna, open_deal  # noqa: F401 - fixtures used by name
from crm.models import Contact, Deal
from crm.services import contact_create, deal_create
from tracking.models import TrackedEmail

pytestmark = pytest.mark.django_db
URL = "/api/v1/emails/"


def _register(api: APIClient, to: list[str], associations: dict[str, list[int]]) -> Any:
    return api.post(
        URL,
        {"to": to, "subject": "Hello", "html": "<p>Hi</p>", "track": True, "log": True,
         "associations": associations},
        format="json",
    )  # fmt: skip


@pytest.fixture
def alices_deal(alice: Any, open_deal: Deal) -> Deal:  # noqa: F811 - the fixture
    """Alice's own deal, linked to nobody bob writes to."""
    return deal_create(
        name="Alice's private deal",
        pipeline=open_deal.pipeline,
        stage=open_deal.stage,
        owner=alice,
    )


def test_records_the_recipients_lead_to_may_be_chosen_whoever_owns_them(
    bob_api: APIClient,
    anna: Contact,  # noqa: F811 - the fixture
    open_deal: Deal,  # noqa: F811 - the fixture
    alice: Any,
) -> None:
    open_deal.owner = alice
    open_deal.save(update_fields=["owner"])
    response = _register(
        bob_api, ["anna@acme.com"], {"contacts": [anna.pk], "deals": [open_deal.pk]}
    )
    assert response.status_code == 201, response.content
    chosen = LogRegistration.objects.get().associations
    assert chosen is not None
    assert (chosen["contacts"], chosen["deals"]) == ([anna.pk], [open_deal.pk])


def test_another_reps_records_the_recipients_do_not_lead_to_are_refused(
    bob_api: APIClient,
    anna: Contact,  # noqa: F811 - the fixture
    alices_deal: Deal,
) -> None:
    for associations in ({"deals": [alices_deal.pk]}, {"contacts": [anna.pk]}):
        response = _register(bob_api, ["someone@globex.com"], associations)
        assert response.status_code == 403, associations
        assert response.json()["error"] == "forbidden"
    # Nothing half-registered.
    assert TrackedEmail.objects.count() == 0
    assert LogRegistration.objects.count() == 0


def test_a_rep_may_choose_their_own_records_and_unowned_ones(
    alice_api: APIClient, alices_deal: Deal, bob: Any
) -> None:
    bobs = contact_create(emails=["bo@globex.com"], owner=bob)
    unowned = contact_create(emails=["free@globex.com"])
    response = _register(
        alice_api,
        ["someone@globex.com"],
        {"deals": [alices_deal.pk], "contacts": [unowned.pk]},
    )
    assert response.status_code == 201, response.content
    response = _register(alice_api, ["someone@globex.com"], {"contacts": [bobs.pk]})
    assert response.status_code == 403

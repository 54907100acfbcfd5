from __future__ import annotations

import pytest

from crm.models import ContactDeal, ContactTicket, Pipeline, PipelineKind, Stage
from crm.selectors import (
    contact_get_by_email,
    contact_recent_open_deals,
    contact_recent_open_tickets,
)
from crm.services import association_create, contact_create, deal_create, ticket_create

pytestmark = pytest.mark.django_db


def _pipeline(kind: str) -> tuple[Pipeline, Stage, Stage]:
    pipeline = Pipeline.objects.create(name=f"Main {kind}", kind=kind)
    open_stage = Stage.objects.create(pipeline=pipeline, name="Open", position=0)
    closed = Stage.objects.create(
        pipeline=pipeline, name="Closed", position=1, is_closed=True
    )
    return pipeline, open_stage, closed


def test_it_finds_a_contact_by_any_of_its_emails_ignoring_case() -> None:
    contact = contact_create(
        emails=["Anna@Acme.com", "anna.s@acme.com"], first_name="Anna"
    )
    assert contact_get_by_email("ANNA.S@acme.com") == contact
    assert contact_get_by_email("anna@acme.com") == contact
    assert contact_get_by_email("nobody@acme.com") is None


def test_it_lists_the_five_most_recent_open_deals_leaving_out_closed_and_older() -> (
    None
):
    pipeline, open_stage, closed = _pipeline(PipelineKind.DEAL)
    contact = contact_create(emails=["anna@acme.com"])
    deals = [
        deal_create(name=f"Deal {i}", pipeline=pipeline, stage=open_stage)
        for i in range(7)
    ]
    closed_deal = deal_create(name="Won", pipeline=pipeline, stage=closed)
    for deal in [*deals, closed_deal]:
        association_create(left=contact, right=deal)
    # Make the association order explicit rather than relying on clock resolution.
    for index, link in enumerate(ContactDeal.objects.order_by("id")):
        ContactDeal.objects.filter(pk=link.pk).update(
            created_at=link.created_at.replace(microsecond=0).replace(second=index)
        )

    recent = contact_recent_open_deals(contact)

    assert [deal.name for deal in recent] == [
        "Deal 6",
        "Deal 5",
        "Deal 4",
        "Deal 3",
        "Deal 2",
    ]
    assert closed_deal not in recent


def test_it_lists_open_tickets_only() -> None:
    pipeline, open_stage, closed = _pipeline(PipelineKind.TICKET)
    contact = contact_create(emails=["anna@acme.com"])
    open_ticket = ticket_create(subject="Broken", pipeline=pipeline, stage=open_stage)
    done = ticket_create(subject="Fixed", pipeline=pipeline, stage=closed)
    association_create(left=contact, right=open_ticket)
    association_create(left=contact, right=done)
    assert ContactTicket.objects.count() == 2

    assert contact_recent_open_tickets(contact) == [open_ticket]

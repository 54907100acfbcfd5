"""The pages and the API refuse the same edits for the same users: one table of cases,
each run once through the API and once through the pages, with the same outcome and the
same row in the database afterwards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from crm.models import ContactDeal, Deal, PipelineKind, Stage
from crm.services import association_create, record_archive
from crm.tests import factories

pytestmark = pytest.mark.django_db

ALLOWED, FORBIDDEN, INVALID = "allowed", "forbidden", "invalid"


@dataclass
class World:
    alice: User
    bob: User
    admin: User
    records: dict[str, Any]


@dataclass(frozen=True)
class Edit:
    """One edit, as an API call and as a page form post, and how to see it happened."""

    api: Callable[[APIClient, World], Any]
    page: Callable[[Client, World], Any]
    happened: Callable[[World], bool]


def _contact_form(**fields: Any) -> dict[str, Any]:
    return {
        "first_name": "",
        "last_name": "",
        "emails": "",
        "owner": "",
        "marketing_status": "non_marketing",
        "legal_basis": "",
        **fields,
    }


def _deal_form(deal: Deal, **fields: Any) -> dict[str, Any]:
    return {
        "name": deal.name,
        "pipeline": deal.pipeline_id,
        "stage": deal.stage_id,
        "amount": "",
        "close_date": "",
        "owner": deal.owner_id or "",
        **fields,
    }


def _first_name_is(world: World, name: str) -> bool:
    contact = world.records["contact"]
    contact.refresh_from_db()
    return bool(contact.first_name == name)


def _archived(record: Any) -> bool:
    record.refresh_from_db()
    return record.archived_at is not None


def _deal_in(world: World, stage: Stage) -> bool:
    deal = world.records["deal"]
    deal.refresh_from_db()
    return bool(deal.stage_id == stage.pk)


EDITS: dict[str, Edit] = {
    "rename a contact": Edit(
        api=lambda c, w: c.patch(
            f"/api/v1/contacts/{w.records['contact'].pk}/",
            {"first_name": "Renamed"},
            format="json",
        ),
        page=lambda c, w: c.post(
            f"/contacts/{w.records['contact'].pk}/edit/",
            _contact_form(
                first_name="Renamed",
                emails="anna@acme.example",
                owner=w.records["contact"].owner_id or "",
            ),
        ),
        happened=lambda w: _first_name_is(w, "Renamed"),
    ),
    "give a contact another contact's email": Edit(
        api=lambda c, w: c.patch(
            f"/api/v1/contacts/{w.records['contact'].pk}/",
            {"emails": ["taken@acme.example"]},
            format="json",
        ),
        page=lambda c, w: c.post(
            f"/contacts/{w.records['contact'].pk}/edit/",
            _contact_form(
                emails="taken@acme.example",
                owner=w.records["contact"].owner_id or "",
            ),
        ),
        happened=lambda w: (
            w.records["contact"].emails.filter(email="taken@acme.example").exists()
        ),
    ),
    "archive a contact": Edit(
        api=lambda c, w: c.patch(
            f"/api/v1/contacts/{w.records['contact'].pk}/",
            {"archived": True},
            format="json",
        ),
        page=lambda c, w: c.post(f"/contacts/{w.records['contact'].pk}/archive/"),
        happened=lambda w: _archived(w.records["contact"]),
    ),
    "archive a deal": Edit(
        api=lambda c, w: c.patch(
            f"/api/v1/deals/{w.records['deal'].pk}/", {"archived": True}, format="json"
        ),
        page=lambda c, w: c.post(f"/deals/{w.records['deal'].pk}/archive/"),
        happened=lambda w: _archived(w.records["deal"]),
    ),
    "restore an archived deal": Edit(
        api=lambda c, w: c.patch(
            f"/api/v1/deals/{w.records['archived_deal'].pk}/",
            {"archived": False},
            format="json",
        ),
        page=lambda c, w: c.post(f"/deals/{w.records['archived_deal'].pk}/restore/"),
        happened=lambda w: not _archived(w.records["archived_deal"]),
    ),
    "move a deal to the next stage": Edit(
        api=lambda c, w: c.patch(
            f"/api/v1/deals/{w.records['deal'].pk}/",
            {"stage": w.records["next_stage"].pk},
            format="json",
        ),
        page=lambda c, w: c.post(
            f"/deals/{w.records['deal'].pk}/move/",
            {"stage": w.records["next_stage"].pk},
        ),
        happened=lambda w: _deal_in(w, w.records["next_stage"]),
    ),
    "move a deal to another pipeline's stage": Edit(
        api=lambda c, w: c.patch(
            f"/api/v1/deals/{w.records['deal'].pk}/",
            {"stage": w.records["foreign_stage"].pk},
            format="json",
        ),
        page=lambda c, w: c.post(
            f"/deals/{w.records['deal'].pk}/edit/",
            _deal_form(w.records["deal"], stage=w.records["foreign_stage"].pk),
        ),
        happened=lambda w: _deal_in(w, w.records["foreign_stage"]),
    ),
    "link a deal to a contact": Edit(
        api=lambda c, w: c.post(
            f"/api/v1/contacts/{w.records['contact'].pk}/deals/",
            {"deal": w.records["other_deal"].pk},
            format="json",
        ),
        # From the deal's page: the contact is still the side whose owner decides.
        page=lambda c, w: c.post(
            f"/deals/{w.records['other_deal'].pk}/links/contact/",
            {"other_id": w.records["contact"].pk},
        ),
        happened=lambda w: ContactDeal.objects.filter(
            contact=w.records["contact"], deal=w.records["other_deal"]
        ).exists(),
    ),
    "link bob's contact to alice's deal": Edit(
        api=lambda c, w: c.post(
            f"/api/v1/contacts/{w.records['bobs_contact'].pk}/deals/",
            {"deal": w.records["deal"].pk},
            format="json",
        ),
        page=lambda c, w: c.post(
            f"/contacts/{w.records['bobs_contact'].pk}/links/deal/",
            {"other_id": w.records["deal"].pk},
        ),
        happened=lambda w: ContactDeal.objects.filter(
            contact=w.records["bobs_contact"], deal=w.records["deal"]
        ).exists(),
    ),
    "unlink a contact's deal": Edit(
        api=lambda c, w: c.delete(
            f"/api/v1/contacts/{w.records['contact'].pk}/deals/{w.records['deal'].pk}/"
        ),
        page=lambda c, w: c.post(
            f"/contacts/{w.records['contact'].pk}/links/deal/"
            f"{w.records['deal'].pk}/delete/"
        ),
        happened=lambda w: (
            not ContactDeal.objects.filter(
                contact=w.records["contact"], deal=w.records["deal"]
            ).exists()
        ),
    ),
}

# (edit, who edits, who owns the records, outcome)
CASES = [
    ("rename a contact", "alice", "alice", ALLOWED),
    ("rename a contact", "bob", "alice", FORBIDDEN),
    ("rename a contact", "bob", None, ALLOWED),
    ("rename a contact", "admin", "alice", ALLOWED),
    ("give a contact another contact's email", "alice", "alice", INVALID),
    ("give a contact another contact's email", "bob", "alice", FORBIDDEN),
    ("archive a contact", "bob", "alice", FORBIDDEN),
    ("archive a contact", "alice", "alice", ALLOWED),
    ("archive a contact", "admin", "alice", ALLOWED),
    ("archive a deal", "bob", "alice", FORBIDDEN),
    ("archive a deal", "alice", "alice", ALLOWED),
    ("archive a deal", "bob", None, ALLOWED),
    ("restore an archived deal", "bob", "alice", FORBIDDEN),
    ("restore an archived deal", "alice", "alice", ALLOWED),
    ("move a deal to the next stage", "alice", "alice", ALLOWED),
    ("move a deal to the next stage", "bob", "alice", FORBIDDEN),
    ("move a deal to the next stage", "bob", None, ALLOWED),
    ("move a deal to another pipeline's stage", "alice", "alice", INVALID),
    ("move a deal to another pipeline's stage", "bob", "alice", FORBIDDEN),
    ("link a deal to a contact", "alice", "alice", ALLOWED),
    ("link a deal to a contact", "bob", "alice", FORBIDDEN),
    ("link a deal to a contact", "admin", "alice", ALLOWED),
    ("unlink a contact's deal", "bob", "alice", FORBIDDEN),
    ("unlink a contact's deal", "alice", "alice", ALLOWED),
    # Bob's own contact, alice's deal: both records must be his to change the link.
    ("link bob's contact to alice's deal", "bob", "alice", FORBIDDEN),
    ("link bob's contact to alice's deal", "admin", "alice", ALLOWED),
]

API_OUTCOMES = {200: ALLOWED, 201: ALLOWED, 204: ALLOWED, 400: INVALID, 403: FORBIDDEN}
PAGE_OUTCOMES = {302: ALLOWED, 200: ALLOWED, 400: INVALID, 403: FORBIDDEN}


def _world(alice: User, bob: User, admin: User, owner_name: str | None) -> World:
    owner = {"alice": alice, None: None}[owner_name]
    contact = factories.contact("anna@acme.example", owner=owner)
    factories.contact("taken@acme.example")
    pipe = factories.pipeline(PipelineKind.DEAL)
    foreign = factories.pipeline(PipelineKind.DEAL)
    deal = factories.deal(pipeline=pipe, owner=owner)
    other_deal = factories.deal(pipeline=pipe, owner=owner)
    next_stage = Stage.objects.create(pipeline=pipe, name="Proposal", position=1)
    association_create(left=contact, right=deal)
    archived_deal = factories.deal(pipeline=pipe, stage=deal.stage, owner=owner)
    record_archive(record=archived_deal, archived=True)
    records = {
        "archived_deal": archived_deal,
        "contact": contact,
        "deal": deal,
        "other_deal": other_deal,
        "next_stage": next_stage,
        "foreign_stage": factories.open_stage(foreign),
        "bobs_contact": factories.contact("bert@globex.example", owner=bob),
    }
    return World(alice, bob, admin, records)


@pytest.mark.parametrize("surface", ["api", "page"])
@pytest.mark.parametrize(("edit", "actor", "owner", "outcome"), CASES)
def test_pages_and_api_refuse_the_same_edits(
    alice: User,
    bob: User,
    admin_user: User,
    surface: str,
    edit: str,
    actor: str,
    owner: str | None,
    outcome: str,
) -> None:
    world = _world(alice, bob, admin_user, owner)
    user = {"alice": alice, "bob": bob, "admin": admin_user}[actor]

    if surface == "api":
        api = APIClient()
        api.force_authenticate(user)
        response = EDITS[edit].api(api, world)
        got = API_OUTCOMES.get(response.status_code, str(response.status_code))
    else:
        page = Client()
        page.force_login(user)
        response = EDITS[edit].page(page, world)
        got = PAGE_OUTCOMES.get(response.status_code, str(response.status_code))

    assert got == outcome, getattr(response, "content", b"")[:500]
    assert EDITS[edit].happened(world) is (outcome == ALLOWED)

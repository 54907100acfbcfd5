"""Creating, editing and linking records from the pages; the boards. Archiving is in
test_archive_pages.py."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, User
from django.test import Client

from config.routing import websocket_urlpatterns
from crm.consumers import UNAUTHENTICATED
from crm.models import Company, Contact, ContactCompany, Deal, PipelineKind, Stage
from crm.services import (
    contact_company_associate,
    contact_update,
    record_archive,
    record_update,
)
from crm.tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob: User) -> Client:
    client = Client()
    client.force_login(bob)
    return client


def test_a_rep_creates_a_company_owned_by_her(
    alice_client: Client, alice: User
) -> None:
    response = alice_client.post(
        "/companies/new/", {"name": "Acme", "domain": " ACME.com ", "owner": alice.pk}
    )

    company = Company.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/companies/{company.pk}/"
    assert (company.name, company.domain, company.owner) == ("Acme", "acme.com", alice)


def test_a_contact_with_two_emails_joins_the_company_of_its_domain(
    alice_client: Client, alice: User
) -> None:
    acme = factories.company("acme.com", name="Acme")

    alice_client.post(
        "/contacts/new/",
        {
            "first_name": "Anna",
            "emails": "Anna@acme.com\nanna.private@example.org",
            "owner": alice.pk,
            "marketing_status": "non_marketing",
            "legal_basis": "",
        },
    )

    contact = Contact.objects.get()
    emails = [(e.email, e.is_primary) for e in contact.emails.all()]
    assert emails == [("anna@acme.com", True), ("anna.private@example.org", False)]
    assert ContactCompany.objects.get(contact=contact).company == acme


def test_a_duplicate_domain_is_shown_beside_its_field_and_nothing_is_saved(
    alice_client: Client,
) -> None:
    factories.company("acme.com")

    response = alice_client.post(
        "/companies/new/", {"name": "Acme again", "domain": "acme.com", "owner": ""}
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_domain_error"' in html
    assert "Another company already has the domain acme.com." in html
    assert 'aria-invalid="true"' in html
    assert Company.objects.count() == 1


def test_an_email_that_is_not_one_is_refused_beside_the_emails_field(
    alice_client: Client,
) -> None:
    response = alice_client.post(
        "/contacts/new/",
        {"emails": "anna@acme.com\nnot-an-email", "marketing_status": "marketing"},
    )

    assert response.status_code == 400
    assert "Not an email address: not-an-email." in response.content.decode()
    assert not Contact.objects.exists()


def test_the_edit_form_shows_the_record_as_it_is(
    alice_client: Client, alice: User
) -> None:
    deal = factories.deal(name="Big one", owner=alice, amount="1200.50")

    html = alice_client.get(f"/deals/{deal.pk}/edit/").content.decode()

    assert 'value="Big one"' in html
    assert 'value="1200.50"' in html


def test_bob_sees_alices_contact_read_only_and_cannot_open_its_forms(
    bob_client: Client, alice: User
) -> None:
    contact = factories.contact("anna@acme.com", owner=alice)

    page = bob_client.get(f"/contacts/{contact.pk}/").content.decode()

    assert "Read-only" in page
    assert f"/contacts/{contact.pk}/edit/" not in page
    assert bob_client.get(f"/contacts/{contact.pk}/edit/").status_code == 403
    assert bob_client.get(f"/contacts/{contact.pk}/archive/").status_code == 403


def test_forms_send_anonymous_visitors_to_sign_in(client: Client) -> None:
    for url in ["/contacts/new/", "/deals/board/", "/tickets/board/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_the_picker_finds_records_and_links_one(
    alice_client: Client, alice: User
) -> None:
    contact = factories.contact("anna@gmail.com", owner=alice)
    acme = factories.company("acme.com", name="Acme")
    factories.company("globex.com", name="Globex")

    found = alice_client.get(
        f"/contacts/{contact.pk}/", {"find": "company", "q": "acm"}
    ).content.decode()
    assert 'aria-label="Link Acme (acme.com)"' in found
    assert "Globex (globex.com)" not in found

    alice_client.post(f"/contacts/{contact.pk}/links/company/", {"other_id": acme.pk})
    assert ContactCompany.objects.get(contact=contact).company == acme


def test_a_rep_chooses_the_primary_company_and_the_primary_email(
    alice_client: Client, alice: User
) -> None:
    contact = factories.contact("anna@acme.com", owner=alice)
    other = factories.company("globex.com")
    contact_company_associate(contact=contact, company=other)
    contact_update(contact=contact, data={"emails": ["anna@acme.com", "a@globex.com"]})

    alice_client.post(
        f"/contacts/{contact.pk}/links/company/",
        {"other_id": other.pk, "primary": "1"},
    )
    alice_client.post(
        f"/contacts/{contact.pk}/emails/primary/", {"email": "a@globex.com"}
    )

    assert ContactCompany.objects.get(contact=contact, is_primary=True).company == other
    assert contact.emails.get(is_primary=True).email == "a@globex.com"


def test_a_contacts_other_address_cannot_be_made_primary_by_a_stranger(
    bob_client: Client, alice: User
) -> None:
    contact = factories.contact("anna@acme.com", owner=alice)

    response = bob_client.post(
        f"/contacts/{contact.pk}/emails/primary/", {"email": "anna@acme.com"}
    )

    assert response.status_code == 403


def _pipeline_with_three_stages() -> tuple[Any, list[Stage]]:
    pipe = factories.pipeline(PipelineKind.DEAL, name="Sales")
    Stage.objects.create(pipeline=pipe, name="Proposal", position=1)
    pipe.stages.filter(name="Done").update(position=2)
    return pipe, list(pipe.stages.order_by("position"))


def test_the_board_shows_a_column_per_stage_with_its_cards(
    alice_client: Client, alice: User
) -> None:
    pipe, stages = _pipeline_with_three_stages()
    factories.deal(
        name="Deal one", pipeline=pipe, stage=stages[0], owner=alice, amount="2500"
    )

    html = alice_client.get("/deals/board/", {"pipeline": pipe.pk}).content.decode()

    assert [f'data-stage="{s.pk}" aria-labelledby' in html for s in stages] == [
        True
    ] * 3
    assert "Deal one" in html
    assert "2,500.00 USD" in html


def test_a_move_from_the_board_form_is_saved_and_returns_to_the_board(
    alice_client: Client, alice: User
) -> None:
    pipe, stages = _pipeline_with_three_stages()
    deal = factories.deal(pipeline=pipe, stage=stages[0], owner=alice)

    response = alice_client.post(f"/deals/{deal.pk}/move/", {"stage": stages[1].pk})

    deal.refresh_from_db()
    assert deal.stage == stages[1]
    assert response["Location"] == f"/deals/board/?pipeline={pipe.pk}"


def test_a_move_from_the_boards_script_answers_json(
    alice_client: Client, alice: User
) -> None:
    pipe, stages = _pipeline_with_three_stages()
    other = factories.pipeline(PipelineKind.DEAL)
    deal = factories.deal(pipeline=pipe, stage=stages[0], owner=alice)
    json = {"Accept": "application/json"}

    moved = alice_client.post(
        f"/deals/{deal.pk}/move/", {"stage": stages[2].pk}, headers=json
    )
    refused = alice_client.post(
        f"/deals/{deal.pk}/move/",
        {"stage": factories.open_stage(other).pk},
        headers=json,
    )

    assert moved.json() == {"id": deal.pk, "stage": stages[2].pk}
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_stage"
    deal.refresh_from_db()
    assert deal.stage == stages[2]


def test_bob_cannot_move_alices_deal_and_sees_no_move_form(
    bob_client: Client, alice: User
) -> None:
    pipe, stages = _pipeline_with_three_stages()
    deal = factories.deal(pipeline=pipe, stage=stages[0], owner=alice)

    html = bob_client.get("/deals/board/").content.decode()
    response = bob_client.post(f"/deals/{deal.pk}/move/", {"stage": stages[1].pk})

    assert f'id="move-{deal.pk}"' not in html
    assert response.status_code == 403
    deal.refresh_from_db()
    assert deal.stage == stages[0]


def _listen_while(user: Any, pipeline_id: int, action: Any) -> Any:
    async def scenario() -> Any:
        communicator = WebsocketCommunicator(
            URLRouter(websocket_urlpatterns), f"/ws/boards/{pipeline_id}/"
        )
        communicator.scope["user"] = user
        connected, code = await communicator.connect()
        if not connected:
            return code
        await sync_to_async(action)()
        message = await communicator.receive_json_from(timeout=15)
        await communicator.disconnect()
        return message

    return async_to_sync(scenario)()


def test_a_stage_change_reaches_the_pipelines_board_after_commit(
    alice: User, bob: User, django_capture_on_commit_callbacks: Any
) -> None:
    pipe, stages = _pipeline_with_three_stages()
    deal = factories.deal(pipeline=pipe, stage=stages[0], owner=alice)

    def move() -> None:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            record_update(record=deal, data={"stage": stages[1]})
        assert len(callbacks) == 1

    message = _listen_while(bob, pipe.pk, move)

    assert message == {
        "type": "record.moved",
        "kind": "deal",
        "id": deal.pk,
        "pipeline": pipe.pk,
        "stage": stages[1].pk,
        "archived": False,
    }


def test_archiving_a_deal_tells_its_board_to_drop_the_card(
    alice: User, bob: User, django_capture_on_commit_callbacks: Any
) -> None:
    pipe, stages = _pipeline_with_three_stages()
    deal = factories.deal(pipeline=pipe, stage=stages[0], owner=alice)

    def archive() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            record_archive(record=deal, archived=True)

    message = _listen_while(bob, pipe.pk, archive)

    assert message["id"] == deal.pk and message["archived"] is True


def test_a_change_that_keeps_the_stage_sends_nothing(
    alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    deal = factories.deal(owner=alice)

    with django_capture_on_commit_callbacks() as callbacks:
        record_update(record=deal, data={"name": "Renamed"})

    assert callbacks == []
    assert Deal.objects.get(pk=deal.pk).name == "Renamed"


def test_the_board_socket_refuses_anonymous_visitors() -> None:
    code = _listen_while(AnonymousUser(), 1, lambda: None)

    assert code == UNAUTHENTICATED

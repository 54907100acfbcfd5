"""Archiving records from their pages (V5): an archived record leaves lists, search,
pickers, boards and default associations, keeps its links and timeline, opens by its
URL with an "Archived" banner and can be restored. Who may archive is who may edit (the
API's access helper)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from activity.tests.cockpit import logged
from crm.models import Company, Contact, ContactDeal, Deal, PipelineKind, Ticket
from crm.selectors import contact_recent_open_deals, deal_list
from crm.services import association_create, record_archive
from crm.tests import factories

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("kind", "plural"),
    [
        ("contact", "contacts"),
        ("company", "companies"),
        ("deal", "deals"),
        ("ticket", "tickets"),
    ],
)
def test_archiving_asks_first_then_hides_the_record_until_restored(
    alice: User, kind: str, plural: str
) -> None:
    record = {
        "contact": lambda: factories.contact("zed@gmail.com", first_name="Zed"),
        "company": lambda: factories.company("zed.example", name="Zed"),
        "deal": lambda: factories.deal(name="Zed"),
        "ticket": lambda: factories.ticket(subject="Zed"),
    }[kind]()
    model: Any = type(record)
    client = _client(alice)
    detail = f"/{plural}/{record.pk}/"

    asked = client.get(f"{detail}archive/")
    model.objects.get(pk=record.pk, archived_at=None)  # not yet
    done = client.post(f"{detail}archive/")
    listed = client.get(f"/{plural}/", {"q": "zed"}).content.decode()
    archived_list = client.get(f"/{plural}/", {"archived": "1"}).content.decode()
    page = client.get(detail)

    assert asked.status_code == 200 and "Archive" in asked.content.decode()
    assert done["Location"] == f"/{plural}/"
    assert model.objects.get(pk=record.pk).archived_at is not None
    assert detail not in listed
    assert detail in archived_list
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="archived-banner"' in html and "Restore" in html
    assert f"{detail}edit/" not in html

    restored = client.post(f"{detail}restore/")

    assert restored["Location"] == detail
    assert model.objects.get(pk=record.pk).archived_at is None
    assert detail in client.get(f"/{plural}/", {"q": "zed"}).content.decode()
    assert 'id="archived-banner"' not in client.get(detail).content.decode()


def test_bob_cannot_archive_or_restore_alices_deal(alice: User, bob: User) -> None:
    deal = factories.deal(owner=alice)
    archived = factories.deal(owner=alice)
    record_archive(record=archived, archived=True)
    client = _client(bob)

    asked = client.get(f"/deals/{deal.pk}/archive/")
    posted = client.post(f"/deals/{deal.pk}/archive/")
    restored = client.post(f"/deals/{archived.pk}/restore/")
    page = client.get(f"/deals/{archived.pk}/").content.decode()

    assert (asked.status_code, posted.status_code, restored.status_code) == (
        403,
        403,
        403,
    )
    assert Deal.objects.get(pk=deal.pk).archived_at is None
    assert Deal.objects.get(pk=archived.pk).archived_at is not None
    assert "Its owner or a super admin can restore it." in page
    assert f"/deals/{archived.pk}/restore/" not in page


def test_restore_is_a_post_and_anonymous_visitors_sign_in_first(
    client: Client, alice: User
) -> None:
    ticket = factories.ticket(owner=alice)
    record_archive(record=ticket, archived=True)

    anonymous = client.post(f"/tickets/{ticket.pk}/restore/")
    by_get = _client(alice).get(f"/tickets/{ticket.pk}/restore/")

    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert by_get.status_code == 405
    assert Ticket.objects.get(pk=ticket.pk).archived_at is not None


def test_archived_records_leave_pickers_boards_and_default_associations(
    alice: User,
) -> None:
    contact = factories.contact("anna@gmail.com", owner=alice)
    pipe = factories.pipeline(PipelineKind.DEAL)
    kept = factories.deal(name="Kept deal", pipeline=pipe)
    gone = factories.deal(name="Gone deal", pipeline=pipe)
    factories.company("gone.example", name="Gone company")
    for deal in (kept, gone):
        association_create(left=contact, right=deal)
    record_archive(record=gone, archived=True)
    record_archive(record=Company.objects.get(domain="gone.example"), archived=True)
    client = _client(alice)

    board = client.get("/deals/board/", {"pipeline": pipe.pk}).content.decode()
    picker = client.get(
        f"/contacts/{contact.pk}/", {"find": "deal", "q": "deal"}
    ).content.decode()
    company_picker = client.get(
        f"/contacts/{contact.pk}/", {"find": "company", "q": "gone"}
    ).content.decode()

    assert f'id="card-{kept.pk}"' in board and f'id="card-{gone.pk}"' not in board
    assert "Link Kept deal" in picker and "Link Gone deal" not in picker
    assert "Gone company" not in company_picker
    assert contact_recent_open_deals(contact) == [kept]
    assert list(deal_list(pipeline=pipe.pk)) == [kept]
    # The link stays: the archived deal's page still lists the contact.
    assert ContactDeal.objects.filter(contact=contact, deal=gone).exists()


def test_an_archived_record_keeps_its_timeline(alice: User) -> None:
    contact = factories.contact("anna@acme.com", first_name="Anna", owner=alice)
    logged(alice, [contact], subject="Quarterly proposal")
    _client(alice).post(f"/contacts/{contact.pk}/archive/")

    html = _client(alice).get(f"/contacts/{contact.pk}/").content.decode()

    assert Contact.objects.get(pk=contact.pk).archived_at is not None
    assert "Quarterly proposal" in html

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from crm.models import (
    Company,
    CompanyDeal,
    CompanyTicket,
    Contact,
    ContactDeal,
    ContactEmail,
    ContactTicket,
    Deal,
    Pipeline,
    PipelineKind,
    Stage,
    Ticket,
)
from crm.selectors import contact_primary_company, email_domain, is_free_mail
from settings_admin.models import Seat, UserSettings

MODELS = [
    User,
    UserSettings,
    Company,
    Contact,
    ContactEmail,
    Pipeline,
    Stage,
    Deal,
    Ticket,
    ContactDeal,
    ContactTicket,
    CompanyDeal,
    CompanyTicket,
]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(db: None, settings: object) -> str:
    settings.DEBUG = True  # type: ignore[attr-defined]
    return seed()


def counts() -> dict[str, int]:
    return {model.__name__: model._default_manager.count() for model in MODELS}


def test_it_creates_the_demo_account(seeded: str) -> None:
    assert Contact.objects.count() == 50
    assert Company.objects.count() == 10
    assert Deal.objects.count() == 20
    assert Ticket.objects.count() == 12
    assert "alice  / alice-demo-2026" in seeded
    assert "admin  / admin-demo-2026  (super admin)" in seeded


def test_running_it_twice_creates_and_changes_nothing(seeded: str) -> None:
    before = counts()
    hashes = dict(User.objects.values_list("username", "password"))
    stamps = {
        model.__name__: sorted(model._default_manager.values_list("pk", "updated_at"))
        for model in (UserSettings, Company, Contact, Deal, Ticket)
    }
    again = seed()
    assert counts() == before
    assert dict(User.objects.values_list("username", "password")) == hashes
    assert stamps == {
        model.__name__: sorted(model._default_manager.values_list("pk", "updated_at"))
        for model in (UserSettings, Company, Contact, Deal, Ticket)
    }
    assert "created now: 0 users, 0 companies, 0 contacts, 0 deals, 0 tickets" in again


def test_the_printed_logins_work(seeded: str) -> None:
    for username, password in [
        ("alice", "alice-demo-2026"),
        ("bob", "bob-demo-2026"),
        ("admin", "admin-demo-2026"),
    ]:
        assert Client().login(username=username, password=password), username


def test_the_users_have_their_seats_and_roles(seeded: str) -> None:
    users = {
        user.username: user for user in User.objects.select_related("beacon_settings")
    }
    assert users["alice"].beacon_settings.seat == Seat.SALES
    assert users["bob"].beacon_settings.seat == Seat.CORE
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert not users["alice"].is_staff and not users["bob"].is_superuser
    assert users["alice"].email == "alice@beacon.example"


def test_contacts_join_their_company_by_domain_but_free_mail_joins_none(
    seeded: str,
) -> None:
    free = 0
    for contact in Contact.objects.prefetch_related("emails"):
        company = contact_primary_company(contact)
        if is_free_mail(contact.primary_email):
            free += 1
            assert company is None
        else:
            assert company is not None
            assert company.domain == email_domain(contact.primary_email)
    assert free == 5
    # Every company has people, and some people have a further address (R1).
    assert not Company.objects.filter(contacts__isnull=True).exists()
    assert ContactEmail.objects.filter(is_primary=False).exists()


def test_legal_bases_are_varied(seeded: str) -> None:
    bases = set(Contact.objects.values_list("legal_basis", flat=True))
    assert "" in bases
    assert len(bases) >= 4


def test_both_pipelines_have_open_and_closed_stages_in_use(seeded: str) -> None:
    for kind, model in [(PipelineKind.DEAL, Deal), (PipelineKind.TICKET, Ticket)]:
        stages = Stage.objects.filter(pipeline__kind=kind)
        assert stages.filter(is_closed=True).exists()
        assert stages.filter(is_closed=False).exists()
        used = set(model._default_manager.values_list("stage__is_closed", flat=True))
        assert used == {True, False}


def test_records_are_associated(seeded: str) -> None:
    assert not Deal.objects.filter(company_links__isnull=True).exists()
    assert not Ticket.objects.filter(company_links__isnull=True).exists()
    assert not Deal.objects.filter(contact_links__isnull=True).exists()
    assert not Ticket.objects.filter(contact_links__isnull=True).exists()
    # A deal's contacts work at the deal's company.
    for link in ContactDeal.objects.select_related("contact", "deal"):
        company = contact_primary_company(link.contact)
        assert company is not None
        assert link.deal.companies.filter(pk=company.pk).exists()


def test_it_refuses_to_run_in_production(db: None, settings: object) -> None:
    settings.DEBUG = False  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match="published passwords"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()

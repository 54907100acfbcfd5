from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from activity.models import InboundEmail
from conftest import client_for, make_user
from crm.models import Pipeline, PipelineKind, Stage
from crm.services import association_create, contact_create, deal_create
from settings_admin.models import AccountSettings, Seat, SendingIdentity
from settings_admin.selectors import account_settings_get

CHANGE_URL = "admin:settings_admin_accountsettings_change"
REGENERATE_URL = "admin:settings_admin_accountsettings_regenerate_bcc"


@pytest.fixture
def staff_user(db: None) -> User:
    """Staff, but not a super admin: may look at the settings, not change them."""
    user = make_user("carol")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def settings_form(**changes: Any) -> dict[str, Any]:
    """The "Email log & track" form as the browser posts it (checkboxes: present = on)."""
    values: dict[str, Any] = {
        "apply_log_for_all": False,
        "log_all_by_default": True,
        "apply_association_for_all": False,
        "associate_contacts": True,
        "associate_companies": True,
        "associate_deals": True,
        "associate_tickets": True,
        "allow_tracking": True,
        "apply_track_for_all": False,
        "track_all_by_default": True,
        "privacy_enabled": False,
        "bcc_prefix": "log",
        "log_attachments": True,
        "max_attachment_mb": "50",
        "max_body_mb": "2",
        **changes,
    }
    return {
        name: ("on" if value is True else value)
        for name, value in values.items()
        if value is not False
    }


def test_it_redirects_the_changelist_to_the_one_settings_row(admin_user: User) -> None:
    response = client_for(admin_user).get(
        reverse("admin:settings_admin_accountsettings_changelist")
    )
    row = AccountSettings.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(CHANGE_URL, args=[row.pk])


def test_it_lets_a_super_admin_change_email_log_and_track(admin_user: User) -> None:
    row = account_settings_get()
    response = client_for(admin_user).post(
        reverse(CHANGE_URL, args=[row.pk]),
        settings_form(privacy_enabled=True, apply_log_for_all=True, bcc_prefix="crm"),
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.privacy_enabled is True
    assert row.apply_log_for_all is True
    assert row.bcc_address.startswith(f"crm+{row.bcc_secret}@")


def test_it_reads_like_a_product_plain_titles_help_on_every_field_limits_in_mb(
    admin_user: User,
) -> None:
    row = account_settings_get()
    response = client_for(admin_user).get(reverse(CHANGE_URL, args=[row.pk]))
    page = response.content.decode()
    form = response.context["adminform"].form
    assert response.status_code == 200
    assert "Tracking: may anyone track opens and clicks?" in page
    assert "Attachments and size limits" in page
    assert not [title for title in ("S1 ·", "S9 ·", "(S3)") if title in page]
    assert [name for name, field in form.fields.items() if not field.help_text] == []
    assert 'name="max_attachment_mb" value="50.0"' in page
    assert 'name="max_body_mb" value="2.0"' in page
    assert "52428800" not in page
    assert f'<code id="bcc-address">{row.bcc_address}</code>' in page
    assert 'data-copy="#bcc-address"' in page
    assert "Regenerate BCC address" in page


def test_limits_given_in_mb_are_stored_in_bytes(admin_user: User) -> None:
    row = account_settings_get()
    client_for(admin_user).post(
        reverse(CHANGE_URL, args=[row.pk]),
        settings_form(max_attachment_mb="25", max_body_mb="1.5"),
    )
    row.refresh_from_db()
    assert (row.max_attachment_bytes, row.max_body_bytes) == (
        25 * 1024 * 1024,
        int(1.5 * 1024 * 1024),
    )


def test_it_refuses_a_track_default_while_tracking_is_off(admin_user: User) -> None:
    row = account_settings_get()
    response = client_for(admin_user).post(
        reverse(CHANGE_URL, args=[row.pk]),
        settings_form(allow_tracking=False, apply_track_for_all=True),
    )
    assert response.status_code == 200
    assert "Only available while tracking is allowed" in response.content.decode()
    row.refresh_from_db()
    assert row.allow_tracking is True
    assert row.apply_track_for_all is False


def test_a_staff_member_may_view_but_not_change_the_settings(staff_user: User) -> None:
    row = account_settings_get()
    client = client_for(staff_user)
    page = client.get(reverse(CHANGE_URL, args=[row.pk]))
    assert page.status_code == 200
    assert "Regenerate BCC address" not in page.content.decode()
    response = client.post(
        reverse(CHANGE_URL, args=[row.pk]), settings_form(privacy_enabled=True)
    )
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.privacy_enabled is False


def test_a_user_who_is_not_staff_is_sent_to_the_admin_sign_in(alice: User) -> None:
    row = account_settings_get()
    response = client_for(alice).get(reverse(CHANGE_URL, args=[row.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_nobody_can_add_or_delete_the_settings_row(admin_user: User) -> None:
    row = account_settings_get()
    client = client_for(admin_user)
    assert (
        client.get(reverse("admin:settings_admin_accountsettings_add")).status_code
        == 403
    )
    delete = client.post(
        reverse("admin:settings_admin_accountsettings_delete", args=[row.pk]),
        {"post": "yes"},
    )
    assert delete.status_code == 403
    assert AccountSettings.objects.count() == 1


def test_a_super_admin_can_regenerate_the_bcc_address(admin_user: User) -> None:
    row = account_settings_get()
    old = row.bcc_address
    response = client_for(admin_user).post(reverse(REGENERATE_URL))
    assert response.status_code == 302
    assert response["Location"] == reverse(CHANGE_URL, args=[row.pk])
    row.refresh_from_db()
    assert row.bcc_address != old
    assert len(row.bcc_secret) == 16


def test_only_a_super_admin_can_regenerate_the_bcc_address(
    admin_user: User, staff_user: User
) -> None:
    row = account_settings_get()
    secret = row.bcc_secret
    assert client_for(staff_user).post(reverse(REGENERATE_URL)).status_code == 403
    # A GET (a link, a prefetch) never regenerates.
    assert client_for(admin_user).get(reverse(REGENERATE_URL)).status_code == 405
    row.refresh_from_db()
    assert row.bcc_secret == secret


def test_the_contacts_admin_finds_a_contact_by_any_of_its_emails(
    admin_user: User,
) -> None:
    anna = contact_create(
        emails=["anna@northwind.example", "a.svensson@northwind.example"],
        first_name="Anna",
        last_name="Svensson",
    )
    contact_create(emails=["liam@globex.example"], first_name="Liam")
    response = client_for(admin_user).get(
        reverse("admin:crm_contact_changelist"), {"q": "A.Svensson@northwind"}
    )
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [anna]


def test_the_companies_admin_finds_a_company_by_domain(admin_user: User) -> None:
    contact_create(emails=["anna@northwind.example"])
    contact_create(emails=["liam@globex.example"])
    response = client_for(admin_user).get(
        reverse("admin:crm_company_changelist"), {"q": "globex"}
    )
    assert [c.domain for c in response.context["cl"].result_list] == ["globex.example"]


@pytest.fixture
def pipelines(db: None) -> tuple[Stage, Stage]:
    deals = Pipeline.objects.create(name="Sales", kind=PipelineKind.DEAL)
    tickets = Pipeline.objects.create(name="Support", kind=PipelineKind.TICKET)
    return (
        Stage.objects.create(pipeline=deals, name="Qualified"),
        Stage.objects.create(pipeline=tickets, name="New"),
    )


def test_the_deal_admin_refuses_a_stage_of_another_pipeline(
    admin_user: User, pipelines: tuple[Stage, Stage]
) -> None:
    deal_stage, ticket_stage = pipelines
    deal = deal_create(name="Pilot", pipeline=deal_stage.pipeline, stage=deal_stage)
    response = client_for(admin_user).post(
        reverse("admin:crm_deal_change", args=[deal.pk]),
        {
            "name": "Pilot",
            "pipeline": deal_stage.pipeline_id,
            "stage": ticket_stage.pk,
            **_empty_inlines("contact_links", "company_links"),
        },
    )
    assert response.status_code == 200
    assert "This stage is not in the pipeline" in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage == deal_stage


def _empty_inlines(*prefixes: str) -> dict[str, str]:
    data: dict[str, str] = {}
    for prefix in prefixes:
        data |= {
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    return data


ADMIN_MODELS = [
    "crm_contact",
    "crm_contactemail",
    "crm_company",
    "crm_pipeline",
    "crm_stage",
    "crm_deal",
    "crm_ticket",
    "settings_admin_usersettings",
    "settings_admin_neverlogentry",
    "settings_admin_sendingidentity",
    "settings_admin_blockednetwork",
    "auth_user",
]


@pytest.mark.parametrize("model", ADMIN_MODELS)
def test_every_admin_list_and_add_page_renders(admin_user: User, model: str) -> None:
    client = client_for(admin_user)
    listing = client.get(reverse(f"admin:{model}_changelist"), {"q": "x"})
    assert listing.status_code == 200
    assert client.get(reverse(f"admin:{model}_add")).status_code == 200


def test_record_pages_show_their_associations_inline(
    admin_user: User, pipelines: tuple[Stage, Stage]
) -> None:
    deal_stage, _ = pipelines
    anna = contact_create(emails=["anna@northwind.example"], first_name="Anna")
    deal = deal_create(name="Pilot", pipeline=deal_stage.pipeline, stage=deal_stage)
    association_create(left=anna, right=deal)
    client = client_for(admin_user)
    contact_page = client.get(reverse("admin:crm_contact_change", args=[anna.pk]))
    assert contact_page.status_code == 200
    page = contact_page.content.decode()
    assert "anna@northwind.example" in page
    assert "Pilot" in page
    company_page = client.get(
        reverse("admin:crm_company_change", args=[anna.companies.get().pk])
    )
    assert "Anna" in company_page.content.decode()


def test_the_user_admin_sets_the_seat_inline(admin_user: User, bob: User) -> None:
    url = reverse("admin:auth_user_change", args=[bob.pk])
    client = client_for(admin_user)
    page = client.get(url)
    assert "Beacon settings (seat)" in page.content.decode()
    own = bob.beacon_settings
    data = {
        "username": "bob",
        "email": bob.email,
        "first_name": bob.first_name,
        "last_name": "",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "beacon_settings-TOTAL_FORMS": "1",
        "beacon_settings-INITIAL_FORMS": "1",
        "beacon_settings-MIN_NUM_FORMS": "0",
        "beacon_settings-MAX_NUM_FORMS": "1",
        "beacon_settings-0-id": str(own.pk),
        "beacon_settings-0-user": str(bob.pk),
        "beacon_settings-0-seat": Seat.SALES,
        "beacon_settings-0-log_by_default": "on",
        "beacon_settings-0-track_by_default": "on",
        "beacon_settings-0-create_contacts": "on",
        "beacon_settings-0-desktop_notifications": "on",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    own.refresh_from_db()
    assert own.seat == Seat.SALES


def test_the_identity_admin_refuses_another_users_login_email(
    admin_user: User, alice: User, bob: User
) -> None:
    """The rule the API's service enforces (U2) holds in the admin too: bob given
    alice's address as an alias could log and track as her."""
    client = client_for(admin_user)
    add = reverse("admin:settings_admin_sendingidentity_add")
    response = client.post(add, {"user": bob.pk, "email": alice.email, "kind": "alias"})
    assert response.status_code == 200
    assert "another user&#x27;s login email" in response.content.decode()
    own = client.post(
        add, {"user": bob.pk, "email": bob.email.upper(), "kind": "alias"}
    )
    assert own.status_code == 200
    assert not SendingIdentity.objects.exists()
    fine = client.post(
        add, {"user": bob.pk, "email": "Bob@Sales.Example", "kind": "alias"}
    )
    assert fine.status_code == 302
    assert list(SendingIdentity.objects.values_list("user", "email")) == [
        (bob.pk, "bob@sales.example")
    ]


def test_the_review_list_explains_each_reason_and_the_action_to_take(
    admin_user: User,
) -> None:
    inbound = InboundEmail.objects.create(
        route="smtp",
        status="rejected",
        reason="sender_not_identity",
        detail="eve@elsewhere.example is not a sending identity of any Beacon user.",
        raw="inbound/x.eml",
        from_address="eve@elsewhere.example",
    )
    client = client_for(admin_user)

    listing = client.get(reverse("admin:activity_inboundemail_changelist"))
    detail = client.get(
        reverse("admin:activity_inboundemail_change", args=[inbound.pk])
    )

    for page in (listing.content.decode(), detail.content.decode()):
        assert "is not one of your users&#x27; addresses" in page
        assert "add it to their sending addresses" in page

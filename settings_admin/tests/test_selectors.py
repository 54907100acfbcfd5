"""Never-log matching and effective settings: the rules everything else relies on."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from settings_admin.models import AccountSettings, UserSettings
from settings_admin.selectors import (
    account_settings_get,
    effective_settings,
    never_log_filter,
    never_log_pattern_matches,
)
from settings_admin.services import (
    InvalidNeverLogPattern,
    TrackDefaultNeedsTracking,
    account_settings_update,
    never_log_add,
)


@pytest.mark.parametrize(
    ("pattern", "email", "matches"),
    [
        ("anna@acme.com", "anna@acme.com", True),
        ("anna@acme.com", "ANNA@Acme.COM", True),
        ("ANNA@ACME.com", "anna@acme.com", True),
        ("anna@acme.com", "bob@acme.com", False),
        ("anna@acme.com", "anna@acme.com.evil.example", False),
        ("*@acme.com", "bob@acme.com", True),
        ("*@acme.com", "Bob@ACME.COM", True),
        ("*@ACME.COM", "bob@acme.com", True),
        ("*@acme.com", "bob@notacme.com", False),
        ("*@acme.com", "bob@sub.acme.com", False),
        ("*@acme.com", "bob@acme.com.au", False),
        ("*@acme.com", "acme.com", False),
    ],
)
def test_it_matches_never_log_patterns_exactly_and_ignoring_case(
    pattern: str, email: str, matches: bool
) -> None:
    assert never_log_pattern_matches(pattern, email) is matches


@pytest.mark.django_db
def test_it_filters_with_the_account_list_and_only_the_users_own_list(
    alice: User, bob: User
) -> None:
    never_log_add(pattern="*@Lawyers.example")
    never_log_add(pattern="secret@globex.com", user=alice)
    emails = ["a@lawyers.example", "SECRET@globex.com", "x@notlawyers.example"]

    assert never_log_filter(emails, alice) == {"a@lawyers.example", "secret@globex.com"}
    assert never_log_filter(emails, bob) == {"a@lawyers.example"}
    assert never_log_filter(emails, None) == {"a@lawyers.example"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "pattern", ["acme.com", "*acme.com", "a*@acme.com", "@acme.com", "x@y", "a b@c.com"]
)
def test_it_refuses_malformed_never_log_patterns(pattern: str) -> None:
    with pytest.raises(InvalidNeverLogPattern):
        never_log_add(pattern=pattern)


def _settings(user: User, **fields: bool) -> None:
    UserSettings.objects.filter(user=user).update(**fields)


@pytest.mark.django_db
def test_the_users_own_defaults_apply_while_no_switch_is_on(alice: User) -> None:
    _settings(
        alice, log_by_default=False, track_by_default=False, associate_deals=False
    )
    account_settings_update(
        data={"log_all_by_default": True, "track_all_by_default": True}
    )

    effective = effective_settings(alice)

    assert (effective.log_by_default, effective.log_locked) == (False, False)
    assert (effective.track_by_default, effective.track_locked) == (False, False)
    assert effective.associate["deals"] is False
    assert effective.associate_locked is False


@pytest.mark.django_db
def test_s1_apply_log_for_all_wins_and_locks(alice: User) -> None:
    _settings(alice, log_by_default=True)
    account_settings_update(
        data={"apply_log_for_all": True, "log_all_by_default": False}
    )

    effective = effective_settings(alice)

    assert (effective.log_by_default, effective.log_locked) == (False, True)


@pytest.mark.django_db
def test_s2_apply_association_for_all_wins_and_locks(alice: User) -> None:
    _settings(alice, associate_companies=True, associate_tickets=True)
    account_settings_update(
        data={
            "apply_association_for_all": True,
            "associate_companies": False,
            "associate_tickets": False,
        }
    )

    effective = effective_settings(alice)

    assert effective.associate == {
        "contacts": True,
        "companies": False,
        "deals": True,
        "tickets": False,
    }
    assert effective.associate_locked is True


@pytest.mark.django_db
def test_s4_apply_track_for_all_wins_and_locks(alice: User, bob: User) -> None:
    _settings(alice, track_by_default=False)
    account_settings_update(
        data={"apply_track_for_all": True, "track_all_by_default": True}
    )

    effective = effective_settings(alice)

    assert (effective.track_by_default, effective.track_locked) == (True, True)
    assert effective.track_clicks is True  # a sales seat (U1)
    assert effective_settings(bob).track_clicks is False  # a core seat


@pytest.mark.django_db
def test_nobody_tracks_while_s3_is_off(alice: User) -> None:
    _settings(alice, track_by_default=True)
    account_settings_update(data={"allow_tracking": False})

    effective = effective_settings(alice)

    assert effective.tracking_allowed is False
    assert effective.track_by_default is False
    assert effective.track_clicks is False
    assert effective.track_locked is True


@pytest.mark.django_db
def test_s4_needs_s3_in_the_model_clean_and_the_database() -> None:
    account = account_settings_get()
    account.allow_tracking = False
    account.apply_track_for_all = True

    with pytest.raises(ValidationError) as raised:
        account.clean()
    assert "apply_track_for_all" in raised.value.message_dict
    with transaction.atomic(), pytest.raises(IntegrityError):
        account.save()


@pytest.mark.django_db
def test_s4_needs_s3_in_the_service_and_changes_nothing() -> None:
    account_settings_get()

    with pytest.raises(TrackDefaultNeedsTracking):
        account_settings_update(
            data={"allow_tracking": False, "apply_track_for_all": True}
        )

    account = AccountSettings.objects.get()
    assert (account.allow_tracking, account.apply_track_for_all) == (True, False)

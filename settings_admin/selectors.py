"""Reads of settings. `effective_settings` is the one answer to "what applies to this user"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from config.api import NotAllowed
from settings_admin.models import (
    AccountSettings,
    BlockedNetwork,
    NeverLogEntry,
    NeverLogScope,
    Seat,
    SendingIdentity,
    UserSettings,
)

ASSOCIATION_TYPES = ("contacts", "companies", "deals", "tickets")

# User fields each account "apply for all users" switch locks.
LOCKS: dict[str, tuple[str, ...]] = {
    "apply_log_for_all": ("log_by_default",),
    "apply_track_for_all": ("track_by_default",),
    "apply_association_for_all": tuple(
        f"associate_{kind}" for kind in ASSOCIATION_TYPES
    ),
}


def account_settings_get() -> AccountSettings:
    settings_row, _ = AccountSettings.objects.get_or_create(pk=1)
    return settings_row


def user_settings_get(user: AbstractBaseUser) -> UserSettings:
    row, _ = UserSettings.objects.get_or_create(user_id=user.pk)
    return row


def locked_user_fields(account: AccountSettings) -> list[str]:
    """The user settings the account currently decides for everyone."""
    return [
        field
        for switch, fields in LOCKS.items()
        if getattr(account, switch)
        for field in fields
    ]


@dataclass(frozen=True)
class EffectiveSettings:
    """What applies to one user, after the account's "apply for all users" switches.

    `*_locked` is true where the account decides and the user sees the setting locked.
    """

    seat: str
    tracking_allowed: bool  # S3
    track_clicks: bool  # U1: sales seats only
    track_by_default: bool
    track_locked: bool
    log_by_default: bool
    log_locked: bool
    associate: dict[str, bool]
    associate_locked: bool
    create_contacts: bool
    desktop_notifications: bool
    privacy_enabled: bool  # S5
    log_attachments: bool  # S9
    max_attachment_bytes: int
    max_body_bytes: int
    bcc_address: str  # the user's personal BCC address

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def effective_settings(
    user: AbstractBaseUser,
    *,
    account: AccountSettings | None = None,
    own: UserSettings | None = None,
) -> EffectiveSettings:
    account = account or account_settings_get()
    own = own or user_settings_get(user)
    # S4 only exists while S3 is on: with tracking off nobody tracks, whatever the defaults.
    track_locked = account.allow_tracking and account.apply_track_for_all
    if not account.allow_tracking:
        track_by_default = False
    elif track_locked:
        track_by_default = account.track_all_by_default
    else:
        track_by_default = own.track_by_default
    source = account if account.apply_association_for_all else own
    return EffectiveSettings(
        seat=own.seat,
        tracking_allowed=account.allow_tracking,
        track_clicks=account.allow_tracking and own.seat == Seat.SALES,
        track_by_default=track_by_default,
        track_locked=track_locked or not account.allow_tracking,
        log_by_default=(
            account.log_all_by_default
            if account.apply_log_for_all
            else own.log_by_default
        ),
        log_locked=account.apply_log_for_all,
        associate={
            kind: getattr(source, f"associate_{kind}") for kind in ASSOCIATION_TYPES
        },
        associate_locked=account.apply_association_for_all,
        create_contacts=own.create_contacts,
        desktop_notifications=own.desktop_notifications,
        privacy_enabled=account.privacy_enabled,
        log_attachments=account.log_attachments,
        max_attachment_bytes=account.max_attachment_bytes,
        max_body_bytes=account.max_body_bytes,
        bcc_address=own.bcc_address(account),
    )


def never_log_pattern_matches(pattern: str, email: str) -> bool:
    """`name@domain` matches that address; `*@domain` every address at exactly that domain.

    Case-insensitive. `*@acme.com` does not match `bob@notacme.com` nor `bob@eu.acme.com`.
    """
    pattern = pattern.strip().lower()
    email = email.strip().lower()
    if pattern.startswith("*@"):
        return email.rpartition("@")[2] == pattern[2:] and "@" in email
    return email == pattern


def never_log_patterns(user: AbstractBaseUser | None) -> list[str]:
    """The account's list plus, when a user is given, that user's own list."""
    scope = Q(scope=NeverLogScope.ACCOUNT)
    if user is not None:
        scope |= Q(scope=NeverLogScope.USER, user=user)
    return list(NeverLogEntry.objects.filter(scope).values_list("pattern", flat=True))


def never_log_filter(emails: Iterable[str], user: AbstractBaseUser | None) -> set[str]:
    """Those of `emails` (lower-cased) that are on the account's or the user's never-log list."""
    return never_log_matches(emails, never_log_patterns(user))


def never_log_matches(emails: Iterable[str], patterns: Iterable[str]) -> set[str]:
    """Those of `emails` (lower-cased) that one of `patterns` matches; for callers that
    read the patterns once for many checks."""
    return {
        email.strip().lower()
        for email in emails
        if any(never_log_pattern_matches(pattern, email) for pattern in patterns)
    }


def sending_identity_user(email: str) -> AbstractBaseUser | None:
    """The user who may send from `email`: their login email, an inbox or an alias (U2)."""
    email = email.strip().lower()
    identity = (
        SendingIdentity.objects.select_related("user").filter(email=email).first()
    )
    if identity is not None:
        return identity.user if identity.user.is_active else None
    User = get_user_model()
    return (
        User.objects.filter(email__iexact=email, is_active=True).order_by("pk").first()
    )


def sending_addresses(user: AbstractBaseUser) -> list[str]:
    addresses = (
        [getattr(user, "email", "").lower()] if getattr(user, "email", "") else []
    )
    addresses += list(
        SendingIdentity.objects.filter(user_id=user.pk).values_list("email", flat=True)
    )
    return addresses


def blocked_networks() -> list[str]:
    """The account's blocked networks (S8) as CIDR strings: the tracking classifier
    gives hits from them the verdict `blocked_ip`."""
    return list(BlockedNetwork.objects.values_list("cidr", flat=True))


def account_settings_get_for_user(
    user: AbstractBaseUser | AnonymousUser, *, write: bool = False
) -> AccountSettings:
    """Everyone signed in reads the account settings; only super admins change them."""
    if write and not getattr(user, "is_superuser", False):
        raise NotAllowed("Only super admins can change the account settings.")
    return account_settings_get()


def never_log_entries_for_user(user: AbstractBaseUser) -> QuerySet[NeverLogEntry]:
    """The account's list and the user's own list; never another user's."""
    return NeverLogEntry.objects.filter(
        Q(scope=NeverLogScope.ACCOUNT) | Q(scope=NeverLogScope.USER, user_id=user.pk)
    ).order_by("scope", "pattern", "id")


def never_log_entry_can_change(user: AbstractBaseUser, entry: NeverLogEntry) -> bool:
    if entry.scope == NeverLogScope.ACCOUNT:
        return bool(getattr(user, "is_superuser", False))
    return bool(entry.user_id == user.pk)


def never_log_entry_get_for_user(
    user: AbstractBaseUser, pk: Any, *, write: bool = False
) -> NeverLogEntry:
    """Own entries and the account's are visible; only super admins change the account's."""
    entry = get_object_or_404(never_log_entries_for_user(user), pk=pk)
    if write and not never_log_entry_can_change(user, entry):
        raise NotAllowed("Only super admins can change the account's never-log list.")
    return entry


def sending_identities_for_user(user: AbstractBaseUser) -> QuerySet[SendingIdentity]:
    return SendingIdentity.objects.filter(user_id=user.pk).order_by("email", "id")


def sending_identity_get_for_user(user: AbstractBaseUser, pk: Any) -> SendingIdentity:
    """A user sees and removes only their own sending identities."""
    return get_object_or_404(sending_identities_for_user(user), pk=pk)

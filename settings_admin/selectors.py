"""Reads of settings. `effective_settings` is the one answer to "what applies to this user"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core import signing
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from config.api import DomainError, NotAllowed
from settings_admin.models import (
    AccountSettings,
    BlockedNetwork,
    NeverLogEntry,
    NeverLogScope,
    NotificationMute,
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
    """The user who may send from `email`: their login email, or an inbox or alias they
    confirmed (U2). An unconfirmed address is nobody's yet."""
    email = email.strip().lower()
    identity = (
        SendingIdentity.objects.select_related("user").filter(email=email).first()
    )
    if identity is not None:
        confirmed = identity.confirmed_at is not None
        return identity.user if confirmed and identity.user.is_active else None
    User = get_user_model()
    return (
        User.objects.filter(email__iexact=email, is_active=True).order_by("pk").first()
    )


def sending_addresses(user: AbstractBaseUser) -> list[str]:
    addresses = (
        [getattr(user, "email", "").lower()] if getattr(user, "email", "") else []
    )
    addresses += list(
        SendingIdentity.objects.filter(
            user_id=user.pk, confirmed_at__isnull=False
        ).values_list("email", flat=True)
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


IDENTITY_SALT = "beacon.sending-identity.confirm"
IDENTITY_LINK_DAYS = 3


class ConfirmationInvalid(DomainError):
    """A confirmation link that is not Beacon's, was altered, is another user's, or is
    for an address removed since."""

    code = "confirmation_invalid"


class ConfirmationExpired(DomainError):
    """A confirmation link older than IDENTITY_LINK_DAYS days."""

    code = "confirmation_expired"


def sending_identity_for_token(
    user: AbstractBaseUser, token: str, *, for_update: bool = False
) -> SendingIdentity:
    """The identity a confirmation link names (signed with SECRET_KEY, timestamped), if
    it is `user`'s. Another user's link is refused as invalid: it neither confirms nor
    tells which address it is for (U2)."""
    try:
        payload = signing.loads(
            token, salt=IDENTITY_SALT, max_age=timedelta(days=IDENTITY_LINK_DAYS)
        )
    except signing.SignatureExpired as exc:
        raise ConfirmationExpired("This link has expired.") from exc
    except signing.BadSignature as exc:
        raise ConfirmationInvalid("This link is not valid.") from exc
    identities = SendingIdentity.objects.filter(user_id=user.pk)
    if for_update:
        identities = identities.select_for_update()
    identity = identities.filter(pk=payload.get("i"), email=payload.get("e")).first()
    if identity is None or payload.get("u") != user.pk:
        raise ConfirmationInvalid("This link is not valid.")
    return identity


def sending_identity_get_for_user(user: AbstractBaseUser, pk: Any) -> SendingIdentity:
    """A user sees and removes only their own sending identities."""
    return get_object_or_404(sending_identities_for_user(user), pk=pk)


# Notification preferences (V3).


@dataclass(frozen=True)
class NotificationPreferences:
    """What a user wants to hear of their tracked emails' opens and clicks."""

    desktop: bool = True
    muted_contacts: frozenset[int] = frozenset()
    muted_emails: frozenset[int] = frozenset()

    def mutes(self, *, email_id: int, contact_id: int | None) -> bool:
        """`contact_id`: the email's contact, None for anonymous emails (T2)."""
        return email_id in self.muted_emails or (
            contact_id is not None and contact_id in self.muted_contacts
        )


def notification_preferences(
    user_ids: Iterable[int],
) -> dict[int, NotificationPreferences]:
    """Each user's preferences, in two queries whatever the number of users."""
    ids = set(user_ids)
    desktop = dict(
        UserSettings.objects.filter(user_id__in=ids).values_list(
            "user_id", "desktop_notifications"
        )
    )
    contacts: dict[int, set[int]] = {user_id: set() for user_id in ids}
    emails: dict[int, set[int]] = {user_id: set() for user_id in ids}
    for user_id, contact_id, email_id in NotificationMute.objects.filter(
        user_id__in=ids
    ).values_list("user_id", "contact_id", "email_id"):
        if contact_id is not None:
            contacts[user_id].add(contact_id)
        if email_id is not None:
            emails[user_id].add(email_id)
    return {
        user_id: NotificationPreferences(
            desktop.get(user_id, True),
            frozenset(contacts[user_id]),
            frozenset(emails[user_id]),
        )
        for user_id in ids
    }


def notification_mutes_for_user(user: AbstractBaseUser) -> QuerySet[NotificationMute]:
    """The user's own mutes, newest first; never another user's."""
    return (
        NotificationMute.objects.filter(user_id=user.pk)
        .select_related("contact", "email")
        .order_by("-created_at", "-id")
    )


def notification_mute_get_for_user(user: AbstractBaseUser, pk: Any) -> NotificationMute:
    """A user sees and removes only their own mutes."""
    return get_object_or_404(notification_mutes_for_user(user), pk=pk)


def notification_mute_of(
    user: AbstractBaseUser,
    *,
    contact_id: int | None = None,
    email_id: int | None = None,
) -> NotificationMute | None:
    """The user's mute of this contact or email, if there is one (for mute buttons)."""
    if contact_id is not None:
        return notification_mutes_for_user(user).filter(contact_id=contact_id).first()
    return notification_mutes_for_user(user).filter(email_id=email_id).first()

"""Writes to settings. Every write is one function, run in a transaction."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from config.api import Conflict, DomainError
from settings_admin.models import (
    AccountSettings,
    NeverLogEntry,
    NeverLogScope,
    NotificationMute,
    SendingIdentity,
    UserSettings,
    new_bcc_secret,
)
from settings_admin.selectors import (
    IDENTITY_LINK_DAYS,
    IDENTITY_SALT,
    account_settings_get,
    locked_user_fields,
    sending_identity_for_token,
    user_settings_get,
)


class TrackDefaultNeedsTracking(DomainError):
    """The track default (S4) is only available while tracking is allowed (S3)."""

    code = "track_default_needs_tracking"


class SettingLocked(DomainError):
    """The account applies this setting for all users; it cannot be changed here."""

    code = "setting_locked"


class InvalidNeverLogPattern(DomainError):
    """A never-log entry is `name@domain.com` or `*@domain.com`."""

    code = "invalid_never_log_pattern"


def _account_for_update() -> AccountSettings:
    """The account's one row, locked until the caller's transaction ends."""
    return AccountSettings.objects.select_for_update().get(pk=account_settings_get().pk)


@transaction.atomic
def account_settings_update(*, data: dict[str, Any]) -> AccountSettings:
    account = _account_for_update()
    for field, value in data.items():
        setattr(account, field, value)
    try:
        account.clean()
    except ValidationError as exc:
        raise TrackDefaultNeedsTracking(exc.message_dict) from exc
    account.save()
    return account


@transaction.atomic
def account_bcc_regenerate() -> AccountSettings:
    """A new unguessable part for the BCC address (S7); the old address stops logging."""
    account = _account_for_update()
    account.bcc_secret = new_bcc_secret()
    account.save(update_fields=["bcc_secret", "updated_at"])
    return account


@transaction.atomic
def user_bcc_regenerate(*, user: AbstractBaseUser) -> UserSettings:
    """A new secret for the user's personal BCC address; the old address stops logging
    (registrations made with it too)."""
    own = user_settings_get(user)
    own.bcc_secret = new_bcc_secret()
    own.save(update_fields=["bcc_secret", "updated_at"])
    return own


@transaction.atomic
def user_settings_update(
    *, user: AbstractBaseUser, data: dict[str, Any]
) -> UserSettings:
    locked = sorted(set(locked_user_fields(account_settings_get())) & set(data))
    if locked:
        raise SettingLocked({"fields": locked})
    own = user_settings_get(user)
    for field, value in data.items():
        setattr(own, field, value)
    own.save()
    return own


def normalise_never_log_pattern(pattern: str) -> str:
    clean = pattern.strip().lower()
    local, at, domain = clean.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or " " in clean
        or domain.startswith(".")
    ):
        raise InvalidNeverLogPattern({"pattern": pattern})
    if "*" in local and local != "*":
        raise InvalidNeverLogPattern({"pattern": pattern})
    return clean


@transaction.atomic
def never_log_add(
    *, pattern: str, user: AbstractBaseUser | None = None
) -> NeverLogEntry:
    """Adds to the account list (no user) or to the user's personal list."""
    clean = normalise_never_log_pattern(pattern)
    if user is None:
        entry, _ = NeverLogEntry.objects.get_or_create(
            scope=NeverLogScope.ACCOUNT, user__isnull=True, pattern=clean
        )
    else:
        entry, _ = NeverLogEntry.objects.get_or_create(
            scope=NeverLogScope.USER, user_id=user.pk, pattern=clean
        )
    return entry


@transaction.atomic
def never_log_remove(*, entry: NeverLogEntry) -> None:
    entry.delete()


def sending_identity_check(*, user: AbstractBaseUser, email: str) -> str:
    """The address as stored, or Conflict: the user's own login email is an identity
    already, and another user's would let this user log and track as them (U2).
    The API's service and the admin's form both ask it."""
    clean = email.strip().lower()
    if clean == (getattr(user, "email", "") or "").lower():
        raise Conflict({"email": clean}, code="identity_exists")
    User = get_user_model()
    if User.objects.filter(email__iexact=clean).exclude(pk=user.pk).exists():
        raise Conflict({"email": clean}, code="identity_taken")
    return clean


@transaction.atomic
def sending_identity_add(
    *, user: AbstractBaseUser, email: str, kind: str = "alias"
) -> SendingIdentity:
    """The address, unconfirmed: it logs nothing until its owner opens the link mailed
    to it (U2). Adding one's own address again answers it (and mails no new link)."""
    clean = sending_identity_check(user=user, email=email)
    existing = SendingIdentity.objects.filter(email=clean).first()
    if existing is not None:
        if existing.user_id == user.pk:
            return existing
        raise Conflict({"email": clean}, code="identity_taken")
    try:
        with transaction.atomic():
            identity = SendingIdentity.objects.create(
                user_id=user.pk, email=clean, kind=kind
            )
    except IntegrityError as exc:
        # Claimed by a concurrent request between our check and our write.
        raise Conflict({"email": clean}, code="identity_taken") from exc
    sending_identity_send_confirmation(identity=identity)
    return identity


def sending_identity_token(identity: SendingIdentity) -> str:
    """Signed with SECRET_KEY and timestamped: the identity, its owner and its address."""
    payload = {"i": identity.pk, "u": identity.user_id, "e": identity.email}
    return signing.dumps(payload, salt=IDENTITY_SALT, compress=True)


def sending_identity_send_confirmation(*, identity: SendingIdentity) -> None:
    """Mails the confirmation link to the address itself, after commit: only someone
    who reads that mailbox can confirm it."""
    if identity.confirmed_at is not None:
        return
    path = reverse("settings-identity-confirm", args=[sending_identity_token(identity)])
    link = f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"
    body = (
        f"{identity.user} added {identity.email} as an address they send from in "
        f"Beacon. Until it is confirmed, email from it is not logged.\n\n"
        f"To confirm, open this link while signed in to Beacon as {identity.user} "
        f"(it works for {IDENTITY_LINK_DAYS} days):\n{link}\n\n"
        "If you did not expect this, ignore this email: nothing changes.\n"
    )
    address = identity.email
    transaction.on_commit(
        lambda: send_mail(
            "Confirm the address you send from",
            body,
            None,
            [address],
            fail_silently=True,  # the page offers to send it again
        )
    )


@transaction.atomic
def sending_identity_confirm(*, user: AbstractBaseUser, token: str) -> SendingIdentity:
    """Confirms the identity a link names, for its owner only (U2)."""
    identity = sending_identity_for_token(user, token, for_update=True)
    if identity.confirmed_at is None:
        identity.confirmed_at = timezone.now()
        identity.save(update_fields=["confirmed_at"])
    return identity


@transaction.atomic
def sending_identity_remove(*, identity: SendingIdentity) -> None:
    """The address can no longer log email or create contacts for its user."""
    identity.delete()


@transaction.atomic
def notification_mute_add(
    *,
    user: AbstractBaseUser,
    contact_id: int | None = None,
    email_id: int | None = None,
) -> NotificationMute:
    """Mute one contact or one email for this user (V3); muting twice is one mute.

    The caller has checked the user may see the contact or owns the email.
    """
    if (contact_id is None) == (email_id is None):
        raise DomainError("Mute a contact or an email.", code="mute_contact_or_email")
    fields = {"user_id": user.pk, "contact_id": contact_id, "email_id": email_id}
    try:
        with transaction.atomic():
            mute, _ = NotificationMute.objects.get_or_create(**fields)
    except IntegrityError:  # the same mute made by a concurrent request
        mute = NotificationMute.objects.get(**fields)
    return mute


@transaction.atomic
def notification_mute_remove(*, mute: NotificationMute) -> None:
    mute.delete()

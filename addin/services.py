"""The add-in's writes: its tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from addin.models import AddinToken
from addin.selectors import addin_token_get_for_user
from addin.tokens import (
    LAST_USED_PRECISION_SECONDS,
    new_token,
    token_hash,
    token_prefix,
)
from config.api import DomainError


class InvalidTokenName(DomainError):
    """A token needs a name (at most 100 characters) so the rep can recognise it."""

    code = "invalid_token_name"


class IssuedAddinToken(NamedTuple):
    token: AddinToken
    # The secret itself: shown once, never stored.
    key: str


@transaction.atomic
def addin_token_create(*, user: AbstractBaseUser, name: str) -> IssuedAddinToken:
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidTokenName()
    key = new_token()
    token = AddinToken.objects.create(
        user_id=user.pk, name=name, prefix=token_prefix(key), key_hash=token_hash(key)
    )
    return IssuedAddinToken(token=token, key=key)


@transaction.atomic
def addin_token_revoke(*, user: AbstractBaseUser, token_id: int) -> None:
    """The token stops working at once; another user's token is a 404."""
    addin_token_get_for_user(user, token_id).delete()


def addin_token_touch(*, token: AddinToken) -> None:
    """Record a use, writing at most once a minute per token (one conditional UPDATE)."""
    now = timezone.now()
    stale = now - timedelta(seconds=LAST_USED_PRECISION_SECONDS)
    if token.last_used_at is not None and token.last_used_at > stale:
        return
    AddinToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=token.pk
    ).update(last_used_at=now)
    token.last_used_at = now

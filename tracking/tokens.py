"""Signed pixel and click tokens (T3): ids and a truncated HMAC-SHA256, nothing else.

A token is base64url(varint ids + 12-byte MAC). The MAC key is derived from SECRET_KEY
with a purpose label, and every key of SECRET_KEY_FALLBACKS still verifies, so a key
rotation does not break links already in inboxes. Rejecting a token reads no database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from functools import lru_cache

from django.conf import settings
from django.core import signing

MAC_BYTES = 12  # 96 bits
MAX_TOKEN_CHARS = 64
OPEN = b"o"
CLICK = b"c"
_PURPOSE = b"beacon.tracking.token.v1"


@lru_cache(maxsize=8)
def _derive(secret: str) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def _keys() -> list[bytes]:
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return [_derive(secret) for secret in secrets]


def _mac(key: bytes, kind: bytes, payload: bytes) -> bytes:
    return hmac.digest(key, kind + payload, "sha256")[:MAC_BYTES]


def _varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("ids are positive")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varints(payload: bytes) -> list[int] | None:
    values: list[int] = []
    value = shift = 0
    for byte in payload:
        value |= (byte & 0x7F) << shift
        shift += 7
        if shift > 63:
            return None
        if not byte & 0x80:
            values.append(value)
            value = shift = 0
    return values if shift == 0 else None


def _sign(kind: bytes, ids: tuple[int, ...]) -> str:
    payload = b"".join(_varint(value) for value in ids)
    raw = payload + _mac(_keys()[0], kind, payload)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _verify(kind: bytes, token: str, count: int) -> tuple[int, ...] | None:
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    # Only the canonical spelling verifies: one token per id, nothing appended.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != token:
        return None
    payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if len(raw) <= MAC_BYTES:
        return None
    if not any(hmac.compare_digest(_mac(key, kind, payload), mac) for key in _keys()):
        return None
    values = _read_varints(payload)
    if values is None or len(values) != count:
        return None
    return tuple(values)


def open_token(email_id: int) -> str:
    return _sign(OPEN, (email_id,))


def click_token(email_id: int, link_id: int) -> str:
    return _sign(CLICK, (email_id, link_id))


def open_token_verify(token: str) -> int | None:
    """The email id of a genuine pixel token, else None."""
    ids = _verify(OPEN, token, 1)
    return ids[0] if ids else None


def click_token_verify(token: str) -> tuple[int, int] | None:
    """(email id, link id) of a genuine click token, else None."""
    ids = _verify(CLICK, token, 2)
    return (ids[0], ids[1]) if ids else None


def pixel_url(email_id: int) -> str:
    return f"{settings.PUBLIC_BASE_URL}/t/o/{open_token(email_id)}.gif"


def click_url(email_id: int, link_id: int) -> str:
    return f"{settings.PUBLIC_BASE_URL}/t/c/{click_token(email_id, link_id)}"


SELF_COOKIE_SALT = "tracking.self"


def self_cookie_signer() -> signing.Signer:
    """Signs the `self` cookie's user id: set by tracking.middleware on signed-in
    users' browsers, read back by the ingestor to give their own hits `self` (T5)."""
    return signing.get_cookie_signer(salt=SELF_COOKIE_SALT)

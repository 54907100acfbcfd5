"""How an add-in token is made and recognised: a random secret, stored as its hash."""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "bcn_"
# How old a token's recorded last use may grow before a request writes it again.
LAST_USED_PRECISION_SECONDS = 60


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # The token has 256 random bits: a fast hash is enough, no salt or stretching needed.
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str:
    return token[: len(PREFIX) + 4]

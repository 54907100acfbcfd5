"""Rendered HTML cached under a digest of everything it shows, read from the database.

A page (or a fragment of one) is kept in the cache under a key made of: this process (a
deploy never serves another version's HTML), the viewer (id, super admin and staff or
not, email address and display name: what the layout shows and what edit rights depend
on), the request's full path, the active time zone and language, the caller's own parts
(which record) and a digest — one query the caller gives, which digests every row,
count and event the HTML shows and runs on every request. Whatever writes to those rows,
through any path (services, the ingestor, the admin, a bulk update), changes the digest:
a cached copy is never stale and nothing has to remember to invalidate it.

A miss renders inside one REPEATABLE READ snapshot with its digest, so the HTML stored
is exactly the state its key names. The CSRF token is not cached: the HTML holds a
per-process placeholder that each response replaces with its own token. Without a
digest (no PostgreSQL: the embedded mode) or with the cache unreachable, the HTML is
rendered every time.

The digest queries run as server-side prepared statements (`fetch_prepared`): they are
the same few statements on every request, and PostgreSQL planning them anew cost more
than running them.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils import timezone, translation

logger = logging.getLogger(__name__)

# Per process: HTML cached by another version of the code is never read.
_PROCESS = secrets.token_hex(8)
CSRF_PLACEHOLDER = f"csrf-{secrets.token_hex(16)}"
# Entries are checked against the database on every read; the timeout only bounds
# the cache's size.
TIMEOUT = 600

Digest = Callable[[], "str | None"]


def fetch_prepared(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """The first row of `sql`, run as a prepared statement on Django's connection
    (psycopg keeps the plan per connection; Django's own cursors bind on the client
    and plan every query again). Logged as Django's queries are, when they are."""
    started = time.perf_counter()
    with connection.cursor() as wrapper:
        raw = wrapper.cursor.connection
        with psycopg.Cursor(raw) as cursor:
            cursor.execute(sql, params, prepare=True)
            row = cursor.fetchone()
    if connection.queries_logged:
        connection.queries_log.append(
            {"sql": sql, "time": f"{time.perf_counter() - started:.3f}"}
        )
    return row


def _key(request: HttpRequest, parts: Sequence[str], digest: str) -> str:
    user = request.user
    full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    text = "\n".join(
        [
            _PROCESS,
            *parts,
            str(user.pk),
            str(int(bool(getattr(user, "is_superuser", False)))),
            str(int(bool(getattr(user, "is_staff", False)))),
            getattr(user, "email", ""),
            f"{full_name}\n{user.get_username()}",
            request.get_full_path(),
            # Dates are shown in the active time zone, words in the active language.
            timezone.get_current_timezone_name(),
            translation.get_language() or "",
            digest,
        ]
    )
    return "html:" + hashlib.sha256(text.encode()).hexdigest()


def cached_html(
    request: HttpRequest,
    parts: Sequence[str],
    *,
    digest: Digest,
    render: Callable[[str], str],
    token: str | None = None,
) -> str:
    """`render(csrf_placeholder)` on a miss, the cached copy on a hit; with `token`
    (this response's CSRF token unless given: a page rendering this as its part keeps
    its own placeholder) in either case."""
    token = token or get_token(request)
    fingerprint = digest()
    if fingerprint is None:
        return render(token)
    try:
        html = cache.get(_key(request, parts, fingerprint))
    except Exception:
        logger.warning("HTML cache unreachable", exc_info=True)
        return render(token)
    if html is None:
        fingerprint, html = _render_snapshot(digest, render)
        if fingerprint is not None:
            try:
                cache.set(_key(request, parts, fingerprint), html, TIMEOUT)
            except Exception:
                logger.warning("HTML cache unreachable", exc_info=True)
    return str(html).replace(CSRF_PLACEHOLDER, token)


def _render_snapshot(
    digest: Digest, render: Callable[[str], str]
) -> tuple[str | None, str]:
    """The digest and the HTML read from one snapshot (a write between them would
    otherwise store new HTML under the old state's digest)."""
    with transaction.atomic():
        if len(connection.atomic_blocks) == 1:  # not inside a caller's transaction
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return digest(), render(CSRF_PLACEHOLDER)

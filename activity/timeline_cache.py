"""The rendered page of timeline cards, cached under a digest of everything it shows.

A record page's timeline costs most of the page's time (the cards' queries and their
template). The HTML of one page of cards is kept in the cache under a key made of:
the record, the page (its path and cursor), the viewer (id, super admin or not, email
address: the cards' edit rights, tracking status, reply link and mute buttons depend on
them), the active time zone and language, this process (a deploy never serves another
version's HTML) and `activity.selectors.timeline_fingerprint` — one query that digests
every row, count and event the cards show, read from the database on every request.
Whatever writes to a
logged email, its associations, attachments, tracking events or the viewer's mutes,
through any path (services, the ingestor, the admin, a bulk update), changes the digest:
a cached page is never stale and nothing has to remember to invalidate it.

A miss renders inside one REPEATABLE READ snapshot with its digest, so the HTML stored
is exactly the state its key names. The CSRF token is not cached: the HTML holds a
per-process placeholder that each response replaces with its own token. Without
PostgreSQL (the embedded mode) or with the cache unreachable, pages render uncached.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Model
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils import timezone, translation

from activity.selectors import timeline_fingerprint

logger = logging.getLogger(__name__)

# Per process: HTML cached by another version of the code is never read.
_PROCESS = secrets.token_hex(8)
CSRF_PLACEHOLDER = f"csrf-{secrets.token_hex(16)}"
# Entries are checked against the database on every read; the timeout only bounds
# the cache's size.
TIMEOUT = 600


def _key(request: HttpRequest, kind: str, pk: int, fingerprint: str) -> str:
    user = request.user
    parts = "\n".join(
        [
            _PROCESS,
            kind,
            str(pk),
            str(user.pk),
            str(int(bool(getattr(user, "is_superuser", False)))),
            getattr(user, "email", ""),
            request.get_full_path(),
            # Dates are shown in the active time zone, words in the active language.
            timezone.get_current_timezone_name(),
            translation.get_language() or "",
            fingerprint,
        ]
    )
    return "timeline:" + hashlib.sha256(parts.encode()).hexdigest()


def cached_timeline(
    request: HttpRequest,
    record: Model,
    kind: str,
    *,
    cursor: str | None,
    size: int,
    render: Callable[[str], str],
) -> str:
    """The HTML of one page of cards: `render(csrf_placeholder)` on a miss, the cached
    copy on a hit; with this response's CSRF token in either case."""
    token = get_token(request)
    fingerprint = timeline_fingerprint(record, request.user, cursor=cursor, size=size)
    if fingerprint is None:
        return render(token)
    key = _key(request, kind, record.pk, fingerprint)
    try:
        html = cache.get(key)
    except Exception:
        logger.warning("timeline cache unreachable", exc_info=True)
        return render(token)
    if html is None:
        fingerprint, html = _render_snapshot(record, request, cursor, size, render)
        try:
            cache.set(_key(request, kind, record.pk, fingerprint), html, TIMEOUT)
        except Exception:
            logger.warning("timeline cache unreachable", exc_info=True)
    return str(html).replace(CSRF_PLACEHOLDER, token)


def _render_snapshot(
    record: Model,
    request: HttpRequest,
    cursor: str | None,
    size: int,
    render: Callable[[str], str],
) -> tuple[str, str]:
    """The digest and the HTML read from one snapshot (a write between them would
    otherwise store new HTML under the old state's digest)."""
    with transaction.atomic():
        if len(connection.atomic_blocks) == 1:  # not inside a caller's transaction
            with connection.cursor() as cursor_:
                cursor_.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        fingerprint = timeline_fingerprint(
            record, request.user, cursor=cursor, size=size
        )
        return str(fingerprint), render(CSRF_PLACEHOLDER)

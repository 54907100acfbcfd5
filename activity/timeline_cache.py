"""The rendered page of timeline cards, cached under a digest of everything it shows.

A record page's timeline costs most of the page's time (the cards' queries and their
template). The HTML of one page of cards is kept by config.digest_cache under the
record, the page (its path and cursor), the viewer and
`activity.selectors.timeline_fingerprint` — one query that digests every row, count and
event the cards show, read from the database on every request. Whatever writes to a
logged email, its associations, attachments, tracking events or the viewer's mutes,
through any path (services, the ingestor, the admin, a bulk update), changes the digest:
a cached page is never stale and nothing has to remember to invalidate it. The record
pages cache the whole page the same way (crm.page_cache), with this digest in theirs.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Model
from django.http import HttpRequest

from activity.selectors import timeline_fingerprint
from config.digest_cache import cached_html


def cached_timeline(
    request: HttpRequest,
    record: Model,
    kind: str,
    *,
    cursor: str | None,
    size: int,
    render: Callable[[str], str],
    csrf_token: str | None = None,
) -> str:
    """The HTML of one page of cards: `render(csrf_placeholder)` on a miss, the cached
    copy on a hit; with this response's CSRF token (or `csrf_token`) in either case."""
    return cached_html(
        request,
        ("timeline", kind, str(record.pk)),
        digest=lambda: timeline_fingerprint(
            record, request.user, cursor=cursor, size=size
        ),
        render=render,
        token=csrf_token,
    )

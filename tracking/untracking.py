"""A stored copy of a tracked email carries no live tracking (issue 10).

The sender's own copy, BCC'd or posted for logging, holds Beacon's click URLs, trap
link and pixel. Anyone reading the logged copy who followed them would record a
counted click (and an inferred open) on the sender's email. `strip_live_tracking`
maps each genuine click URL back to its target, drops the trap link and the pixel;
anything else in the body is left byte for byte.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from tracking import tokens
from tracking.models import TrackedLink

# A click or pixel URL on any host (the base URL may have changed since it was sent);
# only a token that verifies is touched.
_CLICK = re.compile(r"""https?://[^\s"'<>]*?/t/c/([A-Za-z0-9_-]+)""")
_PIXEL_URL = r"""https?://[^\s"'<>]*?/t/o/([A-Za-z0-9_-]+)\.gif"""
_PIXEL_IMG = re.compile(
    rf"""<img\b[^>]*?\bsrc\s*=\s*["']?{_PIXEL_URL}["']?[^>]*>""", re.I
)
_PIXEL = re.compile(_PIXEL_URL)
_EMPTY_ANCHOR = re.compile(
    r"""<a\b[^>]*?\bhref\s*=\s*["']?(https?://[^\s"'<>]*?/t/c/[A-Za-z0-9_-]+)["']?"""
    r"""[^>]*>\s*</a>""",
    re.I,
)


def _targets(links: Any, *texts: str) -> tuple[dict[str, str], set[str]]:
    """(click token → target URL, trap tokens) for the genuine tokens in `texts`."""
    ids: dict[str, tuple[int, int]] = {}
    for text in texts:
        for token in _CLICK.findall(text):
            found = tokens.click_token_verify(token)
            if found is not None:
                ids[token] = found
    if not ids:
        return {}, set()
    links = {
        (email_id, pk): (url, is_trap)
        for pk, email_id, url, is_trap in links.objects.filter(
            pk__in=[link_id for _, link_id in ids.values()]
        ).values_list("pk", "email_id", "url", "is_trap")
    }
    targets: dict[str, str] = {}
    traps: set[str] = set()
    for token, key in ids.items():
        url, is_trap = links.get(key, ("", True))  # a link gone: nothing to follow
        if is_trap:
            traps.add(token)
        else:
            targets[token] = url
    return targets, traps


def _token(url: str) -> str:
    return url.rpartition("/t/c/")[2]


def strip_live_tracking(
    html_body: str, text_body: str, *, links: Any = TrackedLink
) -> tuple[str, str]:
    """(html, text) with Beacon's click URLs mapped back to their targets, the trap
    link and the pixel dropped. `links`: the TrackedLink model (a migration passes its
    historical one)."""
    if "/t/" not in html_body and "/t/" not in text_body:
        return html_body, text_body
    targets, traps = _targets(links, html_body, text_body)

    def drop_pixel(match: re.Match[str]) -> str:
        genuine = tokens.open_token_verify(match.group(1)) is not None
        return "" if genuine else match.group(0)

    def drop_trap(match: re.Match[str]) -> str:
        return "" if _token(match.group(1)) in traps else match.group(0)

    def target(escape: bool) -> Callable[[re.Match[str]], str]:
        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token in targets:
                return html.escape(targets[token]) if escape else targets[token]
            return "" if token in traps else match.group(0)

        return replace

    html_body = _PIXEL_IMG.sub(drop_pixel, html_body)
    html_body = _EMPTY_ANCHOR.sub(drop_trap, html_body)
    html_body = _CLICK.sub(target(True), html_body)
    text_body = _PIXEL.sub(drop_pixel, text_body)
    text_body = _CLICK.sub(target(False), text_body)
    return html_body, text_body

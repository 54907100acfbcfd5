"""Rewrite an email's HTML for tracking (T1, T7) with the stdlib HTML parser.

The parser only finds the `<a>`/`<area>` start tags; their source text is then edited in
place, so every other byte of the markup (comments, conditional comments, entities,
whitespace, broken tags) reaches the recipient unchanged. Plain text and broken HTML
parse without error: the parser never raises on bad markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit, urlunsplit

LINK_TAGS = {"a", "area"}
TRACKED_SCHEMES = ("http://", "https://")
# Applied to one start tag's own source text, never to the document.
_HREF = re.compile(r"""(?is)(\shref\s*=\s*)("[^"]*"|'[^']*'|[^\s"'>]+)""")
_BODY_END = re.compile(r"(?i)</body\s*>")
LINK_MAX_LENGTH = 8192
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters a URL may carry as they are (RFC 3986 reserved and unreserved, and `%`
# so that escapes already there are not escaped twice).
_URL_SAFE = "/:@!$&'()*+,;=-._~%?#[]"
_C0_AND_SPACE = "".join(chr(code) for code in range(0x21))
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class FoundLink:
    position: int
    url: str
    start: int  # offset of the start tag in the source
    tag_text: str


class _LinkFinder(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.line_starts = [0] + [i + 1 for i, ch in enumerate(source) if ch == "\n"]
        self.found: list[FoundLink] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in LINK_TAGS:
            return
        href = next((value for name, value in attrs if name == "href"), None)
        if href is None or not href.strip().lower().startswith(TRACKED_SCHEMES):
            return  # mailto:, tel:, #anchors and relative links are left alone (T1)
        text = self.get_starttag_text() or ""
        line, column = self.getpos()
        start = self.line_starts[line - 1] + column
        # Only edit what the parser saw at that exact place.
        if self.source[start : start + len(text)] != text or not _HREF.search(text):
            return
        self.found.append(FoundLink(len(self.found) + 1, href.strip(), start, text))

    handle_startendtag = handle_starttag


def find_links(source: str) -> list[FoundLink]:
    """The http(s) links of `source`, in document order."""
    finder = _LinkFinder(source)
    finder.feed(source)
    finder.close()
    return finder.found


def link_problem(url: str) -> str | None:
    """Why `url` cannot be a click target (refused at registration), or None."""
    if len(url) > LINK_MAX_LENGTH:
        return f"It is longer than {LINK_MAX_LENGTH} characters."
    if _CONTROL.search(url):
        return "It contains a line break or another control character."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError as exc:
        return f"It is not a valid URL ({exc})."
    if parts.scheme.lower() not in ("http", "https"):
        return "Only http and https links can be tracked."
    host = parts.hostname or ""
    if not host:
        return "It has no host."
    if parts.netloc.startswith("[") or host.replace(".", "").isdigit():
        return None  # an IP address; urlsplit checked the IPv6 form
    if any(ch.isspace() for ch in parts.netloc) or _ascii_host(host) is None:
        return f"Its host {host!r} is not a valid domain name."
    return None


def _ascii_host(host: str) -> str | None:
    """The host as DNS knows it (IDNA for non-ASCII labels), or None if it is none."""
    try:
        ascii_host = host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_host.split(".")
    if not all(_HOST_LABEL.match(label) for label in labels):
        return None
    return ascii_host


def location_url(url: str) -> str:
    """`url` as a `Location` header can carry it: ASCII only, no control characters.

    What browsers do when they follow the link: tabs and line breaks dropped, a
    non-ASCII host in IDNA, anything else outside a URL's characters percent-encoded
    (UTF-8). Escapes already there are kept.
    """
    url = url.translate({9: None, 10: None, 13: None}).strip(_C0_AND_SPACE)
    try:
        parts = urlsplit(url)
    except ValueError:
        return quote(url, safe=_URL_SAFE)
    netloc = parts.netloc
    host = parts.hostname or ""
    if host and not host.isascii():
        ascii_host = _ascii_host(host)
        if ascii_host is not None:
            netloc = netloc.replace(host, ascii_host)  # hostname is lower-cased
    return urlunsplit(
        (
            parts.scheme,
            quote(netloc, safe=_URL_SAFE),
            quote(parts.path, safe=_URL_SAFE),
            quote(parts.query, safe=_URL_SAFE),
            quote(parts.fragment, safe=_URL_SAFE),
        )
    )


def _replace_href(tag_text: str, new_url: str) -> str:
    match = _HREF.search(tag_text)
    assert match is not None  # checked by the finder
    quoted = '"' + html.escape(new_url, quote=True) + '"'
    return tag_text[: match.start(2)] + quoted + tag_text[match.end(2) :]


def rewrite_links(
    source: str, links: list[FoundLink], url_for: Callable[[FoundLink], str]
) -> str:
    """`source` with each found link's href replaced by `url_for(link)`."""
    out: list[str] = []
    cursor = 0
    for link in links:
        out.append(source[cursor : link.start])
        out.append(_replace_href(link.tag_text, url_for(link)))
        cursor = link.start + len(link.tag_text)
    out.append(source[cursor:])
    return "".join(out)


def pixel_markup(pixel_url: str) -> str:
    src = html.escape(pixel_url, quote=True)
    return (
        f'<img src="{src}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0" />'
    )


def trap_markup(trap_url: str) -> str:
    """T7: a link with no text, hidden from every client, so only machines follow it."""
    href = html.escape(trap_url, quote=True)
    return (
        f'<a href="{href}" aria-hidden="true" tabindex="-1" '
        'style="display:none!important;mso-hide:all;font-size:0;line-height:0;'
        'max-height:0;overflow:hidden"></a>'
    )


def insert_before_body_end(source: str, markup: str) -> str:
    matches = list(_BODY_END.finditer(source))
    if not matches:
        return source + markup
    at = matches[-1].start()
    return source[:at] + markup + source[at:]


class _TagFinder(HTMLParser):
    """Start tags of `<a>`, `<area>` and `<img>` with their exact source offsets."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.line_starts = [0] + [i + 1 for i, ch in enumerate(source) if ch == "\n"]
        self.tags: list[tuple[str, dict[str, str], int, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in {*LINK_TAGS, "img"}:
            return
        text = self.get_starttag_text() or ""
        line, column = self.getpos()
        start = self.line_starts[line - 1] + column
        if self.source[start : start + len(text)] == text:
            values = {name: (value or "").strip() for name, value in attrs}
            self.tags.append((tag, values, start, text))

    handle_startendtag = handle_starttag


_LINK_END = re.compile(r"(?is)\s*</a\s*>")


def untrack(
    source: str,
    *,
    original_url: Callable[[str], str | None],
    is_pixel: Callable[[str], bool],
    is_trap: Callable[[str], bool],
) -> str:
    """`source` without the tracking an earlier registration put in: click URLs back to
    their original URL, the pixel and the trap link removed. Anything else is unchanged,
    so tracking the result again gives one pixel and links wrapped once."""
    finder = _TagFinder(source)
    finder.feed(source)
    finder.close()
    out: list[str] = []
    cursor = 0
    for tag, attrs, start, text in finder.tags:
        if start < cursor:
            continue  # inside markup already removed
        end = start + len(text)
        replacement: str | None = None
        if tag == "img" and is_pixel(attrs.get("src", "")):
            replacement = ""
        elif tag in LINK_TAGS and "href" in attrs and _HREF.search(text):
            href = attrs["href"]
            if tag == "a" and is_trap(href):
                replacement = ""
                closing = _LINK_END.match(source, end)
                end = closing.end() if closing else end
            elif (url := original_url(href)) is not None:
                replacement = _replace_href(text, url)
        if replacement is None:
            continue
        out.append(source[cursor:start])
        out.append(replacement)
        cursor = end
    out.append(source[cursor:])
    return "".join(out)

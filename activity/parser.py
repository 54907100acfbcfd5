"""The one MIME parser both receivers share (L1): the standard library's `email`.

`parse_message(fp)` reads a stored raw message in chunks and answers a `ParsedEmail`, or
raises `MalformedEmail` with a readable reason. It never raises anything else: a hostile
message ends as a failed inbound row, never as a crashed worker.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import errors as email_errors
from email import policy
from email.feedparser import BytesFeedParser
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

from activity.spool import SPOOL_HEADER, Spooled, is_body_part, spool_message

CHUNK = 64 * 1024
MESSAGE_ID_MAX = 255
REGISTRATION_HEADER = "X-Beacon-Registration"
_ANGLE = re.compile(r"<([^<>\s]+)>")
# Defects that mean part of the message is missing, not merely sloppy.
TRUNCATION_DEFECTS = (
    email_errors.CloseBoundaryNotFoundDefect,
    email_errors.StartBoundaryNotFoundDefect,
)


_MISSING = object()


class _ParsedMessage(EmailMessage):
    """`EmailMessage` (policy.default parses every header the same way) that, once the
    whole message is read, parses each header at most once: `get_body`, `walk` and our
    own checks ask for Content-Type and Content-Disposition of every part many times,
    and each ask otherwise runs the header parser again. Nothing edits a parsed
    message, so the answers cannot go stale."""

    _fetched: dict[str, Any] | None = None

    def get(self, name: str, failobj: Any = None) -> Any:
        cache = self._fetched
        if cache is None:
            return super().get(name, failobj)
        key = name.lower()
        if key not in cache:
            cache[key] = super().get(name, _MISSING)
        value = cache[key]
        return failobj if value is _MISSING else value

    def freeze(self) -> None:
        for part in self.walk():
            if isinstance(part, _ParsedMessage):
                part._fetched = {}


class _Policy(policy.EmailPolicy):
    """policy.default, remembering the header objects it makes across messages.

    Parsing a header into its object (policy.default's header registry) was most of a
    25 KB message's parse (docs/decisions/shared-header-objects.md); the feed parser
    itself asks each part for its Content-Type several times, before
    `_ParsedMessage.freeze` can cache anything.
    The object depends only on the header's name and raw value, and header objects are
    immutable strings, so one is shared by every message with the same header, and
    Content-Type, Content-Transfer-Encoding or MIME-Version values recur endlessly.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name") or len(value) > _HEADER_CACHE_VALUE_MAX:
            return super().header_fetch_parse(name, value)
        key = (name, value)
        found = _HEADER_CACHE.get(key)
        if found is None:
            if len(_HEADER_CACHE) >= _HEADER_CACHE_SIZE:
                _HEADER_CACHE.clear()
            found = _HEADER_CACHE[key] = super().header_fetch_parse(name, value)
        return found


_HEADER_CACHE: dict[tuple[str, str], Any] = {}
_HEADER_CACHE_SIZE = 10_000
_HEADER_CACHE_VALUE_MAX = 1_000  # longer values (References, …) rarely recur
_POLICY = _Policy(message_factory=_ParsedMessage)


class MalformedEmail(Exception):
    """The bytes are not an email we can log; `reason` says why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ParsedPart:
    """An attachment or inline part; its bytes are decoded only when asked for."""

    filename: str
    content_type: str
    content_id: str
    is_inline: bool
    size: int  # decoded size, estimated from the encoded payload without decoding it
    part: Message = field(repr=False)
    spooled: Spooled | None = field(default=None, repr=False)

    def data(self) -> bytes:
        if self.spooled is not None:
            out = io.BytesIO()
            self.spooled.decode_to(out)
            return out.getvalue()
        payload = self.part.get_payload(decode=True)
        return payload if isinstance(payload, bytes) else b""

    def write_to(self, out: IO[bytes]) -> int:
        """Writes the decoded bytes to `out`, in chunks when the part was spooled."""
        if self.spooled is not None:
            return self.spooled.decode_to(out)
        data = self.data()
        out.write(data)
        return len(data)


@dataclass
class ParsedEmail:
    message_id: str
    message_id_derived: bool
    from_address: str
    from_name: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    date: datetime | None
    in_reply_to: str
    references: list[str]
    html: str
    text: str
    parts: list[ParsedPart]
    registration_header: str

    @property
    def body_bytes(self) -> int:
        return max(len(self.html.encode()), len(self.text.encode()))


def normalise_message_id(raw: str) -> str:
    """`<Abc.1@Mail.Example.COM>` → `Abc.1@mail.example.com`: the local part keeps its case."""
    raw = (raw or "").strip()
    found = _ANGLE.search(raw)
    value = found.group(1) if found else "".join(raw.strip("<>").split())
    if not value:
        return ""
    local, at, domain = value.rpartition("@")
    value = f"{local}@{domain.lower()}" if at else value
    if len(value) > MESSAGE_ID_MAX:
        # Absurdly long ids still identify the message; keep them indexable.
        value = hashlib.sha256(value.encode()).hexdigest() + "@long.message-id"
    return value


def derived_message_id(*, from_address: str, date: str, subject: str, body: str) -> str:
    """A stable id for a message without one, so a second copy is still recognised (L7)."""
    digest = hashlib.sha256()
    for piece in (from_address.lower(), date.strip(), subject.strip(), body.strip()):
        digest.update(piece.encode("utf-8", "surrogateescape"))
        digest.update(b"\x00")
    return f"{digest.hexdigest()[:40]}@derived.beacon"


def _message_ids(value: str) -> list[str]:
    ids = [normalise_message_id(f"<{item}>") for item in _ANGLE.findall(value or "")]
    return [item for item in ids if item]


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:
        value = None
    if value is None:
        return ""
    return " ".join(str(value).split())


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs; tolerant of sloppy headers."""
    try:
        values = msg.get_all(name) or []
        pairs = getaddresses([str(value) for value in values])
    except Exception:
        return []
    found: list[tuple[str, str]] = []
    for display, address in pairs:
        address = address.strip().lower()
        if (
            "@" in address
            and " " not in address
            and address not in (a for _, a in found)
        ):
            found.append((display.strip(), address))
    return found


def _date(msg: Message) -> datetime | None:
    raw = _header(msg, "Date")
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _text_of(part: Message | None) -> str:
    if part is None:
        return ""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, AssertionError, ValueError):
        # Unknown or lying charset: decode what is there rather than lose the body.
        payload = part.get_payload(decode=True)
        content = (
            payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        )
    return content if isinstance(content, str) else ""


def _estimated_size(part: Message) -> int:
    payload = part.get_payload()
    if not isinstance(payload, str | bytes):
        return 0
    if part.get("Content-Transfer-Encoding", "").strip().lower() == "base64":
        if isinstance(payload, str):
            breaks = payload.count("\n") + payload.count("\r")
        else:
            breaks = payload.count(b"\n") + payload.count(b"\r")
        return max(0, len(payload) - breaks) * 3 // 4
    return len(payload)


def _spooled(part: Message, spools: Sequence[Spooled]) -> Spooled | None:
    marker = _header(part, SPOOL_HEADER)
    if marker.isdigit() and int(marker) < len(spools):
        return spools[int(marker)]
    return None


def _parts(
    msg: EmailMessage, bodies: Sequence[Message], spools: Sequence[Spooled]
) -> list[ParsedPart]:
    parts: list[ParsedPart] = []
    for part in msg.walk():
        if part.is_multipart() or any(part is body for body in bodies):
            continue
        if part is msg and is_body_part(part):
            continue
        if is_body_part(part) and not part.get("Content-ID"):
            continue  # An alternative body we did not pick; not an attachment.
        disposition = (part.get_content_disposition() or "").lower()
        content_id = normalise_message_id(_header(part, "Content-ID"))
        try:
            filename = part.get_filename() or ""
        except Exception:
            filename = ""
        spooled = _spooled(part, spools)
        parts.append(
            ParsedPart(
                filename=(filename or f"part-{len(parts) + 1}")[:255],
                content_type=part.get_content_type()[:255],
                content_id=content_id,
                is_inline=disposition == "inline"
                or (bool(content_id) and not filename),
                size=spooled.estimated_size if spooled else _estimated_size(part),
                part=part,
                spooled=spooled,
            )
        )
    return parts


def _read(fp: BinaryIO, spool_dir: Path | None) -> tuple[EmailMessage, list[Spooled]]:
    parser = BytesFeedParser(policy=_POLICY)
    spools: list[Spooled] = []
    if spool_dir is not None:
        spools = spool_message(fp, spool_dir, parser.feed)
    else:
        while chunk := fp.read(CHUNK):
            parser.feed(chunk)
    msg = parser.close()
    assert isinstance(msg, _ParsedMessage)
    msg.freeze()
    return msg, spools


def _check_defects(msg: EmailMessage) -> None:
    if not msg.keys():
        raise MalformedEmail("Not an email: no headers could be read.")
    for part in msg.walk():
        for defect in part.defects:
            if isinstance(defect, TRUNCATION_DEFECTS):
                raise MalformedEmail(
                    "The message is truncated: a MIME part has no closing boundary."
                )


def parse_message(fp: BinaryIO, *, spool_dir: Path | None = None) -> ParsedEmail:
    """`spool_dir`: where large attachments may be kept, encoded, while the caller
    uses the answer (activity.spool); without it everything is parsed in memory."""
    try:
        return _parse(fp, spool_dir)
    except MalformedEmail:
        raise
    except Exception as exc:
        raise MalformedEmail(f"The message could not be parsed: {exc!r}") from exc


def _parse(fp: BinaryIO, spool_dir: Path | None) -> ParsedEmail:
    msg, spools = _read(fp, spool_dir)
    _check_defects(msg)
    senders = _addresses(msg, "From")
    if not senders:
        raise MalformedEmail("The message has no readable From address.")
    from_name, from_address = senders[0]
    html_part = msg.get_body(preferencelist=("html",))
    text_part = msg.get_body(preferencelist=("plain",))
    html, text = _text_of(html_part), _text_of(text_part)
    subject = _header(msg, "Subject")
    message_id = normalise_message_id(_header(msg, "Message-ID"))
    derived = not message_id
    if derived:
        message_id = derived_message_id(
            from_address=from_address,
            date=_header(msg, "Date"),
            subject=subject,
            body=text or html,
        )
    in_reply_to = _message_ids(_header(msg, "In-Reply-To"))
    bodies = [part for part in (html_part, text_part) if part is not None]
    return ParsedEmail(
        message_id=message_id,
        message_id_derived=derived,
        from_address=from_address,
        from_name=from_name,
        to=[address for _, address in _addresses(msg, "To")],
        cc=[address for _, address in _addresses(msg, "Cc")],
        bcc=[address for _, address in _addresses(msg, "Bcc")],
        subject=subject,
        date=_date(msg),
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=_message_ids(_header(msg, "References")),
        html=html,
        text=text,
        parts=_parts(msg, bodies, spools),
        registration_header=_header(msg, REGISTRATION_HEADER),
    )

"""The one MIME parser both receivers share (L1): the standard library's `email`.

`parse_message(fp)` reads a stored raw message in chunks and answers a `ParsedEmail`, or
raises `MalformedEmail` with a readable reason. It never raises anything else: a hostile
message ends as a failed inbound row, never as a crashed worker.

It is lenient the way mail clients are: a missing closing boundary, stray bytes, a bad
date or a bad encoded word do not fail the message; what can be read is logged and each
defect becomes a note (`ParsedEmail.notes`) on the timeline item. Only a message with no
headers at all or no readable From address fails. Truncation is not judged here: it is
a fact of the transport (an SMTP DATA that never ended, an HTTP body shorter than its
Content-Length), and the receivers refuse such messages before they are stored.

Limits (`activity.spool.Limits`, from the INBOUND_MAX_* settings): parts, nesting depth,
header fields and bytes per part, attachments. What is over a limit is left out and
noted, as an attachment over the size limit is.
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

from django.conf import settings

from activity.headers import OneClassPerName, header_defects
from activity.spool import (
    OMITTED_HEADER,
    SPOOL_HEADER,
    Limits,
    Spooled,
    Spooler,
    is_body_part,
    spool_message,
)

MESSAGE_ID_MAX = 255
REGISTRATION_HEADER = "X-Beacon-Registration"
_ANGLE = re.compile(r"<([^<>\s]+)>")
# Headers whose defects are noted: the ones the timeline shows or threads by.
NOTED_HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To")

# What each defect the stdlib reports is noted as: (code, sentence for people).
# (CharsetError is not a MessageDefect but the header parser reports it as one.)
_DEFECT_NOTES: dict[type[Exception], tuple[str, str]] = {
    email_errors.CloseBoundaryNotFoundDefect: (
        "missing_closing_boundary",
        "A MIME part has no closing boundary; what it holds was read to the end.",
    ),
    email_errors.StartBoundaryNotFoundDefect: (
        "missing_start_boundary",
        "A multipart's boundary never appears; its content was read as one part.",
    ),
    email_errors.NoBoundaryInMultipartDefect: (
        "bad_multipart",
        "A multipart part names no boundary; its content was read as one part.",
    ),
    email_errors.MultipartInvariantViolationDefect: (
        "bad_multipart",
        "A multipart part holds no parts.",
    ),
    email_errors.InvalidMultipartContentTransferEncodingDefect: (
        "bad_multipart",
        "A multipart part declares a transfer encoding it may not have.",
    ),
    email_errors.MissingHeaderBodySeparatorDefect: (
        "bad_header_block",
        "A line among the headers is not a header; it and what follows were read "
        "as the body.",
    ),
    email_errors.FirstHeaderLineIsContinuationDefect: (
        "bad_header_block",
        "The headers begin with a continuation line.",
    ),
    email_errors.MisplacedEnvelopeHeaderDefect: (
        "bad_header_block",
        "An mbox envelope line stands among the headers.",
    ),
    email_errors.InvalidBase64PaddingDefect: (
        "bad_base64",
        "A base64 part is badly padded; what could be decoded was kept.",
    ),
    email_errors.InvalidBase64CharactersDefect: (
        "bad_base64",
        "Base64 data holds characters outside base64; they were skipped.",
    ),
    email_errors.InvalidBase64LengthDefect: (
        "bad_base64",
        "Base64 data has a length no base64 can have; it was kept undecoded.",
    ),
    email_errors.UndecodableBytesDefect: (
        "stray_bytes",
        "A header holds bytes that are not text; they were replaced.",
    ),
    email_errors.NonPrintableDefect: (
        "stray_bytes",
        "A header holds characters that cannot be printed.",
    ),
    email_errors.NonASCIILocalPartDefect: (
        "stray_bytes",
        "An address has non-ASCII characters in its local part.",
    ),
    email_errors.CharsetError: (
        "bad_encoded_word",
        "A header's encoded word names an unknown charset; it was decoded as "
        "best we could.",
    ),
    email_errors.InvalidDateDefect: (
        "bad_date",
        "The Date header cannot be read; the time it was received is used.",
    ),
}
# Obsolete syntax is read exactly; nothing to tell a person.
_QUIET_DEFECTS = (email_errors.ObsoleteHeaderDefect,)


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


_POLICY = _Policy(message_factory=_ParsedMessage, header_factory=OneClassPerName())


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
    # Defects and what was left out over a limit: {"code", "detail"} each, for the
    # timeline item's notes.
    notes: list[dict[str, Any]] = field(default_factory=list)

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


def _no_nul(text: str) -> str:
    """PostgreSQL text holds no NUL character; real mail sometimes carries one."""
    return text.replace("\x00", "")


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:
        value = None
    if value is None:
        return ""
    return " ".join(_no_nul(str(value)).split())


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs; tolerant of sloppy headers."""
    try:
        values = msg.get_all(name) or []
        pairs = getaddresses([str(value) for value in values])
    except Exception:
        return []
    found: list[tuple[str, str]] = []
    for display, address in pairs:
        display, address = _no_nul(display), _no_nul(address).strip().lower()
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
    except (TypeError, ValueError, IndexError, OverflowError):
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
    return _no_nul(content) if isinstance(content, str) else ""


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
    msg: EmailMessage,
    bodies: Sequence[Message],
    spools: Sequence[Spooled],
    notes: _Notes,
    limit: int,
) -> list[ParsedPart]:
    parts: list[ParsedPart] = []
    over = 0
    for part in msg.walk():
        if part.is_multipart() or any(part is body for body in bodies):
            continue
        if part.get(OMITTED_HEADER):
            continue  # a stub for what the spooler left out (noted there)
        if part is msg and is_body_part(part):
            continue
        if is_body_part(part) and not part.get("Content-ID"):
            continue  # An alternative body we did not pick; not an attachment.
        disposition = (part.get_content_disposition() or "").lower()
        content_id = normalise_message_id(_header(part, "Content-ID"))
        try:
            filename = _no_nul(part.get_filename() or "")
        except Exception:
            filename = ""
        spooled = _spooled(part, spools)
        if len(parts) >= limit:
            over += 1
            continue
        parts.append(
            ParsedPart(
                filename=(filename or f"part-{len(parts) + 1}")[:255],
                content_type=_no_nul(part.get_content_type())[:255],
                content_id=content_id,
                is_inline=disposition == "inline"
                or (bool(content_id) and not filename),
                size=spooled.estimated_size if spooled else _estimated_size(part),
                part=part,
                spooled=spooled,
            )
        )
    if over:
        notes.add(
            "attachments_over_limit",
            f"{over} attachment(s) past the first {limit} were left out "
            "(INBOUND_MAX_ATTACHMENTS).",
        )
    return parts


class _Notes:
    """The notes of one message: one per code, in the order first found."""

    def __init__(self) -> None:
        self.by_code: dict[str, dict[str, Any]] = {}

    def add(self, code: str, detail: str) -> None:
        self.by_code.setdefault(code, {"code": code, "detail": detail})

    def defect(self, defect: Exception, where: str = "") -> None:
        if isinstance(defect, _QUIET_DEFECTS):
            return
        known = next(
            (note for kind, note in _DEFECT_NOTES.items() if isinstance(defect, kind)),
            None,
        )
        if known is None:
            generic = isinstance(defect, email_errors.HeaderDefect)
            code = "bad_header" if generic else "defect"
            detail = f"{type(defect).__name__}: {defect}".rstrip(": ")
        else:
            code, detail = known
        self.add(code, f"{where}{detail}")

    def as_list(self) -> list[dict[str, Any]]:
        return list(self.by_code.values())


def configured_limits() -> Limits:
    return Limits(
        max_parts=settings.INBOUND_MAX_PARTS,
        max_depth=settings.INBOUND_MAX_DEPTH,
        max_headers=settings.INBOUND_MAX_HEADERS,
        max_header_bytes=settings.INBOUND_MAX_HEADER_BYTES,
        max_attachments=settings.INBOUND_MAX_ATTACHMENTS,
    )


def _read(
    fp: BinaryIO, spool_dir: Path | None, limits: Limits
) -> tuple[EmailMessage, Spooler]:
    parser = BytesFeedParser(policy=_POLICY)
    spooler = spool_message(fp, spool_dir, parser.feed, limits)
    msg = parser.close()
    assert isinstance(msg, _ParsedMessage)
    msg.freeze()
    return msg, spooler


def _omitted_notes(spooler: Spooler, notes: _Notes) -> None:
    omitted, limits = spooler.omitted, spooler.limits
    if omitted["parts"]:
        notes.add(
            "parts_over_limit",
            f"{omitted['parts']} MIME part(s) past the first {limits.max_parts} were "
            "left out (INBOUND_MAX_PARTS).",
        )
    if omitted["nested"]:
        notes.add(
            "nesting_over_limit",
            f"{omitted['nested']} multipart(s) nested deeper than {limits.max_depth} "
            "levels were left out (INBOUND_MAX_DEPTH).",
        )
    if omitted["header_fields"]:
        notes.add(
            "headers_over_limit",
            f"{omitted['header_fields']} header field(s) past {limits.max_headers} in "
            "a part were left out (INBOUND_MAX_HEADERS).",
        )
    if omitted["header_bytes"]:
        notes.add(
            "header_bytes_over_limit",
            f"{omitted['header_bytes']} bytes of headers past {limits.max_header_bytes} "
            "in a part were left out (INBOUND_MAX_HEADER_BYTES).",
        )


def _header_notes(msg: EmailMessage, notes: _Notes) -> None:
    """Defects of the headers the timeline shows. policy.default keeps an unstructured
    header's defects (bad encoded words, stray bytes) only in its parse tree."""
    for name, value in msg.raw_items():
        if name.lower() not in _NOTED:
            continue
        try:
            defects = header_defects(msg.policy, name, value)
        except Exception as exc:  # a header the registry cannot even build
            notes.add("bad_header", f"{name}: {exc}")
            continue
        for defect in defects:
            notes.defect(defect, f"{name}: ")


_NOTED = frozenset(name.lower() for name in NOTED_HEADERS)


def _part_notes(msg: EmailMessage, notes: _Notes) -> None:
    for part in msg.walk():
        for defect in part.defects:
            notes.defect(defect)


def parse_message(
    fp: BinaryIO, *, spool_dir: Path | None = None, limits: Limits | None = None
) -> ParsedEmail:
    """`spool_dir`: where large attachments may be kept, encoded, while the caller
    uses the answer (activity.spool); without it everything is parsed in memory.
    `limits`: the configured ones (INBOUND_MAX_*) unless given."""
    try:
        return _parse(fp, spool_dir, limits or configured_limits())
    except MalformedEmail:
        raise
    except Exception as exc:
        raise MalformedEmail(f"The message could not be parsed: {exc!r}") from exc


def _parse(fp: BinaryIO, spool_dir: Path | None, limits: Limits) -> ParsedEmail:
    msg, spooler = _read(fp, spool_dir, limits)
    spools = spooler.spools
    if not msg.keys():
        raise MalformedEmail("Not an email: no headers could be read.")
    senders = _addresses(msg, "From")
    if not senders:
        raise MalformedEmail("The message has no readable From address.")
    notes = _Notes()
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
    date = _date(msg)
    _header_notes(msg, notes)
    if date is None and _header(msg, "Date"):
        code, detail = _DEFECT_NOTES[email_errors.InvalidDateDefect]
        notes.add(code, detail)
    parts = _parts(msg, bodies, spools, notes, limits.max_attachments)
    _part_notes(msg, notes)  # after the bodies' decoding, which adds base64 defects
    _omitted_notes(spooler, notes)
    return ParsedEmail(
        message_id=message_id,
        message_id_derived=derived,
        from_address=from_address,
        from_name=from_name,
        to=[address for _, address in _addresses(msg, "To")],
        cc=[address for _, address in _addresses(msg, "Cc")],
        bcc=[address for _, address in _addresses(msg, "Bcc")],
        subject=subject,
        date=date,
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=_message_ids(_header(msg, "References")),
        html=html,
        text=text,
        parts=parts,
        registration_header=_header(msg, REGISTRATION_HEADER),
        notes=notes.as_list(),
    )

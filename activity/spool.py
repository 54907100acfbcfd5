"""Streams a raw message to the standard parser, within limits, keeping large
attachments out of memory.

`spool_message(fp, folder, feed, limits)` reads a raw message line by line and hands
`feed` the same message with:
- the body of every large non-body part (attachments, inline images) replaced by nothing
  and an `X-Beacon-Spool: <n>` header, the encoded bodies in files in `folder` (when
  there is one). The stdlib parser then sees a small message, so a 60 MB message costs a
  few MB of memory instead of several times its size;
- what is over a limit (`Limits`) left out: MIME parts past the part count, multiparts
  nested deeper than the depth limit (one `X-Beacon-Omitted` stub each), header fields
  past a part's field count or header bytes. Each is counted in `Spooler.omitted`, so the
  caller can note it; the left-out bytes never reach the parser, which is what keeps a
  50,000-part message fast.
Boundaries and the headers within the limits are passed on untouched.
"""

from __future__ import annotations

import binascii
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import IO, BinaryIO

SPOOL_HEADER = "X-Beacon-Spool"
OMITTED_HEADER = "X-Beacon-Omitted"
THRESHOLD = 256 * 1024  # bodies above this go to disk
READ_CHUNK = 256 * 1024
MAX_LINE = 1024 * 1024  # a "line" without a newline is cut here
_BLANK = {b"\r\n", b"\n", b"\r", b""}
_BOUNDARY_END = re.compile(rb"[ \t]*(\r\n|\n|\r)?$")
# What the stdlib's feed parser takes for a header line (email.feedparser.headerRE).
_HEADER_LINE = re.compile(rb"^(From |[\041-\071\073-\176]*:|[\t ])")
_CONTINUATION = (b" ", b"\t")


@dataclass(frozen=True)
class Limits:
    """How much of one message is read; the rest is left out and noted. The values
    are the INBOUND_MAX_* settings (activity.parser.configured_limits)."""

    max_parts: int  # MIME parts (entities below the top level)
    max_depth: int  # multiparts nested in multiparts
    max_headers: int  # header fields of one part
    max_header_bytes: int  # header bytes of one part
    max_attachments: int  # attachments and inline parts kept (activity.parser)


@dataclass
class Spooled:
    path: Path
    encoding: str
    encoded_chars: int = 0  # payload characters, line endings excluded

    @property
    def estimated_size(self) -> int:
        if self.encoding == "base64":
            return self.encoded_chars * 3 // 4
        return self.encoded_chars

    def decode_to(self, out: IO[bytes]) -> int:
        """Writes the decoded body to `out` in chunks; answers the byte count."""
        written = 0
        carry = b""
        with self.path.open("rb") as source:
            while block := source.read(READ_CHUNK):
                if self.encoding == "base64":
                    data = carry + b"".join(block.split())
                    usable = len(data) - len(data) % 4
                    carry = data[usable:]
                    chunk = binascii.a2b_base64(data[:usable]) if usable else b""
                elif self.encoding == "quoted-printable":
                    data = carry + block
                    cut = data.rfind(b"\n") + 1
                    carry = data[cut:]
                    chunk = binascii.a2b_qp(data[:cut])
                else:
                    chunk = block
                out.write(chunk)
                written += len(chunk)
        if carry:
            tail = (
                binascii.a2b_base64(carry + b"=" * (-len(carry) % 4))
                if self.encoding == "base64"
                else binascii.a2b_qp(carry)
                if self.encoding == "quoted-printable"
                else carry
            )
            out.write(tail)
            written += len(tail)
        return written


@dataclass
class _Entity:
    header_lines: list[bytes] = field(default_factory=list)
    spoolable: bool = False
    buffered: list[bytes] = field(default_factory=list)
    buffered_size: int = 0
    spooled: Spooled | None = None
    handle: BinaryIO | None = None
    pending_eol: bytes = b""
    fields: int = 0
    header_bytes: int = 0


def _iter_lines(fp: BinaryIO) -> Iterator[bytes]:
    partial = b""
    while block := fp.read(READ_CHUNK):
        data = partial + block
        lines = data.splitlines(keepends=True)
        partial = b""
        if lines and not lines[-1].endswith((b"\n", b"\r")):
            partial = lines.pop()
            if len(partial) > MAX_LINE:
                lines.append(partial)
                partial = b""
        yield from lines
    if partial:
        yield partial


def is_body_part(msg: Message) -> bool:
    """A text part that may be the message's body, not an attachment: the one rule the
    spooler (which never spools a body) and the parser (which picks the body) share."""
    disposition = (msg.get_content_disposition() or "").lower()
    return msg.get_content_type() in ("text/plain", "text/html") and (
        disposition != "attachment" and not msg.get_filename()
    )


def _is_body_candidate(headers: bytes) -> tuple[bool, str, bytes | None]:
    """(is a text body, transfer encoding, multipart boundary). A part's headers recur
    from message to message (a text or HTML body's Content-Type and encoding), so the
    answer is remembered by the header bytes."""
    found = _CANDIDATES.get(headers)
    if found is None:
        msg = BytesHeaderParser(policy=policy.compat32).parsebytes(headers)
        multipart = msg.get_content_maintype() == "multipart"
        boundary = msg.get_boundary() if multipart else None
        encoding = str(msg.get("Content-Transfer-Encoding", "")).strip().lower()
        found = (
            is_body_part(msg),
            encoding,
            boundary.encode("latin-1", "replace") if boundary else None,
        )
        if len(headers) <= _CANDIDATE_KEY_MAX:
            if len(_CANDIDATES) >= _CANDIDATES_SIZE:
                _CANDIDATES.clear()
            _CANDIDATES[headers] = found
    return found


_CANDIDATES: dict[bytes, tuple[bool, str, bytes | None]] = {}
_CANDIDATES_SIZE = 1_024
_CANDIDATE_KEY_MAX = 1_024


class Spooler:
    def __init__(
        self, folder: Path | None, feed: Callable[[bytes], None], limits: Limits
    ) -> None:
        self.folder = folder
        self._sink = feed
        self._out: list[bytes] = []
        self._out_size = 0
        self.limits = limits
        self.boundaries: list[bytes] = []
        self.entity: _Entity | None = _Entity()  # None: in a preamble/epilogue/body
        self.in_headers = True
        self.spools: list[Spooled] = []
        self.parts = 0
        # A part left out: its lines are dropped until a boundary of an enclosing
        # multipart (its own boundaries are never learnt).
        self.skipping = False
        # What was left out, by kind: parts, nested (multiparts too deep),
        # header_fields, header_bytes.
        self.omitted: Counter[str] = Counter()
        self._field_kept = True

    def feed(self, data: bytes) -> None:
        """Passes `data` on, in blocks: the parser takes one block faster than the many
        lines it is made of."""
        self._out.append(data)
        self._out_size += len(data)
        if self._out_size >= READ_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._out:
            self._sink(b"".join(self._out))
            self._out, self._out_size = [], 0

    def run(self, fp: BinaryIO) -> list[Spooled]:
        # Most lines are the body of a part kept whole, a preamble or an epilogue (passed
        # on), or of a part left out (dropped): only a line starting with "--" may end
        # that, so the others skip `_line`'s dispatch, a few function calls per line of
        # every message. `_line` alone changes the state these two flags mirror.
        passing = dropping = False
        for line in _iter_lines(fp):
            if (passing or dropping) and not line.startswith(b"--"):
                if passing:
                    self._out.append(line)
                    self._out_size += len(line)
                    if self._out_size >= READ_CHUNK:
                        self._flush()
                continue
            self._line(line)
            entity = self.entity
            dropping = self.skipping
            passing = not dropping and (
                entity is None or not (self.in_headers or entity.spoolable)
            )
        if self.entity is not None and self.in_headers:
            self._headers_done(self.entity)  # headers only, no blank line after them
        if not self.skipping:
            self._finish_entity()
        self._flush()
        return self.spools

    def _boundary(self, line: bytes) -> tuple[int, bool] | None:
        if not line.startswith(b"--") or not self.boundaries:
            return None
        for depth in range(len(self.boundaries) - 1, -1, -1):
            sep = b"--" + self.boundaries[depth]
            if not line.startswith(sep):
                continue
            rest = line[len(sep) :]
            closing = rest.startswith(b"--")
            if _BOUNDARY_END.match(rest[2:] if closing else rest):
                return depth, closing
        return None

    def _line(self, line: bytes) -> None:
        found = self._boundary(line)
        if found is not None:
            depth, closing = found
            if not self.skipping:
                self._finish_entity()
            self.skipping = False
            del self.boundaries[depth + 1 :]
            if closing:
                self.feed(line)
                self.boundaries.pop()
                self.entity, self.in_headers = None, False
            elif self.parts >= self.limits.max_parts:
                # Left out, boundary line and all: the parser sees the part before
                # it run on to the next boundary it is given.
                self.omitted["parts"] += 1
                self.entity, self.skipping = None, True
            else:
                self.parts += 1
                self.feed(line)
                self.entity, self.in_headers = _Entity(), True
                self._field_kept = True
            return
        entity = self.entity
        if self.skipping:
            return
        if entity is None:
            self.feed(line)
        elif self.in_headers:
            if line in _BLANK:
                entity.header_lines.append(line)
                self._headers_done(entity)
            elif _HEADER_LINE.match(line):
                self._header_line(entity, line)
            else:
                # Not a header: the headers ended without their blank line, and this
                # line is the body's first (as the stdlib reads it).
                self._headers_done(entity)
                self._line(line)
        elif entity.spoolable:
            self._body_line(entity, line)
        else:
            self.feed(line)

    def _header_line(self, entity: _Entity, line: bytes) -> None:
        """Keeps a header line within the part's field count and header bytes."""
        limits = self.limits
        if line.startswith(_CONTINUATION) and entity.header_lines:
            keep = self._field_kept
        else:
            entity.fields += 1
            keep = entity.fields <= limits.max_headers
            if not keep:
                self.omitted["header_fields"] += 1
        if keep and entity.header_bytes + len(line) > limits.max_header_bytes:
            keep = False
            self.omitted["header_bytes"] += len(line)
        self._field_kept = keep
        if keep:
            entity.header_lines.append(line)
            entity.header_bytes += len(line)

    def _headers_done(self, entity: _Entity) -> None:
        self.in_headers = False
        headers = b"".join(entity.header_lines)
        body, encoding, boundary = _is_body_candidate(headers)
        if boundary and len(self.boundaries) >= self.limits.max_depth:
            # Nested too deep: a stub takes its place, and its content is dropped.
            self.omitted["nested"] += 1
            self.feed(
                b"Content-Type: application/octet-stream\r\n"
                + f"{OMITTED_HEADER}: nested\r\n\r\n".encode()
            )
            self.entity, self.skipping = None, True
            return
        if boundary:
            self.boundaries.append(boundary)
        if boundary or body or self.folder is None:
            self.feed(headers)
            entity.header_lines = []
            if boundary:
                self.entity = None  # the preamble streams through
            return
        entity.spoolable = True
        entity.spooled = Spooled(self.folder / f"{len(self.spools)}.part", encoding)

    def _body_line(self, entity: _Entity, line: bytes) -> None:
        assert entity.spooled is not None
        body = line.rstrip(b"\r\n")
        # The line break before a boundary belongs to the boundary (RFC 2046), so each
        # break is written only once the next line shows it was not the last.
        piece, entity.pending_eol = entity.pending_eol + body, line[len(body) :]
        entity.spooled.encoded_chars += len(body)
        if entity.handle is not None:
            entity.handle.write(piece)
            return
        entity.buffered.append(piece)
        entity.buffered_size += len(piece)
        if entity.buffered_size > THRESHOLD:
            entity.handle = entity.spooled.path.open("wb")
            entity.handle.writelines(entity.buffered)
            entity.buffered, entity.buffered_size = [], 0

    def _finish_entity(self) -> None:
        entity = self.entity
        if entity is None:
            return
        self.entity = None
        if entity.handle is None or entity.spooled is None:
            self.feed(b"".join(entity.header_lines))
            self.feed(b"".join(entity.buffered) + entity.pending_eol)
            return
        entity.handle.close()
        index = len(self.spools)
        self.spools.append(entity.spooled)
        lines = entity.header_lines
        blank = lines.pop() if lines and lines[-1] in _BLANK else b"\r\n"
        marker = f"{SPOOL_HEADER}: {index}\r\n".encode()
        # The break before the boundary stays, so the boundary is still recognised.
        self.feed(b"".join(lines) + marker + blank + entity.pending_eol)


def spool_message(
    fp: BinaryIO,
    folder: Path | None,
    feed: Callable[[bytes], None],
    limits: Limits,
) -> Spooler:
    """Feeds `fp` to `feed` within `limits`; with a `folder`, large parts are spooled
    there. Answers the spooler: its `spools` and what it `omitted`."""
    spooler = Spooler(folder, feed, limits)
    spooler.run(fp)
    return spooler

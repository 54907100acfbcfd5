"""Keeps large attachments out of memory while the standard parser reads a message.

`spool_message(fp, folder, feed)` streams a raw message line by line and hands `feed`
the same message with the body of every large non-body part (attachments, inline images)
replaced by nothing and an `X-Beacon-Spool: <n>` header; the encoded bodies go to files
in `folder`. The stdlib parser then sees a small message, so a 60 MB message costs a few
MB of memory instead of several times its size. Boundaries and headers are passed on
untouched, so a truncated message still looks truncated to the parser.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import IO, BinaryIO

SPOOL_HEADER = "X-Beacon-Spool"
THRESHOLD = 256 * 1024  # bodies above this go to disk
READ_CHUNK = 256 * 1024
MAX_LINE = 1024 * 1024  # a "line" without a newline is cut here
_BLANK = {b"\r\n", b"\n", b"\r", b""}
_BOUNDARY_END = re.compile(rb"[ \t]*(\r\n|\n|\r)?$")


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
    """(is a text body, transfer encoding, multipart boundary)."""
    msg = BytesHeaderParser(policy=policy.compat32).parsebytes(headers)
    boundary = msg.get_boundary() if msg.get_content_maintype() == "multipart" else None
    encoding = str(msg.get("Content-Transfer-Encoding", "")).strip().lower()
    body = is_body_part(msg)
    return body, encoding, boundary.encode("latin-1", "replace") if boundary else None


class Spooler:
    def __init__(self, folder: Path, feed: Callable[[bytes], None]) -> None:
        self.folder = folder
        self.feed = feed
        self.boundaries: list[bytes] = []
        self.entity: _Entity | None = _Entity()  # None: in a preamble/epilogue/body
        self.in_headers = True
        self.spools: list[Spooled] = []

    def run(self, fp: BinaryIO) -> list[Spooled]:
        for line in _iter_lines(fp):
            self._line(line)
        self._finish_entity()
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
            self._finish_entity()
            del self.boundaries[depth + 1 :]
            self.feed(line)
            if closing:
                self.boundaries.pop()
                self.entity, self.in_headers = None, False
            else:
                self.entity, self.in_headers = _Entity(), True
            return
        entity = self.entity
        if entity is None:
            self.feed(line)
        elif self.in_headers:
            entity.header_lines.append(line)
            if line in _BLANK:
                self._headers_done(entity)
        elif entity.spoolable:
            self._body_line(entity, line)
        else:
            self.feed(line)

    def _headers_done(self, entity: _Entity) -> None:
        self.in_headers = False
        headers = b"".join(entity.header_lines)
        body, encoding, boundary = _is_body_candidate(headers)
        if boundary:
            self.boundaries.append(boundary)
        if boundary or body:
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
    fp: BinaryIO, folder: Path, feed: Callable[[bytes], None]
) -> list[Spooled]:
    return Spooler(folder, feed).run(fp)

"""Real-world mail is read leniently and within limits; each defect and each thing
left out becomes a note (issue 10)."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from activity.models import InboundStatus
from activity.parser import MalformedEmail, ParsedEmail, parse_message
from activity.tests.conftest import PostInbound
from activity.tests.mail import message, raw

CPYTHON = Path(__file__).parent / "data" / "cpython_email"


def parse(data: bytes, **kwargs: object) -> ParsedEmail:
    return parse_message(io.BytesIO(data), **kwargs)  # type: ignore[arg-type]


def codes(parsed: ParsedEmail) -> list[str]:
    return [note["code"] for note in parsed.notes]


HEAD = (
    b"From: Alice <alice@beacon.example>\r\nTo: anna@acme.com\r\n"
    b"Message-ID: <x1@beacon.example>\r\n"
)


def test_a_bad_date_is_noted_and_the_message_still_read() -> None:
    parsed = parse(
        HEAD + b"Date: the day after tomorrow\r\nSubject: Hi\r\n\r\nHello\r\n"
    )
    assert parsed.date is None
    assert parsed.text.strip() == "Hello"
    assert codes(parsed) == ["bad_date"]


def test_bad_encoded_words_and_stray_bytes_are_noted() -> None:
    parsed = parse(
        HEAD + b"Subject: =?x-unknown?q?Hi?= =?utf-8?b?!!!?= caf\xe9\r\n\r\nHello\r\n"
    )
    assert parsed.subject.startswith("Hi")
    assert set(codes(parsed)) == {"bad_encoded_word", "bad_base64", "stray_bytes"}
    assert all(note["detail"].startswith("Subject: ") for note in parsed.notes)


def test_a_header_line_that_is_not_a_header_starts_the_body() -> None:
    parsed = parse(HEAD + b"Subject: Hi\r\nthis line is no header\r\nmore\r\n")
    assert parsed.subject == "Hi"
    assert "this line is no header" in parsed.text
    assert codes(parsed) == ["bad_header_block"]


def test_a_clean_message_has_no_notes() -> None:
    assert parse(raw(message())).notes == []


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n\r\nonly a body",
        b"Subject: no sender\r\n\r\nbody",
        b"From: foo\r\n\r\n",
    ],
)
def test_no_headers_or_no_readable_sender_still_fails(data: bytes) -> None:
    with pytest.raises(MalformedEmail):
        parse(data)


@pytest.mark.django_db
def test_nul_characters_are_dropped_and_the_message_logged(
    alice_api: APIClient, post_inbound: PostInbound
) -> None:
    """Found by Schemathesis: PostgreSQL text holds no NUL, and storing one failed the
    whole message."""
    data = (
        b"From: Ali\x00ce <alice@beacon.example>\r\nTo: anna@acme.com\r\n"
        b"Message-ID: <nul-1@beacon.example>\r\nSubject: Hi\x00 there\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nHel\x00lo\r\n"
        b"--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="of\x00fer.pdf"\r\n\r\n'
        b"%PDF\x00\r\n--b--\r\n"
    )
    inbound = post_inbound(alice_api, data)
    assert inbound.status == InboundStatus.LOGGED, inbound.detail
    email = inbound.logged_email
    assert email is not None
    assert (email.from_name, email.subject) == ("Alice", "Hi there")
    assert email.text_body.strip() == "Hello"
    attachment = email.attachments.get()
    assert attachment.filename == "offer.pdf"
    assert attachment.file.read() == b"%PDF\x00"


def _many_parts(count: int, *, payload: bytes = b"eA==") -> bytes:
    lines = [
        HEAD,
        b"Subject: many\r\nMIME-Version: 1.0\r\n",
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n',
        b"--b\r\nContent-Type: text/plain\r\n\r\nThe body.\r\n",
    ]
    for index in range(count):
        lines.append(
            b"--b\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="f%d.bin"\r\n\r\n'
            % index
            + payload
            + b"\r\n"
        )
    lines.append(b"--b--\r\n")
    return b"".join(lines)


@override_settings(INBOUND_MAX_PARTS=10, INBOUND_MAX_ATTACHMENTS=100)
def test_parts_past_the_limit_are_left_out_and_noted() -> None:
    parsed = parse(_many_parts(25))
    assert parsed.text.strip() == "The body."
    # The body is part 1, so 9 attachments fit in 10 parts.
    assert [p.filename for p in parsed.parts] == [f"f{i}.bin" for i in range(9)]
    assert all(p.data() == b"x" for p in parsed.parts)
    assert codes(parsed) == ["parts_over_limit"]
    assert "16 MIME part(s)" in parsed.notes[0]["detail"]


@override_settings(INBOUND_MAX_ATTACHMENTS=3)
def test_attachments_past_the_limit_are_left_out_and_noted() -> None:
    parsed = parse(_many_parts(5))
    assert [p.filename for p in parsed.parts] == ["f0.bin", "f1.bin", "f2.bin"]
    assert codes(parsed) == ["attachments_over_limit"]
    assert parsed.notes[0]["detail"].startswith("2 attachment(s)")


@override_settings(INBOUND_MAX_DEPTH=3)
def test_multiparts_nested_past_the_limit_are_left_out_and_noted() -> None:
    depth = 8
    opening = b"".join(
        b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (i, i + 1)
        for i in range(depth)
    )
    closing = b"".join(b"--b%d--\r\n" % i for i in range(depth, -1, -1))
    data = (
        HEAD
        + b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
        + b"--b0\r\nContent-Type: text/plain\r\n\r\nTop text.\r\n"
        + opening
        + b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeep text\r\n" % depth
        + closing
    )
    parsed = parse(data)
    assert parsed.text.strip() == "Top text."
    assert "deep text" not in parsed.text
    assert parsed.parts == []  # the stub for the deep multipart is no attachment
    assert codes(parsed) == ["nesting_over_limit"]


@override_settings(INBOUND_MAX_HEADERS=20)
def test_header_fields_past_the_limit_are_left_out_and_noted() -> None:
    extra = b"".join(b"X-Filler-%d: %d\r\n" % (i, i) for i in range(50))
    parsed = parse(HEAD + b"Subject: Kept\r\n" + extra + b"\r\nHello\r\n")
    assert parsed.subject == "Kept"
    assert parsed.text.strip() == "Hello"
    assert codes(parsed) == ["headers_over_limit"]
    assert parsed.notes[0]["detail"].startswith("34 header field(s)")


@override_settings(INBOUND_MAX_HEADER_BYTES=2000)
def test_header_bytes_past_the_limit_are_left_out_and_noted() -> None:
    huge = b"X-Huge: " + b"a" * 5000 + b"\r\n"
    parsed = parse(HEAD + b"Subject: Kept\r\n" + huge + b"\r\nHello\r\n")
    assert parsed.subject == "Kept"
    assert parsed.text.strip() == "Hello"
    assert codes(parsed) == ["header_bytes_over_limit"]


def test_a_message_of_50000_parts_is_read_within_seconds_without_the_excess() -> None:
    data = _many_parts(50_000)
    # CPU time: the machine's load (other test runs) does not count against it.
    started = time.process_time()
    parsed = parse(data)
    elapsed = time.process_time() - started
    assert elapsed < 5, f"{elapsed:.1f} s of CPU"
    assert parsed.text.strip() == "The body."
    assert len(parsed.parts) == 200  # INBOUND_MAX_ATTACHMENTS
    assert codes(parsed) == ["attachments_over_limit", "parts_over_limit"]
    assert "49001 MIME part(s) past the first 1000" in parsed.notes[1]["detail"]


def _from_header_lines(data: bytes) -> bytes:
    """The message with its top-level From header(s) replaced by a sending identity
    (after an mbox envelope line, which stays first)."""
    head, sep, body = data.partition(b"\n\n")
    lines = head.split(b"\n")
    envelope = lines.pop(0) + b"\n" if lines[0].startswith(b"From ") else b""
    kept: list[bytes] = []
    skipping = False
    for line in lines:
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        skipping = bool(re.match(rb"(?i)from:", line))
        if not skipping:
            kept.append(line)
    sender = b"From: Alice <alice@beacon.example>\n"
    return envelope + sender + b"\n".join(kept) + sep + body


def cpython_messages() -> list[Path]:
    """Every message of CPython's test_email data folder that has a From header and
    headers (the others cannot name a sender at all)."""
    found = []
    for path in sorted(CPYTHON.glob("msg_*.txt")):
        head = path.read_bytes().partition(b"\n\n")[0]
        if re.search(rb"(?im)^from:", head):
            found.append(path)
    return found


def test_the_cpython_corpus_is_here() -> None:
    assert len(list(CPYTHON.glob("msg_*.txt"))) == 48
    assert len(cpython_messages()) == 41


@pytest.mark.parametrize("path", cpython_messages(), ids=lambda p: p.name)
def test_every_cpython_test_message_with_a_sender_is_read(path: Path) -> None:
    parsed = parse(_from_header_lines(path.read_bytes()))
    assert parsed.from_address == "alice@beacon.example"
    for note in parsed.notes:
        assert note["code"] and note["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", cpython_messages(), ids=lambda p: p.name)
def test_every_cpython_test_message_with_a_sender_is_logged_with_its_notes(
    path: Path, alice_api: APIClient, post_inbound: PostInbound
) -> None:
    """Posted as its sender would, each is logged with its defects noted: a message
    naming no recipient too, on no record and saying so (L5)."""
    data = _from_header_lines(path.read_bytes())
    parsed = parse(data)
    inbound = post_inbound(alice_api, data)
    assert inbound.status == InboundStatus.LOGGED, (inbound.reason, inbound.detail)
    assert inbound.logged_email is not None
    noted = [note["code"] for note in inbound.logged_email.notes]
    assert noted[: len(parsed.notes)] == codes(parsed)
    assert ("no_recipient" in noted) == (not parsed.to and not parsed.cc)

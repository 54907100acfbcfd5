from __future__ import annotations

import io
from email.message import EmailMessage

import pytest

from activity.parser import (
    MalformedEmail,
    ParsedEmail,
    normalise_message_id,
    parse_message,
)
from activity.tests.mail import latin1_mime_multipart, message, raw, with_attachment


def parse(data: bytes) -> ParsedEmail:
    return parse_message(io.BytesIO(data))


def codes(parsed: ParsedEmail) -> list[str]:
    return [note["code"] for note in parsed.notes]


def test_it_reads_both_bodies_of_a_multipart_alternative() -> None:
    parsed = parse(raw(message(cc=["Carl <Carl@Acme.com>"])))
    assert parsed.from_address == "alice@beacon.example"
    assert parsed.from_name == "Alice"
    assert parsed.to == ["anna@acme.com"]
    assert parsed.cc == ["carl@acme.com"]
    assert "here is the proposal" in parsed.text
    assert "<b>proposal</b>" in parsed.html
    assert parsed.parts == []
    assert parsed.date is not None and parsed.date.year == 2026


def test_it_decodes_utf8_and_latin1_encoded_word_subjects() -> None:
    utf8 = parse(raw(message(subject="Offerte för Åsa \u2013 5 € 🚀")))
    assert utf8.subject == "Offerte för Åsa \u2013 5 € 🚀"
    latin = parse(latin1_mime_multipart())
    assert latin.subject == "Café crème brûlée"
    assert latin.text.strip() == "Un café crème."
    assert latin.html == "<p>Un café crème.</p>"


def test_it_normalises_the_message_id() -> None:
    assert (
        normalise_message_id(" <Abc.X@Mail.Example.COM> ") == "Abc.X@mail.example.com"
    )
    assert normalise_message_id("no-brackets@EXAMPLE.com") == "no-brackets@example.com"
    assert parse(raw(message())).message_id == "proposal-1@mail.beacon.example"


def test_it_derives_a_stable_id_when_the_message_id_is_missing() -> None:
    first = parse(raw(message(message_id=None)))
    second = parse(raw(message(message_id=None)))
    other = parse(raw(message(message_id=None, subject="Another")))
    assert first.message_id_derived
    assert first.message_id == second.message_id
    assert first.message_id != other.message_id


def test_it_tells_attachments_from_inline_parts() -> None:
    msg = message()
    html_part = msg.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(b"PNGDATA", maintype="image", subtype="png", cid="<logo@x>")
    with_attachment(msg, data=b"%PDF-1.4 tiny", filename="Offer Ö.pdf")
    parsed = parse(raw(msg))
    by_name = {part.content_type: part for part in parsed.parts}
    assert by_name["image/png"].is_inline
    assert by_name["image/png"].content_id == "logo@x"
    pdf = by_name["application/pdf"]
    assert not pdf.is_inline
    assert pdf.filename == "Offer Ö.pdf"
    assert pdf.data() == b"%PDF-1.4 tiny"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff\xfe garbage \x89PNG\r\n\x1a\n" * 50,
        b"this is not an email at all",
    ],
)
def test_it_fails_garbage_with_a_reason(data: bytes) -> None:
    with pytest.raises(MalformedEmail) as caught:
        parse(data)
    assert caught.value.reason


def test_a_multipart_without_its_closing_boundary_is_read_and_noted() -> None:
    data = raw(with_attachment(message(), data=b"x" * 5000, filename="a.bin"))
    cut = data[: data.rindex(b"\r\n--") + 2]  # everything but the closing boundary
    parsed = parse(cut)
    assert "here is the proposal" in parsed.text
    assert parsed.parts[0].data() == b"x" * 5000
    assert codes(parsed) == ["missing_closing_boundary"]

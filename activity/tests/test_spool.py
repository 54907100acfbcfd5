from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from activity import spool
from activity.parser import parse_message
from activity.tests.mail import message, raw, with_attachment


@pytest.fixture(autouse=True)
def _small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool, "THRESHOLD", 1024)


def _both(data: bytes, tmp_path: Path) -> tuple[object, object]:
    plain = parse_message(io.BytesIO(data))
    spooled = parse_message(io.BytesIO(data), spool_dir=tmp_path)
    return plain, spooled


def test_spooling_gives_the_same_email_with_large_parts_on_disk(tmp_path: Path) -> None:
    binary = os.urandom(50_000)
    msg = message(subject="Sp\u00e5l")
    html = msg.get_body(preferencelist=("html",))
    html.add_related(binary[:3000], maintype="image", subtype="png", cid="<i@x>")  # type: ignore[union-attr]
    with_attachment(msg, data=binary, filename="a.bin")
    msg.add_attachment(
        "caf\u00e9 " * 2000,
        subtype="plain",
        filename="notes.txt",
        cte="quoted-printable",
    )
    with_attachment(msg, data=b"tiny", filename="small.bin")
    plain = parse_message(io.BytesIO(raw(msg)))
    spooled = parse_message(io.BytesIO(raw(msg)), spool_dir=tmp_path)

    assert (spooled.subject, spooled.text, spooled.html) == (
        plain.subject,
        plain.text,
        plain.html,
    )
    assert [p.filename for p in spooled.parts] == [p.filename for p in plain.parts]
    for left, right in zip(plain.parts, spooled.parts, strict=True):
        assert left.data() == right.data()
        assert abs(left.size - right.size) <= max(3, left.size // 20)
    by_name = {p.filename: p for p in spooled.parts}
    assert by_name["a.bin"].spooled is not None
    assert by_name["notes.txt"].spooled is not None
    assert by_name["small.bin"].spooled is None
    out = io.BytesIO()
    assert by_name["a.bin"].write_to(out) == len(binary)
    assert out.getvalue() == binary


def test_a_spooled_part_cut_short_is_read_to_its_end_and_noted(tmp_path: Path) -> None:
    data = raw(with_attachment(message(), data=os.urandom(40_000), filename="a.bin"))
    parsed = parse_message(io.BytesIO(data[: len(data) // 2]), spool_dir=tmp_path)
    assert parsed.parts[0].spooled is not None
    assert 0 < parsed.parts[0].size < 40_000
    assert [n["code"] for n in parsed.notes] == ["missing_closing_boundary"]


def test_a_forged_spool_header_is_ignored(tmp_path: Path) -> None:
    msg = with_attachment(message(), data=b"x" * 10, filename="a.bin")
    msg.get_payload()[-1]["X-Beacon-Spool"] = "7"  # type: ignore[index]
    parsed = parse_message(io.BytesIO(raw(msg)), spool_dir=tmp_path)
    assert parsed.parts[0].spooled is None
    assert parsed.parts[0].data() == b"x" * 10

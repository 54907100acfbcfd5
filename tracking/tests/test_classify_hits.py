"""`manage.py classify_hits FILE`: what Beacon would decide of exported hits.

No test here has the database: the command must not touch it (pytest-django refuses).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
GMAIL = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
    "(via ggpht.com GoogleImageProxy)"
)
SLACK = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
SENT = "2026-03-02T09:00:00+00:00"


def hit(email: str | int, at: str, **fields: Any) -> dict[str, Any]:
    return {
        "email": email, "sent_at": SENT, "kind": "open", "link": None, "trap": False,
        "at": f"2026-03-02T{at}+00:00", "ip": "198.51.100.7", "user_agent": CHROME,
        "method": "GET", "purpose": "", "sender_cookie": False, **fields,
    }  # fmt: skip


HITS = [
    # Listed out of time order: decided in time order within each email.
    hit("a", "09:30:30"),  # a repeat of the next line's open, 30 s later
    hit("a", "09:30:00"),
    hit("a", "09:31:00", user_agent=SLACK, ip="203.0.113.5"),
    hit("a", "09:32:00", user_agent=GMAIL, ip="66.249.84.1"),
    hit("a", "09:33:00", sender_cookie=True, ip="192.0.2.1"),
    hit("a", "09:34:00", method="HEAD", ip="192.0.2.2"),
    hit("a", "09:35:00", ip="10.1.2.3"),  # --blocked 10.0.0.0/8
    hit("a", "09:36:00", ip="40.107.20.5"),  # Microsoft EOP
    hit("a", "09:37:00", purpose="prefetch", ip="192.0.2.3"),
    # email b: a gateway clicks within seconds, follows the trap, fetches the pixel
    hit("b", "09:00:03", kind="click", link="https://acme.example/p", ip="192.0.2.9"),
    hit("b", "09:10:00", kind="click", link="trap", trap=True, ip="192.0.2.66"),
    hit("b", "09:10:01", ip="192.0.2.66"),
    # email 7 (a number is a key too): a person's click, same address as email a's open
    hit(7, "11:00:00", kind="click", link=1),
    hit(7, "11:00:10", kind="click", link=1),
]
EXPECTED = [
    ("duplicate", "repeat within 60 s", False),
    ("human", "no machine signal", True),
    ("scanner", "known machine agent (crawler-user-agents pattern Slackbot)", False),
    ("proxy", "Gmail image proxy", True),
    ("self", "the sender's own browser or Beacon session", False),
    ("prefetch", "HEAD request", False),
    ("blocked_ip", "10.1.2.3 is in a blocked network (S8)", False),
    (
        "scanner",
        "known scanner network: Microsoft Exchange Online Protection / Defender "
        "(40.107.20.5)",
        False,
    ),
    ("prefetch", "announced as prefetch", False),
    ("scanner", "clicked 3.0 s after sending", False),
    ("scanner", "followed the hidden trap link (T7)", False),
    ("scanner", "fetched by an address that followed the trap link", False),
    ("human", "no machine signal", True),
    ("duplicate", "repeat within 60 s", False),
]


def _run(*args: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    call_command("classify_hits", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_it_writes_each_hit_with_its_verdict_in_input_order(tmp_path: Path) -> None:
    path = tmp_path / "hits.jsonl"
    path.write_text("\n".join(json.dumps(h) for h in HITS) + "\n\n")
    results = _run(str(path), "--blocked", "10.0.0.0/8", "--blocked", "172.16.0.0/12")
    assert [(r["verdict"], r["reason"], r["counted"]) for r in results] == EXPECTED
    # the input line, untouched, plus the three keys
    for given, result in zip(HITS, results, strict=True):
        assert {k: v for k, v in result.items() if k in given} == given
        assert set(result) - set(given) == {"verdict", "reason", "counted"}


def test_without_blocked_networks_the_address_counts(tmp_path: Path) -> None:
    path = tmp_path / "hits.jsonl"
    path.write_text(json.dumps(hit("a", "09:35:00", ip="10.1.2.3")))
    [result] = _run(str(path))
    assert (result["verdict"], result["counted"]) == ("human", True)


def test_it_reads_standard_input(monkeypatch: Any) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(hit("a", "09:30:00"))))
    [result] = _run("-")
    assert result["verdict"] == "human"


def test_bad_lines_are_named_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "hits.jsonl"
    lines = [
        json.dumps(hit("a", "09:30:00")),
        "{not json",
        json.dumps(hit("a", "09:31:00", kind="view")),
        json.dumps(hit("a", "09:31:00", kind="click")),
        json.dumps(hit("a", "09:31:00", ip="999.1.1.1")),
        json.dumps({**hit("a", "09:31:00"), "at": "yesterday"}),
        json.dumps(hit("a", "09:31:00", trap="no")),
        "[1, 2]",
    ]
    path.write_text("\n".join(lines))
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("classify_hits", str(path), stdout=out)
    message = str(caught.value)
    for number in range(2, 9):
        assert f"line {number}:" in message
    assert "line 1:" not in message and "Nothing was classified" in message
    assert out.getvalue() == ""


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("classify_hits", str(tmp_path / "missing.jsonl"))
    path = tmp_path / "hits.jsonl"
    path.write_text(json.dumps(hit("a", "09:30:00")))
    with pytest.raises(CommandError, match="is not a network"):
        call_command("classify_hits", str(path), "--blocked", "10.0.0.0/40")

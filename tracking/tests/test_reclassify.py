"""`manage.py reclassify_events`: stored verdicts decided again after the lists change."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from tracking import lists
from tracking.ingest import ingest_hits
from tracking.models import TrackedEmail, TrackingEvent, Verdict
from tracking.notifications import user_group_name
from tracking.selectors import tracked_email_summary
from tracking.tests.conftest import make_contact, raw_hit, register
from tracking.tokens import self_cookie_signer

CHECKER = "AcmeLinkChecker/3.1 (+https://acme-security.example/bot)"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


@pytest.fixture
def email(alice: User) -> TrackedEmail:
    make_contact("anna@acme.example", first_name="Anna", last_name="Svensson")
    tracked, _ = register(alice)
    return tracked


def _list_the_checker(data_dir: Path) -> None:
    with (data_dir / "scanner_agents.txt").open("a") as out:
        out.write("acmelinkchecker\thttps://acme-security.example/bot\n")
    lists.reload_lists()


def _reclassify(*args: str) -> str:
    out = io.StringIO()
    call_command("reclassify_events", *args, stdout=out)
    return out.getvalue()


def _events(email: TrackedEmail) -> list[tuple[str, bool, str, str]]:
    return [
        (e.kind, e.inferred, e.verdict, e.reason)
        for e in TrackingEvent.objects.filter(email=email).order_by(
            "occurred_at", "-inferred", "id"
        )
    ]


def test_a_human_open_from_a_newly_listed_agent_becomes_scanner(
    email: TrackedEmail, data_dir: Path
) -> None:
    ingest_hits([raw_hit(email, ua=CHECKER)])
    summary = tracked_email_summary(email)
    assert (summary.status, summary.opens) == ("opened", 1)
    _list_the_checker(data_dir)
    out = _reclassify()
    assert _events(email) == [
        ("open", False, "scanner", "known scanner agent (acmelinkchecker)")
    ]
    summary = tracked_email_summary(email)
    assert (summary.status, summary.opens) == ("registered", 0)
    assert "1 events changed in 1 emails" in out
    assert "human -> scanner: 1" in out
    assert "opened -> registered: 1" in out


def test_a_click_from_it_loses_its_inferred_open_and_the_status_follows(
    email: TrackedEmail, alice: User, data_dir: Path
) -> None:
    link = email.links.get(position=1)
    ingest_hits([raw_hit(email, link_id=link.pk, ua=CHECKER)])
    assert tracked_email_summary(email).status == "clicked"
    assert _events(email) == [
        ("open", True, "human", "inferred from a counted click (T6)"),
        ("click", False, "human", "no machine signal"),
    ]
    _list_the_checker(data_dir)
    out = _reclassify()
    assert _events(email) == [
        ("click", False, "scanner", "known scanner agent (acmelinkchecker)")
    ]
    summary = tracked_email_summary(email)
    assert (summary.status, summary.opens, summary.clicks) == ("registered", 0, 0)
    assert "Inferred opens: 0 added, 1 removed, 0 re-decided." in out
    assert "clicked -> registered: 1" in out


def test_an_agent_taken_off_the_list_counts_again_without_notifying_anyone(
    email: TrackedEmail, alice: User, data_dir: Path
) -> None:
    _list_the_checker(data_dir)
    link = email.links.get(position=1)
    ingest_hits([raw_hit(email, link_id=link.pk, ua=CHECKER)])
    assert _events(email) == [
        ("click", False, "scanner", "known scanner agent (acmelinkchecker)")
    ]
    (data_dir / "scanner_agents.txt").write_text(
        "\n".join(
            line
            for line in (data_dir / "scanner_agents.txt").read_text().splitlines()
            if not line.startswith("acmelinkchecker")
        )
    )
    lists.reload_lists()
    layer = get_channel_layer()
    assert layer is not None

    async def run() -> list[Any]:
        channel = await layer.new_channel()
        await layer.group_add(user_group_name(alice.pk), channel)
        try:
            await sync_to_async(_reclassify)()
            try:
                return [await asyncio.wait_for(layer.receive(channel), 0.5)]
            except TimeoutError:
                return []
        finally:
            await layer.group_discard(user_group_name(alice.pk), channel)

    assert async_to_sync(run)() == []
    assert _events(email) == [
        ("open", True, "human", "inferred from a counted click (T6)"),
        ("click", False, "human", "no machine signal"),
    ]
    inferred = TrackingEvent.objects.get(email=email, inferred=True)
    click = TrackingEvent.objects.get(email=email, inferred=False)
    assert (inferred.occurred_at, inferred.ip, inferred.contact_id) == (
        click.occurred_at,
        click.ip,
        click.contact_id,
    )
    assert tracked_email_summary(email).status == "clicked"


def test_since_and_email_limit_what_is_decided_again(
    email: TrackedEmail, alice: User, data_dir: Path
) -> None:
    other, _ = register(alice, subject="Other")
    base = email.created_at.timestamp() + 600
    ingest_hits(
        [
            raw_hit(email, ua=CHECKER, at=base),
            raw_hit(email, ua=CHECKER, ip="203.0.113.4", at=base + 3600),
            raw_hit(other, ua=CHECKER, at=base + 3600),
        ]
    )
    _list_the_checker(data_dir)
    since = datetime.fromtimestamp(base + 1800, UTC).isoformat()
    out = _reclassify("--since", since, "--email", str(email.pk))
    assert [e[2] for e in _events(email)] == ["human", "scanner"]
    assert [e[2] for e in _events(other)] == ["human"]
    assert "Replayed 1 emails (1 events decided again)" in out
    assert "human -> scanner: 1" in out


def test_a_dry_run_reports_and_writes_nothing(
    email: TrackedEmail, data_dir: Path
) -> None:
    ingest_hits([raw_hit(email, ua=CHECKER)])
    _list_the_checker(data_dir)
    out = _reclassify("--dry-run")
    assert "human -> scanner: 1" in out and "Dry run: nothing was written." in out
    assert [e[2] for e in _events(email)] == ["human"]


def test_with_unchanged_lists_the_replay_agrees_with_the_ingestor(
    email: TrackedEmail, alice: User
) -> None:
    """Every rule at once, stored by the ingestor batch by batch; replayed, nothing
    changes: the same classifier, the same history."""
    sent = email.created_at.timestamp()
    link1, link2 = email.links.get(position=1), email.links.get(position=2)
    trap = email.links.get(is_trap=True)
    own = self_cookie_signer().sign(str(alice.pk))
    batches = [
        [raw_hit(email, link_id=link1.pk, at=sent + 2, ip="192.0.2.9")],  # seconds
        [raw_hit(email, at=sent + 100, ua=CHROME)],
        [raw_hit(email, at=sent + 130, ua=CHROME)],  # duplicate
        [raw_hit(email, at=sent + 140, ua=CHROME, sc=own, ip="192.0.2.1")],  # self
        [raw_hit(email, at=sent + 150, p="prefetch", ip="192.0.2.2")],
        [raw_hit(email, at=sent + 160, method="HEAD", ip="192.0.2.3")],
        [raw_hit(email, at=sent + 170, ip="40.107.3.3")],  # Microsoft EOP
        [
            raw_hit(email, link_id=link1.pk, at=sent + 300, ip="203.0.113.7"),
            raw_hit(email, link_id=link2.pk, at=sent + 300.5, ip="203.0.113.7"),
        ],  # burst
        [raw_hit(email, link_id=trap.pk, at=sent + 400, ip="192.0.2.66")],
        [raw_hit(email, at=sent + 401, ip="192.0.2.66")],  # after the trap
        [raw_hit(email, link_id=link2.pk, at=sent + 900, ip="198.51.100.20")],
    ]
    for batch in batches:
        ingest_hits(batch)
    before = _events(email)
    assert {verdict for _, _, verdict, _ in before} == {
        "scanner", "human", "duplicate", "self", "prefetch",
    }  # fmt: skip
    out = _reclassify()
    assert _events(email) == before
    assert "0 events changed in 0 emails" in out


def test_bad_arguments_are_refused(db: Any) -> None:
    with pytest.raises(CommandError, match="not an ISO 8601 time"):
        _reclassify("--since", "last tuesday")
    with pytest.raises(CommandError, match="--batch"):
        _reclassify("--batch", "0")
    assert "Replayed 0 emails" in _reclassify("--email", "999999")


def test_verdicts_of_the_ingestor_match_the_replay_for_blocked_networks(
    email: TrackedEmail,
) -> None:
    """Blocked networks are the account's current ones (S8): added later, they apply."""
    from settings_admin.models import BlockedNetwork

    ingest_hits([raw_hit(email, ip="198.51.100.7")])
    BlockedNetwork.objects.create(cidr="198.51.100.0/24")
    _reclassify()
    assert [e[2] for e in _events(email)] == [Verdict.BLOCKED_IP]

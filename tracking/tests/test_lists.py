from __future__ import annotations

import shutil
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from tracking import lists

FETCH = "tracking.management.commands.refresh_tracking_lists.fetch"
EGRESS_CSV = (
    "172.224.224.0/27,GB,GB-EN,London,\n"
    "2a02:26f7:b3c0:4000::/64,US,US-CA,Los Angeles,\n"
    "not-a-network,XX,,,\n"
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: Any) -> Iterator[Path]:
    for name in lists.LIST_FILES.values():
        shutil.copy(lists.DATA_DIR / name, tmp_path / name)
    monkeypatch.setattr(lists, "DATA_DIR", tmp_path)
    lists.reload_lists()
    yield tmp_path
    monkeypatch.undo()
    lists.reload_lists()


def test_it_refreshes_apples_egress_ranges_from_the_csv(data_dir: Path) -> None:
    with mock.patch(FETCH, return_value=EGRESS_CSV) as fetch:
        call_command("refresh_tracking_lists", "apple_mpp_networks")
    fetch.assert_called_once_with("https://mask-api.icloud.com/egress-ip-ranges.csv")
    text = (data_dir / "apple_mpp_networks.txt").read_text()
    assert text.startswith("# Apple Mail Privacy Protection")
    entries = [line for line in text.splitlines() if not line.startswith("#")]
    assert entries == ["17.0.0.0/8", "172.224.224.0/27", "2a02:26f7:b3c0:4000::/64"]
    apple = lists.networks("apple_mpp_networks")
    assert "172.224.224.9" in apple and "2a02:26f7:b3c0:4000::1" in apple
    assert "172.224.225.1" not in apple


def test_it_refreshes_scanner_agents_from_a_given_url(data_dir: Path) -> None:
    with mock.patch(FETCH, return_value="# list\nAcmeGuard\nLinkScan\n"):
        call_command(
            "refresh_tracking_lists", "scanner_agents", "--url", "https://x.example/a"
        )
    assert lists.scanner_agents() == ("acmeguard", "linkscan")


def test_a_failed_fetch_says_so_and_leaves_the_list(data_dir: Path) -> None:
    before = (data_dir / "apple_mpp_networks.txt").read_text()
    error = urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    with mock.patch(FETCH, side_effect=error), pytest.raises(CommandError) as caught:
        call_command("refresh_tracking_lists", "apple_mpp_networks")
    assert "Could not fetch https://mask-api.icloud.com/egress-ip-ranges.csv" in str(
        caught.value
    )
    assert "left unchanged" in str(caught.value)
    with (
        mock.patch(FETCH, return_value="<html>oops</html>"),
        pytest.raises(CommandError),
    ):
        call_command("refresh_tracking_lists", "apple_mpp_networks")
    assert (data_dir / "apple_mpp_networks.txt").read_text() == before


def test_a_list_without_a_default_source_needs_a_url(data_dir: Path) -> None:
    with pytest.raises(CommandError, match="give --url"):
        call_command("refresh_tracking_lists", "scanner_networks")


AGENTS = [
    "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
    "Mozilla/5.0 (compatible; Mimecast URL Protect)",
    "Mozilla/5.0 (compatible; Proofpoint URL Defense)",
    "Cisco-IronPort-WSA/12.5",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
    "GoogleImageProxy)",
    "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
    "Mozilla/5.0",
    "  MOZILLA/5.0 ",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.0.0 Safari/537.36",
    "",
]


def _plain_facts(user_agent: str) -> tuple[str, str, bool]:
    """What the classifier computed before agent_facts: loops over the lists."""
    agent = user_agent.lower()
    needle = next((n for n in lists.scanner_agents() if n in agent), "")
    provider = next((p for n, p in lists.proxy_agents() if n in agent), "")
    return needle, provider, agent.strip() == lists.APPLE_MPP_AGENT


@pytest.mark.parametrize(
    "agent",
    AGENTS
    + [f"x {needle} y" for needle in lists.scanner_agents()]
    + [f"x {needle.upper()} y" for needle, _ in lists.proxy_agents()]
    # several needles in one agent: the first in list order is the one reported
    + [" ".join(reversed(lists.scanner_agents()))],
)
def test_agent_facts_match_a_plain_scan_of_the_lists(agent: str) -> None:
    assert lists.agent_facts(agent) == _plain_facts(agent)


def test_agent_facts_follow_a_refreshed_list(data_dir: Path) -> None:
    assert lists.agent_facts("LinkScan/1.0")[0] == ""
    with mock.patch(FETCH, return_value="# list\nAcmeGuard\nLinkScan\n"):
        call_command(
            "refresh_tracking_lists", "scanner_agents", "--url", "https://x.example/a"
        )
    assert lists.agent_facts("LinkScan/1.0")[0] == "linkscan"


@pytest.mark.parametrize(
    "ip",
    ["17.1.2.3", "16.255.255.255", "18.0.0.0", "2a02:26f7:b3c0:4000::1", "::1",
     "not an address", ""],
)  # fmt: skip
def test_a_parsed_address_lookup_matches_the_string_lookup(ip: str) -> None:
    for name in lists.NETWORK_LISTS:
        networks = lists.networks(name)
        assert networks.holds(lists.ip_value(ip) if ip else None) == (ip in networks)

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

from __future__ import annotations

import io
import re
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
    """What agent_facts computes, by plain loops over the lists."""
    agent = user_agent.lower()
    needle = next((n for n in lists.scanner_agents() if n in agent), "")
    pattern = next(
        (p for p in lists.crawler_patterns()[0] if re.search(p, user_agent)), ""
    )
    machine = ""
    if needle:
        machine = f"known scanner agent ({needle})"
    elif pattern:
        machine = f"known machine agent (crawler-user-agents pattern {pattern})"
    provider = next((p for n, p in lists.proxy_agents() if n in agent), "")
    return machine, provider, agent.strip() == lists.APPLE_MPP_AGENT


@pytest.mark.parametrize(
    "agent",
    AGENTS
    + [f"x {needle} y" for needle in lists.scanner_agents()]
    + [f"x {needle.upper()} y" for needle, _ in lists.proxy_agents()]
    # several needles in one agent: the first in list order is the one reported
    + [" ".join(reversed(lists.scanner_agents()))]
    + list(lists.mail_client_agents()),
)
def test_agent_facts_match_a_plain_scan_of_the_lists(agent: str) -> None:
    assert lists.agent_facts(agent) == _plain_facts(agent)


def test_the_pattern_index_finds_what_a_plain_scan_finds() -> None:
    """Every agent the data set gives as an example of its patterns (and the same
    agents with several patterns' examples joined): the index reports the first
    pattern in list order, as running every pattern in turn does."""
    import crawleruseragents

    patterns = lists.crawler_patterns()[0]
    compiled = [re.compile(p) for p in patterns]
    index = lists.crawler_index()
    samples = [
        agent
        for item in crawleruseragents.CRAWLER_USER_AGENTS_DATA
        for agent in item.get("instances", [])[:2]
    ]
    samples += [" ".join(samples[i : i + 3]) for i in range(0, 300, 3)]
    for agent in samples:
        plain = next((p.pattern for p in compiled if p.search(agent)), "")
        assert index.first(agent, agent.lower()) == plain, agent


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        ("Googlebot\\/", ["googlebot/"]),
        ("^curl", ["curl"]),
        ("[wW]get", ["get"]),
        ("Ahrefs(Bot|SiteAudit)", ["ahrefs"]),
        ("Chirp|gotosocial", ["chirp", "gotosocial"]),
        ("(Chirp|gotosocial)", ["chirp", "gotosocial"]),
        ("ab?c", None),
        ("x|yz", None),
        ("(", None),
    ],
)
def test_required_literals(pattern: str, literals: list[str] | None) -> None:
    assert lists.required_literals(pattern) == literals


def test_no_crawler_pattern_matches_a_real_mail_client() -> None:
    kept, left_out = lists.crawler_patterns()
    assert set(left_out) == {"GoogleImageProxy", "YahooMailProxy"}
    assert len(kept) > 1000
    for agent in lists.mail_client_agents():
        assert lists.agent_facts(agent)[0] == "", agent
        assert not any(needle in agent.lower() for needle in lists.scanner_agents())


def test_a_mail_client_agent_added_to_its_list_drops_the_patterns_matching_it(
    data_dir: Path,
) -> None:
    assert lists.agent_facts("Acme Mail/2.0 WhatsApp-compatible")[0] != ""
    with (data_dir / "mail_client_agents.txt").open("a") as out:
        out.write("Acme Mail/2.0 WhatsApp-compatible\thttps://acme.example/ua\n")
    lists.reload_lists()
    assert "WhatsApp" in lists.crawler_patterns()[1]
    assert lists.agent_facts("Acme Mail/2.0 WhatsApp-compatible")[0] == ""
    assert lists.agent_facts("WhatsApp/2.23.20.0 A")[0] == ""


@pytest.mark.parametrize(
    "ip",
    ["17.1.2.3", "16.255.255.255", "18.0.0.0", "2a02:26f7:b3c0:4000::1", "::1",
     "not an address", ""],
)  # fmt: skip
def test_a_parsed_address_lookup_matches_the_string_lookup(ip: str) -> None:
    for name in lists.NETWORK_LISTS:
        networks = lists.networks(name)
        assert networks.holds(lists.ip_value(ip) if ip else None) == (ip in networks)


def test_the_scanner_lookup_names_the_first_list_holding_the_address() -> None:
    """One lookup for all scanner lists gives what asking each list in order gives."""
    samples = [
        "40.92.1.2",
        "40.107.3.4",
        "2a01:111:f403::9",
        "8.8.8.8",
        "10.0.0.1",
        "::1",
    ]
    for name in lists.SCANNER_NETWORKS:
        samples += [line.split("/")[0] for line in lists.read_lines(name)[:3]]
    for ip in samples:
        parsed = lists.ip_value(ip)
        expected = next(
            (label for name, label in lists.SCANNER_NETWORKS.items()
             if lists.networks(name).holds(parsed)),
            "",
        )  # fmt: skip
        assert lists.scanner_network(parsed) == expected, ip
    assert lists.scanner_network(lists.ip_value("40.92.1.2"))
    assert lists.scanner_network(None) == ""


def test_warming_loads_every_list_once() -> None:
    lists.reload_lists()
    lists.warm_lists()
    assert lists.crawler_index.cache_info().currsize == 1
    assert lists.scanner_networks.cache_info().currsize == 1
    assert lists.networks.cache_info().currsize == len(lists.NETWORK_LISTS)


ENDPOINTS_JSON = """[
 {"id": 1, "serviceArea": "Exchange", "urls": ["outlook.office.com"],
  "ips": ["40.96.0.0/13", "2603:1006::/40"]},
 {"id": 9, "serviceArea": "Exchange", "urls": ["*.protection.outlook.com"],
  "ips": ["40.92.0.0/15", "52.238.78.88/32", "2a01:111:f403::/48"]},
 {"id": 10, "serviceArea": "Exchange", "urls": ["*.mail.protection.outlook.com"],
  "ips": ["40.107.0.0/16", "40.92.0.0/15", "not-a-network"]},
 {"id": 11, "serviceArea": "Exchange", "urls": ["smtp.office365.com"]}
]"""


@pytest.fixture
def sources(monkeypatch: Any) -> Iterator[dict[str, tuple[int, bytes]]]:
    """A web server on loopback standing in for the lists' sources: path -> answer."""
    import http.server
    import threading

    answers: dict[str, tuple[int, bytes]] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answers.get(self.path.split("?")[0], (404, b""))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    from tracking.management.commands import refresh_tracking_lists as command

    monkeypatch.setitem(
        command.DEFAULT_URLS, "apple_mpp_networks", f"{base}/egress-ip-ranges.csv"
    )
    monkeypatch.setitem(
        command.DEFAULT_URLS,
        "microsoft_eop_networks",
        f"{base}/endpoints/worldwide?clientrequestid=x",
    )
    try:
        yield answers
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _entries(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.startswith("#")]


def test_with_no_list_every_list_with_a_machine_readable_source_is_refreshed(
    data_dir: Path, sources: dict[str, tuple[int, bytes]]
) -> None:
    sources["/egress-ip-ranges.csv"] = (200, EGRESS_CSV.encode())
    sources["/endpoints/worldwide"] = (200, ENDPOINTS_JSON.encode())
    scanners_before = (data_dir / "scanner_networks.txt").read_text()
    out = io.StringIO()
    call_command("refresh_tracking_lists", stdout=out)
    assert _entries(data_dir / "microsoft_eop_networks.txt") == [
        "40.92.0.0/15", "52.238.78.88/32", "2a01:111:f403::/48", "40.107.0.0/16",
    ]  # fmt: skip
    header = (data_dir / "microsoft_eop_networks.txt").read_text()
    assert "urls-and-ip-address-ranges" in header and "# refreshed from http" in header
    assert _entries(data_dir / "apple_mpp_networks.txt") == [
        "17.0.0.0/8", "172.224.224.0/27", "2a02:26f7:b3c0:4000::/64",
    ]  # fmt: skip
    # hand-kept lists are left alone; the verdicts use the new lists at once
    assert (data_dir / "scanner_networks.txt").read_text() == scanners_before
    assert "40.107.3.3" in lists.networks("microsoft_eop_networks")
    assert "104.47.1.1" not in lists.networks("microsoft_eop_networks")
    assert "microsoft_eop_networks: 4 entries" in out.getvalue()
    assert f"crawler-user-agents {lists.crawler_version()}" in out.getvalue()


def test_a_source_that_fails_leaves_its_list_and_the_others_are_refreshed(
    data_dir: Path, sources: dict[str, tuple[int, bytes]]
) -> None:
    sources["/egress-ip-ranges.csv"] = (503, b"")
    sources["/endpoints/worldwide"] = (200, ENDPOINTS_JSON.encode())
    apple_before = (data_dir / "apple_mpp_networks.txt").read_text()
    err = io.StringIO()
    with pytest.raises(CommandError, match="Not refreshed: apple_mpp_networks"):
        call_command("refresh_tracking_lists", stdout=io.StringIO(), stderr=err)
    assert (
        "Service Unavailable. apple_mpp_networks was left unchanged" in err.getvalue()
    )
    assert (data_dir / "apple_mpp_networks.txt").read_text() == apple_before
    assert "40.107.0.0/16" in _entries(data_dir / "microsoft_eop_networks.txt")


def test_an_endpoints_answer_without_protection_networks_changes_nothing(
    data_dir: Path, sources: dict[str, tuple[int, bytes]]
) -> None:
    before = (data_dir / "microsoft_eop_networks.txt").read_text()
    sources["/endpoints/worldwide"] = (200, b'[{"id": 1, "urls": ["a.example"]}]')
    with pytest.raises(CommandError, match="no usable entries"):
        call_command("refresh_tracking_lists", "microsoft_eop_networks")
    assert (data_dir / "microsoft_eop_networks.txt").read_text() == before


def test_url_needs_a_list(data_dir: Path) -> None:
    with pytest.raises(CommandError, match="--url needs a list"):
        call_command("refresh_tracking_lists", "--url", "https://x.example/a")

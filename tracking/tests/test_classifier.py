"""Each verdict rule (T5, T7), on real user agents of the clients concerned."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from crm.models import Contact
from settings_admin.models import BlockedNetwork
from tracking.ingest import ingest_hits
from tracking.models import Kind, TrackedEmail, TrackingEvent, Verdict
from tracking.tests.conftest import make_contact, raw_hit, register
from tracking.tokens import self_cookie_signer

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
OUTLOOK = "Mozilla/4.0 (compatible; ms-office; MSOffice 16) Microsoft Outlook 16.0.17029; Pro)"
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
    "(via ggpht.com GoogleImageProxy)"
)
YAHOO_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
APPLE_MAIL = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko)"
)
APPLE_MPP = "Mozilla/5.0"
BARRACUDA = "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))"
MIMECAST = "Mozilla/5.0 (compatible; Mimecast URL Protect)"
PROOFPOINT = "Mozilla/5.0 (compatible; Proofpoint URL Defense)"
IRONPORT = "Cisco-IronPort-WSA/12.5"


@pytest.fixture
def email(alice: User) -> TrackedEmail:
    make_contact("anna@acme.example", first_name="Anna", last_name="Svensson")
    tracked, _ = register(alice)
    return tracked


def verdicts(*hits: dict[str, str]) -> list[tuple[str, str, str]]:
    ingest_hits(list(hits))
    return [
        (e.kind, e.verdict, e.reason)
        for e in TrackingEvent.objects.filter(inferred=False).order_by(
            "occurred_at", "id"
        )
    ]


def only(hit: dict[str, str]) -> tuple[str, str]:
    [(_, verdict, reason)] = verdicts(hit)
    return verdict, reason


@pytest.mark.parametrize("ua", [CHROME, OUTLOOK, APPLE_MAIL])
def test_a_plain_open_is_human(email: TrackedEmail, ua: str) -> None:
    assert only(raw_hit(email, ua=ua)) == (Verdict.HUMAN, "no machine signal")


def test_the_senders_own_browser_is_self(
    email: TrackedEmail, alice: User, bob: User
) -> None:
    own = self_cookie_signer().sign(str(alice.pk))
    assert only(raw_hit(email, sc=own))[0] == Verdict.SELF
    TrackingEvent.objects.all().delete()
    # Another Beacon user's browser is not the sender's; a forged cookie is nothing.
    other = self_cookie_signer().sign(str(bob.pk))
    forged = f"{alice.pk}:forged"
    assert verdicts(
        raw_hit(email, sc=other), raw_hit(email, sc=forged, ip="203.0.113.9")
    ) == [
        (Kind.OPEN, Verdict.HUMAN, "no machine signal"),
        (Kind.OPEN, Verdict.HUMAN, "no machine signal"),
    ]


def test_the_senders_own_session_is_self(email: TrackedEmail, alice: User) -> None:
    client = Client()
    client.force_login(alice)
    session_key = client.session.session_key or ""
    assert only(raw_hit(email, ss=session_key))[0] == Verdict.SELF


def test_the_self_cookie_is_set_for_signed_in_users(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    response = client.get("/api/v1/emails/1/")
    cookie = response.cookies["beacon_self"]
    assert self_cookie_signer().unsign(cookie.value) == str(alice.pk)
    assert cookie["httponly"] and cookie["path"] == "/"
    client.cookies["beacon_self"] = cookie.value
    assert "beacon_self" not in client.get("/api/v1/emails/1/").cookies
    assert "beacon_self" not in Client().get("/api/v1/emails/1/").cookies


def test_a_blocked_network_is_blocked_ip(email: TrackedEmail) -> None:
    BlockedNetwork.objects.create(cidr="10.20.0.0/16", note="office")
    verdict, reason = only(raw_hit(email, ip="10.20.3.4"))
    assert verdict == Verdict.BLOCKED_IP and "10.20.3.4" in reason


def test_head_and_announced_previews_are_prefetch(email: TrackedEmail) -> None:
    assert only(raw_hit(email, method="HEAD")) == (Verdict.PREFETCH, "HEAD request")
    TrackingEvent.objects.all().delete()
    assert only(raw_hit(email, p="prefetch")) == (
        Verdict.PREFETCH,
        "announced as prefetch",
    )


def test_apple_mail_privacy_protection_is_apple_mpp(email: TrackedEmail) -> None:
    assert verdicts(
        raw_hit(email, ip="17.58.101.7", ua=APPLE_MAIL),
        raw_hit(
            email,
            ip="203.0.113.50",
            ua=APPLE_MPP,
            at=email.created_at.timestamp() + 200,
        ),
    ) == [
        (
            Kind.OPEN,
            Verdict.APPLE_MPP,
            "Apple Mail Privacy Protection network (17.58.101.7)",
        ),
        (Kind.OPEN, Verdict.APPLE_MPP, "Apple Mail Privacy Protection proxy agent"),
    ]


def test_a_click_through_apples_relay_is_a_person(email: TrackedEmail) -> None:
    link = email.links.get(position=1)
    hit = raw_hit(email, link_id=link.pk, ip="17.58.101.7", ua=APPLE_MAIL)
    assert only(hit) == (Verdict.HUMAN, "no machine signal")


@pytest.mark.parametrize(
    ("ua", "provider"), [(GMAIL_PROXY, "Gmail"), (YAHOO_PROXY, "Yahoo Mail")]
)
def test_gmail_and_yahoo_image_proxies_are_proxy(
    email: TrackedEmail, ua: str, provider: str
) -> None:
    assert only(raw_hit(email, ua=ua, ip="66.249.84.1")) == (
        Verdict.PROXY,
        f"{provider} image proxy",
    )


@pytest.mark.parametrize(
    ("ua", "needle"),
    [
        (BARRACUDA, "barracuda"),
        (MIMECAST, "mimecast"),
        (PROOFPOINT, "proofpoint"),
        (IRONPORT, "cisco-ironport"),
    ],
)
def test_known_scanner_agents_are_scanner(
    email: TrackedEmail, ua: str, needle: str
) -> None:
    assert only(raw_hit(email, ua=ua)) == (
        Verdict.SCANNER,
        f"known scanner agent ({needle})",
    )


def test_known_scanner_networks_are_scanner(email: TrackedEmail) -> None:
    assert only(raw_hit(email, ip="209.222.82.10", ua=CHROME)) == (
        Verdict.SCANNER,
        "known scanner network: mail security gateway (209.222.82.10)",
    )


# Machine agents the hand-written list did not know, from crawler-user-agents.
MACHINES = {
    # chat apps' and social networks' link previews
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)": "Slackbot",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)": "Discordbot",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 "
    "skype-url-preview@microsoft.com": "SkypeUriPreview",
    "WhatsApp/2.23.20.0 A": "WhatsApp",
    "TelegramBot (like TwitterBot)": "TelegramBot",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)": (
        "facebookexternalhit"
    ),
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient "
    "+http://www.linkedin.com)": "LinkedInBot",
    "Twitterbot/1.0": "Twitterbot",
    # HTTP libraries and command-line clients
    "python-requests/2.31.0": "python-requests",
    "Python/3.11 aiohttp/3.9.1": "aiohttp",
    "Go-http-client/1.1": "Go-http-client",
    "okhttp/4.12.0": "okhttp",
    "axios/1.6.2": "axios",
    "curl/8.4.0": "^curl",
    "Wget/1.21.4": "[wW]get",
    "HTTPie/3.2.2": "^HTTPie\\/",
    # search crawlers
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": (
        "Googlebot\\/"
    ),
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)": (
        "bingbot"
    ),
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)": (
        "yandex\\.com\\/bots"
    ),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; "
    "+http://www.apple.com/go/applebot)": "Applebot",
}


@pytest.mark.parametrize(("ua", "pattern"), MACHINES.items())
def test_link_previews_http_libraries_and_crawlers_are_scanner(
    email: TrackedEmail, ua: str, pattern: str
) -> None:
    assert only(raw_hit(email, ua=ua)) == (
        Verdict.SCANNER,
        f"known machine agent (crawler-user-agents pattern {pattern})",
    )


@pytest.mark.parametrize(
    ("ua", "needle"),
    [
        ("Java/17.0.2", "java/"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.19045; en-US) "
            "PowerShell/7.4.0",
            "powershell/",
        ),
    ],
)
def test_http_libraries_the_data_set_lacks_are_in_beacons_own_list(
    email: TrackedEmail, ua: str, needle: str
) -> None:
    assert only(raw_hit(email, ua=ua)) == (
        Verdict.SCANNER,
        f"known scanner agent ({needle})",
    )


# Real mail clients and the browsers readers click into: never machines.
PEOPLE = [
    OUTLOOK,
    "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; WOW64; Trident/7.0; "
    ".NET4.0C; .NET4.0E; Microsoft Outlook 16.0.5134; ms-office; MSOffice 16)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Outlook-iOS/709.2226530.prod.iphone (3.24.1)",
    "Outlook-Android/2.0",
    APPLE_MAIL,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 "
    "Thunderbird/115.5.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UD1A.231105.004; wv) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.43 "
    "Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B Build/TP1A.220624.014; wv) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 "
    "Mobile Safari/537.36",
    CHROME,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
]


@pytest.mark.parametrize("ua", PEOPLE)
def test_real_mail_clients_are_human(email: TrackedEmail, ua: str) -> None:
    assert only(raw_hit(email, ua=ua)) == (Verdict.HUMAN, "no machine signal")


def test_gmail_and_yahoo_proxies_stay_proxy_though_the_data_set_lists_them(
    email: TrackedEmail,
) -> None:
    base = email.created_at.timestamp() + 300
    assert [v[1:] for v in verdicts(
        raw_hit(email, ua=GMAIL_PROXY, ip="66.249.84.1", at=base),
        raw_hit(email, ua=YAHOO_PROXY, ip="98.136.1.1", at=base + 1),
    )] == [
        (Verdict.PROXY, "Gmail image proxy"),
        (Verdict.PROXY, "Yahoo Mail image proxy"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "ip",
    ["40.92.1.10", "40.107.20.5", "52.101.3.4", "52.238.78.88", "104.47.100.1",
     "2a01:111:f400:7c00::10", "2a01:111:f403::1"],
)  # fmt: skip
def test_microsofts_mail_protection_networks_are_scanner(
    email: TrackedEmail, ip: str
) -> None:
    assert only(raw_hit(email, ua=CHROME, ip=ip)) == (
        Verdict.SCANNER,
        f"known scanner network: Microsoft Exchange Online Protection / Defender ({ip})",
    )


@pytest.mark.parametrize(
    "ip",
    # Outlook on the web (Exchange Online ID 1, not mail protection), next-door
    # addresses, and a home address
    ["40.96.1.1", "52.96.10.1", "40.94.0.1", "104.47.128.1", "2a01:111:f402::1",
     "198.51.100.7"],
)  # fmt: skip
def test_neighbouring_and_user_networks_are_not(email: TrackedEmail, ip: str) -> None:
    assert only(raw_hit(email, ua=CHROME, ip=ip)) == (
        Verdict.HUMAN,
        "no machine signal",
    )


# Barracuda, Mimecast, Proofpoint
@pytest.mark.parametrize("ip", ["64.235.150.1", "205.139.110.9", "67.231.150.4"])
def test_gateways_published_networks_are_scanner(email: TrackedEmail, ip: str) -> None:
    assert only(raw_hit(email, ua=CHROME, ip=ip)) == (
        Verdict.SCANNER,
        f"known scanner network: mail security gateway ({ip})",
    )


def test_the_trap_link_marks_a_scanner_and_its_pixel_fetches(
    email: TrackedEmail,
) -> None:
    trap = email.links.get(is_trap=True)
    base = email.created_at.timestamp() + 300
    assert verdicts(
        raw_hit(email, link_id=trap.pk, ip="203.0.113.66", at=base),
        raw_hit(email, ip="203.0.113.66", at=base + 1),
    ) == [
        (Kind.CLICK, Verdict.SCANNER, "followed the hidden trap link (T7)"),
        (
            Kind.OPEN,
            Verdict.SCANNER,
            "fetched by an address that followed the trap link",
        ),
    ]


def test_a_click_seconds_after_sending_is_scanner(
    email: TrackedEmail, alice_api: Any
) -> None:
    alice_api.post(f"/api/v1/emails/{email.pk}/sent/")
    email.refresh_from_db()
    assert email.sent_at is not None
    link = email.links.get(position=1)
    hit = raw_hit(email, link_id=link.pk, at=email.sent_at.timestamp() + 3)
    assert only(hit) == (Verdict.SCANNER, "clicked 3.0 s after sending")


def test_many_links_clicked_at_once_are_scanner(email: TrackedEmail) -> None:
    first, second = email.links.get(position=1), email.links.get(position=2)
    base = email.created_at.timestamp() + 600
    assert verdicts(
        raw_hit(email, link_id=first.pk, at=base),
        raw_hit(email, link_id=second.pk, at=base + 0.4),
    )[-1] == (Kind.CLICK, Verdict.SCANNER, "2 links clicked within 2 s")
    # The same burst split over two batches is caught too.
    TrackingEvent.objects.all().delete()
    ingest_hits([raw_hit(email, link_id=first.pk, at=base + 100)])
    assert (
        verdicts(raw_hit(email, link_id=second.pk, at=base + 101))[-1][1]
        == Verdict.SCANNER
    )


def test_a_repeat_within_the_window_is_duplicate(email: TrackedEmail) -> None:
    base = email.created_at.timestamp() + 120
    ingest_hits([raw_hit(email, at=base)])
    assert verdicts(raw_hit(email, at=base + 10), raw_hit(email, at=base + 200)) == [
        (Kind.OPEN, Verdict.HUMAN, "no machine signal"),
        (Kind.OPEN, Verdict.DUPLICATE, "repeat within 60 s"),
        (Kind.OPEN, Verdict.HUMAN, "no machine signal"),
    ]


def test_a_repeat_from_an_ipv6_address_written_another_way_is_duplicate(
    email: TrackedEmail,
) -> None:
    base = email.created_at.timestamp() + 120
    ingest_hits([raw_hit(email, at=base, ip="2001:db8::7")])
    assert verdicts(raw_hit(email, at=base + 10, ip="2001:DB8:0:0::7"))[-1][1:] == (
        Verdict.DUPLICATE,
        "repeat within 60 s",
    )


def test_a_counted_click_without_an_open_infers_one(email: TrackedEmail) -> None:
    link = email.links.get(position=1)
    base = email.created_at.timestamp() + 120
    ingest_hits([raw_hit(email, link_id=link.pk, at=base)])
    inferred = TrackingEvent.objects.get(inferred=True)
    click = TrackingEvent.objects.get(kind=Kind.CLICK)
    assert (inferred.kind, inferred.verdict, inferred.link_id) == (
        Kind.OPEN,
        Verdict.HUMAN,
        None,
    )
    assert inferred.occurred_at == click.occurred_at and inferred.pk < click.pk
    # Once opened, later clicks infer nothing; uncounted clicks never do.
    second = email.links.get(position=2)
    ingest_hits([raw_hit(email, link_id=second.pk, at=base + 30)])
    ingest_hits([raw_hit(email, link_id=second.pk, at=base + 90, ua=BARRACUDA)])
    assert TrackingEvent.objects.filter(inferred=True).count() == 1


def test_an_uncounted_click_infers_no_open(email: TrackedEmail) -> None:
    link = email.links.get(position=1)
    ingest_hits([raw_hit(email, link_id=link.pk, ua=BARRACUDA)])
    assert not TrackingEvent.objects.filter(inferred=True).exists()


def test_events_of_a_single_recipient_are_attributed(email: TrackedEmail) -> None:
    ingest_hits([raw_hit(email)])
    event = TrackingEvent.objects.get()
    assert event.contact == email.contact and event.contact is not None


def test_anonymous_emails_never_attribute(alice: User) -> None:
    make_contact("anna@acme.example")
    make_contact("bo@acme.example")
    email, _ = register(alice, to=["anna@acme.example"], bcc=["bo@acme.example"])
    link = email.links.get(position=1)
    ingest_hits([raw_hit(email), raw_hit(email, link_id=link.pk, ip="203.0.113.1")])
    assert TrackingEvent.objects.count() == 2
    assert not TrackingEvent.objects.filter(contact__isnull=False).exists()


def test_deleting_a_contact_erases_its_events(email: TrackedEmail) -> None:
    ingest_hits([raw_hit(email)])
    Contact.objects.get(emails__email="anna@acme.example").delete()
    assert not TrackingEvent.objects.exists()


def test_the_same_hit_is_stored_once_and_hits_of_deleted_emails_are_skipped(
    email: TrackedEmail, alice: User
) -> None:
    hit = raw_hit(email)
    assert ingest_hits([hit]) == 1
    assert ingest_hits([hit, hit]) == 0
    gone, _ = register(alice)
    stale = raw_hit(gone)
    gone.delete()
    assert ingest_hits([stale, {"h": "nonsense"}]) == 0
    assert TrackingEvent.objects.count() == 1

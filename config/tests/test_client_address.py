"""The client's real address behind trusted proxies, and nobody else's word for it."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from config.client_address import ClientAddressMiddleware, TrustedProxies
from settings_admin.models import BlockedNetwork
from tracking import tokens
from tracking.fastpath import TrackingApp
from tracking.models import TrackingEvent, Verdict
from tracking.tests.conftest import Req, drive, register

LB = "10.0.0.0/8"  # the load balancer's network
EDGE = "192.0.2.0/24"  # a second, outer proxy tier
CLIENT = "198.51.100.7"


@pytest.fixture
def proxies() -> TrustedProxies:
    return TrustedProxies([LB, EDGE, "2001:db8:1::/48"], "X-Forwarded-For")


def test_a_forged_header_from_an_untrusted_peer_is_ignored(
    proxies: TrustedProxies,
) -> None:
    assert proxies.client("203.0.113.9", "1.2.3.4") == "203.0.113.9"
    assert proxies.client("203.0.113.9", f"{CLIENT}, 10.0.0.5") == "203.0.113.9"


def test_a_chain_through_two_trusted_proxies_yields_the_client(
    proxies: TrustedProxies,
) -> None:
    # client -> edge proxy 192.0.2.10 -> load balancer 10.0.0.5 -> Beacon
    assert proxies.client("10.0.0.5", f"{CLIENT}, 192.0.2.10") == CLIENT
    # what the client wrote itself, left of its own address, is not believed
    assert proxies.client("10.0.0.5", f"6.6.6.6, {CLIENT}, 192.0.2.10") == CLIENT
    assert proxies.client("10.0.0.5", f"{CLIENT}") == CLIENT


@pytest.mark.parametrize(
    ("header", "client"),
    [
        ("192.0.2.10, 10.0.0.7", "192.0.2.10"),  # every hop trusted: the furthest
        (f"{CLIENT}:52311, 192.0.2.10", CLIENT),  # a port after the address
        ("[2001:db8:cafe::17]:4711", "2001:db8:cafe::17"),
        ("2001:db8:cafe::17, 2001:db8:1::2", "2001:db8:cafe::17"),
        ("unknown, 192.0.2.10", "192.0.2.10"),  # garbage: the last proxy's word
        (" , ", "10.0.0.5"),
    ],
)
def test_forwarded_for_hops(proxies: TrustedProxies, header: str, client: str) -> None:
    assert proxies.client("10.0.0.5", header) == client


def test_the_forwarded_header_when_configured() -> None:
    proxies = TrustedProxies([LB], "Forwarded")
    header = 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.2'
    assert proxies.client("10.0.0.5", header) == "2001:db8:cafe::17"
    assert proxies.client("10.0.0.5", f"for={CLIENT}:1234;proto=http") == CLIENT
    # the other header is then nobody's word
    assert proxies.client("10.0.0.5", None) == "10.0.0.5"


def test_no_trusted_proxies_trusts_no_header() -> None:
    proxies = TrustedProxies([], "X-Forwarded-For")
    assert proxies.client("10.0.0.5", CLIENT) == "10.0.0.5"


@pytest.mark.parametrize(
    ("cidrs", "header"), [(["10.0.0.0/33"], "X-Forwarded-For"), ([LB], "X-Real-IP")]
)
def test_a_bad_setting_is_refused(cidrs: list[str], header: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        TrustedProxies(cidrs, header)


def _pixel(email: Any, peer: str, forwarded: str) -> Req:
    return Req(
        f"/t/o/{tokens.open_token(email.pk)}.gif",
        headers={"X-Forwarded-For": forwarded, "User-Agent": "Mozilla/5.0 (X11)"},
        ip=peer,
    )


def test_the_fast_path_records_the_client_behind_the_proxies(
    settings: Any, alice: User
) -> None:
    settings.REDIS_URL = ""
    settings.TRUSTED_PROXIES = [LB, EDGE]
    email, _ = register(alice)
    drive(
        TrackingApp(),
        [
            _pixel(email, "10.0.0.5", f"{CLIENT}, 192.0.2.10"),
            _pixel(email, "203.0.113.9", "1.2.3.4"),  # not a proxy: forged
        ],
    )
    assert sorted(
        str(ip) for ip in TrackingEvent.objects.values_list("ip", flat=True)
    ) == [
        CLIENT,
        "203.0.113.9",
    ]


def test_the_network_rules_see_the_client_behind_the_proxy(
    settings: Any, alice: User
) -> None:
    """S8 and the scanner networks: a blocked client is blocked, a Microsoft scanner
    is a scanner, though every hit arrives from the load balancer."""
    settings.REDIS_URL = ""
    settings.TRUSTED_PROXIES = [LB]
    BlockedNetwork.objects.create(cidr="198.51.100.0/24", note="office")
    email, _ = register(alice)
    drive(
        TrackingApp(),
        [
            _pixel(email, "10.0.0.5", CLIENT),
            _pixel(email, "10.0.0.6", "40.107.20.5"),
            _pixel(email, "10.0.0.6", "203.0.113.50"),
        ],
    )
    verdicts = dict(TrackingEvent.objects.values_list("ip", "verdict"))
    assert verdicts == {
        CLIENT: Verdict.BLOCKED_IP,
        "40.107.20.5": Verdict.SCANNER,
        "203.0.113.50": Verdict.HUMAN,
    }


def test_with_no_trusted_proxies_the_fast_path_ignores_the_header(
    settings: Any, alice: User
) -> None:
    settings.REDIS_URL = ""
    settings.TRUSTED_PROXIES = []
    email, _ = register(alice)
    drive(TrackingApp(), [_pixel(email, "10.0.0.5", CLIENT)])
    assert TrackingEvent.objects.get().ip == "10.0.0.5"


def _seen(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.META["REMOTE_ADDR"])


async def _aseen(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.META["REMOTE_ADDR"])


def test_django_sees_the_client_behind_trusted_proxies(settings: Any) -> None:
    settings.TRUSTED_PROXIES = [LB, EDGE]
    factory = RequestFactory()

    def request(peer: str, forwarded: str) -> HttpRequest:
        return factory.get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)

    sync = ClientAddressMiddleware(_seen)
    assert sync(request("10.0.0.5", f"{CLIENT}, 192.0.2.10")).content == CLIENT.encode()
    assert sync(request("203.0.113.9", "1.2.3.4")).content == b"203.0.113.9"
    asynchronous = ClientAddressMiddleware(_aseen)
    response = async_to_sync(asynchronous)(request("10.0.0.5", CLIENT))
    assert response.content == CLIENT.encode()


def test_the_middleware_runs_for_every_django_request(
    client: Any, settings: Any
) -> None:
    assert settings.MIDDLEWARE[0] == "config.client_address.ClientAddressMiddleware"
    settings.TRUSTED_PROXIES = [LB]
    response = client.get(
        "/healthz", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=CLIENT
    )
    assert response.status_code == 200
    assert response.wsgi_request.META["REMOTE_ADDR"] == CLIENT

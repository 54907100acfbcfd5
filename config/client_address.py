"""The client's real address behind a reverse proxy or load balancer (TRUSTED_PROXIES).

Only a peer inside TRUSTED_PROXIES is believed about who it forwards for. Its header
(TRUSTED_PROXY_HEADER: `X-Forwarded-For`, or `Forwarded` for proxies that write RFC 7239)
lists the hops, each proxy appending the address it received from; reading from the right,
trusted proxies are skipped and the first address that is not trusted is the client. What
an untrusted peer sends is ignored, so nobody can forge an address by sending the header
themselves; left of the first untrusted hop nothing is believed either.

Used by the tracking fast path (`scope_client`, on the raw ASGI scope) and, for Django's
pages, by `ClientAddressMiddleware` (REMOTE_ADDR).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

from tracking.lists import NetworkSet, ip_value

HEADERS = ("x-forwarded-for", "forwarded")


class TrustedProxies:
    def __init__(self, cidrs: Iterable[str], header: str) -> None:
        cidrs = list(cidrs)
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ImproperlyConfigured(
                    f"TRUSTED_PROXIES: {cidr!r} is not a network (CIDR)."
                ) from exc
        header = header.strip().lower()
        if header not in HEADERS:
            raise ImproperlyConfigured(
                "TRUSTED_PROXY_HEADER must be X-Forwarded-For or Forwarded, "
                f"not {header!r}."
            )
        self.enabled = bool(cidrs)
        self.header = header
        self.header_bytes = header.encode()
        self.networks = NetworkSet(cidrs)

    def trusts(self, address: str) -> bool:
        return self.networks.holds(ip_value(address))

    def client(self, peer: str, forwarded: str | None) -> str:
        """The client's address, given the peer's and its forwarding header."""
        if not self.enabled or not forwarded or not self.trusts(peer):
            return peer
        hops = (
            forwarded_for(forwarded)
            if self.header == "forwarded"
            else [hop.strip() for hop in forwarded.split(",")]
        )
        nearest = peer
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:  # garbage or an obfuscated name: the last proxy's word
                return nearest
            if not self.trusts(address):
                return address
            nearest = address
        return nearest  # every hop is a trusted proxy: the furthest one


def forwarded_for(header: str) -> list[str]:
    """The `for=` values of an RFC 7239 `Forwarded` header, in order."""
    found = []
    for element in header.split(","):
        for pair in element.split(";"):
            name, _, value = pair.strip().partition("=")
            if name.strip().lower() == "for":
                found.append(value.strip().strip('"'))
    return found


def _address(hop: str) -> str | None:
    """A hop as a plain address (`[v6]:port`, `v4:port` and quotes removed), or None."""
    hop = hop.strip().strip('"')
    if hop.startswith("["):
        hop = hop[1 : hop.find("]")] if "]" in hop else ""
    elif hop.count(":") == 1:
        hop = hop.partition(":")[0]
    return hop if hop and ip_value(hop) is not None else None


@lru_cache(maxsize=4)
def _proxies(cidrs: tuple[str, ...], header: str) -> TrustedProxies:
    return TrustedProxies(cidrs, header)


def trusted_proxies() -> TrustedProxies:
    """The configured proxies (built once per settings value)."""
    return _proxies(tuple(settings.TRUSTED_PROXIES), settings.TRUSTED_PROXY_HEADER)


def scope_client(scope: dict[str, Any]) -> str:
    """The client's address of an ASGI request ("" when the server gave none)."""
    peer = (scope.get("client") or ("", 0))[0] or ""
    if not settings.TRUSTED_PROXIES or not peer:  # the usual case: one look, no more
        return peer
    proxies = trusted_proxies()
    wanted = proxies.header_bytes
    values = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name == wanted
    ]
    return proxies.client(peer, ",".join(values) if values else None)


class ClientAddressMiddleware:
    """Sets REMOTE_ADDR to the client's address when the peer is a trusted proxy.

    Sync and async capable: it adds no thread hop in front of async views."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        set_remote_addr(request)
        return self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        set_remote_addr(request)
        response: HttpResponse = await self.get_response(request)
        return response


def set_remote_addr(request: HttpRequest) -> None:
    proxies = trusted_proxies()
    peer = request.META.get("REMOTE_ADDR", "")
    if proxies.enabled and peer:
        meta_name = "HTTP_" + proxies.header.upper().replace("-", "_")
        request.META["REMOTE_ADDR"] = proxies.client(peer, request.META.get(meta_name))

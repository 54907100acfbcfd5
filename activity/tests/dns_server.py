"""A real DNS server on loopback (dnslib), answering from records a test gives it.

Tests point DMARC_DNS_SERVERS at it, so SPF, DKIM and DMARC lookups travel over UDP
(and TCP for long answers) exactly as they would to a real resolver.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dnslib import QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class RecordsResolver(BaseResolver):
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[Any]] = {}

    def txt(self, name: str, text: str) -> None:
        data = text.encode()
        chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
        self.records.setdefault((name.lower().rstrip("."), "TXT"), []).append(
            TXT(chunks)
        )

    def a(self, name: str, address: str) -> None:
        self.records.setdefault((name.lower().rstrip("."), "A"), []).append(A(address))

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        qtype = QTYPE[request.q.qtype]
        found = self.records.get((name, qtype), [])
        for rdata in found:
            reply.add_answer(RR(request.q.qname, request.q.qtype, rdata=rdata, ttl=60))
        if not found and not any(key[0] == name for key in self.records):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


def _free_port() -> int:
    # One port free for both UDP and TCP.
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port for the DNS server")


@contextmanager
def dns_server() -> Iterator[tuple[RecordsResolver, str]]:
    """Starts UDP and TCP servers on loopback; answers (resolver, "127.0.0.1:port")."""
    resolver = RecordsResolver()
    port = _free_port()
    quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data")
    servers = [
        DNSServer(resolver, address="127.0.0.1", port=port, logger=quiet),
        DNSServer(resolver, address="127.0.0.1", port=port, tcp=True, logger=quiet),
    ]
    for server in servers:
        server.start_thread()
    try:
        yield resolver, f"127.0.0.1:{port}"
    finally:
        for server in servers:
            server.stop()
            server.server.server_close()

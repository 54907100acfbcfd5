"""DMARC against a DNS server on loopback: pass (SPF or DKIM aligned), fail, none,
temperror (issue 10)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from activity.dmarc import dmarc_check, organisational_domain
from activity.tests.dns_server import RecordsResolver, dns_server

SENDER_IP = "192.0.2.10"
OTHER_IP = "203.0.113.66"


@pytest.fixture(scope="module")
def key() -> tuple[bytes, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, base64.b64encode(public).decode()


@pytest.fixture
def dns(settings: Any, key: tuple[bytes, str]) -> Iterator[RecordsResolver]:
    with dns_server() as (resolver, address):
        settings.DMARC_DNS_SERVERS = address
        resolver.txt("acme.example", f"v=spf1 ip4:{SENDER_IP} -all")
        resolver.txt(
            "_dmarc.acme.example", "v=DMARC1; p=reject; rua=mailto:d@acme.example"
        )
        resolver.txt("sel._domainkey.acme.example", f"v=DKIM1; k=rsa; p={key[1]}")
        resolver.txt("mailer.example", f"v=spf1 ip4:{OTHER_IP} -all")
        resolver.txt("sel._domainkey.mailer.example", f"v=DKIM1; k=rsa; p={key[1]}")
        resolver.txt("plain.example", "v=spf1 -all")
        yield resolver


def _message(sender: str = "alice@acme.example") -> bytes:
    return (
        f"From: Alice <{sender}>\r\nTo: anna@client.example\r\n"
        "Subject: Proposal\r\nMessage-ID: <p1@acme.example>\r\n"
        "Date: Mon, 02 Nov 2026 09:30:00 +0000\r\n\r\nHello Anna.\r\n"
    ).encode()


def _signed(raw: bytes, domain: str, pem: bytes) -> bytes:
    signature = dkim.sign(
        raw,
        b"sel",
        domain.encode(),
        pem,
        include_headers=[b"from", b"to", b"subject", b"message-id", b"date"],
    )
    return signature + raw


def test_spf_aligned_passes(dns: RecordsResolver) -> None:
    result = dmarc_check(
        _message(),
        ip=SENDER_IP,
        helo="mx.acme.example",
        mail_from="bounce@acme.example",
    )
    assert (result.result, result.spf, result.policy) == ("pass", "pass", "reject")
    assert "aligned SPF" in result.detail


def test_spf_of_a_subdomain_aligns_relaxed(dns: RecordsResolver) -> None:
    dns.txt("bounces.acme.example", f"v=spf1 ip4:{SENDER_IP} -all")
    result = dmarc_check(
        _message(), ip=SENDER_IP, helo="mx", mail_from="b@bounces.acme.example"
    )
    assert result.result == "pass"


def test_dkim_aligned_passes_from_an_address_spf_does_not_allow(
    dns: RecordsResolver, key: tuple[bytes, str]
) -> None:
    raw = _signed(_message(), "acme.example", key[0])
    result = dmarc_check(raw, ip=OTHER_IP, helo="mx", mail_from="x@mailer.example")
    assert result.result == "pass"
    assert result.dkim == [{"domain": "acme.example", "valid": True, "aligned": True}]
    assert result.spf == "pass"  # for mailer.example, which is not aligned


def test_a_forged_from_fails(dns: RecordsResolver, key: tuple[bytes, str]) -> None:
    # Someone's own server, own SPF, own valid DKIM signature: nothing aligned.
    raw = _signed(_message(), "mailer.example", key[0])
    result = dmarc_check(raw, ip=OTHER_IP, helo="mx", mail_from="x@mailer.example")
    assert result.result == "fail"
    assert result.dkim == [
        {"domain": "mailer.example", "valid": True, "aligned": False}
    ]
    assert "p=reject" in result.detail


def test_a_tampered_signature_fails(
    dns: RecordsResolver, key: tuple[bytes, str]
) -> None:
    raw = _signed(_message(), "acme.example", key[0]).replace(b"Hello", b"Pay me")
    result = dmarc_check(raw, ip=OTHER_IP, helo="mx", mail_from="x@mailer.example")
    assert result.result == "fail"
    assert result.dkim[0]["valid"] is False


def test_spf_from_the_wrong_address_fails(dns: RecordsResolver) -> None:
    result = dmarc_check(
        _message(), ip=OTHER_IP, helo="mx", mail_from="alice@acme.example"
    )
    assert (result.result, result.spf) == ("fail", "fail")


def test_a_domain_without_dmarc_is_none(dns: RecordsResolver) -> None:
    result = dmarc_check(
        _message("bo@plain.example"), ip=OTHER_IP, helo="mx", mail_from=""
    )
    assert result.result == "none"
    assert "no DMARC record" in result.detail


def test_the_organisational_domains_record_covers_a_subdomain(
    dns: RecordsResolver,
) -> None:
    result = dmarc_check(
        _message("alice@eu.acme.example"), ip=OTHER_IP, helo="mx", mail_from=""
    )
    assert (result.result, result.policy) == ("fail", "reject")


def test_dns_that_does_not_answer_is_temperror(settings: Any) -> None:
    with dns_server() as (_, address):
        pass  # stopped: nothing listens there any more
    settings.DMARC_DNS_SERVERS = address
    from activity import dmarc

    original = dmarc.DNS_TIMEOUT
    dmarc.DNS_TIMEOUT = 0.5
    try:
        result = dmarc_check(_message(), ip=SENDER_IP, helo="mx", mail_from="")
    finally:
        dmarc.DNS_TIMEOUT = original
    assert result.result == "temperror"


def test_organisational_domains_follow_the_public_suffix_list() -> None:
    assert organisational_domain("mail.eu.acme.co.uk") == "acme.co.uk"
    assert organisational_domain("bounces.acme.example") == "acme.example"
    assert organisational_domain("mailer.example") == "mailer.example"
    assert organisational_domain("alice.github.io") == "alice.github.io"

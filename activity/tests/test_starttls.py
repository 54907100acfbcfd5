"""STARTTLS on the BCC receiver, with a certificate from settings, negotiated by a
real smtplib client (issue 10)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from activity.models import InboundEmail, InboundStatus
from activity.smtp import BccController, bcc_controller
from activity.tests.conftest import _close_other_sessions, free_port
from activity.tests.dns_server import dns_server
from activity.tests.mail import message, personal_bcc, raw
from addin.management.commands.addin_dev_cert import make_certificate
from crm.models import Contact

pytestmark = pytest.mark.django_db(transaction=True)


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = make_certificate(["localhost", "127.0.0.1"], days=1)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert)
    key_path.write_bytes(key)
    return cert_path, key_path


@pytest.fixture
def tls_server(
    transactional_db: None, settings: Any, tmp_path: Path
) -> Iterator[tuple[BccController, Path]]:
    cert, key = _certificate(tmp_path)
    settings.BEACON_SMTP_TLS_CERT, settings.BEACON_SMTP_TLS_KEY = str(cert), str(key)
    settings.BEACON_SMTP_REQUIRE_TLS = True
    with dns_server() as (_, address):
        settings.DMARC_DNS_SERVERS = address
        controller = bcc_controller("127.0.0.1", free_port())
        controller.start()
        yield controller, cert
        controller.stop()
    _close_other_sessions()


def test_starttls_is_negotiated_and_the_message_logged(
    tls_server: tuple[BccController, Path], anna: Contact
) -> None:
    server, cert = tls_server
    context = ssl.create_default_context(cafile=str(cert))
    with smtplib.SMTP(server.hostname, server.port, timeout=60) as client:
        client.ehlo("client.example")
        assert client.has_extn("starttls")
        code, _ = client.starttls(context=context)
        assert code == 220
        assert isinstance(client.sock, ssl.SSLSocket)
        assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
        client.ehlo("client.example")
        assert not client.has_extn("starttls")  # once is enough
        client.sendmail(
            "alice@beacon.example",
            [personal_bcc()],
            raw(message()),
        )
    inbound = InboundEmail.objects.get()
    assert inbound.status == InboundStatus.LOGGED, inbound.detail


def test_without_starttls_mail_is_refused_when_tls_is_required(
    tls_server: tuple[BccController, Path],
) -> None:
    server, _ = tls_server
    with smtplib.SMTP(server.hostname, server.port, timeout=60) as client:
        client.ehlo("client.example")
        code, reply = client.mail("alice@beacon.example")
    assert code == 530
    assert b"STARTTLS" in reply
    assert not InboundEmail.objects.exists()


def test_without_a_certificate_starttls_is_not_offered(
    smtp_server: BccController,
) -> None:
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port, timeout=60) as client:
        client.ehlo("client.example")
        assert not client.has_extn("starttls")

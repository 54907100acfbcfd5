"""A self-signed certificate for serving Beacon over HTTPS on a developer machine, so
Outlook can sideload the add-in (Office requires HTTPS for every add-in URL)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

DEFAULT_DIR = Path(settings.BASE_DIR) / ".certs"


def make_certificate(hosts: list[str], days: int) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    alt_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    # granian reads PKCS#8 keys only.
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


class Command(BaseCommand):
    help = "Write a self-signed certificate and key for local HTTPS (sideloading)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
        parser.add_argument(
            "--host",
            action="append",
            dest="hosts",
            help="A host name or IP the certificate is for (repeatable).",
        )
        parser.add_argument("--days", type=int, default=365)
        parser.add_argument(
            "--force", action="store_true", help="Replace an existing certificate."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        folder: Path = options["dir"]
        cert_path, key_path = folder / "localhost.pem", folder / "localhost-key.pem"
        if cert_path.exists() and key_path.exists() and not options["force"]:
            self.stdout.write(f"{cert_path} exists (use --force to replace it)")
            return
        hosts = options["hosts"] or ["localhost", "127.0.0.1"]
        certificate, key = make_certificate(hosts, options["days"])
        folder.mkdir(parents=True, exist_ok=True)
        cert_path.write_bytes(certificate)
        key_path.write_bytes(key)
        key_path.chmod(0o600)
        self.stdout.write(f"wrote {cert_path} and {key_path} for {', '.join(hosts)}")

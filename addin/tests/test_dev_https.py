"""The README's sideload steps: a self-signed certificate and granian serving HTTPS."""

from __future__ import annotations

import ssl
import subprocess
import time
import urllib.request
from io import StringIO
from pathlib import Path

from django.core.management import call_command

from config.testing import free_port, granian_command, server_environment


def test_the_manifest_is_served_over_https_with_the_made_certificate(
    tmp_path: Path,
) -> None:
    out = StringIO()
    call_command("addin_dev_cert", "--dir", str(tmp_path), stdout=out)
    cert, key = tmp_path / "localhost.pem", tmp_path / "localhost-key.pem"
    assert "wrote" in out.getvalue()
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own command
        granian_command(
            port, "--ssl-certificate", str(cert), "--ssl-keyfile", str(key)
        ),
        cwd=Path(__file__).resolve().parents[2],
        env=server_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    context = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"https://localhost:{port}/addin/manifest.xml", context=context
                ) as answer:
                    body = answer.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "granian did not serve HTTPS"
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert f'"https://localhost:{port}/addin/taskpane/"' in body


def test_an_existing_certificate_is_kept(tmp_path: Path) -> None:
    call_command("addin_dev_cert", "--dir", str(tmp_path), stdout=StringIO())
    before = (tmp_path / "localhost.pem").read_bytes()
    out = StringIO()

    call_command("addin_dev_cert", "--dir", str(tmp_path), stdout=out)

    assert (tmp_path / "localhost.pem").read_bytes() == before
    assert "exists" in out.getvalue()

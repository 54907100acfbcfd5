"""`make run PORT=9000` puts port 9000 in tracked links: PUBLIC_BASE_URL follows HOST and
PORT unless it is set. (The add-in manifest is built from each request's own host.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
PRINT = (
    "import django; django.setup(); from django.conf import settings; "
    "from tracking.tokens import pixel_url; "
    "print(pixel_url(1).split('/t/')[0])"
)


def _base_url_with(**env: str) -> str:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PUBLIC_BASE_URL", "HOST", "PORT"}
    }
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", DEBUG="1", **env)
    out = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", PRINT],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PORT": "9000"}, "http://127.0.0.1:9000"),
        ({"HOST": "0.0.0.0", "PORT": "9001"}, "http://localhost:9001"),  # noqa: S104
        (
            {"PORT": "9000", "PUBLIC_BASE_URL": "https://crm.example/"},
            "https://crm.example",
        ),
    ],
)
def test_tracked_links_follow_the_served_host_and_port(
    env: dict[str, str], expected: str
) -> None:
    assert _base_url_with(**env) == expected

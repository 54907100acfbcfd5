"""The OpenAPI schema is the committed docs/openapi.yaml, byte for byte.

A change to the API's paths, operations or shapes shows in review as a change to that
file. After a deliberate change, write it again:
    DEBUG=1 .venv/bin/python manage.py spectacular --validate --fail-on-warn \
        --file docs/openapi.yaml
"""

from __future__ import annotations

from pathlib import Path

from django.core.management import call_command

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def test_the_generated_schema_is_the_committed_one(tmp_path: Path) -> None:
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", generated)

    assert generated.read_bytes() == COMMITTED.read_bytes()

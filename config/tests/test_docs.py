"""The design lives in the repository: every rule id the code cites is stated in
docs/rules.md, and nothing points outside the repository for it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The product's rule ids: R1-R5, U1-U2, S1-S9, P1-P4, C1-C2, T1-T10, L1-L10 (L1a, L1b),
# V1-V5, A1-A2.
RULE_ID = re.compile(
    r"\b(R[1-5]|U[12]|S[1-9]|P[1-4]|C[12]|T10|T[1-9]|L10|L[1-9][ab]?|V[1-5]|A[12])\b"
)
OUTSIDE = re.compile(r"DESIGN\.md|SPEC\.md|STYLE\.md|\.\./shared")


def _tracked(*patterns: str) -> list[Path]:
    # The repository's own files (no virtualenv, no build output): git knows them.
    listed = subprocess.run(  # noqa: S603 - fixed arguments
        ["git", "ls-files", "--", *patterns],  # noqa: S607 - git from PATH, as CI has it
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def _rows(text: str) -> set[str]:
    return {match.group(1) for match in re.finditer(r"^\| (\w+) \|", text, re.M)}


def test_every_rule_id_the_code_cites_is_stated_in_rules_md() -> None:
    stated = _rows((ROOT / "docs" / "rules.md").read_text())
    cited: dict[str, str] = {}
    for path in _tracked("*.py", "*.html", "*.js"):
        if "migrations" in path.parts or path == Path(__file__):
            continue
        for rule in RULE_ID.findall(path.read_text(errors="replace")):
            cited.setdefault(rule, str(path.relative_to(ROOT)))
    assert {"R4", "T5", "L7"} <= set(cited)  # the walk reads the code
    # L1a and L1b are the two ways in of L1, stated in its row.
    missing = {
        rule: where for rule, where in cited.items() if rule.rstrip("ab") not in stated
    }
    assert missing == {}


def test_nothing_points_outside_the_repository_for_the_design() -> None:
    pointing = [
        str(path.relative_to(ROOT))
        for path in _tracked("*.py", "*.md", "*.html", "*.js", "*.toml", "Procfile")
        if path != Path(__file__) and OUTSIDE.search(path.read_text(errors="replace"))
    ]
    assert pointing == []

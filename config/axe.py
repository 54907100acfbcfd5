"""axe-core in browser tests: the serious and critical accessibility violations of the
page a test is on. axe-core comes from the npm registry through package-lock.json
(`npm ci`, run by `make test`) and is injected from node_modules, never from a CDN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE_SCRIPT = (
    Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
)
BLOCKING_IMPACTS = ("serious", "critical")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """Runs axe on the whole page; answers each serious or critical rule it breaks with
    the elements that break it (empty when the page passes)."""
    if not AXE_SCRIPT.exists():
        raise FileNotFoundError(f"{AXE_SCRIPT} is missing: run `npm ci`.")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    result = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {
            "rule": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "where": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]

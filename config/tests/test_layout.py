"""The layout's own rules (docs/architecture.md): no import circle between the project's
modules, and no module so long that a reader cannot hold it.

Both read the source files themselves, so they hold for every module, imported by a test
or not.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A module longer than this is doing more than one job: split it by job.
MAX_MODULE_LINES = 600


def _packages() -> list[str]:
    """The project's top-level packages: the Django apps and config."""
    return sorted(
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if not path.parent.name.startswith(".")
    )


def _is_skipped(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    return "migrations" in parts or "tests" in parts


def _modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the project's packages outside tests
    and migrations (a package is named by its __init__)."""
    found: dict[str, Path] = {}
    for package in _packages():
        for path in sorted((ROOT / package).rglob("*.py")):
            if _is_skipped(path):
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules a module imports, wherever the import stands (a deferred
    import inside a function is still an edge of the circle)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from activity import services` imports the module activity.services.
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.add(target)
    return edges


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_the_walk_sees_every_app_and_its_imports() -> None:
    graph = _graph()
    assert {"activity", "crm", "tracking", "settings_admin", "config"} <= set(
        _packages()
    )
    # Edges the project is known to have, so a walk that finds none cannot pass.
    assert "activity.inbound" in graph["activity.tasks"]
    assert "activity.capture" in graph["activity.inbound"]
    assert "crm.models" in graph["crm.selectors"]


def test_no_import_circle_between_the_projects_modules() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def _source_files() -> list[Path]:
    """Every Python file of the repository outside migrations, tests and tool folders."""
    return [
        path
        for path in sorted(ROOT.rglob("*.py"))
        if not any(
            part.startswith(".") or part == "node_modules"
            for part in path.relative_to(ROOT).parts
        )
        and not _is_skipped(path)
    ]


def test_no_module_outside_migrations_and_tests_is_over_600_lines() -> None:
    lengths = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in _source_files()
    }
    assert "activity/inbound.py" in lengths and "bench/run.py" in lengths
    assert not any("/tests/" in name for name in lengths)
    too_long = {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES}
    assert too_long == {}

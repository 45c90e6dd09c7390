"""The import contract of every top-level package (docs/architecture.md, "Modules").

Each package may import only the packages of ours its row allows, so that the
layers stay what the architecture says: ``registry`` and ``realtime`` import nothing
of ours, ``geo`` only the registry, realtime's presence vocabulary and its owned tasks, operations
everything below it, the server everything, and the provider app simulator only
itself (it speaks to Acionar over the websocket, as a real app does). Imports under
``TYPE_CHECKING`` count too.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"registry", "realtime", "geo", "operations", "server", "clients", "bench", "tests"}
OURS |= {"migrations", "scripts"}

ALLOWED: dict[str, set[str]] = {
    "registry": {"registry"},
    "realtime": {"realtime"},
    "geo": {"geo", "registry", "realtime.presence", "realtime.tasks"},
    "operations": {"operations", "registry", "geo", "realtime"},
    "server": {"server", "operations", "registry", "geo", "realtime"},
    "clients": {"clients"},
    "bench": OURS - {"tests"},
    "scripts": {"server"},
    "migrations/versions": set(),  # snapshots: they must not change when code does
    "migrations": {"server", "registry"},
}
"""Per package (or folder): the packages (or modules) of ours it may import."""

REALTIME_THIRD_PARTY = {"orjson", "redis", "h3", "pydantic", "typing_extensions"}
"""Realtime knows nothing of the business; of the rest of the world, only these."""


def imported(path: Path) -> set[str]:
    """The dotted names ``path`` imports (absolute imports)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _owner(path: Path) -> str:
    relative = path.relative_to(ROOT).as_posix()
    return max((key for key in ALLOWED if relative.startswith(key + "/")), key=len)


def _sources() -> list[Path]:
    folders = [ROOT / key for key in ALLOWED if "/" not in key]
    return sorted(p for folder in folders for p in folder.rglob("*.py"))


def _allowed(name: str, rules: set[str]) -> bool:
    return any(name == rule or name.startswith(rule + ".") for rule in rules)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_each_module_imports_only_what_its_package_may(path: Path) -> None:
    rules = ALLOWED[_owner(path)]
    ours = {name for name in imported(path) if name.split(".")[0] in OURS}
    # "from realtime import presence" names the module realtime.presence: either is fine.
    forbidden = {
        name
        for name in ours
        if not _allowed(name, rules)
        and not any(other.startswith(name + ".") and _allowed(other, rules) for other in ours)
    }
    assert not forbidden, f"{_owner(path)} may import only {sorted(rules)}"


@pytest.mark.parametrize("path", sorted((ROOT / "realtime").rglob("*.py")), ids=lambda p: p.name)
def test_realtime_depends_on_few_libraries(path: Path) -> None:
    roots = {name.split(".")[0] for name in imported(path)}
    allowed = set(sys.stdlib_module_names) | {"__future__", "realtime"} | REALTIME_THIRD_PARTY
    assert roots <= allowed, roots - allowed


PACKAGES = ["registry", "realtime", "geo", "operations", "server", "clients"]
"""The top-level packages of docs/architecture.md's table ("Modules")."""


@pytest.mark.parametrize("package", PACKAGES)
def test_the_rules_are_the_documented_ones(package: str) -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = [line for line in doc.splitlines() if line.startswith(f"| `{package}/` |")]
    allowed = sorted(ALLOWED[package] - {package})
    expected = ", ".join(f"`{rule}`" for rule in allowed) or "nothing of ours"
    assert len(rows) == 1 and rows[0].rstrip(" |").endswith(expected), (rows, expected)

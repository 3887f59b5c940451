"""Imports flow one way: seeder -> fixtures.common -> one domain package -> stacks -> plugins -> tests.

The MyTSDB stand-in (standin/) sits beside fixtures.common: it may import seeder only.

Why: the layout is the map a newcomer reads (docs/architecture.md); this keeps the map true. Every
import counts, also the lazy ones inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = ("fixtures.promql", "fixtures.kube", "fixtures.checks")


def layer(module: str) -> tuple[int, str]:
    """(rank, group) of a first-party module; imports may only go to a lower rank or the same group."""
    if module == "seeder" or module.startswith("seeder."):
        return 0, "seeder"
    if module == "standin" or module.startswith("standin."):
        return 1, "standin"  # the MyTSDB stand-in: seeder only, never the harness
    if module.startswith("fixtures.common"):
        return 1, "fixtures.common"
    for domain in DOMAINS:
        if module == domain or module.startswith(domain + "."):
            return 2, domain
    if module.startswith("fixtures.stacks"):
        return 3, "fixtures.stacks"
    if module.startswith("fixtures"):
        return 4, "fixtures"
    return 5, "tests"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def first_party_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in ("seeder", "fixtures", "tests"))
    return found


SOURCES = sorted(p for top in ("seeder", "standin", "fixtures") for p in (ROOT / top).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_downwards(path: Path) -> None:
    rank, group = layer(module_name(path))
    upward = []
    for imported in sorted(first_party_imports(path)):
        their_rank, their_group = layer(imported)
        if their_rank > rank or (their_rank == rank and their_group != group):
            upward.append(f"{imported} ({their_group})")
    assert not upward, f"{module_name(path)} ({group}) imports upwards or sideways: {', '.join(upward)}"


def test_rule_catches_an_upward_import() -> None:
    """The rule itself: a domain module importing a stack is flagged."""
    assert layer("fixtures.kube.info") < layer("fixtures.stacks.base")
    assert layer("fixtures.promql.client")[1] != layer("fixtures.kube.info")[1]
    assert layer("fixtures.plugin")[0] == 4 and layer("seeder.spec")[0] == 0

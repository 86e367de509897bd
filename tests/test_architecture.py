"""The layout is a rule, not a habit: connectors never import the daemon, nothing imports in a
circle, and the modules marked pure do no I/O.

Every import counts: module level, inside functions and under `if TYPE_CHECKING:` (a cycle hidden
behind TYPE_CHECKING is still two modules that cannot be understood one without the other).
"""
from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("connectors", "daemon")

# The pure cores: data in, data out. A module listed here, or any module under a package listed
# here, may not import I/O (PURE_FORBIDDEN). Packages end with a dot.
PURE = (
    "connectors.types",
    "connectors.binance.sync",
    "connectors.binance.liability_sync",
    "connectors.binance.signing",
    "connectors.binance.schemas",
    "connectors.binance.errors",
    "connectors.binance.constants",
    "connectors.sim.engine.",
    "daemon.core.",
    "daemon.risk.distance",
    "daemon.risk.margin",
    "daemon.risk.perp",
    "daemon.risk.maths",
    "daemon.risk.ladder",
    "daemon.risk.assess",
    "daemon.risk.quiet",
    "daemon.risk.markpass",
    "daemon.legging.hedge",
    "daemon.legging.preflight",
    "daemon.legging.holdings",
    "daemon.opportunity.pricing",
    "daemon.opportunity.quotes",
    "daemon.opportunity.incremental",
    "daemon.opportunity.backtest",
    "daemon.ops.config_reference",
    "daemon.ops.render",
    "daemon.ops.ctl_cli",
    "daemon.dashboard.guard",
    "daemon.dashboard.config",
)
PURE_FORBIDDEN = frozenset({"asyncio", "aiohttp", "websockets", "sqlite3", "socket", "uvloop",
                            "http", "urllib.request", "subprocess", "threading"})


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(p, root): p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))}


def imports_of(name: str, path: Path, known: Iterable[str]) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import statement in the file, resolved to the most
    specific module that exists (`from a.b import c` is a.b.c when c is a module, else a.b)."""
    known = set(known)
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:
                sub = f"{mod}.{alias.name}" if mod else alias.name
                yield (sub if sub in known or not mod else mod), node.lineno


def import_graph(root: Path = ROOT) -> dict[str, dict[str, int]]:
    mods = project_modules(root)
    graph: dict[str, dict[str, int]] = {}
    for name, path in mods.items():
        edges: dict[str, int] = {}
        for target, line in imports_of(name, path, mods):
            if target in mods and target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def layer_violations(root: Path = ROOT) -> list[str]:
    out = []
    for name, path in project_modules(root).items():
        if name.split(".")[0] != "connectors":
            continue
        for target, line in imports_of(name, path, ()):
            if target == "daemon" or target.startswith("daemon."):
                out.append(f"{path.relative_to(root)}:{line} imports {target}")
    return out


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def is_pure(name: str) -> bool:
    return any(name.startswith(p) if p.endswith(".") else name == p for p in PURE)


def impurities(root: Path = ROOT) -> list[str]:
    out = []
    for name, path in project_modules(root).items():
        if not is_pure(name):
            continue
        for target, line in imports_of(name, path, ()):
            top = target.split(".")[0]
            if top in PURE_FORBIDDEN or target in PURE_FORBIDDEN:
                out.append(f"{path.relative_to(root)}:{line} (pure) imports {target}")
    return out


def test_connectors_import_nothing_from_daemon() -> None:
    assert layer_violations() == []


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_pure_modules_do_no_io() -> None:
    assert impurities() == []


def test_every_pure_entry_names_a_module() -> None:
    """A typo in PURE would silently exempt a module."""
    mods = project_modules()
    for entry in PURE:
        assert any(is_pure(m) for m in mods if (m.startswith(entry) if entry.endswith(".")
                                                 else m == entry)), entry


# The rules themselves, on a throwaway tree: each must catch what it is for.

def _tree(tmp: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for pkg in PACKAGES:
        (tmp / pkg).mkdir(exist_ok=True)
        (tmp / pkg / "__init__.py").touch()
    return tmp


def test_rules_catch_what_they_are_for(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "connectors/venue.py": "def f():\n    from daemon.hub import Hub\n",
        "daemon/hub.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                         "    from daemon.app import App\n",
        "daemon/app.py": "from daemon import hub\n",
        "daemon/core/__init__.py": "",
        "daemon/core/book.py": "import asyncio\n",
    })
    assert layer_violations(root) == ["connectors/venue.py:2 imports daemon.hub"]
    assert cycles(import_graph(root)) == [["daemon.app", "daemon.hub"]]
    assert impurities(root) == ["daemon/core/book.py:1 (pure) imports asyncio"]


@pytest.mark.parametrize("src,expected", [
    ("from . import sibling\n", "pkg.sibling"),
    ("from .sibling import x\n", "pkg.sibling"),
    ("from .. import top\n", "top"),
])
def test_relative_imports_resolve(tmp_path: Path, src: str, expected: str) -> None:
    f = tmp_path / "pkg" / "mod.py"
    f.parent.mkdir()
    f.write_text(src)
    known = {"pkg.sibling", "top"}
    assert [t for t, _ in imports_of("pkg.mod", f, known)] == [expected]

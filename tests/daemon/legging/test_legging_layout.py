"""The legging package's shape: a facade over composed parts, recovery through public methods,
one home for a client order id and for the fill that moves the hedge residual."""
from __future__ import annotations

import ast
from pathlib import Path

from daemon.legging.config import LeggingConfig
from daemon.legging.engine import LeggingEngine

from tests.daemon.legging.legging_fakes import FakeVenue, make_hub

ROOT = Path(__file__).resolve().parents[3]
LEGGING = ROOT / "daemon" / "legging"
# pre-flight's maths is another slice's; the rest of the package is held to the rules below
SHELLS = sorted(p for p in LEGGING.glob("*.py") if p.name not in ("preflight.py", "__init__.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _calls(path: Path, owner: str, name: str) -> int:
    return sum(1 for n in ast.walk(_tree(path)) if isinstance(n, ast.Call)
               and isinstance(n.func, ast.Attribute) and n.func.attr == name
               and isinstance(n.func.value, ast.Name) and n.func.value.id == owner)


def test_the_engine_is_composed_not_inherited() -> None:
    assert LeggingEngine.__mro__ == (LeggingEngine, object)
    for path in SHELLS:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ClassDef) and node.name in (
                    "OrderExecutor", "Operations", "HubEvents"):
                assert not node.bases, f"{path.name}: {node.name} inherits"


def test_recovery_imports_no_engine_and_reaches_into_nothing() -> None:
    tree = _tree(LEGGING / "recovery.py")
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "daemon.legging.engine" not in imported   # under TYPE_CHECKING neither: ast sees all


def test_no_part_calls_another_objects_private_members() -> None:
    for path in SHELLS:
        for node in ast.walk(_tree(path)):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                owner = node.value
                assert isinstance(owner, ast.Name) and owner.id in ("self", "cls"), \
                    f"{path.name}:{node.lineno}: .{node.attr} on another object"


def test_one_place_builds_a_client_id_and_one_moves_a_leg_book_by_a_fill() -> None:
    daemon = ROOT / "daemon"
    makers = {p.relative_to(ROOT).as_posix(): n for p in daemon.rglob("*.py")
              if (n := _calls(p, "client_ids", "make"))}
    assert makers == {"daemon/legging/orders.py": 1}
    fills = {p.relative_to(ROOT).as_posix(): n for p in daemon.rglob("*.py")
             if (n := _calls(p, "acc", "apply_fill"))}
    assert fills == {"daemon/legging/runtime.py": 1}
    folds = {p.name: n for p in SHELLS if (n := _calls(p, "rt", "apply_update"))}
    assert folds == {"orders.py": 1}     # every venue answer goes through OrderExecutor.fold


async def test_a_reload_reaches_every_part() -> None:
    hub = make_hub()
    eng = LeggingEngine(hub, {"sim-a": FakeVenue(hub)}, LeggingConfig())
    new = LeggingConfig(max_orders_per_op=7, op_budget_s=9.0)
    eng.cfg = new
    assert eng.cfg is new and eng.executor.cfg is new and eng.operations.cfg is new
    await eng.stop()

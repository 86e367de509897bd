"""A halt restored at restart is in force for the operations recovery resumes.

Restart as the daemon does it: a new LeggingEngine and Watchdog on the same journal, with
`engine.before_resume = lambda state: watchdog.restore(state["risk_state"])`. The first run is
stopped mid-open: the spot leg filled (in part), the perp order never left."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from daemon.journal import Journal
from daemon.legging.engine import LeggingEngine
from daemon.legging.recovery import halted_targets
from connectors.types import OrderRequest
from daemon.core.pairs import State
from daemon.risk.watchdog import Watchdog
from daemon.risk.config import WatchdogConfig

from tests.daemon.legging.legging_fakes import FakeVenue, make_hub
from .test_legging_engine import CFG

NOTIONAL = 10_000.0


class StallingVenue(FakeVenue):
    """Orders of a stalled market never leave (a crash while they were being written)."""

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.stall: set[str] = set()

    async def send(self, req: OrderRequest) -> Any:
        if req.market in self.stall:
            await asyncio.Event().wait()
        return await super().send(req)


class NoActions:
    def transfer(self, *a: Any) -> None: ...
    def deleverage(self, *a: Any) -> None: ...
    def unwind(self, *a: Any) -> None: ...
    def close(self, *a: Any) -> None: ...
    def rehedge(self, *a: Any) -> None: ...


def stack(venue: FakeVenue, journal: Journal) -> tuple[LeggingEngine, Watchdog]:
    eng = LeggingEngine(venue.hub, {"sim-a": venue}, CFG, journal)
    wd = Watchdog(venue.hub, WatchdogConfig(), lambda: [rt.pair for rt in eng.pairs.values()],
                  NoActions(), state_store=journal)
    eng.allow = wd.allows
    return eng, wd


async def half_open(tmp: Path, mode: str | None) -> tuple[StallingVenue, str, float]:
    """Run 1: open, spot 60 % filled, perp stuck; the operator halts; the daemon stops."""
    venue = StallingVenue(make_hub())
    venue.fill_ratio["spot_margin"] = 0.6
    venue.stall.add("perp")
    eng, wd = stack(venue, Journal(tmp))
    await eng.start()
    pid = await eng.open_pair("reverse_basis", "BTCUSDT", NOTIONAL, "taker")
    rt = eng.pairs[pid]
    for _ in range(200):
        if rt.exposure(0) < 0:
            break
        await asyncio.sleep(0.01)
    spot = rt.exposure(0)
    assert spot < 0 and rt.exposure(1) == 0 and rt.pair.state is State.OPENING
    if mode is not None:
        wd.halt(mode)
    await eng.stop()
    wd.stop()
    venue.stall.clear()
    venue.fill_ratio.clear()
    return venue, pid, spot


async def restart(tmp: Path, venue: FakeVenue) -> tuple[LeggingEngine, Watchdog, list[Any]]:
    eng, wd = stack(venue, Journal(tmp))
    seen: list[Any] = []

    def before_resume(state: dict[str, Any]) -> None:
        seen.append((dict(state["risk_state"]), len(eng.pairs), len(venue.sent)))
        wd.restore(state["risk_state"])
    eng.before_resume = before_resume
    wd.start()
    await eng.start()
    return eng, wd, seen


def sent_after(venue: FakeVenue, n: int, market: str, side: str) -> float:
    return sum(r.qty for r in venue.sent[n:] if r.market == market and r.side == side)


async def test_reduce_only_turns_the_resumed_open_into_a_trim_back_to_flat(
        tmp_path: Path) -> None:
    venue, pid, spot = await half_open(tmp_path, "reduce_only")
    n = len(venue.sent)
    eng, wd, seen = await restart(tmp_path, venue)
    # the hook ran with the stored halt, before any pair was loaded or order sent
    assert seen == [(seen[0][0], 0, n)] and seen[0][0]["halt"]["mode"] == "reduce_only"
    assert eng.recovery_report["resumed"] == [pid]
    assert eng.recovery_report["halted"][0]["target_qty"] == 0.0
    await eng.wait_idle(pid, 10.0)
    rt = eng.pairs[pid]
    assert sent_after(venue, n, "perp", "BUY") == 0.0            # no top-up of the perp
    assert sent_after(venue, n, "spot_margin", "SELL") == 0.0    # nor of the short
    assert sent_after(venue, n, "spot_margin", "BUY") == pytest.approx(-spot)
    assert rt.exposure(0) == pytest.approx(0.0, abs=1e-9) and rt.exposure(1) == 0.0
    # an abandoned open ends FAILED with nothing left on the venue (pairs.py)
    assert rt.pair.state is State.FAILED and "open abandoned, flat" in rt.pair.reason
    await eng.stop()
    wd.stop()


async def test_no_new_lets_the_lagging_leg_catch_up_but_not_grow_the_pair(
        tmp_path: Path) -> None:
    venue, pid, spot = await half_open(tmp_path, "no_new")
    n = len(venue.sent)
    eng, wd, _seen = await restart(tmp_path, venue)
    await eng.wait_idle(pid, 10.0)
    rt = eng.pairs[pid]
    assert sent_after(venue, n, "spot_margin", "SELL") == 0.0    # the short does not grow
    assert 0 < sent_after(venue, n, "perp", "BUY") <= -spot + 1e-12
    assert abs(rt.residual()) <= eng.executor.tolerance(rt)
    assert rt.pair.state is State.OPEN and rt.pair.target_qty <= -spot
    await eng.stop()
    wd.stop()


async def test_without_a_halt_the_open_resumes_to_its_target(tmp_path: Path) -> None:
    venue, pid, spot = await half_open(tmp_path, None)
    n = len(venue.sent)
    eng, wd, _seen = await restart(tmp_path, venue)
    await eng.wait_idle(pid, 10.0)
    rt = eng.pairs[pid]
    assert eng.recovery_report["halted"] == []
    assert sent_after(venue, n, "spot_margin", "SELL") > 0       # the short is completed
    assert rt.pair.state is State.OPEN and abs(rt.exposure(1)) > -spot
    await eng.stop()
    wd.stop()


def test_halted_targets_rules() -> None:
    def gate(*refused: str) -> Any:
        return lambda intent: intent not in refused
    signs = (-1, 1)
    no_new, reduce = gate("open", "increase"), gate("open", "increase", "rehedge_up")
    assert halted_targets("open", (-0.6, 0.0), 1.0, signs, 0.001, gate(), False) is None
    assert halted_targets("close", (-0.6, 0.2), 1.0, signs, 0.001, reduce, False) is None
    assert halted_targets("open", (-0.6, 0.2), 1.0, signs, 0.001, no_new, False) == (
        (-0.6, 0.6), 0.6)
    assert halted_targets("open", (-0.6, 0.2), 1.0, signs, 0.001, reduce, False) == (
        (-0.2, 0.2), 0.2)
    assert halted_targets("increase", (-1.5, 1.2), 2.0, signs, 0.001, reduce, True) == (
        (-0.0, 0.0), 0.0)
    assert halted_targets("repair", (-1.0, 0.9), 1.0, signs, 0.001, no_new, False) is None
    assert halted_targets("repair", (-1.0, 0.9), 1.0, signs, 0.001, reduce, False) == (
        (-0.9, 0.9), 0.9)

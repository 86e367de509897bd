"""The fault matrix: fault x phase (idle, opening, open, closing) on the real stack over the
embedded exchange (tests/daemon/risk/stack_rig.py: SimCluster with a manual clock <-> BinanceVenue
-> Hub -> Watchdog -> LeggingEngine, journal on disk). Faults go in through the sim's own control
endpoint (`POST /sim/control`), as an operator would inject them.

One rig per phase, shared by that phase's cells (module-scoped loop). Each cell: bring the rig to
its phase, inject the fault, run the phase's operation while stepping the venue clock, clear the
fault, let the streams recover, then check against the sim's ledger:
* every order the venue holds for our account is in the journal, and no client id reached it twice;
* the venue's residual (perp - net margin coin) is what the pairs' books say, and every pair is
  back within its own residual budget;
* no liquidation and no venue auto-close;
* coins are conserved (ledger totals per asset unchanged since genesis, claims balance).
The process rows (SIGKILL, SIGTERM, journal disk full, corrupt config on SIGHUP) need a daemon
process to kill, a disk to fill and a signal to send: they are test_process_faults.py, same phases,
same ledger checks.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio

from connectors.types import InstrumentKey
from daemon.legging.operations import EngineError
from tests.daemon.risk.stack_rig import SYM, V, StackRig, stack, wait_for
from tests.sim_time import lag_aware_wait, last_mark_ms

pytestmark = pytest.mark.asyncio(loop_scope="module")

PHASES = ("idle", "opening", "open", "closing")
NOTIONAL = 4_000.0
# Collateral at stack_rig's 3x sizing: N/2 in cross margin (margin level 1.5 at entry), N/3 in
# futures, as the daemon is meant to run it (test_watchdog_torn_open.py: no unwind on the
# account's own mid-open reading).
MARGIN_USDT = NOTIONAL / 2
FUTURES_USDT = NOTIONAL / 3 * 1.02
STEP_S = 0.5
MAX_STEPS = 120          # 60 s of scenario time for an operation to finish under a fault

STREAM_FAULTS = ("ws_drop", "sequence_gap", "frozen_stream")
# fault name -> the control requests that inject it (cleared after the cell by _clear)
FAULTS: dict[str, list[dict[str, Any]]] = {
    "ws_drop": [{"action": "drop_ws"}],
    "sequence_gap": [{"action": "skip_diff", "symbol": SYM, "market": "spot", "n": 1},
                     {"action": "skip_diff", "symbol": SYM, "market": "futures", "n": 1}],
    "frozen_stream": [{"action": "freeze_stream", "stream": "btcusdt@depth@100ms",
                       "market": "spot", "seconds": 1.0},
                      {"action": "freeze_stream", "stream": "btcusdt@markPrice@1s",
                       "market": "fut", "seconds": 1.0}],
    "5xx_before": [{"action": "rest_5xx", "n": 2, "market": "margin", "executed": False},
                   {"action": "rest_5xx", "n": 2, "market": "futures", "executed": False}],
    "5xx_executed": [{"action": "rest_5xx", "n": 1, "market": "margin", "executed": True},
                     {"action": "rest_5xx", "n": 1, "market": "futures", "executed": True}],
    "order_timeout": [{"action": "rest_timeout", "n": 1, "market": "margin", "seconds": 8.0}],
    "ack_delay_500ms": [{"action": "delay_acks", "ms": 500, "market": "margin"},
                        {"action": "delay_acks", "ms": 500, "market": "futures"}],
    "leg_a_rejected": [{"action": "reject_next", "market": "margin", "n": 1, "code": -2010}],
    "leg_b_rejected": [{"action": "reject_next", "market": "futures", "n": 1, "code": -2019}],
    "partial_fills": [{"action": "fill_fraction", "market": "margin", "fraction": 0.5},
                      {"action": "fill_fraction", "market": "futures", "fraction": 0.5}],
    "borrow_pool_empty": [{"action": "borrow_pool", "asset": "BTC", "amount": 0}],
    "429_storm": [{"action": "reject_next", "market": "margin", "n": 4, "code": -1003},
                  {"action": "reject_next", "market": "futures", "n": 4, "code": -1003}],
    "clock_skew_+2s": [{"action": "clock_skew", "ms": 2000}],
    "clock_skew_-2s": [{"action": "clock_skew", "ms": -2000}],
}


@dataclass
class Cell:
    rig: StackRig
    session: aiohttp.ClientSession
    control_url: str
    genesis: dict[str, Decimal]
    pools: dict[str, Decimal]

    async def control(self, body: dict[str, Any]) -> None:
        async with self.session.post(self.control_url, data=orjson.dumps(body)) as r:
            doc = await r.json()
            assert r.status == 200 and doc["ok"], (body, doc)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def phase_rig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                    ) -> AsyncIterator[tuple[str, Cell]]:
    phase = str(request.param)
    tmp: Path = tmp_path_factory.mktemp(f"matrix-{phase}")
    async with stack(tmp, 17, "", notional=NOTIONAL, margin_usdt=MARGIN_USDT,
                     futures_usdt=FUTURES_USDT, open_pair=False) as rig, \
            aiohttp.ClientSession() as session:
        await rig.venue.set_leverage(SYM, 3)
        ex = rig.exchange
        cell = Cell(rig, session, rig.sim.venues[0].rest_url + "/sim/control",
                    dict(ex.totals_by_asset()), {"BTC": ex.pool_available("BTC")})
        yield phase, cell


async def _tick(rig: StackRig) -> None:
    """One step of the venue clock. Under a stream fault the step's mark frame may never come
    (lost while the socket was down or frozen): wait for it a while, then carry on, as the
    market does; requests in flight finish with the clock stopped."""
    rig.sim.advance(STEP_S)
    target = last_mark_ms(rig.exchange)
    await lag_aware_wait(lambda: (m := rig.hub.marks.get((V, SYM))) is not None
                         and m.ts_ms >= target, 0.5)
    await lag_aware_wait(lambda: not rig._engine_busy() and not (rig.watchdog and rig.watchdog._tasks),
                         2.0)
    await asyncio.sleep(0.005)


async def _run_until_idle(rig: StackRig) -> None:
    """Step the venue clock until the pair's operation and the watchdog are done."""
    for _ in range(MAX_STEPS):
        await _tick(rig)
        if not rig._engine_busy() and (rig.watchdog is None or not rig.watchdog._tasks):
            return
    raise AssertionError(f"operation still running after {MAX_STEPS * STEP_S}s of market time: "
                         f"{rig.engine.view(rig.pid)}")


async def _open(rig: StackRig, mid_open: Callable[[], Awaitable[None]] | None = None) -> str:
    """Open a pair; a pre-flight that refuses under the fault (a book down, the borrow pool
    empty, the venue refusing the timestamp) is an outcome too: fail closed, nothing sent.
    `mid_open` runs once the open is accepted and its orders are on their way."""
    try:
        rig.pid = await rig.engine.open_pair("reverse_basis", SYM, NOTIONAL, "taker")
    except EngineError as exc:
        return f"refused: {exc}"
    if mid_open is not None:
        await mid_open()
    await _run_until_idle(rig)
    return rig.engine.view(rig.pid)["state"]


async def _close(rig: StackRig) -> None:
    for _ in range(3):     # a close a fault cut short is asked again, as an operator would
        if rig.engine.view(rig.pid)["state"] == "closed":
            return
        await rig.engine.close(rig.pid, "taker")
        await _run_until_idle(rig)
    assert rig.engine.view(rig.pid)["state"] == "closed", rig.engine.view(rig.pid)


def _pending_order_faults(cell: Cell) -> int:
    """Order faults injected but not yet met by a request (5xx, timeouts, rejections)."""
    snap = cell.rig.sim.venues[0].server.faults.snapshot()
    rejects = sum(n for n, _code, _msg in cell.rig.exchange.faults._reject.values())
    return int(snap["rest_5xx"]) + int(snap["rest_timeout"]) + rejects


def _clear(cell: Cell) -> None:
    """Lift every fault the cell may have left pending (budgets a phase without orders never
    consumed, a pool still empty)."""
    server = cell.rig.sim.venues[0].server
    tf = server.faults
    tf.skew_ms = 0
    tf.ack_delay_ms.clear()
    tf._5xx.clear()
    tf._timeouts.clear()
    ef = cell.rig.exchange.faults
    ef._reject.clear()
    ef._fraction.clear()
    ef._skip.clear()
    for asset, amount in cell.pools.items():
        cell.rig.exchange.set_pool(asset, amount)


async def _recover(rig: StackRig) -> None:
    keys = [InstrumentKey(V, m, SYM) for m in ("spot", "perp")]
    for _ in range(40):
        streams = rig.hub.stream_summary().get(V, {})
        if all(rig.hub.book_ready(k)[0] for k in keys) and all(
                st["health"] == "healthy" for name, st in streams.items() if name.startswith("ws:")):
            return
        await _tick(rig)
    raise AssertionError(f"streams did not recover: {rig.hub.stream_summary()}")


def _venue_client_ids(rig: StackRig) -> list[str]:
    ids: list[str] = []
    for acct in rig.exchange.accounts.values():
        ids += [str(o.client_id) for o in getattr(acct, "orders", {}).values()
                if str(getattr(o, "client_id", "")).startswith("bd-")]
    return ids


async def _journal_ids(rig: StackRig) -> set[str]:
    journal = rig.engine.journal
    assert journal is not None
    await journal.barrier()
    ids = {r[0] for r in journal.query("SELECT client_id FROM intents")}
    for (doc,) in journal.query("SELECT doc FROM pairs"):
        ids.update(o["client_id"] for o in orjson.loads(doc)["orders"])
    return ids


async def _check(cell: Cell, what: str) -> None:
    rig = cell.rig
    ex = rig.exchange
    ids = _venue_client_ids(rig)
    assert len(ids) == len(set(ids)), f"{what}: a client id reached the venue twice"
    unknown = set(ids) - await _journal_ids(rig)
    assert not unknown, f"{what}: venue orders the journal does not know: {unknown}"
    assert rig.liquidations() == [] and rig.autoclose_orders() == 0, what
    assert ex.totals_by_asset() == cell.genesis, f"{what}: coins not conserved"
    assert all(v == 0 for v in ex.claims_imbalance().values()), f"{what}: claims imbalance"
    # The venue's residual is what the pairs' books say (a closed pair keeps the dust of its
    # buy-back rounding, so the venue's figure alone is not one pair's), and every pair is
    # within its own budget.
    await wait_for(lambda: (r := rig.residual()) is not None and abs(r - _books_residual(rig)) < 1e-6,
                   5.0, f"{what}: the venue residual ({rig.residual()}) to match the books "
                   f"({_books_residual(rig)})")
    for rt in rig.engine.pairs.values():
        view = rig.engine.view(rt.pair.id)
        assert view["hedged"], (what, view)


def _books_residual(rig: StackRig) -> float:
    return sum(rt.residual() for rt in rig.engine.pairs.values())


CELLS = [(phase, fault) for phase in PHASES for fault in FAULTS]


@pytest.mark.parametrize(("phase_rig", "fault"), CELLS, indirect=["phase_rig"],
                         ids=[f"{p}-{f}" for p, f in CELLS])
async def test_fault_in_phase(phase_rig: tuple[str, Cell], fault: str) -> None:
    phase, cell = phase_rig
    rig = cell.rig
    what = f"{fault} while {phase}"
    orders_before = len(_venue_client_ids(rig))
    if phase in ("open", "closing"):
        state = await _open(rig)
        assert state == "open", (state, rig.engine.view(rig.pid)["reason"], rig.engine.view(rig.pid)["legs"], list(rig.watchdog.steps)[-3:] if rig.watchdog else None)
    async def inject() -> None:
        for body in FAULTS[fault]:
            await cell.control(body)
    # A stream fault before the open only makes the pre-flight refuse (books down): hit the
    # open in flight instead. Order faults wait for the open's requests.
    mid_open = phase == "opening" and fault in STREAM_FAULTS
    try:
        if not mid_open:
            await inject()
        injected = _pending_order_faults(cell)
        if phase == "idle":
            for _ in range(6):
                await _tick(rig)
        elif phase == "opening":
            outcome = await _open(rig, inject if mid_open else None)
            print(f"{what}: {outcome}")      # shown with -s: which opens completed, which refused
            sent = _venue_client_ids(rig)
            assert not outcome.startswith("refused") or len(sent) == orders_before, (what, outcome)
        elif phase == "open":
            for _ in range(6):
                await _tick(rig)
        else:
            await rig.engine.close(rig.pid, "taker")
            await _run_until_idle(rig)
        if phase in ("opening", "closing") and injected:
            # the cell tested something: the operation's requests met the fault
            assert _pending_order_faults(cell) < injected, (what, "fault never met")
    finally:
        _clear(cell)
    await _recover(rig)
    await _check(cell, what)
    if rig.pid:              # back to flat for the next cell, and the ledger checked again
        await _close(rig)
        await _check(cell, what + " (after close)")
        rig.pid = ""

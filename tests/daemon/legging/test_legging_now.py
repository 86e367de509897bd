"""The engine's synchronous entry points (decrease_now / liquidate_now): the pair moves and both
legs' reducing orders are journaled write-ahead and handed to the venue's `send_now` before the
call returns; the returned task then carries on as `decrease` / `liquidate` do."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from connectors.transport.http_fast import WriteFuture
from connectors.types import PerpPosition
from daemon.journal import Journal
from daemon.legging.engine import EngineError, LeggingEngine
from daemon.legging.config import LeggingConfig
from connectors.types import OrderRequest

from tests.daemon.legging.legging_fakes import FakeVenue, make_hub

CFG = LeggingConfig(backoff_base_s=0.01, backoff_cap_s=0.05, complete_budget_s=0.3)


class NowVenue(FakeVenue):
    """FakeVenue with a synchronous write: records the request (and whether its intent was
    already in the write-ahead log) before returning."""

    def __init__(self, *a: Any, intent_log: Path | None = None, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.now: list[OrderRequest] = []
        self.journaled_first: list[bool] = []
        self.intent_log = intent_log

    def send_now(self, req: OrderRequest) -> WriteFuture:
        self.now.append(req)
        if self.intent_log is not None:
            self.journaled_first.append(req.client_id.encode() in self.intent_log.read_bytes())
        out = WriteFuture(loop=asyncio.get_running_loop())
        out.written_ns = time.perf_counter_ns()
        task = asyncio.ensure_future(self.send(req))

        def done(t: asyncio.Future[Any]) -> None:
            if t.exception() is not None:
                out.set_exception(t.exception())  # type: ignore[arg-type]
            else:
                out.set_result(t.result())
        task.add_done_callback(done)
        return out


async def _open(tmp: Path, pair_type: str = "reverse_basis"
                ) -> tuple[LeggingEngine, NowVenue, str]:
    hub = make_hub()
    journal = Journal(tmp)
    venue = NowVenue(hub, intent_log=journal.intent_log)
    eng = LeggingEngine(hub, {"sim-a": venue}, CFG, journal)
    await eng.start()
    pid = await eng.open_pair(pair_type, "BTCUSDT", 12_000, "taker")
    await eng.wait_idle(pid, 10)
    assert eng.view(pid)["state"] == "open"
    # the account's perp position as the venue reports it (what reduceOnly is checked against)
    rt = eng.pairs[pid]
    hub.set_position(PerpPosition(venue="sim-a", symbol="BTCUSDT", qty=rt.exposure(1),
                                  entry_price=60_000.0))
    return eng, venue, pid


async def test_decrease_now_writes_both_reducing_legs_before_returning(tmp_path: Path) -> None:
    eng, venue, pid = await _open(tmp_path)
    rt = eng.pairs[pid]
    qty0 = rt.pair.target_qty
    sent0 = len(venue.sent)
    task = eng.decrease_now(pid, 0.5)
    # no await yet
    assert rt.pair.state.value == "adjusting" and rt.pair.op_kind == "decrease"
    assert len(venue.now) == 2 and venue.journaled_first == [True, True]
    spot, perp = sorted(venue.now, key=lambda r: r.market != "spot_margin")
    assert (spot.side, spot.side_effect, spot.reduce_only) == ("BUY", "AUTO_REPAY", False)
    assert (perp.side, perp.reduce_only) == ("SELL", True)
    assert spot.time_in_force == perp.time_in_force == "IOC"
    assert task.written_ns > 0 and rt.task is task
    assert {r.client_id for r in venue.now} <= set(rt.orders)
    with pytest.raises(EngineError) as busy:          # one operation at a time, refused at once
        eng.decrease_now(pid, 0.1)
    assert busy.value.status == 409 and len(venue.now) == 2
    await task
    v = eng.view(pid)
    assert v["state"] == "open" and v["hedged"], v
    assert v["target_qty"] == pytest.approx(qty0 / 2, abs=0.001)
    assert abs(v["legs"][0]["qty"] - v["target_qty"]) <= v["residual_tolerance"]
    assert abs(v["legs"][1]["qty"] - v["target_qty"]) <= v["residual_tolerance"]
    assert len(venue.sent) - sent0 == len(venue.now)   # the reconcile needed nothing more
    await eng.stop()


async def test_decrease_now_basis_sells_the_spot_long_without_borrowing(tmp_path: Path) -> None:
    eng, venue, pid = await _open(tmp_path, "basis")
    await eng.decrease_now(pid, 0.25)
    spot, perp = sorted(venue.now, key=lambda r: r.market != "spot_margin")
    assert (spot.side, spot.side_effect) == ("SELL", "NO_SIDE_EFFECT")
    assert (perp.side, perp.reduce_only) == ("BUY", True)
    assert eng.view(pid)["state"] == "open" and eng.view(pid)["hedged"]
    await eng.stop()


async def test_decrease_now_refusals_are_synchronous(tmp_path: Path) -> None:
    eng, venue, pid = await _open(tmp_path)
    with pytest.raises(EngineError) as bad:
        eng.decrease_now(pid, 1.5)
    assert bad.value.status == 400
    with pytest.raises(EngineError) as missing:
        eng.decrease_now("nope", 0.5)
    assert missing.value.status == 404
    eng.allow = lambda intent, _pid: intent != "decrease"
    with pytest.raises(EngineError) as halted:
        eng.decrease_now(pid, 0.5)
    assert halted.value.status == 409
    assert venue.now == [] and eng.view(pid)["state"] == "open"
    await eng.stop()


async def test_liquidate_now_idle_pair_is_written_at_once_and_closes(tmp_path: Path) -> None:
    eng, venue, pid = await _open(tmp_path)
    task = eng.liquidate_now(pid)
    assert eng.pairs[pid].pair.state.value == "closing"
    assert len(venue.now) == 2 and venue.journaled_first == [True, True]
    assert all(r.order_type == "MARKET" for r in venue.now)
    assert task.written_ns > 0
    await task
    v = eng.view(pid)
    assert v["state"] == "closed", v
    assert v["legs"][0]["qty"] <= v["residual_tolerance"] and v["legs"][1]["qty"] <= v["residual_tolerance"]
    await eng.stop()


async def test_liquidate_now_over_a_running_operation_takes_the_ordinary_path(tmp_path: Path) -> None:
    eng, venue, pid = await _open(tmp_path)
    await eng.close(pid, "chase")             # resting post-only orders: an operation in flight
    rt = eng.pairs[pid]
    assert rt.task is not None and not rt.task.done()
    task = eng.liquidate_now(pid)
    # the running operation and its orders must be cancelled first: nothing written here
    assert venue.now == [] and task.written_ns == 0
    await asyncio.wait_for(task, 20)
    assert eng.view(pid)["state"] == "closed"
    await eng.stop()


class StagingVenue(FakeVenue):
    """FakeVenue with `stage_now` (connectors.base.StagesNow): records every stage and write in
    order, with whether both of the fire's intents were already in the write-ahead log."""

    def __init__(self, *a: Any, intent_log: Path, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.events: list[str] = []
        self.intent_log = intent_log
        self.fail_stage: set[str] = set()       # markets whose staging raises

    def stage_now(self, req: OrderRequest) -> Any:
        if req.market in self.fail_stage:
            raise RuntimeError("staging broke")
        log = self.intent_log.read_bytes()
        self.events.append(f"stage {req.market} intent_logged={req.client_id.encode() in log}")
        venue = self

        class Staged:
            out: Any = None

            def write(self) -> int:
                venue.events.append(f"write {req.market}")
                self.out = asyncio.ensure_future(venue.send(req))
                return time.perf_counter_ns()

            def answer(self) -> Any:
                return self.out
        return Staged()


async def _open_staging(tmp: Path) -> tuple[LeggingEngine, StagingVenue, str]:
    hub = make_hub()
    journal = Journal(tmp)
    venue = StagingVenue(hub, intent_log=journal.intent_log)
    eng = LeggingEngine(hub, {"sim-a": venue}, CFG, journal)
    await eng.start()
    pid = await eng.open_pair("reverse_basis", "BTCUSDT", 12_000, "taker")
    await eng.wait_idle(pid, 10)
    venue.events.clear()
    return eng, venue, pid


async def test_decrease_now_stages_both_legs_then_writes_them_back_to_back(tmp_path: Path) -> None:
    eng, venue, pid = await _open_staging(tmp_path)
    task = eng.decrease_now(pid, 0.5)
    # both intents are in the log before either leg is even staged; nothing between the writes
    assert venue.events == ["stage spot_margin intent_logged=True", "stage perp intent_logged=True",
                            "write spot_margin", "write perp"]
    assert task.written_ns > 0
    await task
    assert eng.view(pid)["state"] == "open" and eng.view(pid)["hedged"]
    await eng.stop()


async def test_a_leg_whose_staging_fails_does_not_hold_back_the_other(tmp_path: Path) -> None:
    eng, venue, pid = await _open_staging(tmp_path)
    venue.fail_stage = {"perp"}
    task = eng.decrease_now(pid, 0.5)
    assert venue.events == ["stage spot_margin intent_logged=True", "write spot_margin"]
    rt = eng.pairs[pid]
    perp = [t for t in rt.orders.values() if t.market == "perp" and t.op == rt.pair.op_seq]
    venue.fail_stage = set()
    await asyncio.wait_for(task, 20)
    # the failed leg was classified like a failed send (nothing was written for it), and the
    # operation's reconcile brought the pair back to hedged
    assert perp and perp[0].status in ("REJECTED", "UNKNOWN", "NOT_SENT") and perp[0].error
    v = eng.view(pid)
    assert v["state"] == "open" and v["hedged"], v
    await eng.stop()

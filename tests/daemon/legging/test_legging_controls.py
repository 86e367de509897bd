"""What other components call on the engine: rehedge, the halt gate, origin, interest routing."""
from __future__ import annotations

from pathlib import Path

import pytest

from daemon.core.halt import HaltMode, HaltState
from daemon.core.halt import allows as halt_allows
from connectors.types import InterestCharge
from daemon.journal import Journal
from daemon.legging.engine import EngineError, LeggingEngine
from daemon.legging.config import LeggingConfig

from tests.daemon.legging.legging_fakes import FakeVenue, make_hub

CFG = LeggingConfig(backoff_base_s=0.01, backoff_cap_s=0.05, complete_budget_s=0.3)


class Gate:
    """The watchdog's shape: `allows(intent, pair_id)` and `halt_state.mode`."""

    def __init__(self) -> None:
        self.halt_state = HaltState()
        self.asked: list[tuple[str, str | None]] = []

    def allows(self, intent: str, pair_id: str | None = None) -> bool:
        self.asked.append((intent, pair_id))
        return halt_allows(self.halt_state.mode, intent)


def _engine(gate: Gate | None = None, tmp: Path | None = None
            ) -> tuple[LeggingEngine, FakeVenue]:
    hub = make_hub()
    venue = FakeVenue(hub)
    return LeggingEngine(hub, {"sim-a": venue}, CFG, Journal(tmp) if tmp else None,
                         allow=gate.allows if gate else None), venue


async def _open(eng: LeggingEngine) -> str:
    pid = await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, "taker")
    await eng.wait_idle(pid)
    assert eng.view(pid)["state"] == "open"
    return pid


def _grow_liability(eng: LeggingEngine, coin: float) -> None:
    """Interest charged: the spot short (liability) outgrows the perp by `coin`."""
    eng.hub.interest_charge(InterestCharge(venue="sim-a", asset="BTC", amount=coin, ts_ms=1))


async def test_rehedge_adds_to_the_perp() -> None:
    eng, venue = _engine()
    pid = await _open(eng)
    _grow_liability(eng, 0.002)
    assert eng.view(pid)["residual_base"] == pytest.approx(-0.002)
    n = len(venue.sent)
    await eng.rehedge(pid, 0.002, reduce_only=False)
    v = eng.view(pid)
    assert v["state"] == "open" and v["operation"]["kind"] == "repair"
    assert v["legs"][1]["signed_qty"] == pytest.approx(0.168)
    assert v["legs"][0]["signed_qty"] == pytest.approx(-0.168)
    assert v["residual_base"] == pytest.approx(0, abs=1e-9)
    new = venue.sent[n:]
    assert [(r.market, r.side, r.qty) for r in new] == [("perp", "BUY", 0.002)]
    assert new[0].client_id.split("-")[2].endswith("r")      # a repair op's client id


async def test_rehedge_reduce_only_trims_the_longer_leg() -> None:
    eng, venue = _engine()
    pid = await _open(eng)
    _grow_liability(eng, 0.002)
    n = len(venue.sent)
    await eng.rehedge(pid, 0.002, reduce_only=True)
    new = venue.sent[n:]
    assert [(r.market, r.side, r.side_effect) for r in new] == [("spot_margin", "BUY",
                                                                 "AUTO_REPAY")]
    v = eng.view(pid)
    assert v["legs"][0]["signed_qty"] == pytest.approx(-0.166)
    assert v["legs"][1]["signed_qty"] == pytest.approx(0.166)


async def test_rehedge_negative_takes_off_the_perp() -> None:
    eng, venue = _engine()
    pid = await _open(eng)
    from daemon.core.accounting import apply_fill
    apply_fill(eng.pairs[pid].books[1], "BUY", 0.003, 60_000.0)   # e.g. an adopted stray fill
    n = len(venue.sent)
    await eng.rehedge(pid, -0.003, reduce_only=True)
    assert [(r.market, r.side, r.qty) for r in venue.sent[n:]] == [("perp", "SELL", 0.003)]


async def test_halt_gate_refuses_opens_and_increases_with_the_mode() -> None:
    gate = Gate()
    eng, venue = _engine(gate)
    pid = await _open(eng)
    gate.halt_state = HaltState(mode=HaltMode.NO_NEW)
    with pytest.raises(EngineError) as e:
        await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, "taker")
    assert e.value.status == 409 and e.value.message == "halted: no_new"
    with pytest.raises(EngineError) as e:
        await eng.increase(pid, 1_000)
    assert e.value.message == "halted: no_new"
    assert ("increase", pid) in gate.asked
    gate.halt_state = HaltState(mode=HaltMode.REDUCE_ONLY)
    _grow_liability(eng, 0.002)
    n = len(venue.sent)
    # under reduce_only a re-hedge that would add to the perp trims the spot short instead
    await eng.rehedge(pid, 0.002, reduce_only=False)
    assert [(r.market, r.side) for r in venue.sent[n:]] == [("spot_margin", "BUY")]
    # protective operations still go through
    await eng.decrease(pid, 0.5)
    await eng.wait_idle(pid)
    await eng.close(pid)
    await eng.wait_idle(pid)
    assert eng.view(pid)["state"] == "closed"
    gate.halt_state = HaltState()
    await _open(eng)


async def test_origin_is_persisted_across_restart(tmp_path: Path) -> None:
    eng, venue = _engine(tmp=tmp_path)
    await eng.start()
    pid = await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, "taker", origin="strategy")
    await eng.wait_idle(pid)
    manual = await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, "taker")
    await eng.wait_idle(manual)
    await eng.stop()
    eng2 = LeggingEngine(venue.hub, {"sim-a": venue}, CFG, Journal(tmp_path))
    await eng2.start()
    assert eng2.pairs[pid].pair.origin == "strategy" and eng2.view(pid)["origin"] == "strategy"
    assert eng2.pairs[manual].pair.origin == "operator"
    with pytest.raises(EngineError):
        await eng2.open_pair("reverse_basis", "BTCUSDT", 10_000, "taker", origin="robot")
    await eng2.stop()


async def test_interest_charged_before_the_fill_is_booked_to_the_opening_pair() -> None:
    """MARGIN_BUY borrows (and is charged the first hour) before the sell's fill is reported."""
    eng, venue = _engine()
    pid = await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, "taker")
    rt = eng.pairs[pid]
    assert rt.exposure(0) == 0
    eng.hub.interest_charge(InterestCharge(venue="sim-a", asset="BTC", amount=1.7e-7, ts_ms=1))
    assert rt.books[0].interest_coin == pytest.approx(1.7e-7)
    await eng.wait_idle(pid)
    assert eng.view(pid)["legs"][0]["interest_coin"] == pytest.approx(1.7e-7)


async def test_rehedge_never_moves_beyond_the_pairs_own_residual() -> None:
    """A stale account-wide reading (perp update lagging the borrow) must not make churn."""
    eng, venue = _engine()
    pid = await _open(eng)
    n = len(venue.sent)
    await eng.rehedge(pid, 0.166, reduce_only=False)    # the pair is hedged: nothing to do
    assert len(venue.sent) == n and eng.view(pid)["operation"]["kind"] == "open"
    _grow_liability(eng, 0.002)
    await eng.rehedge(pid, 0.166, reduce_only=False)    # clamped to the pair's 0.002 gap
    assert [(r.market, r.side, r.qty) for r in venue.sent[n:]] == [("perp", "BUY", 0.002)]
    await eng.rehedge(pid, -0.05, reduce_only=False)    # against the residual: ignored
    assert len(venue.sent) == n + 1

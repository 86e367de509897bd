"""Strategy shell with a fake engine; config validation of [scanner] and [strategy]."""
from __future__ import annotations

import asyncio

import msgspec
import pytest

from daemon.core.halt import HaltMode
from daemon.opportunity.strategy import OpenIntent, PairView, Strategy, StrategyState, decide
from daemon.opportunity.config import ScannerConfig, StrategyConfig

from .test_strategy import NOW, SLOT, H, opp


class FakeEngine:
    def __init__(self, fail: bool = False, delay: float = 0.0) -> None:
        self.fail = fail
        self.delay = delay
        self.views: list[PairView] = []
        self.opened: list[OpenIntent] = []
        self.closed: list[str] = []
        self.journaled_strategy_ids: list[str] = []

    def pair_views(self) -> list[PairView]:
        return list(self.views)

    def strategy_pair_ids(self) -> list[str]:
        return list(self.journaled_strategy_ids)

    async def open_pair(self, intent: OpenIntent) -> str:
        self.opened.append(intent)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("pre-flight refused: borrow unavailable")
        pid = f"p{len(self.opened)}"
        self.views.append(PairView(id=pid, type=intent.type, symbol=intent.symbol,
                                   venues=intent.venues, notional_usd=intent.notional_usd,
                                   state="open", opened_ms=NOW))
        return pid

    async def close_pair(self, pair_id: str, reason: str) -> None:
        self.closed.append(pair_id)


def _strategy(engine: FakeEngine, opps: list, clock: list[int], **cfg_kw) -> Strategy:
    cfg = StrategyConfig(enabled=True, entry_confirm=1, exit_confirm=1, **cfg_kw)
    return Strategy(cfg, opportunities=lambda: opps, engine=engine,
                    halt_mode=lambda: HaltMode.NONE, clock_ms=lambda: clock[0])


async def test_a_slow_open_is_not_sent_twice_and_the_pair_is_owned() -> None:
    engine = FakeEngine(delay=0.05)
    clock = [NOW]
    s = _strategy(engine, [opp()], clock)
    await s.step()
    await s.step()                       # the first open is still in flight
    await asyncio.sleep(0.1)
    assert len(engine.opened) == 1 and s.state.owned == {"p1"}
    await s.step()
    assert len(engine.opened) == 1
    await s.stop()


async def test_a_failed_open_cools_the_candidate_down() -> None:
    engine = FakeEngine(fail=True)
    clock = [NOW]
    s = _strategy(engine, [opp()], clock, cooldown_s=60)
    await s.step()
    await asyncio.sleep(0.01)
    assert any(a["kind"] == "open_failed" for a in s.actions)
    clock[0] += 30_000
    await s.step()
    await asyncio.sleep(0.01)
    assert len(engine.opened) == 1
    clock[0] += 31_000
    await s.step()
    await asyncio.sleep(0.01)
    assert len(engine.opened) == 2
    await s.stop()


async def test_owned_pair_closed_on_exit_and_manual_pair_left_alone() -> None:
    engine = FakeEngine()
    clock = [NOW]
    rev = opp(-0.0001, net_pct=-3.0)
    s = _strategy(engine, [rev], clock)
    s.state.owned.add("mine")
    for pid in ("mine", "manual"):
        engine.views.append(PairView(id=pid, type=rev.type, symbol=rev.symbol,
                                     venues=dict(rev.venues), notional_usd=1000, state="open",
                                     opened_ms=0))
    await s.step()
    await asyncio.sleep(0.01)
    assert engine.closed == ["mine"]
    assert s.status_fields()["strategy"]["recent"][-1]["kind"] == "close"
    await s.stop()


async def test_disabled_strategy_loop_does_nothing() -> None:
    engine = FakeEngine()
    cfg = StrategyConfig(enabled=False, entry_confirm=1, decision_interval_s=0.01)
    s = Strategy(cfg, opportunities=lambda: [opp()], engine=engine,
                 halt_mode=lambda: HaltMode.NONE)
    await s.start()
    await asyncio.sleep(0.05)
    await s.stop()
    assert engine.opened == [] and s.state.decisions == 0


def test_settlement_guard_runs_on_the_venue_clock() -> None:
    # The local clock says 2 h after the settlement, the venue's mark says 1 minute: the venue
    # clock decides (skew, or the sim's speed-up).
    cfg = StrategyConfig(enabled=True, entry_confirm=1)
    o = msgspec.structs.replace(opp(-0.0005, last_settled=+0.0001), mark_ts_ms=SLOT + 60_000)
    d = decide(cfg, [o], [], StrategyState(), now_ms=SLOT + 2 * H)
    assert d.intents == [] and "just after a settlement" in next(iter(d.blocked.values()))


def test_config_bounds_and_unknown_keys() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field `entry_zz`"):
        msgspec.convert({"entry_zz": 1}, StrategyConfig)
    with pytest.raises(msgspec.ValidationError, match=r"\$.cooldown_s"):
        msgspec.convert({"cooldown_s": -1}, StrategyConfig)
    with pytest.raises(msgspec.ValidationError, match="entry_net_apr_pct"):
        msgspec.convert({"entry_net_apr_pct": 0, "exit_net_apr_pct": 0}, StrategyConfig)
    with pytest.raises(msgspec.ValidationError, match=r"\$.fees\[...\].perp_taker_pct"):
        msgspec.convert({"fees": {"sim-a": {"perp_taker_pct": 5}}}, ScannerConfig)
    with pytest.raises(msgspec.ValidationError, match=r"\$.types\[0\]"):
        msgspec.convert({"types": ["carry"]}, ScannerConfig)
    assert StrategyConfig().enabled is False          # off unless a config turns it on
    sc = msgspec.convert({"fees": {"sim-a": {"perp_taker_pct": 0.04}}}, ScannerConfig)
    assert sc.venue_fees("sim-a").perp_taker_pct == 0.04
    assert sc.venue_fees("other") == sc.default_fees


async def test_pairs_journaled_as_strategy_are_owned_after_a_restart() -> None:
    engine = FakeEngine()
    clock = [NOW]
    rev = opp(-0.0001, net_pct=-3.0)
    engine.journaled_strategy_ids.append("from-before")
    for pid in ("from-before", "manual"):
        engine.views.append(PairView(id=pid, type=rev.type, symbol=rev.symbol,
                                     venues=dict(rev.venues), notional_usd=1000, state="open",
                                     opened_ms=0))
    s = _strategy(engine, [rev], clock)
    await s.start()          # its loop steps at once
    await asyncio.sleep(0.05)
    assert "from-before" in engine.closed and "manual" not in engine.closed
    await s.stop()

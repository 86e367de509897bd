"""The halt and the daily-loss baseline survive a restart (journal round trip, watchdog restore).

A "restart" here is what `basisd run` does again: a new Hub, Journal, LeggingEngine and Watchdog
on the same state directory; the engine's start opens the journal, then the watchdog is restored
from `Journal.risk_state` before opens are let through.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from daemon.core import halt as halt_mod
from daemon import journal as jr
from daemon.core.halt import DAY_MS, DailyLoss, HaltMode, HaltState
from connectors.types import Balance, Instrument, MarginAccount, Mark, PerpPosition
from daemon.hub import Hub
from daemon.legging.engine import EngineError, LeggingEngine
from daemon.legging.config import LeggingConfig
from daemon.core.pairs import Pair, State, make_legs
from daemon.risk.watchdog import Watchdog
from daemon.risk.config import WatchdogConfig
from tests.daemon.risk.test_watchdog import Recorder

V, SYM = "v", "BTCUSDT"
DAY = 20_000
NOON = DAY * DAY_MS + DAY_MS // 2
WALLET = 100_000 / 3


class Wall:
    def __init__(self, ms: int = NOON) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def make_hub(futures_locked: float = WALLET) -> Hub:
    """An open 3x reverse basis (as in test_watchdog): 2 BTC borrowed and sold at 50000."""
    hub = Hub()
    hub.set_instrument(Instrument(venue=V, market="spot", symbol=SYM, base="BTC", quote="USDT",
                                  tick_size=0.01, step_size=0.00001))
    hub.set_instrument(Instrument(venue=V, market="perp", symbol=SYM, base="BTC", quote="USDT",
                                  tick_size=0.1, step_size=0.001))
    hub.set_margin_account(MarginAccount(venue=V, margin_level=1.5))
    hub.set_balance(Balance(venue=V, wallet="margin", asset="USDT", free=150_000))
    hub.set_balance(Balance(venue=V, wallet="margin", asset="BTC", borrowed=2.0))
    hub.set_balance(Balance(venue=V, wallet="futures", asset="USDT", locked=futures_locked))
    hub.set_position(PerpPosition(venue=V, symbol=SYM, qty=2.0, entry_price=50_000, leverage=3))
    hub.set_mark(Mark(venue=V, symbol=SYM, mark_price=50_000, index_price=50_000,
                      funding_rate=-0.0003, next_funding_ms=0, interval_h=8.0, ts_ms=0))
    return hub


PAIR = Pair(id="p1", type="reverse_basis", symbol=SYM,
            legs=make_legs("reverse_basis", SYM, {"spot": V, "perp": V}), target_qty=2.0,
            notional_usd=100_000, execution="taker", state=State.OPEN)


def make_watchdog(hub: Hub, store: Any, wall: Wall, cfg: WatchdogConfig | None = None,
                  rec: Recorder | None = None) -> Watchdog:
    wd = Watchdog(hub, cfg or WatchdogConfig(daily_loss_limit=1_000.0, daily_loss_halt_mode="no_new"),
                  lambda: [PAIR], rec or Recorder(), wall_ms=wall, state_store=store)
    wd.set_brackets(V, SYM, [{"bracket": 1, "initialLeverage": 125, "notionalCap": 600_000,
                              "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0}])
    return wd


async def restart(state_dir: Path, hub: Hub, wall: Wall, rec: Recorder | None = None
                  ) -> tuple[Watchdog, LeggingEngine, jr.Journal]:
    """What the daemon does at start, in its order: watchdog started (venues still connecting),
    engine start opens the journal, then the watchdog is restored and becomes the engine's gate."""
    journal = jr.Journal(state_dir, sync="normal")
    engine = LeggingEngine(hub, {}, LeggingConfig(), journal)
    wd = make_watchdog(hub, journal, wall, rec=rec)
    engine.allow = wd.allows
    wd.start()
    await engine.start()
    wd.restore(journal.risk_state)
    return wd, engine, journal


async def refused_open(engine: LeggingEngine) -> str:
    with pytest.raises(EngineError) as err:
        await engine.open_pair("reverse_basis", SYM, 1_000.0)
    assert err.value.status == 409
    return err.value.message


# -- journal ----------------------------------------------------------------------------------------

def test_journal_round_trip_keeps_the_first_baseline_of_a_day_and_the_latest_halt(tmp_path: Path) -> None:
    j = jr.Journal(tmp_path)
    assert j.open()["risk_state"] == {"daily_loss": None, "halt": None}
    j.record_daily_loss(DAY - 1, 90_000.0, 1)
    j.record_daily_loss(DAY, 100_000.0, 2)
    j.record_daily_loss(DAY, 80_000.0, 3)                 # a later start the same day: ignored
    j.record_halt({"mode": "flatten", "reason": "operator", "since_ms": 4, "automatic": False,
                   "loss_acknowledged_day": -1}, 4)
    j.record_halt({"mode": "no_new", "reason": "daily loss 1500.00 USDT", "since_ms": 5,
                   "automatic": True, "loss_acknowledged_day": -1}, 5)
    assert j.flush_sync()
    j.close()
    j2 = jr.Journal(tmp_path)
    state = j2.open()
    j2.close()
    assert state["risk_state"] == j2.risk_state
    assert state["risk_state"]["daily_loss"] == {"day": DAY, "start_equity": 100_000.0, "ts_ms": 2}
    assert state["risk_state"]["halt"]["mode"] == "no_new"
    assert state["risk_state"]["halt"]["automatic"] is True


def test_a_v3_journal_migrates_to_the_risk_state_tables(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "journal.sqlite", isolation_level=None)
    for v in (1, 2, 3):
        conn.executescript(f"BEGIN; {jr.MIGRATIONS[v]} PRAGMA user_version = {v}; COMMIT;")
    conn.execute("INSERT INTO risk_steps (pair_id, ts_ms, step, detail) VALUES ('', 1, 'halt', '{}')")
    conn.close()
    j = jr.Journal(tmp_path)
    state = j.open()
    j.close()
    assert state["risk_state"] == {"daily_loss": None, "halt": None}
    conn = sqlite3.connect(tmp_path / "journal.sqlite")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == jr.SCHEMA_VERSION == 4
    assert conn.execute("SELECT count(*) FROM risk_steps").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM daily_loss").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM kv").fetchone()[0] == 0


# -- pure restore rules -----------------------------------------------------------------------------

def test_restored_halt_and_loss_rules() -> None:
    stored = HaltState(mode=HaltMode.NO_NEW, reason="daily loss", since_ms=5, automatic=True)
    assert halt_mod.restored_halt(HaltState(), stored) == stored
    # the operator already halted harder before recovery finished: theirs stays
    flat = HaltState(mode=HaltMode.FLATTEN, reason="operator", since_ms=9)
    assert halt_mod.restored_halt(flat, stored) == flat
    # ... or resumed: the stored halt is stricter and comes back
    resumed = HaltState(mode=HaltMode.NONE, since_ms=9, loss_acknowledged_day=DAY)
    back = halt_mod.restored_halt(resumed, stored)
    assert back.mode is HaltMode.NO_NEW and back.loss_acknowledged_day == DAY
    fresh = DailyLoss(day=DAY, start_equity=90_000.0, loss=0.0)
    assert halt_mod.restored_loss(fresh, DailyLoss(day=DAY, start_equity=100_000.0), NOON) == \
        DailyLoss(day=DAY, start_equity=100_000.0, loss=0.0)
    assert halt_mod.restored_loss(fresh, DailyLoss(day=DAY - 1, start_equity=1.0), NOON) is fresh


# -- the watchdog across a restart ---------------------------------------------------------------------

async def test_an_automatic_loss_halt_keeps_refusing_opens_after_a_restart(tmp_path: Path) -> None:
    wall = Wall()
    wd, engine, journal = await restart(tmp_path, make_hub(), wall)
    start_equity = wd.loss.start_equity
    assert wd.allows("open")
    wd.hub.set_balance(Balance(venue=V, wallet="futures", asset="USDT", locked=WALLET - 1_500))
    assert wd.halt_state.mode is HaltMode.NO_NEW and wd.halt_state.automatic
    assert "halted: no_new" in await refused_open(engine)
    await engine.stop()

    # The restarted daemon sees the account after the loss: without the journal its baseline
    # would be today's lower equity and the loss limit would start again from zero.
    wall.ms += 60_000
    wd2, engine2, _j2 = await restart(tmp_path, make_hub(WALLET - 1_500), wall)
    assert wd2.halt_state.mode is HaltMode.NO_NEW and wd2.halt_state.automatic
    assert wd2.loss.start_equity == pytest.approx(start_equity)
    assert wd2.loss.loss == pytest.approx(1_500.0)
    assert not wd2.allows("open") and not wd2.allows("increase") and wd2.allows("close")
    assert "halted: no_new" in await refused_open(engine2)
    assert any(s["step"] == "halt_restored" for s in wd2.steps)
    await engine2.stop()


async def test_the_baseline_alone_re_arms_the_loss_limit_after_a_restart(tmp_path: Path) -> None:
    """Restart before the loss happened: the halt row says none, the loss comes after the start
    and is measured from the day's stored baseline, not from the restart's equity."""
    wall = Wall()
    wd, engine, _j = await restart(tmp_path, make_hub(), wall)
    await engine.stop()
    wall.ms += 60_000
    wd2, engine2, _j2 = await restart(tmp_path, make_hub(WALLET - 600), wall)
    assert wd2.allows("open") and wd2.loss.loss == pytest.approx(600.0)
    wd2.hub.set_balance(Balance(venue=V, wallet="futures", asset="USDT", locked=WALLET - 1_100))
    assert wd2.halt_state.mode is HaltMode.NO_NEW     # 1100 > 1000 from the first start's equity
    await engine2.stop()


async def test_an_acknowledged_loss_halt_stays_lifted_after_a_restart(tmp_path: Path) -> None:
    wall = Wall()
    wd, engine, _j = await restart(tmp_path, make_hub(), wall)
    wd.hub.set_balance(Balance(venue=V, wallet="futures", asset="USDT", locked=WALLET - 1_500))
    assert wd.halt_state.automatic
    wd.resume()                                       # the operator accepts today's loss
    await engine.stop()
    wall.ms += 60_000
    wd2, engine2, _j2 = await restart(tmp_path, make_hub(WALLET - 1_500), wall)
    assert wd2.halt_state.mode is HaltMode.NONE and wd2.allows("open")
    assert wd2.halt_state.loss_acknowledged_day == DAY
    await engine2.stop()


async def test_a_manual_flatten_survives_a_restart_and_unwinds(tmp_path: Path) -> None:
    wall = Wall()
    rec = Recorder()
    wd, engine, _j = await restart(tmp_path, make_hub(), wall, rec)
    wd.halt("flatten", "operator")
    assert ("unwind", "p1") in rec.calls
    await engine.stop()
    rec2 = Recorder()
    wd2, engine2, _j2 = await restart(tmp_path, make_hub(), wall, rec2)
    assert wd2.halt_state.mode is HaltMode.FLATTEN and not wd2.halt_state.automatic
    assert ("unwind", "p1") in rec2.calls             # still flattening what is left
    assert "halted: flatten" in await refused_open(engine2)
    await engine2.stop()


async def test_yesterdays_baseline_is_not_restored(tmp_path: Path) -> None:
    wall = Wall()
    wd, engine, _j = await restart(tmp_path, make_hub(), wall)
    await engine.stop()
    wall.ms += DAY_MS                                  # the next UTC day
    wd2, engine2, _j2 = await restart(tmp_path, make_hub(WALLET - 5_000), wall)
    assert wd2.loss.day == DAY + 1 and wd2.loss.loss == 0.0 and wd2.allows("open")
    await engine2.stop()


class Store:
    def __init__(self) -> None:
        self.baselines: list[tuple[int, float]] = []
        self.halts: list[dict[str, Any]] = []

    def record_daily_loss(self, day: int, start_equity: float, ts_ms: int) -> None:
        self.baselines.append((day, start_equity))

    def record_halt(self, doc: dict[str, Any], ts_ms: int) -> None:
        self.halts.append(doc)


def test_no_baseline_is_taken_before_any_account_is_seen() -> None:
    """Venues connect after the watchdog starts: an empty hub is not an equity of 0 (a 0 baseline
    would make the loss limit inert for the day, and now it would be journaled as the day's)."""
    hub = Hub()
    store = Store()
    wd = make_watchdog(hub, store, Wall())
    wd.start()
    assert wd.equity() is None and store.baselines == [] and wd.loss.day == -1
    hub.set_balance(Balance(venue=V, wallet="futures", asset="USDT", free=10_000))
    assert store.baselines == [(DAY, 10_000.0)]
    wd.halt("no_new")
    wd.resume()
    assert [h["mode"] for h in store.halts] == ["no_new", "none"]


def test_a_failing_store_does_not_stop_the_watchdog() -> None:
    class Broken:
        def record_daily_loss(self, *a: Any) -> None:
            raise OSError("disk full")

        def record_halt(self, *a: Any) -> None:
            raise OSError("disk full")

    wd = make_watchdog(make_hub(), Broken(), Wall())
    wd.start()
    wd.halt("reduce_only")
    assert wd.halt_state.mode is HaltMode.REDUCE_ONLY and "disk full" in wd.last_error


def test_restored_state_given_at_construction() -> None:
    before = make_watchdog(make_hub(), None, Wall()).equity()
    assert before is not None
    hub = make_hub(WALLET - 1_500)
    wd = Watchdog(hub, WatchdogConfig(daily_loss_limit=1_000.0), lambda: [PAIR], Recorder(),
                  wall_ms=Wall(), daily_loss=DailyLoss(day=DAY, start_equity=before))
    wd.start()
    assert wd.halt_state.mode is HaltMode.REDUCE_ONLY and wd.halt_state.automatic

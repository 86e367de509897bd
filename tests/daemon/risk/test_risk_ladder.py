"""The ladder decision (daemon/risk/ladder.py, daemon/risk/assess.py) and halt modes (daemon/core/halt.py)."""
from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core import halt
from daemon.risk import maths as risk
from daemon.core.halt import HaltMode, HaltState
from daemon.risk.maths import MarginAsset
from daemon.risk.assess import MarginLegInput, PairInputs, PerpLegInput, assess
from daemon.risk.ladder import (
    COLLATERAL, DELEVERAGE, OK, UNWIND, WARN, Deleverage, LegRisk, PairRisk, Transfer,
    Unwind, confirm_margin_breach, decide, level, margin_alone,
)
from daemon.risk.config import LegThresholds, WatchdogConfig

CFG = WatchdogConfig()
BRACKETS = risk.flat_brackets(0.004)


def reverse_basis(price: float, *, collateral: float = 50_000, futures_extra: float = 0.0, q: float = 2.0,
                  p0: float = 50_000, accrued: float = 0.0, perp_qty: float | None = None,
                  available: float | None = None) -> PairInputs:
    """A 3x reverse basis: margin short of q coins at p0 (ML 1.5 at entry), perp long q at 3x."""
    wallet = q * p0 / 3 + futures_extra
    liab = q * (1 + accrued)
    pq = q if perp_qty is None else perp_qty
    return PairInputs(
        pair_id="p1",
        margin=MarginLegInput(venue="v", asset="BTC", qty=q, bar=1.1, assets=(
            MarginAsset(asset="USDT", held=collateral + q * p0, moves=False),
            MarginAsset(asset="BTC", liability=liab, price=price))),
        perps=(PerpLegInput(venue="v", symbol="BTCUSDT", qty=pq, entry=p0, mark=price, wallet=wallet,
                            brackets=BRACKETS,
                            available=wallet if available is None else available),),
        hedge_gap=liab - pq, hedge_qty=q)


def kinds(actions: list) -> list[str]:
    return [type(a).__name__ for a in actions]


def test_levels_follow_the_thresholds() -> None:
    thr = LegThresholds(warn=0.3, collateral=0.2, deleverage=0.1, unwind=0.05)
    assert [level(d, thr) for d in (0.5, 0.3, 0.2, 0.1, 0.05, -0.1)] == [OK, WARN, COLLATERAL, DELEVERAGE,
                                                                        UNWIND, UNWIND]
    assert level(math.nan, thr) == UNWIND   # fail closed
    assert level(math.inf, thr) == OK


def test_calm_pair_needs_nothing() -> None:
    r = assess(reverse_basis(50_000), CFG)
    assert r.legs[0].distance == pytest.approx(1.5 / 1.1 - 1)
    assert decide(r, CFG) == []


def test_warn_only_between_warn_and_collateral() -> None:
    r = assess(reverse_basis(50_000 * 1.07), CFG)          # margin distance ~27 %
    acts = decide(r, CFG)
    assert kinds(acts) == ["Warn"] and acts[0].leg == "margin"


def test_collateral_moves_to_the_weak_leg_within_what_is_free() -> None:
    # pump: margin leg at the collateral step; the futures wallet has spare cash
    inp = reverse_basis(50_000 * 1.13, futures_extra=40_000)
    r = assess(inp, CFG)
    assert level(r.legs[0].distance, CFG.margin) == COLLATERAL
    acts = decide(r, CFG)
    assert kinds(acts) == ["Warn", "Transfer"]
    t = acts[1]
    assert isinstance(t, Transfer)
    assert t.direction == "futures_to_margin" and t.venue == "v" and t.asset == "USDT"
    assert t.amount == pytest.approx(r.legs[0].collateral_needed)
    assert t.amount <= r.free["v:futures"]
    # after the move the margin leg is back at the target
    m = inp.margin
    assert m is not None
    after = risk.margin_with_deposit(m.assets, t.amount)
    assert risk.margin_asset_distance(after, "BTC", 1.1) == pytest.approx(CFG.target_distance)


def test_collateral_moves_before_any_trim_and_a_full_cover_means_no_trim() -> None:
    # deep in the deleverage step, but the futures wallet can cover it all: transfer, no trim
    r = assess(reverse_basis(50_000 * 1.20, futures_extra=80_000), CFG)
    assert level(r.legs[0].distance, CFG.margin) == DELEVERAGE
    assert r.fraction > 0 and r.fraction_after_transfer == 0.0
    assert kinds(decide(r, CFG)) == ["Warn", "Transfer"]


def test_partial_cover_transfers_first_then_trims_less() -> None:
    # the venue lets only 5000 USDT leave the futures wallet (its maxWithdrawAmount)
    r = assess(reverse_basis(50_000 * 1.20, available=5_000), CFG)
    acts = decide(r, CFG)
    assert kinds(acts) == ["Warn", "Transfer", "Deleverage"]
    assert acts[1].amount == pytest.approx(5_000 * CFG.transfer_haircut)
    d = acts[2]
    assert isinstance(d, Deleverage)
    assert d.fraction == r.fraction_after_transfer
    assert 0 < d.fraction < r.fraction


def test_no_free_collateral_trims_both_legs_in_proportion() -> None:
    inp = reverse_basis(50_000 * 1.20, available=0.0)
    r = assess(inp, CFG)
    acts = decide(r, CFG)
    assert kinds(acts) == ["Warn", "Deleverage"]
    f = acts[1].fraction
    m = inp.margin
    assert m is not None
    assert risk.margin_distance_after_trim(m.assets, "BTC", 2.0, f, 1.1, CFG.trim_cost_fraction) >= \
        CFG.target_distance


def test_crash_moves_collateral_from_margin_to_futures() -> None:
    inp = reverse_basis(50_000 * 0.80, collateral=150_000)
    r = assess(inp, CFG)
    perp = r.legs[1]
    assert level(perp.distance, CFG.perp) >= COLLATERAL
    acts = decide(r, CFG)
    transfers = [a for a in acts if isinstance(a, Transfer)]
    assert transfers and transfers[0].direction == "margin_to_futures"
    assert transfers[0].amount <= r.free["v:margin"]


def test_unwind_step_unwinds() -> None:
    r = assess(reverse_basis(50_000 * 1.32), CFG)
    acts = decide(r, CFG)
    assert isinstance(acts[-1], Unwind)
    assert not any(isinstance(a, (Transfer, Deleverage)) for a in acts)


def test_net_apr_floor_exits_after_the_grace() -> None:
    base = assess(reverse_basis(50_000), CFG)
    early = msgspec.structs.replace(base, net_apr=-0.05, apr_below_floor_s=10)
    assert decide(early, CFG) == []
    late = msgspec.structs.replace(base, net_apr=-0.05, apr_below_floor_s=CFG.net_apr_grace_s)
    acts = decide(late, CFG)
    assert kinds(acts) == ["Close"] and "net APR" in acts[0].reason


def test_liability_growth_rehedges() -> None:
    r = assess(reverse_basis(50_000, accrued=0.01), CFG)
    acts = decide(r, CFG, reduce_only=True)
    assert kinds(acts) == ["Rehedge"]
    assert acts[0].qty == pytest.approx(0.02) and acts[0].reduce_only
    assert decide(assess(reverse_basis(50_000, accrued=0.001), CFG), CFG) == []   # inside tolerance


def test_stale_data_reduces_after_the_timeout() -> None:
    base = assess(reverse_basis(50_000), CFG)
    assert decide(msgspec.structs.replace(base, stale_s=CFG.stale_timeout_s - 1), CFG) == []
    acts = decide(msgspec.structs.replace(base, stale_s=CFG.stale_timeout_s), CFG)
    assert kinds(acts) == ["Deleverage"] and acts[0].fraction == CFG.stale_reduce_fraction


def test_config_rejects_bad_ladders() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"perp": {"warn": 0.1, "collateral": 0.2}}, WatchdogConfig)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"target_distance": 0.1}, WatchdogConfig)
    with pytest.raises(msgspec.ValidationError, match="margin.unwind|unwind"):
        msgspec.convert({"margin": {"unwind": 1.5}}, WatchdogConfig)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"margn": {}}, WatchdogConfig)


@settings(max_examples=200, deadline=None)
@given(d1=st.floats(-0.5, 1.0), d2=st.floats(-0.5, 1.0))
def test_nearer_never_less_severe(d1: float, d2: float) -> None:
    lo, hi = sorted((d1, d2))
    assert level(lo, CFG.margin) >= level(hi, CFG.margin)


@settings(max_examples=200, deadline=None)
@given(dm=st.floats(-0.1, 0.5), dp=st.floats(-0.1, 0.5), need_m=st.floats(0, 1e5), need_p=st.floats(0, 1e5),
       free_m=st.floats(0, 1e5), free_p=st.floats(0, 1e5), f=st.floats(0, 1), fa=st.floats(0, 1))
def test_decide_invariants(dm: float, dp: float, need_m: float, need_p: float, free_m: float, free_p: float,
                           f: float, fa: float) -> None:
    r = PairRisk(pair_id="x", legs=(
        LegRisk(leg="margin", venue="v", wallet="margin", distance=dm, collateral_needed=need_m),
        LegRisk(leg="perp", venue="v", wallet="futures", distance=dp, collateral_needed=need_p)),
        free={"v:margin": free_m, "v:futures": free_p}, fraction=f, fraction_after_transfer=min(fa, f))
    acts = decide(r, CFG)
    names = kinds(acts)
    # transfers always come before a trim, never exceed what is free, and never with an unwind
    if "Deleverage" in names and "Transfer" in names:
        assert names.index("Transfer") < names.index("Deleverage")
    moved = {"futures_to_margin": 0.0, "margin_to_futures": 0.0}
    for a in acts:
        if isinstance(a, Transfer):
            moved[a.direction] += a.amount
    assert moved["futures_to_margin"] <= free_p + 1e-9 and moved["margin_to_futures"] <= free_m + 1e-9
    if "Unwind" in names:
        assert "Transfer" not in names and "Deleverage" not in names
    worst = min(dm, dp)
    if worst > max(CFG.margin.warn, CFG.perp.warn):
        assert acts == []
    if worst <= min(CFG.margin.unwind, CFG.perp.unwind):
        assert isinstance(acts[-1], Unwind)


# -- halt modes -----------------------------------------------------------------------------------

def test_halt_modes_gate_intents() -> None:
    assert halt.allows(HaltMode.NONE, "open")
    assert not halt.allows(HaltMode.NO_NEW, "open") and not halt.allows(HaltMode.NO_NEW, "increase")
    assert halt.allows(HaltMode.NO_NEW, "rehedge_up") and halt.allows(HaltMode.NO_NEW, "decrease")
    assert not halt.allows(HaltMode.REDUCE_ONLY, "rehedge_up") and halt.allows(HaltMode.REDUCE_ONLY, "rehedge_down")
    for mode in HaltMode:   # protective actions are never blocked
        for intent in ("decrease", "close", "liquidate", "transfer"):
            assert halt.allows(mode, intent)
    with pytest.raises(ValueError):
        halt.allows(HaltMode.NONE, "yolo")


def test_parse_mode() -> None:
    assert halt.parse_mode("flatten") is HaltMode.FLATTEN
    for bad in ("none", "stop", ""):
        with pytest.raises(ValueError):
            halt.parse_mode(bad)


def test_auto_halt_only_escalates_and_resume_acknowledges_the_day() -> None:
    s = halt.halt(HaltState(), HaltMode.REDUCE_ONLY, "operator", 1000)
    assert halt.auto_halt(s, HaltMode.NO_NEW, "loss", 2000) is s
    s2 = halt.auto_halt(HaltState(), HaltMode.REDUCE_ONLY, "loss", 2000)
    assert s2.mode is HaltMode.REDUCE_ONLY and s2.automatic
    now = 5 * halt.DAY_MS + 1000
    loss = halt.track_equity(halt.DailyLoss(), 10_000.0, now)
    loss = halt.track_equity(loss, 8_500.0, now + 10)
    assert loss.loss == pytest.approx(1_500.0)
    assert halt.loss_halt_due(HaltState(), loss, 1_000.0)
    assert not halt.loss_halt_due(HaltState(), loss, 0.0)          # 0 = off
    resumed = halt.resume(halt.auto_halt(HaltState(), HaltMode.REDUCE_ONLY, "loss", now), now + 20)
    assert resumed.mode is HaltMode.NONE
    assert not halt.loss_halt_due(resumed, loss, 1_000.0)          # lifted for today
    tomorrow = halt.track_equity(loss, 7_000.0, now + halt.DAY_MS)
    assert tomorrow.loss == 0.0 and tomorrow.start_equity == 7_000.0
    worse = halt.track_equity(tomorrow, 5_000.0, now + halt.DAY_MS + 1)
    assert halt.loss_halt_due(resumed, worse, 1_000.0)             # a new day re-arms it


def _torn_open(price: float = 50_000) -> PairInputs:
    """The account between a borrow's liability and its coin: 2 BTC owed, nothing held for it
    and no sale proceeds (collateral alone, 50,000 USDT: margin level 0.5)."""
    inp = reverse_basis(price)
    margin = msgspec.structs.replace(inp.margin, assets=(
        MarginAsset(asset="USDT", held=50_000, moves=False),
        MarginAsset(asset="BTC", liability=2.0, price=price)))
    return msgspec.structs.replace(inp, margin=margin)


def test_a_margin_alone_unwind_waits_settle_s_while_the_account_moves() -> None:
    r = assess(_torn_open(), CFG)
    thr = {"margin": CFG.margin, "perp": CFG.perp}
    acts = decide(r, CFG)
    assert "Unwind" in kinds(acts) and margin_alone(acts, r, thr)
    kept, since = confirm_margin_breach(acts, r, thr, None, 100.0, settle_s=1.0)
    assert since == 100.0 and "Unwind" not in kinds(kept)
    kept, since = confirm_margin_breach(acts, r, thr, since, 100.5, settle_s=1.0)
    assert since == 100.0 and "Unwind" not in kinds(kept)
    # a breach that lasts is real: it is acted on once it has lasted settle_s
    kept, since = confirm_margin_breach(acts, r, thr, since, 101.0, settle_s=1.0)
    assert "Unwind" in kinds(kept)
    # the account settled: nothing pending, the clock starts again at the next breach
    calm = assess(reverse_basis(50_000), CFG)
    assert confirm_margin_breach(decide(calm, CFG), calm, thr, since, 101.2, settle_s=1.0) == ([], None)


def test_a_perp_driven_unwind_is_not_delayed() -> None:
    r = assess(reverse_basis(20_000), CFG)      # -60 %: the perp long is past its unwind step
    thr = {"margin": CFG.margin, "perp": CFG.perp}
    acts = decide(r, CFG)
    assert "Unwind" in kinds(acts) and margin_alone(acts, r, thr) == []
    assert confirm_margin_breach(acts, r, thr, None, 5.0, settle_s=1.0) == (acts, None)

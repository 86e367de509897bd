"""Strategy core: entry on APR AND z, exits, hysteresis, cooldown, settlement awareness, limits,
halt modes. Pure: opportunities and pairs in, intents out."""
from __future__ import annotations

import pytest

from daemon.core import economics as ec
from daemon.core.halt import HaltMode
from daemon.opportunity.scanner import Opportunity
from daemon.opportunity.strategy import (
    CloseIntent, Collateral, entry_reason, OpenIntent, PairView, StrategyState, decide, liq_floor_cap,
    opp_key, size_entry,
)
from daemon.opportunity.config import StrategyConfig

H = 3_600_000
SLOT = 1_700_006_400_000          # an 8 h grid point
MU, SIGMA = -0.0001, 0.0001       # OU fit of the rate: entry band F < -0.0003, exit F > -0.00015


def opp(rate: float = -0.0005, *, net_pct: float = 30.0, type_: str = "reverse_basis",
        symbol: str = "ETHUSDT", venues: dict[str, str] | None = None, interval_h: float = 8.0,
        next_funding_ms: int = SLOT + 8 * H, last_settled: float | None = -0.0004,
        fit: bool = True, ok: bool = True, depth_usd: float = 1e7) -> Opportunity:
    f_apr = (ec.trade_funding_apr(type_, rate, interval_h) if type_ != "long_short"
             else net_pct / 100)
    apr = ec.AprBreakdown(trade_type=type_, funding_apr=f_apr, borrow_apr=0.0,
                          fee_apr=f_apr - net_pct / 100, slippage_apr=0.0,
                          net_apr=net_pct / 100, viable=net_pct > 0)
    return Opportunity(
        type=type_, symbol=symbol, venues=venues or {"spot": "a", "perp": "a"},
        funding_rate=rate, last_settled_rate=last_settled, interval_h=interval_h,
        next_funding_ms=next_funding_ms, basis_bps=-5.0, borrow_hourly_rate=0.0,
        borrow_available=True, depth_usd=depth_usd, quote_size_usd=10_000, slippage_bps=0.0,
        round_trip_fee=0.003, holding_hours=168, apr=apr, hurdle_excess_apr=net_pct / 100 - 0.05,
        zscore=(rate - MU) / SIGMA if fit else None, mu=MU if fit else None,
        sigma_f=SIGMA if fit else None, half_life_h=24.0 if fit else None, ok=ok,
        reasons=() if ok else ("spot book resyncing",))


CFG = StrategyConfig(enabled=True, entry_net_apr_pct=10, entry_z=2, exit_z=0.5, entry_confirm=2,
                     exit_confirm=2, cooldown_s=3600, settlement_guard_s=900,
                     entry_notional_usd=1000, min_entry_usd=50, max_pair_usd=5000,
                     max_venue_usd=20_000, max_total_usd=50_000, max_open_pairs=10)
NOW = SLOT + 2 * H               # 2 h after a settlement: outside the guard


def run(cfg, opps, pairs, state, now=NOW, **kw):
    d = decide(cfg, opps, pairs, state, now_ms=now, **kw)
    return d.intents, d.state, d


def held(o: Opportunity, pid: str = "p1", opened_ms: int = NOW - 10 * H, notional: float = 1000.0
         ) -> PairView:
    return PairView(id=pid, type=o.type, symbol=o.symbol, venues=dict(o.venues),
                    notional_usd=notional, state="open", opened_ms=opened_ms)


def test_entry_needs_apr_and_zscore_and_confirmation() -> None:
    st = StrategyState()
    # z = -4 but net APR 5 % < 10 %: no entry.
    intents, st, d = run(CFG, [opp(net_pct=5.0)], [], st)
    assert intents == [] and "net APR" in next(iter(d.blocked.values()))
    # APR fine but z = -1 (F = -0.0002 > mu - 2 sigma): no entry.
    intents, st, d = run(CFG, [opp(-0.0002, net_pct=30.0)], [], st)
    assert intents == [] and "z-score" in next(iter(d.blocked.values()))
    # Both: first decision only arms the confirmation, the second opens.
    intents, st, d = run(CFG, [opp()], [], st)
    assert intents == [] and "entry pending (1/2)" in next(iter(d.blocked.values()))
    intents, st, _ = run(CFG, [opp()], [], st, now=NOW + 5000)
    assert len(intents) == 1 and isinstance(intents[0], OpenIntent)
    o = intents[0]
    assert (o.type, o.symbol, o.venues, o.notional_usd) == (
        "reverse_basis", "ETHUSDT", {"spot": "a", "perp": "a"}, 1000.0)


def test_a_broken_streak_restarts_confirmation() -> None:
    st = StrategyState()
    _, st, _ = run(CFG, [opp()], [], st)
    _, st, _ = run(CFG, [opp(net_pct=9.0)], [], st)        # one tick below threshold
    intents, st, _ = run(CFG, [opp()], [], st)
    assert intents == []                                    # needs two in a row again
    intents, st, _ = run(CFG, [opp()], [], st)
    assert len(intents) == 1


def test_no_fit_blocks_unless_apr_only() -> None:
    o = opp(fit=False)
    cfg1 = StrategyConfig(enabled=True, entry_confirm=1)
    intents, _, d = run(cfg1, [o], [], StrategyState())
    assert intents == [] and "no OU fit" in next(iter(d.blocked.values()))
    cfg2 = StrategyConfig(enabled=True, entry_confirm=1, no_fit="apr_only")
    intents, _, _ = run(cfg2, [o], [], StrategyState())
    assert len(intents) == 1


def test_not_ok_or_wrong_direction_never_enters() -> None:
    cfg = StrategyConfig(enabled=True, entry_confirm=1, no_fit="apr_only")
    assert run(cfg, [opp(ok=False)], [], StrategyState())[0] == []
    # a basis trade on negative funding: its funding APR is negative
    assert run(cfg, [opp(type_="basis", net_pct=-20.0)], [], StrategyState())[0] == []


def test_exit_hysteresis_mean_reversion_then_cooldown() -> None:
    o_in = opp()
    pair = held(o_in)
    st = StrategyState(owned={"p1"})
    # F = -0.00025: inside the entry band no more (z -1.5) but not reverted to the exit band
    # (mu - 0.5 sigma = -0.00015): hold, and no new entry on the same candidate either.
    mid = opp(-0.00025)
    intents, st, _ = run(CFG, [mid], [pair], st)
    assert intents == []
    # F = -0.0001 (z 0): exit signal, confirmed on the second decision.
    rev = opp(-0.0001, net_pct=12.0)
    intents, st, d = run(CFG, [rev], [pair], st)
    assert intents == [] and "exit pending" in d.blocked["p1"]
    intents, st, _ = run(CFG, [rev], [pair], st, now=NOW + 5000)
    assert intents == [CloseIntent(pair_id="p1", reason="mean reverted (z 0.00)")]
    # The signal comes straight back: cooldown keeps it out for cooldown_s.
    closed = PairView(**{**{f: getattr(pair, f) for f in pair.__struct_fields__},
                         "state": "closed"})
    t = NOW + 10_000
    for _ in range(3):
        intents, st, d = run(CFG, [opp()], [closed], st, now=t)
        assert intents == []
        t += 60_000
    assert "cooldown" in next(iter(d.blocked.values()))
    t = NOW + 5000 + 3600 * 1000 + 1
    intents, st, _ = run(CFG, [opp()], [closed], st, now=t)
    intents2, st, _ = run(CFG, [opp()], [closed], st, now=t + 1)
    assert len(intents + intents2) == 1


def test_exit_on_net_apr_at_or_below_threshold_respects_min_hold() -> None:
    cfg = StrategyConfig(enabled=True, exit_confirm=1, min_hold_s=3600)
    o = opp(-0.0005, net_pct=-1.0)          # still stretched, but no longer pays
    fresh = held(o, opened_ms=NOW - 60_000)
    assert run(cfg, [o], [fresh], StrategyState())[0] == []
    old = held(o, opened_ms=NOW - 2 * H)
    intents = run(cfg, [o], [old], StrategyState())[0]
    assert len(intents) == 1 and "net APR" in intents[0].reason


def test_an_open_pair_is_judged_by_what_staying_earns_not_a_second_round_trip() -> None:
    """net APR (a new entry: both fills' fees over the hold) is negative, but for the pair
    already open the fees are sunk or due either way: staying still earns, so it stays."""
    import msgspec
    cfg = StrategyConfig(enabled=True, exit_confirm=1, min_hold_s=0, exit_z=0.0)
    o = msgspec.structs.replace(opp(-0.0005, net_pct=-5.0), hold_net_apr=0.08)
    assert run(cfg, [o], [held(o, opened_ms=NOW - 2 * H)], StrategyState())[0] == []
    gone = msgspec.structs.replace(o, hold_net_apr=-0.01)
    intents = run(cfg, [gone], [held(gone, opened_ms=NOW - 2 * H)], StrategyState())[0]
    assert len(intents) == 1 and "staying" in intents[0].reason


def test_auto_mode_opens_only_on_the_venues_it_is_given() -> None:
    o = opp(-0.0005, net_pct=30.0, venues={"spot": "a", "perp": "b"})
    cfg = StrategyConfig(enabled=True, types=["reverse_basis"], venues=["a"], entry_confirm=1)
    assert entry_reason(cfg, o, NOW) == "venue not enabled for auto mode"
    both = StrategyConfig(enabled=True, types=["reverse_basis"], venues=["a", "b"], entry_confirm=1)
    assert entry_reason(both, o, NOW) != "venue not enabled for auto mode"


def test_funding_flip_exits_even_within_min_hold() -> None:
    cfg = StrategyConfig(enabled=True, exit_confirm=1, min_hold_s=86_400)
    flipped = opp(+0.0001, net_pct=-10.0, last_settled=+0.00005)
    intents = run(cfg, [flipped], [held(flipped, opened_ms=NOW - 60_000)], StrategyState())[0]
    assert len(intents) == 1 and intents[0].reason == "funding flipped"


def test_settlement_awareness_entry_and_flip_exit() -> None:
    cfg = StrategyConfig(enabled=True, entry_confirm=1, exit_confirm=1, settlement_guard_s=900)
    just_after = SLOT + 60_000                      # 1 min after the settlement at SLOT
    # The last settlement paid longs nothing (+0.01 % settled), the new prediction says -0.05 %:
    # right after a settlement that is one premium sample, not a regime -> no entry.
    o = opp(-0.0005, next_funding_ms=SLOT + 8 * H, last_settled=+0.0001)
    intents, _, d = run(cfg, [o], [], StrategyState(), now=just_after)
    assert intents == [] and "just after a settlement" in next(iter(d.blocked.values()))
    # Same prediction 20 minutes later (outside the guard): entry.
    assert len(run(cfg, [o], [], StrategyState(), now=SLOT + 20 * 60_000)[0]) == 1
    # Same sign as the settled rate right after settlement: no reason to wait.
    same = opp(-0.0005, last_settled=-0.0004)
    assert len(run(cfg, [same], [], StrategyState(), now=just_after)[0]) == 1
    # Held reverse basis: just after a settlement that still paid us (-0.04 %), the prediction
    # ticks positive: not a flip yet. Outside the guard it is. (No fit and a positive net APR
    # isolate the flip rule from the mean-reversion and APR exits.)
    blip = opp(+0.00002, net_pct=5.0, last_settled=-0.0004, fit=False)
    pair = held(blip, opened_ms=NOW - 10 * H)
    assert run(cfg, [blip], [pair], StrategyState(), now=just_after)[0] == []
    out = run(cfg, [blip], [pair], StrategyState(), now=SLOT + 2 * H)[0]
    assert len(out) == 1 and out[0].reason == "funding flipped"
    # A settled rate that flipped too confirms the flip even inside the guard.
    both = opp(+0.00002, net_pct=5.0, last_settled=+0.0001, fit=False)
    assert len(run(cfg, [both], [held(both)], StrategyState(), now=just_after)[0]) == 1


def test_sizing_limits() -> None:
    cfg = StrategyConfig(enabled=True, entry_notional_usd=3000, min_entry_usd=100,
                         max_pair_usd=2500, max_venue_usd=4000, max_total_usd=6000,
                         depth_fraction=0.5)
    o = opp()
    assert size_entry(cfg, o, [], None) == (2500.0, "per-pair limit")
    other = PairView(id="x", type="basis", symbol="BTCUSDT", venues={"spot": "a", "perp": "a"},
                     notional_usd=3000, state="open", opened_ms=0)
    assert size_entry(cfg, o, [other], None) == (1000.0, "per-venue limit a")
    elsewhere = PairView(id="y", type="basis", symbol="BTCUSDT",
                         venues={"spot": "b", "perp": "b"}, notional_usd=5000, state="open",
                         opened_ms=0)
    assert size_entry(cfg, o, [elsewhere], None) == (1000.0, "total limit")
    closed = PairView(id="z", type="basis", symbol="BTCUSDT", venues={"spot": "a", "perp": "a"},
                      notional_usd=5000, state="closed", opened_ms=0)
    assert size_entry(cfg, o, [closed], None)[0] == 2500.0     # closed pairs free their room
    depth = "depth within the slippage cap"
    assert size_entry(cfg, opp(depth_usd=1000.0), [], None) == (500.0, depth)
    assert size_entry(cfg, opp(depth_usd=150.0), [], None) == (0.0, depth)


def test_liquidation_floor_caps_the_size() -> None:
    cfg = StrategyConfig(enabled=True, liq_distance_floor_pct=15, margin_liq_bar=1.1,
                         perp_leverage=3, perp_mmr_pct=0.4, entry_notional_usd=100_000,
                         max_pair_usd=1e6, max_venue_usd=1e6, max_total_usd=1e6)
    o = opp()
    # Short spot with C = 1000 collateral: (C + N)/(1.1 N) - 1 >= 0.15  <=>  N <= 1000/0.265.
    # Perp wallet W = 10 000 (perp_liq_price, one 0.4 % tier): a long's distance is
    # (W - mmr N)/(N (1 - mmr)) >= 0.15  <=>  N <= W/(0.15 x 0.996 + 0.004) = 65 189; but the
    # initial margin binds first: W x 3 = 30 000.
    coll = {"a": Collateral(margin_free_usd=1000.0, futures_free_usd=10_000.0)}
    cap, why = liq_floor_cap(cfg, o, coll)
    assert cap == pytest.approx(1000.0 / 0.265) and why == "margin collateral on a"
    n = cap
    assert (1000.0 + n) / (1.1 * n) - 1 == pytest.approx(0.15)
    coll2 = {"a": Collateral(margin_free_usd=1e6, futures_free_usd=10_000.0)}
    assert liq_floor_cap(cfg, o, coll2) == (30_000.0, "perp wallet on a")
    # No collateral figures for a venue the trade uses: fail closed.
    assert size_entry(cfg, o, [], {"b": coll["a"]})[0] == 0.0
    # Leverage too high for the floor at all: isolated on N/L, (1/10 - 1 %)/(1 - 1 %) < 15 %
    # (the default fallback tier, daemon.risk.perp.FALLBACK_MMR).
    lev = StrategyConfig(enabled=True, perp_leverage=10)
    assert liq_floor_cap(lev, o, None)[0] == 0.0


def test_max_open_pairs_and_one_open_per_decision() -> None:
    cfg = StrategyConfig(enabled=True, entry_confirm=1, max_open_pairs=2)
    a = opp(symbol="ETHUSDT")
    b = opp(symbol="BTCUSDT")
    c = opp(symbol="SOLUSDT")
    intents, st, _ = run(cfg, [a, b, c], [], StrategyState())
    assert [i.symbol for i in intents] == ["ETHUSDT"]
    intents, st, d = run(cfg, [a, b, c], [held(a)], st)
    assert [i.symbol for i in intents] == ["BTCUSDT"]
    intents, st, d = run(cfg, [a, b, c], [held(a), held(b, "p2")], st)
    assert intents == [] and any("max_open_pairs" in v for v in d.blocked.values())


def test_halt_modes() -> None:
    cfg = StrategyConfig(enabled=True, entry_confirm=1, exit_confirm=1)
    rev = opp(-0.0001, net_pct=12.0)
    pair = held(rev)
    for mode in (HaltMode.NO_NEW, HaltMode.REDUCE_ONLY):
        intents, _, d = run(cfg, [opp(symbol="BTCUSDT"), rev], [pair], StrategyState(), halt=mode)
        assert intents == [CloseIntent(pair_id="p1", reason="mean reverted (z 0.00)")]
        assert any(f"halt {mode.value}" in v for v in d.blocked.values())
    intents, _, _ = run(cfg, [opp(symbol="BTCUSDT"), rev], [pair], StrategyState(),
                        halt=HaltMode.FLATTEN)
    assert intents == []


def test_pairs_not_opened_by_the_strategy_are_left_alone() -> None:
    cfg = StrategyConfig(enabled=True, exit_confirm=1)
    rev = opp(-0.0001, net_pct=-5.0)
    manual = PairView(id="m1", type=rev.type, symbol=rev.symbol, venues=dict(rev.venues),
                      notional_usd=1000, state="open", opened_ms=0, owned=False)
    assert run(cfg, [rev], [manual], StrategyState())[0] == []
    # ...but they still count against the limits and block a duplicate entry.
    intents, _, _ = run(StrategyConfig(enabled=True, entry_confirm=1), [opp()], [manual],
                        StrategyState())
    assert intents == []


def test_noisy_threshold_never_churns() -> None:
    """A rate flickering across the entry band on alternate ticks opens nothing; a held pair
    with a rate flickering around the exit band is closed at most once."""
    st = StrategyState()
    opens = 0
    for i in range(200):
        o = opp() if i % 2 == 0 else opp(-0.00025)
        intents, st, _ = run(CFG, [o], [], st, now=NOW + i * 5000)
        opens += len(intents)
    assert opens == 0
    st = StrategyState()
    pair = held(opp())
    closes = 0
    for i in range(200):
        o = opp(-0.0001) if i % 2 == 0 else opp(-0.00025)
        intents, st, _ = run(CFG, [o], [pair], st, now=NOW + i * 5000)
        closes += len(intents)
    assert closes == 0


def test_opp_key_ignores_venue_order() -> None:
    assert opp_key("long_short", "BTCUSDT", {"long": "a", "short": "b"}) == opp_key(
        "long_short", "BTCUSDT", {"short": "b", "long": "a"})

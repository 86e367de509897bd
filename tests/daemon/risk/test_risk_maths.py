"""Liquidation maths of both legs (daemon/risk/perp.py, margin.py, maths.py): known answers, identities, monotonicity."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.risk import maths as risk
from daemon.risk.maths import DOWN, UP, Bracket, MarginAsset

# Binance USD-M BTCUSDT tiers as published by leverageBracket (first five; cum is continuous).
BTC_BRACKETS = (
    Bracket(bracket=1, initialLeverage=125, notionalCap=50_000, notionalFloor=0, maintMarginRatio=0.004, cum=0),
    Bracket(bracket=2, initialLeverage=100, notionalCap=250_000, notionalFloor=50_000, maintMarginRatio=0.005,
            cum=50),
    Bracket(bracket=3, initialLeverage=50, notionalCap=1_000_000, notionalFloor=250_000, maintMarginRatio=0.01,
            cum=1_300),
    Bracket(bracket=4, initialLeverage=20, notionalCap=10_000_000, notionalFloor=1_000_000,
            maintMarginRatio=0.025, cum=16_300),
    Bracket(bracket=5, initialLeverage=10, notionalCap=20_000_000, notionalFloor=10_000_000,
            maintMarginRatio=0.05, cum=266_300),
)


def short_account(collateral: float, qty: float, p0: float, price: float | None = None,
                  accrued: float = 0.0) -> tuple[MarginAsset, ...]:
    """Collateral C in USDT, q coins borrowed and sold at P0 (DOMAIN.md's example)."""
    return (MarginAsset(asset="USDT", held=collateral + qty * p0, moves=False),
            MarginAsset(asset="BTC", held=0.0, liability=qty * (1 + accrued), price=price or p0))


# -- cross margin ---------------------------------------------------------------------------------

def test_margin_level_is_assets_over_liabilities_plus_interest() -> None:
    assert risk.margin_level(1500.0, 1000.0, 250.0) == pytest.approx(1.2)
    assert risk.margin_level(1500.0, 0.0) == math.inf


def test_domain_example_liquidation_price() -> None:
    # ML(P) = (C + q P0) / (q P); liquidation at 1.1 -> P = (C + q P0) / (1.1 q)
    acct = short_account(collateral=50_000, qty=2.0, p0=50_000)
    assert risk.margin_level(*risk.margin_totals(acct)) == pytest.approx(1.5)
    liq, direction = risk.margin_liq_price(acct, "BTC", 1.1)
    assert direction == UP
    assert liq == pytest.approx(150_000 / 2.2)
    assert risk.margin_asset_distance(acct, "BTC", 1.1) == pytest.approx(1.5 / 1.1 - 1)
    # the level at the liquidation price is the bar
    assert risk.margin_level(*risk.margin_totals(acct, shock=liq / 50_000 - 1)) == pytest.approx(1.1)
    # the same short alone in an account, as pre-flight and strategy sizing ask it
    assert risk.margin_short_distance(50_000, 2.0, 50_000) == pytest.approx(1.5 / 1.1 - 1)
    assert risk.margin_short_distance(50_000, 2.0, 50_000, bar=1.2) == pytest.approx(1.5 / 1.2 - 1)
    assert risk.margin_short_distance(50_000, 0.0, 50_000) == math.inf


def test_accrued_interest_brings_liquidation_nearer() -> None:
    fresh = risk.margin_liq_price(short_account(50_000, 2.0, 50_000), "BTC", 1.1)[0]
    owed = risk.margin_liq_price(short_account(50_000, 2.0, 50_000, accrued=0.01), "BTC", 1.1)[0]
    assert owed is not None and fresh is not None and owed < fresh


def test_shared_account_is_evaluated_as_a_whole() -> None:
    # Two reverse-basis pairs share one cross-margin account: BTC short and ETH short.
    acct = (MarginAsset(asset="USDT", held=100_000 + 100_000 + 100_000, moves=False),
            MarginAsset(asset="BTC", liability=2.0, price=50_000),
            MarginAsset(asset="ETH", liability=50.0, price=2_000))
    alone_btc = risk.margin_liq_price(acct, "BTC", 1.1)[0]
    assert alone_btc is not None
    # BTC alone must rise by (300000 - 1.1*100000)/(1.1*2) - 50000 ...
    assert alone_btc == pytest.approx((300_000 - 1.1 * 100_000) / (1.1 * 2.0))
    shock, direction = risk.margin_liq_shock(acct, 1.1)
    assert direction == UP and shock == pytest.approx(300_000 / (1.1 * 200_000) - 1)
    d = risk.margin_asset_distance(acct, "BTC", 1.1)
    # all coins rising together is nearer than BTC alone, and it is what counts
    assert d == pytest.approx(shock)
    assert d < risk.distance(50_000, alone_btc, UP)
    # the ETH pair sees the same account
    assert risk.margin_asset_distance(acct, "ETH", 1.1) == pytest.approx(shock)


def test_net_long_account_dies_on_a_fall() -> None:
    acct = (MarginAsset(asset="USDT", held=0.0, liability=80_000, moves=False),
            MarginAsset(asset="BTC", held=2.0, price=50_000))
    liq, direction = risk.margin_liq_price(acct, "BTC", 1.1)
    assert direction == DOWN
    assert liq == pytest.approx(1.1 * 80_000 / 2.0)
    assert risk.margin_asset_distance(acct, "BTC", 1.1) == pytest.approx(1 - 44_000 / 50_000)


def test_no_liability_means_no_liquidation() -> None:
    acct = (MarginAsset(asset="USDT", held=1000.0, moves=False), MarginAsset(asset="BTC", held=1.0, price=10.0))
    assert risk.margin_liq_price(acct, "BTC", 1.1) == (None, DOWN)
    assert risk.margin_asset_distance(acct, "BTC", 1.1) == math.inf


def test_collateral_needed_restores_exactly_the_target() -> None:
    acct = short_account(50_000, 2.0, 50_000, price=62_000)
    target = 0.30
    assert risk.margin_asset_distance(acct, "BTC", 1.1) < target
    need = risk.margin_collateral_needed(acct, "BTC", 1.1, target)
    assert need > 0
    after = risk.margin_with_deposit(acct, need)
    assert risk.margin_asset_distance(after, "BTC", 1.1) == pytest.approx(target)
    assert risk.margin_collateral_needed(after, "BTC", 1.1, target) == pytest.approx(0.0, abs=1e-6)


def test_transferable_keeps_the_target() -> None:
    acct = short_account(200_000, 2.0, 50_000)
    out = risk.margin_transferable(acct, 1.1, 0.30)
    assert 0 < out < 200_000
    after = risk.margin_with_deposit(acct, -out)
    assert risk.margin_asset_distance(after, "BTC", 1.1) == pytest.approx(0.30)
    # nothing is free when the account is already short of its target
    assert risk.margin_transferable(short_account(50_000, 2.0, 50_000, price=62_000), 1.1, 0.30) == 0.0


def test_buyback_raises_the_margin_level() -> None:
    acct = short_account(50_000, 2.0, 50_000, price=60_000)
    before = risk.margin_level(*risk.margin_totals(acct))
    after = risk.margin_after_buyback(acct, "BTC", 0.5)
    assert risk.margin_level(*risk.margin_totals(after)) > before
    btc = next(a for a in after if a.asset == "BTC")
    usdt = next(a for a in after if a.asset == "USDT")
    assert btc.liability == pytest.approx(1.5) and btc.held == 0.0
    assert usdt.held == pytest.approx(150_000 - 30_000)


# -- perpetual ------------------------------------------------------------------------------------

def test_bracket_lookup_and_continuous_maintenance() -> None:
    assert risk.bracket_for(BTC_BRACKETS, 10_000).bracket == 1
    assert risk.bracket_for(BTC_BRACKETS, 50_000).bracket == 1
    assert risk.bracket_for(BTC_BRACKETS, 50_001).bracket == 2
    assert risk.bracket_for(BTC_BRACKETS, 1e12).bracket == 5
    for b in BTC_BRACKETS[:-1]:   # cum makes maintenance continuous across each cap
        nxt = BTC_BRACKETS[b.bracket]
        assert b.notionalCap * b.maintMarginRatio - b.cum == pytest.approx(
            b.notionalCap * nxt.maintMarginRatio - nxt.cum)


def _mb_minus_mm(qty: float, entry: float, wallet: float, price: float) -> float:
    return risk.perp_margin_balance(qty, entry, wallet, price) - risk.maint_margin(BTC_BRACKETS, qty * price)


def test_isolated_long_matches_domain_approximation() -> None:
    # 3x isolated long of 1 BTC at 50000: wallet = notional / 3; P_liq ~ entry (1 - 1/L + mmr)
    lp = risk.perp_liq_price(1.0, 50_000, 50_000 / 3, BTC_BRACKETS)
    assert lp is not None
    assert lp == pytest.approx(50_000 * (1 - 1 / 3 + 0.004), rel=2e-3)
    assert lp == pytest.approx(50_000 * (1 - 1 / 3) / (1 - 0.004))   # exact, tier 1, cum 0
    assert _mb_minus_mm(1.0, 50_000, 50_000 / 3, lp) == pytest.approx(0.0, abs=1e-6)


def test_liquidation_tier_is_the_tier_at_the_liquidation_price() -> None:
    # 30 BTC long at 50000 (1.5M notional, tier 4) with 600k wallet liquidates near 30.3k: 0.91M, tier 3.
    qty, entry, wallet = 30.0, 50_000.0, 600_000.0
    lp = risk.perp_liq_price(qty, entry, wallet, BTC_BRACKETS)
    assert lp is not None
    assert _mb_minus_mm(qty, entry, wallet, lp) == pytest.approx(0.0, abs=1e-5)
    b = risk.bracket_for(BTC_BRACKETS, qty * lp)
    assert b.notionalFloor <= qty * lp <= b.notionalCap
    # the naive answer with the entry tier is wrong here
    entry_tier = risk.bracket_for(BTC_BRACKETS, qty * entry)
    naive = (qty * entry - wallet - entry_tier.cum) / (qty * (1 - entry_tier.maintMarginRatio))
    assert entry_tier.bracket != b.bracket and naive != pytest.approx(lp)


def test_short_perp_liquidates_above() -> None:
    lp = risk.perp_liq_price(-1.0, 50_000, 50_000 / 3, BTC_BRACKETS)
    assert lp is not None and lp > 50_000
    # 66.4k notional at the liquidation price: tier 2 (mmr 0.5 %, cum 50), not the entry's tier 1
    assert lp == pytest.approx((50_000 / 3 + 50_000 + 50) / (1 + 0.005))
    d, used = risk.perp_distance(-1.0, 50_000, 50_000 / 3, BTC_BRACKETS, 50_000)
    assert used == lp and d == pytest.approx(lp / 50_000 - 1)


def test_fully_covered_long_is_never_liquidated() -> None:
    assert risk.perp_liq_price(1.0, 50_000, 60_000, BTC_BRACKETS) is None
    assert risk.perp_distance(1.0, 50_000, 60_000, BTC_BRACKETS, 50_000)[0] == math.inf


def test_cross_other_positions_move_the_liquidation_price() -> None:
    alone = risk.perp_liq_price(1.0, 50_000, 20_000, BTC_BRACKETS)
    with_loss = risk.perp_liq_price(1.0, 50_000, 20_000, BTC_BRACKETS, other_mm=500, other_upnl=-3_000)
    assert alone is not None and with_loss is not None
    assert with_loss > alone
    assert with_loss - alone == pytest.approx(3_500 / (1 - 0.004))


def test_nearer_liquidation_price_wins() -> None:
    assert risk.nearer_liq(100.0, DOWN, 70.0, 72.0) == 72.0
    assert risk.nearer_liq(100.0, DOWN, 70.0, 0.0) == 70.0       # venue says 0: no figure
    assert risk.nearer_liq(100.0, UP, 130.0, 128.0) == 128.0
    assert risk.nearer_liq(100.0, UP, None, None) is None
    d, used = risk.perp_distance(1.0, 50_000, 50_000 / 3, BTC_BRACKETS, 50_000, venue_liq=34_000)
    assert used == 34_000 and d == pytest.approx(0.32)


def test_perp_collateral_needed_restores_target() -> None:
    qty, entry, wallet, mark = 1.0, 50_000.0, 50_000 / 3, 40_000.0
    need = risk.perp_collateral_needed(qty, entry, wallet, BTC_BRACKETS, mark, 0.30)
    assert need > 0
    d, _ = risk.perp_distance(qty, entry, wallet + need, BTC_BRACKETS, mark)
    assert d == pytest.approx(0.30)


def test_perp_transferable_excludes_unrealised_profit_and_keeps_target() -> None:
    qty, entry, wallet = 1.0, 50_000.0, 30_000.0
    mark = 70_000.0   # 20k unrealised profit: not withdrawable
    out = risk.perp_transferable(qty, entry, wallet, BTC_BRACKETS, mark, 0.30, venue_available=1e9)
    assert out <= wallet
    d, _ = risk.perp_distance(qty, entry, wallet - out, BTC_BRACKETS, mark)
    assert d >= 0.30 - 1e-9
    assert risk.perp_transferable(qty, entry, wallet, BTC_BRACKETS, mark, 0.30, venue_available=100.0) == 100.0


def test_deleverage_fraction_restores_target_on_both_legs() -> None:
    # a 3x reverse basis after a 25 % pump: the margin short is the weak leg
    p0, q = 50_000.0, 2.0
    acct = short_account(50_000, q, p0, price=62_500)
    target = 0.30
    f = risk.deleverage_fraction(target=target, margin_assets=acct, margin_asset="BTC", margin_qty=q,
                                 perp_qty=q, perp_entry=p0, perp_wallet=q * p0 / 3,
                                 perp_brackets=BTC_BRACKETS, perp_mark=62_500)
    assert 0 < f < 1
    after = risk.margin_after_buyback(acct, "BTC", f * q)
    assert risk.margin_asset_distance(after, "BTC", 1.1) >= target
    smaller = risk.margin_after_buyback(acct, "BTC", (f - 0.002) * q)
    assert risk.margin_asset_distance(smaller, "BTC", 1.1) < target
    # a crash: the perp long is the weak leg
    f2 = risk.deleverage_fraction(target=target, margin_assets=short_account(50_000, q, p0, price=37_500),
                                  margin_asset="BTC", margin_qty=q, perp_qty=q, perp_entry=p0,
                                  perp_wallet=q * p0 / 3, perp_brackets=BTC_BRACKETS, perp_mark=37_500)
    assert 0 < f2 <= 1


def test_hedge_gap_counts_interest() -> None:
    assert risk.hedge_gap(2.002, 2.0) == pytest.approx(0.002)


# -- properties -----------------------------------------------------------------------------------

prices = st.floats(min_value=1.0, max_value=1e6, allow_nan=False)
fractions = st.floats(min_value=0.0, max_value=1.0)


@settings(max_examples=200, deadline=None)
@given(c=st.floats(0, 1e6), q=st.floats(1e-3, 1e3), p0=prices, p1=prices, bump=st.floats(0, 2), held=fractions)
def test_higher_price_never_raises_margin_level_of_a_short(c: float, q: float, p0: float, p1: float,
                                                           bump: float, held: float) -> None:
    acct = (MarginAsset(asset="USDT", held=c + q * p0, moves=False),
            MarginAsset(asset="BTC", held=held * q, liability=q, price=p1))
    assert risk.margin_level(*risk.margin_totals(acct, shock=bump)) <= risk.margin_level(*risk.margin_totals(acct)) * (1 + 1e-12)


@settings(max_examples=200, deadline=None)
@given(c=st.floats(1, 1e6), extra=st.floats(0, 1e6), q=st.floats(1e-3, 1e3), p0=prices)
def test_more_collateral_never_lowers_the_short_liquidation_price(c: float, extra: float, q: float,
                                                                  p0: float) -> None:
    a = risk.margin_liq_price(short_account(c, q, p0), "BTC", 1.1)[0]
    b = risk.margin_liq_price(short_account(c + extra, q, p0), "BTC", 1.1)[0]
    assert a is not None and b is not None and b >= a * (1 - 1e-12)


@settings(max_examples=300, deadline=None)
@given(qty=st.floats(1e-3, 500), entry=st.floats(100, 200_000), lev=st.floats(1.05, 20),
       side=st.sampled_from([1.0, -1.0]))
def test_perp_liquidation_price_solves_maintenance(qty: float, entry: float, lev: float, side: float) -> None:
    q = side * qty
    wallet = qty * entry / lev
    lp = risk.perp_liq_price(q, entry, wallet, BTC_BRACKETS)
    assert lp is not None and lp > 0
    gap = risk.perp_margin_balance(q, entry, wallet, lp) - risk.maint_margin(BTC_BRACKETS, q * lp)
    assert abs(gap) <= 1e-6 * qty * entry
    # on the safe side of it the position is above maintenance, beyond it below
    safe = lp * (1 + side * 0.01)
    assert risk.perp_margin_balance(q, entry, wallet, safe) > risk.maint_margin(BTC_BRACKETS, q * safe)


@settings(max_examples=200, deadline=None)
@given(qty=st.floats(1e-3, 500), entry=st.floats(100, 200_000), lev=st.floats(1.05, 20), extra=st.floats(0, 1))
def test_more_wallet_never_brings_a_long_liquidation_nearer(qty: float, entry: float, lev: float,
                                                            extra: float) -> None:
    w = qty * entry / lev
    a = risk.perp_liq_price(qty, entry, w, BTC_BRACKETS)
    b = risk.perp_liq_price(qty, entry, w * (1 + extra), BTC_BRACKETS)
    assert a is not None
    assert b is None or b <= a * (1 + 1e-12)


@settings(max_examples=100, deadline=None)
@given(pump=st.floats(0.0, 0.35), c=st.floats(20_000, 200_000))
def test_deleverage_fraction_is_monotone_in_the_pump(pump: float, c: float) -> None:
    def f_at(p: float) -> float:
        return risk.deleverage_fraction(target=0.25, margin_assets=short_account(c, 2.0, 50_000, 50_000 * (1 + p)),
                                        margin_asset="BTC", margin_qty=2.0)
    assert f_at(pump) <= f_at(pump + 0.05) + 2e-4


def test_largest_size_is_the_edge_of_a_shrinking_distance() -> None:
    # (C + N)/(1.1 N) - 1 >= 0.15  <=>  N <= C/0.265: found from below, within the tolerance
    n = risk.largest_size(lambda n: risk.margin_short_distance(1_000.0, n, 1.0) >= 0.15)
    assert n == pytest.approx(1_000.0 / 0.265, rel=1e-8) and n <= 1_000.0 / 0.265
    assert risk.largest_size(lambda n: n <= 30_000.0, 30_000.0) == 30_000.0      # the bound holds
    assert risk.largest_size(lambda n: n <= 0.0, 30_000.0) == 0.0
    assert risk.largest_size(lambda n: False) == 0.0
    assert risk.largest_size(lambda n: True) == math.inf                        # nothing breaks it
    assert risk.fallback_tiers(None) == risk.flat_brackets(risk.FALLBACK_MMR)
    assert risk.fallback_tiers(BTC_BRACKETS) == BTC_BRACKETS

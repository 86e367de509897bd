"""Economics: APR maths (DOMAIN.md worked check), hurdle, OU fit on simulated and real funding."""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core import economics as ec
from daemon.core.economics import NoMeanReversion, Signal, TradeType
from daemon.core.funding_history import parse_funding_csv

from tests.conftest import ROOT
REALDATA = Path(os.environ.get("BASISD_REALDATA", ROOT.parent / "shared" / "realdata"))

# ---------------------------------------------------------------------------------------------
# APR terms
# ---------------------------------------------------------------------------------------------


def test_domain_worked_check() -> None:
    # -0.03 % per 8 h, borrow 8 % APR, 4 x 0.05 % taker fees, held 14 days.
    hourly_borrow = 0.08 / (24 * 365)
    fees = ec.round_trip_fee_fraction(0.0005, 0.0005, 0.0005, 0.0005)
    assert fees == pytest.approx(0.002, abs=1e-15)
    br = ec.net_apr(
        TradeType.REVERSE_BASIS,
        -0.0003,
        8,
        holding_hours=14 * 24,
        round_trip_fee_fraction=fees,
        borrow_hourly_rate=hourly_borrow,
    )
    assert br.trade_type == "reverse_basis"
    assert br.funding_apr == pytest.approx(0.3285, abs=1e-12)
    assert br.borrow_apr == pytest.approx(0.08, abs=1e-12)
    assert br.funding_apr - br.borrow_apr == pytest.approx(0.2485, abs=1e-12)
    assert br.fee_apr == pytest.approx(0.002 * 365 / 14, abs=1e-12)
    assert round(br.fee_apr * 100, 1) == 5.2
    assert br.slippage_apr == 0.0
    assert br.net_apr == pytest.approx(0.2485 - 0.002 * 365 / 14, abs=1e-12)
    assert round(br.net_apr * 100, 1) == 19.6
    assert br.viable


def test_funding_apr_uses_the_symbols_interval() -> None:
    assert ec.funding_apr(-0.0002, 8) == pytest.approx(-0.219, abs=1e-12)
    # The 8x error peers make: the same per-interval rate on a 1 h symbol is 8x the APR.
    assert ec.funding_apr(0.0001, 1) == pytest.approx(8 * ec.funding_apr(0.0001, 8), rel=1e-12)
    assert ec.funding_apr(0.0001, 4) == pytest.approx(0.0001 * 6 * 365, rel=1e-12)
    for bad in (0, -8, math.nan):
        with pytest.raises(ValueError, match="interval_hours"):
            ec.funding_apr(0.0001, bad)


def test_funding_payment_sign_conventions() -> None:
    # rate > 0: longs pay shorts.
    assert ec.funding_payment(2.0, 50_000.0, 0.0001) == pytest.approx(-10.0)
    assert ec.funding_payment(-2.0, 50_000.0, 0.0001) == pytest.approx(10.0)
    # rate < 0: shorts pay longs (the reverse-basis long perp collects).
    assert ec.funding_payment(2.0, 50_000.0, -0.0001) == pytest.approx(10.0)
    assert ec.funding_payment(-2.0, 50_000.0, -0.0001) == pytest.approx(-10.0)


def test_basis_bps() -> None:
    assert ec.basis_bps(99.5, 100.0) == pytest.approx(-50.0)
    assert ec.basis_bps(100.1, 100.0) == pytest.approx(10.0)
    with pytest.raises(ValueError):
        ec.basis_bps(1.0, 0.0)


def test_borrow_simple_and_compounded() -> None:
    h = 0.00001  # 0.001 %/h
    assert ec.borrow_apr_from_hourly(h) == pytest.approx(0.0876, abs=1e-12)
    assert ec.borrow_apy_from_hourly(h) == pytest.approx((1 + h) ** 8760 - 1, rel=1e-12)
    assert ec.borrow_apy_from_hourly(h) > ec.borrow_apr_from_hourly(h)
    assert ec.borrow_apy_from_hourly(0.0) == 0.0
    br = ec.net_apr(
        "reverse_basis", -0.0003, 8, holding_hours=24, borrow_hourly_rate=h, compound_borrow=True
    )
    assert br.borrow_apr == pytest.approx((1 + h) ** 8760 - 1, rel=1e-12)


def test_fee_apr_and_holding_time() -> None:
    assert ec.fee_apr(0.002, 24 * 365) == pytest.approx(0.002)
    assert ec.fee_apr(0.002, 24) == pytest.approx(0.73)
    with pytest.raises(ValueError, match="holding_hours"):
        ec.fee_apr(0.002, 0)


def test_vwap_and_slippage_from_depth() -> None:
    asks = [(100.0, 1.0), (101.0, 2.0), (103.0, 5.0)]
    vwap, filled = ec.vwap_for_qty(asks, 2.0)
    assert filled == 2.0
    assert vwap == pytest.approx(100.5)
    assert ec.slippage_fraction(vwap, 100.0, "buy") == pytest.approx(0.005)
    vwap, filled = ec.vwap_for_qty(asks, 4.0)
    assert vwap == pytest.approx((100 + 202 + 103) / 4)
    # Thin book: only what is there gets filled.
    vwap, filled = ec.vwap_for_qty(asks, 10.0)
    assert filled == 8.0
    assert vwap == pytest.approx((100 + 202 + 515) / 8)
    bids = [(99.0, 1.0), (98.0, 1.0)]
    vwap, _ = ec.vwap_for_qty(bids, 2.0)
    assert ec.slippage_fraction(vwap, 99.0, "sell") == pytest.approx(0.5 / 99.0)
    vwap, filled = ec.vwap_for_qty([], 1.0)
    assert filled == 0.0 and math.isnan(vwap)
    with pytest.raises(ValueError, match="side"):
        ec.slippage_fraction(1.0, 1.0, "long")
    # Slippage amortises like fees and enters the net.
    br = ec.net_apr("basis", 0.0003, 8, holding_hours=24 * 14, slippage_fraction_total=0.001)
    assert br.slippage_apr == pytest.approx(0.001 * 365 / 14)
    assert br.net_apr == pytest.approx(0.3285 - 0.001 * 365 / 14)


def test_basis_and_reverse_basis_signs() -> None:
    # Positive funding: basis earns, reverse basis pays and is not viable.
    assert ec.net_apr("basis", 0.0001, 8, holding_hours=336).funding_apr == pytest.approx(0.1095)
    rb = ec.net_apr("reverse_basis", 0.0001, 8, holding_hours=336)
    assert rb.funding_apr == pytest.approx(-0.1095)
    assert not rb.viable
    # Negative funding whose borrow costs more than it earns: not viable.
    rb = ec.net_apr("reverse_basis", -0.0001, 8, holding_hours=336, borrow_hourly_rate=0.2 / 8760)
    assert rb.net_apr == pytest.approx(0.1095 - 0.2)
    assert not rb.viable


def test_long_short_each_leg_uses_its_own_interval() -> None:
    # Short venue funds 0.01 %/1 h (87.6 % APR), long venue 0.01 %/8 h (10.95 %).
    br = ec.net_apr(
        "long_short",
        0.0001,
        1,
        long_funding_rate=0.0001,
        long_interval_hours=8,
        holding_hours=24 * 7,
        round_trip_fee_fraction=0.0016,
    )
    assert br.funding_apr == pytest.approx(0.876 - 0.1095, abs=1e-12)
    assert br.fee_apr == pytest.approx(0.0016 * 365 / 7)
    assert br.net_apr == pytest.approx(0.876 - 0.1095 - 0.0016 * 365 / 7)
    # Swapped venues: the spread is negative.
    br2 = ec.net_apr(
        "long_short", 0.0001, 8, long_funding_rate=0.0001, long_interval_hours=1, holding_hours=168
    )
    assert br2.funding_apr == pytest.approx(-(0.876 - 0.1095))
    assert not br2.viable


def test_net_apr_rejects_misuse() -> None:
    with pytest.raises(ValueError, match="long_short needs"):
        ec.net_apr("long_short", 0.0001, 8, holding_hours=24)
    with pytest.raises(ValueError, match="only apply to long_short"):
        ec.net_apr(
            "basis", 0.0001, 8, holding_hours=24, long_funding_rate=0.0, long_interval_hours=8
        )
    with pytest.raises(ValueError):
        ec.net_apr("calendar", 0.0001, 8, holding_hours=24)
    with pytest.raises(ValueError, match="holding_hours"):
        ec.net_apr("basis", 0.0001, 8, holding_hours=0)


def test_hurdle() -> None:
    assert ec.no_arbitrage_funding_apr(0.05, 0.01) == pytest.approx(0.04)
    assert ec.excess_over_hurdle(0.196, 0.05, 0.01) == pytest.approx(0.156)
    # l = 1 is unlevered b + r_asset; leverage multiplies the edge over r_f*.
    assert ec.leveraged_return(1.0, 0.10, 0.05, 0.01) == pytest.approx(0.11)
    assert ec.leveraged_return(3.0, 0.10, 0.05, 0.01) == pytest.approx(3 * 0.06 + 0.05)
    # b below r_f*: leverage makes it worse.
    assert ec.leveraged_return(3.0, 0.02, 0.05, 0.01) < ec.leveraged_return(1.0, 0.02, 0.05, 0.01)


# ---------------------------------------------------------------------------------------------
# Hypothesis invariants
# ---------------------------------------------------------------------------------------------

rates = st.floats(min_value=-0.01, max_value=0.01, allow_nan=False)
intervals = st.sampled_from([1, 2, 4, 8])
holding = st.floats(min_value=1.0, max_value=24.0 * 365, allow_nan=False)
fees = st.floats(min_value=0.0, max_value=0.01, allow_nan=False)
hourly = st.floats(min_value=0.0, max_value=0.001, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(daily=rates, h1=intervals, h2=intervals)
def test_same_daily_funding_gives_same_apr_at_any_interval(daily: float, h1: int, h2: int) -> None:
    r1 = daily * h1 / 24  # per-interval rate that sums to `daily` over a day
    r2 = daily * h2 / 24
    assert ec.funding_apr(r1, h1) == pytest.approx(ec.funding_apr(r2, h2), rel=1e-12, abs=1e-15)
    assert ec.funding_apr(r1, h1) == pytest.approx(daily * 365, rel=1e-12, abs=1e-15)
    # And a day of settlements pays the same cash.
    day1 = math.fsum(ec.funding_payment(-1.0, 100.0, r1) for _ in range(24 // h1))
    day2 = math.fsum(ec.funding_payment(-1.0, 100.0, r2) for _ in range(24 // h2))
    assert day1 == pytest.approx(day2, rel=1e-12, abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(rate=rates, h=intervals, k=st.floats(min_value=-100, max_value=100, allow_nan=False))
def test_funding_apr_is_linear_in_rate(rate: float, h: int, k: float) -> None:
    expected = k * ec.funding_apr(rate, h)
    assert ec.funding_apr(k * rate, h) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(rate=rates, h=intervals, hold=holding, fee=fees, slip=fees, hb=hourly)
def test_net_is_the_sum_of_its_terms_and_reverse_mirrors_basis(
    rate: float, h: int, hold: float, fee: float, slip: float, hb: float
) -> None:
    kw = dict(
        holding_hours=hold,
        round_trip_fee_fraction=fee,
        slippage_fraction_total=slip,
        borrow_hourly_rate=hb,
    )
    rb = ec.net_apr("reverse_basis", rate, h, **kw)
    b = ec.net_apr("basis", -rate, h, **kw)
    terms = rb.funding_apr - rb.borrow_apr - rb.fee_apr - rb.slippage_apr
    assert rb.net_apr == pytest.approx(terms, abs=1e-12)
    assert rb.viable == (rb.net_apr > 0)
    assert rb == ec.AprBreakdown(
        trade_type="reverse_basis",
        funding_apr=b.funding_apr,
        borrow_apr=b.borrow_apr,
        fee_apr=b.fee_apr,
        slippage_apr=b.slippage_apr,
        net_apr=b.net_apr,
        viable=b.viable,
    )
    # Fee term amortises back to the one-off fee over the holding time.
    assert rb.fee_apr * hold / 8760 == pytest.approx(fee, rel=1e-9, abs=1e-15)
    # Longer hold never makes fees/slippage cost more.
    longer = ec.net_apr("reverse_basis", rate, h, **{**kw, "holding_hours": hold * 2})
    assert longer.net_apr >= rb.net_apr - 1e-15


@settings(max_examples=200, deadline=None)
@given(rate=rates, h=intervals, hold=holding)
def test_long_short_same_funding_both_sides_earns_nothing(rate: float, h: int, hold: float) -> None:
    br = ec.net_apr(
        "long_short", rate, h,
        long_funding_rate=rate * 8 / h, long_interval_hours=8, holding_hours=hold,
    )
    assert br.funding_apr == pytest.approx(0.0, abs=1e-12)
    assert not br.viable


@settings(max_examples=200, deadline=None)
@given(hb=hourly)
def test_compounded_borrow_never_below_simple(hb: float) -> None:
    assert ec.borrow_apy_from_hourly(hb) >= ec.borrow_apr_from_hourly(hb) - 1e-15


# ---------------------------------------------------------------------------------------------
# Ornstein-Uhlenbeck
# ---------------------------------------------------------------------------------------------


def simulate_ou(theta: float, mu: float, sigma: float, dt: float, n: int, seed: int) -> list[float]:
    """Exact discretisation of the OU SDE:

    F' = mu + (F - mu) e^{-theta dt} + sigma sqrt((1 - e^{-2 theta dt}) / (2 theta)) Z.
    """
    rng = random.Random(seed)
    decay = math.exp(-theta * dt)
    step_sd = sigma * math.sqrt((1 - math.exp(-2 * theta * dt)) / (2 * theta))
    f = mu + rng.gauss(0.0, sigma / math.sqrt(2 * theta))  # start in the stationary law
    out = [f]
    for _ in range(n - 1):
        f = mu + (f - mu) * decay + step_sd * rng.gauss(0.0, 1.0)
        out.append(f)
    return out


@pytest.mark.parametrize(
    ("half_life_h", "mu", "sigma_f", "dt"),
    [
        (24.0, 0.0001, 0.0002, 8.0),  # BTC-like: 24 h half-life sampled every 8 h
        (6.0, -0.0002, 0.0001, 1.0),  # fast, negative-mean, hourly venue
        (48.0, 0.00005, 0.00003, 4.0),
    ],
)
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_ou_fit_recovers_simulated_parameters(
    half_life_h: float, mu: float, sigma_f: float, dt: float, seed: int
) -> None:
    theta = math.log(2) / half_life_h
    sigma = sigma_f * math.sqrt(2 * theta)
    path = simulate_ou(theta, mu, sigma, dt, 20_000, seed)
    fit = ec.fit_ou(path, dt)
    assert fit.theta == pytest.approx(theta, rel=0.10)
    assert fit.mu == pytest.approx(mu, rel=0.10)
    assert fit.sigma_f == pytest.approx(sigma_f, rel=0.10)
    assert fit.sigma == pytest.approx(sigma, rel=0.10)
    assert fit.half_life_hours == pytest.approx(half_life_h, rel=0.10)
    assert fit.n == 20_000 and fit.dt_hours == dt
    assert fit.half_life_hours == pytest.approx(math.log(2) / fit.theta, rel=1e-12)


def test_ou_fit_rejects_series_without_mean_reversion() -> None:
    rng = random.Random(7)
    walk = [0.0]
    for _ in range(2000):
        walk.append(walk[-1] + rng.gauss(0, 1) + 0.01)  # random walk with drift: b ~ 1
    trending = [0.001 * i * i for i in range(50)]  # explosive: b > 1
    with pytest.raises(NoMeanReversion, match=">= 1"):
        ec.fit_ou(trending, 8)
    try:
        fit = ec.fit_ou(walk, 8)
    except NoMeanReversion:
        pass
    else:  # OLS on a finite walk is biased below 1; it must at least show a glacial reversion
        assert fit.half_life_hours > 8 * 100
    alternating = [(-1.0) ** i + 0.01 * rng.gauss(0, 1) for i in range(500)]
    with pytest.raises(NoMeanReversion, match="<= 0"):
        ec.fit_ou(alternating, 8)
    with pytest.raises(ValueError, match="constant"):
        ec.fit_ou([0.0001] * 10, 8)
    with pytest.raises(ValueError, match="at least 3"):
        ec.fit_ou([0.1, 0.2], 8)
    with pytest.raises(ValueError, match="dt_hours"):
        ec.fit_ou([0.1, 0.2, 0.3], 0)


def test_ou_fit_on_real_btc_binance_history(capsys: pytest.CaptureFixture[str]) -> None:
    name = "BTC-USDT_binance_2020-01-01_2024-01-01_funding_history.csv"
    path = REALDATA / "funding_history" / name
    series = parse_funding_csv(path.read_text(), tz_offset_hours=3, interval_hours=8)
    assert series.evenly_spaced  # AR(1) needs evenly spaced samples
    fit = ec.fit_ou(series.rate, 8.0)
    with capsys.disabled():
        print(
            f"\n[OU] BTC-USDT binance 2020-2023, 8 h samples (n={fit.n}): "
            f"half-life {fit.half_life_hours:.2f} h, theta {fit.theta:.5f}/h, b {fit.b:.4f}, "
            f"mu {fit.mu:.3e}/8h ({ec.funding_apr(fit.mu, 8):.2%} APR), "
            f"sigma_F {fit.sigma_f:.3e}/8h"
        )
    assert 0.0 < fit.b < 1.0
    # DOMAIN.md: BTC half-life 12-36 h. The 4-year fit lands at ~23.6 h.
    assert 12.0 <= fit.half_life_hours <= 36.0
    assert fit.half_life_hours == pytest.approx(23.644, abs=0.01)
    assert fit.mu > 0  # BTC funding is positive on average (sum of rates in SOURCES.md > 0)
    assert fit.mu == pytest.approx(math.fsum(series.rate) / series.rows, rel=0.05)


def test_zscore_and_signals_reverse_basis() -> None:
    mu, s = 0.0001, 0.0002
    assert ec.zscore(mu - 2 * s, mu, s) == pytest.approx(-2.0)
    with pytest.raises(ValueError):
        ec.zscore(0.0, 0.0, 0.0)
    f_deep = mu - 2.1 * s
    f_edge = mu - 1.9 * s
    assert ec.entry_signal("reverse_basis", f_deep, mu, s)
    assert not ec.entry_signal("reverse_basis", f_edge, mu, s)
    assert not ec.entry_signal("basis", f_deep, mu, s)
    # Exit: reverted past mu - 0.5 sigma, or net APR no longer positive.
    assert ec.exit_signal("reverse_basis", mu - 0.4 * s, mu, s, trade_net_apr=0.1)
    assert not ec.exit_signal("reverse_basis", mu - 0.6 * s, mu, s, trade_net_apr=0.1)
    assert ec.exit_signal("reverse_basis", mu - 3 * s, mu, s, trade_net_apr=0.0)
    # Hysteresis: between the bands a flat book stays flat and an open one holds.
    mid = mu - 1.0 * s
    assert ec.mr_signal("reverse_basis", mid, mu, s, 0.1, in_position=False) is Signal.NONE
    assert ec.mr_signal("reverse_basis", mid, mu, s, 0.1, in_position=True) is Signal.HOLD
    assert ec.mr_signal("reverse_basis", f_deep, mu, s, 0.1, in_position=False) is Signal.ENTER
    assert ec.mr_signal("reverse_basis", f_deep, mu, s, -0.01, in_position=False) is Signal.NONE
    assert ec.mr_signal("reverse_basis", mu, mu, s, 0.1, in_position=True) is Signal.EXIT


def test_signals_basis_mirror_reverse() -> None:
    mu, s = 0.0001, 0.0002
    for k in (-3.0, -2.1, -1.0, -0.4, 0.0, 0.4, 1.0, 2.1, 3.0):
        f_rev = mu + k * s
        f_bas = mu - k * s
        rev_in = ec.entry_signal("reverse_basis", f_rev, mu, s)
        assert rev_in == ec.entry_signal("basis", f_bas, mu, s)
        rev_out = ec.exit_signal("reverse_basis", f_rev, mu, s, 0.1)
        assert rev_out == ec.exit_signal("basis", f_bas, mu, s, 0.1)
    assert ec.entry_signal("long_short", mu + 2.5 * s, mu, s)


def test_expected_duration_matches_ou_mean_decay() -> None:
    theta, mu, f0, target = math.log(2) / 24.0, 0.0001, -0.0009, 0.0001
    t = ec.expected_duration_hours(f0, mu, theta, target)
    # E[F_t] - mu = (F0 - mu) e^{-theta t}: at t the expected deviation is exactly the target.
    assert abs((f0 - mu) * math.exp(-theta * t)) == pytest.approx(target, rel=1e-12)
    # A 10x deviation takes log2(10) half-lives.
    assert t == pytest.approx(24.0 * math.log2(10.0), rel=1e-12)
    assert ec.expected_duration_from_half_life(f0, mu, 24.0, target) == pytest.approx(t, rel=1e-12)
    assert ec.expected_duration_hours(mu + 0.5 * target, mu, theta, target) == 0.0  # already there
    with pytest.raises(ValueError, match="target"):
        ec.expected_duration_hours(f0, mu, theta, 0.0)
    with pytest.raises(ValueError, match="theta"):
        ec.expected_duration_hours(f0, mu, 0.0, target)

"""Pricing the hold: the OU mean path, its average over a hold, and the time to an exit level;
plus the worked numbers of ../shared/DOMAIN.md and the seed articles in ../shared/seeds."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core import economics as ec
from daemon.core.economics import TradeType

THETA = math.log(2) / 24.0          # 24 h half-life
MU, F0 = 0.0001, -0.0009


def test_expected_funding_follows_the_mean_path() -> None:
    assert ec.expected_funding(F0, MU, THETA, 0.0) == F0
    # One half-life halves the deviation.
    assert ec.expected_funding(F0, MU, THETA, 24.0) == pytest.approx(MU + (F0 - MU) / 2, rel=1e-12)
    assert ec.expected_funding(F0, MU, THETA, 1e6) == pytest.approx(MU, abs=1e-15)
    with pytest.raises(ValueError, match="t_hours"):
        ec.expected_funding(F0, MU, THETA, -1.0)


def test_mean_over_the_hold_limits() -> None:
    # theta T -> 0: the hold earns today's rate; exactly, not through a cancelling 1 - 1.
    assert ec.mean_expected_funding(F0, MU, THETA, 0.0) == F0
    assert ec.mean_expected_funding(F0, MU, THETA, 1e-9) == pytest.approx(F0, rel=1e-9)
    assert ec.mean_expected_funding(F0, MU, 1e-14, 1.0) == F0
    # Large T: the mean.
    assert ec.mean_expected_funding(F0, MU, THETA, 1e9) == pytest.approx(MU, rel=1e-6)
    # One half-life: (1 - 1/2) / ln 2 of the deviation is kept on average.
    kept = 0.5 / math.log(2)
    assert ec.mean_reversion_factor(THETA, 24.0) == pytest.approx(kept, rel=1e-12)
    assert ec.mean_expected_funding(F0, MU, THETA, 24.0) == pytest.approx(MU + (F0 - MU) * kept,
                                                                           rel=1e-12)


def test_mean_over_the_hold_is_the_integral_of_the_path() -> None:
    hold, n = 50.0, 20_000
    step = hold / n
    midpoints = math.fsum(ec.expected_funding(F0, MU, THETA, (k + 0.5) * step) for k in range(n))
    assert ec.mean_expected_funding(F0, MU, THETA, hold) == pytest.approx(midpoints / n, rel=1e-8)


@settings(max_examples=200, deadline=None)
@given(f0=st.floats(-0.01, 0.01), mu=st.floats(-0.001, 0.001),
       half_life=st.floats(1.0, 500.0), hold=st.floats(0.0, 5000.0))
def test_mean_lies_between_today_and_the_mean(f0: float, mu: float, half_life: float,
                                              hold: float) -> None:
    m = ec.mean_expected_funding(f0, mu, math.log(2) / half_life, hold)
    assert min(f0, mu) - 1e-15 <= m <= max(f0, mu) + 1e-15


def test_hours_to_cross() -> None:
    # Rising from -0.09 % toward +0.01 %: reaching 0 leaves a tenth of the deviation.
    t = ec.hours_to_cross(F0, MU, THETA, 0.0, rising=True)
    assert t == pytest.approx(24.0 * math.log2(10.0), rel=1e-12)
    assert ec.expected_funding(F0, MU, THETA, t) == pytest.approx(0.0, abs=1e-15)
    # Already past the level in the exit direction: no wait.
    assert ec.hours_to_cross(0.0002, MU, THETA, 0.0, rising=True) == 0.0
    # A level at or beyond mu is never reached by the mean path.
    assert ec.hours_to_cross(F0, MU, THETA, MU, rising=True) == math.inf
    assert ec.hours_to_cross(F0, MU, THETA, 0.0002, rising=True) == math.inf
    # Falling mirrors rising.
    assert ec.hours_to_cross(-F0, -MU, THETA, 0.0, rising=False) == pytest.approx(t, rel=1e-12)
    # The old duration helper is the same time measured as a distance from mu.
    assert t == pytest.approx(ec.expected_duration_hours(F0, MU, THETA, MU - 0.0), rel=1e-12)


def test_priced_hold_of_an_extreme_entry_is_well_below_the_instant_apr() -> None:
    # DOMAIN.md: an entry at z = -2 priced on the instant rate overstates what the hold pays.
    sigma_f = 0.0004
    f0 = MU - 2 * sigma_f
    hold = ec.hours_to_cross(f0, MU, THETA, MU - 0.5 * sigma_f, rising=True)
    instant = ec.trade_funding_apr(TradeType.REVERSE_BASIS, f0, 8)
    over_hold = ec.trade_funding_apr(TradeType.REVERSE_BASIS,
                                     ec.mean_expected_funding(f0, MU, THETA, hold), 8)
    assert hold == pytest.approx(48.0, rel=1e-12)      # 2 sigma -> 0.5 sigma: two half-lives
    assert 0 < over_hold < instant


# -- DOMAIN.md and the seed articles (plain formulas, kept for exactly these checks) -----------


def test_domain_worked_check_plain_formula() -> None:
    br = ec.net_apr(TradeType.REVERSE_BASIS, -0.0003, 8, holding_hours=14 * 24,
                    round_trip_fee_fraction=4 * 0.0005, borrow_hourly_rate=0.08 / 8760)
    assert round(br.funding_apr * 100, 2) == 32.85
    assert round(br.net_apr * 100, 1) == 19.6


def test_seed_examples() -> None:
    # 000: SOL, 20 000 USD long perp at -0.02 % per 8 h: 4.00 per settlement, 12 a day, 21.9 %.
    assert ec.funding_payment(20_000 / 100.0, 100.0, -0.0002) == pytest.approx(4.0)
    assert 3 * ec.funding_payment(200.0, 100.0, -0.0002) == pytest.approx(12.0)
    assert ec.funding_apr(-0.0002, 8) == pytest.approx(-0.219)
    # 001: ETH perp 2 797 vs spot 2 800: premium -0.107 %, clamp(0.01 % + 0.107 %) = +0.05 %,
    # funding -0.057 % per 8 h = -62.4 % a year; at 2 790 the premium is -0.357 %: -0.307 %,
    # -336 %.
    for perp, funding, apr_pct in ((2797.0, -0.00057, -62.4), (2790.0, -0.00307, -336.0)):
        premium = (perp - 2800.0) / 2800.0
        rate = premium + min(max(0.0001 - premium, -0.0005), 0.0005)
        assert rate == pytest.approx(funding, abs=5e-6)
        assert ec.funding_apr(funding, 8) * 100 == pytest.approx(apr_pct, abs=0.2)  # as quoted
    assert ec.basis_bps(2790.0, 2800.0) == pytest.approx(-35.714, abs=1e-3)
    # 004: r_f = 2 %, r_USD = 1 %, r_A = 0: the funding trade beats lending USD by 1 %;
    # with leverage l the trade returns l (r_f + r_A - r_USD) + r_USD.
    assert ec.excess_over_hurdle(0.02, 0.01, 0.0) == pytest.approx(0.01)
    assert ec.leveraged_return(5.0, 0.02, 0.01, 0.0) == pytest.approx(5 * 0.01 + 0.01)

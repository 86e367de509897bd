"""Pricing the hold: the holding-period rule (the strategy's own exit), slippage from the mid
through depth, the no-fit fallback, and DOMAIN.md's worked check through the pricing path."""
from __future__ import annotations

import math

import pytest

from daemon.core import economics as ec
from daemon.core.book import OrderBook
from daemon.core.economics import TradeType
from daemon.opportunity.config import ScannerConfig, StrategyConfig
from daemon.opportunity.pricing import (Reversion, StrategyTerms, clamp_hold, exit_level,
                                        hours_to_exit, price_hold, slippage_from_mid_bps)

THETA = math.log(2) / 24.0
TERMS = StrategyTerms()             # the strategy's defaults: band 0.5 sigma_F, flip at 0


def test_terms_come_from_the_strategy_config() -> None:
    cfg = StrategyConfig(exit_z=0.8, entry_z=2.5, flip_tolerance_pct=0.01,
                         entry_notional_usd=2_500.0)
    terms = StrategyTerms.from_strategy(cfg)
    assert terms == StrategyTerms(exit_z=0.8, flip_tolerance=0.0001, order_size_usd=2_500.0)
    assert StrategyTerms() == StrategyTerms.from_strategy(StrategyConfig())


def test_holding_period_is_the_time_to_the_strategys_exit() -> None:
    # Reverse basis, mu > 0 and the band above zero: the funding flip (rate > 0) fires first.
    rev = Reversion(value=-0.0009, mu=0.0001, sigma_f=0.0001, theta=THETA)
    assert exit_level(TradeType.REVERSE_BASIS, rev, TERMS) == (0.0, True)
    assert hours_to_exit(TradeType.REVERSE_BASIS, rev, TERMS) == pytest.approx(24 * math.log2(10))
    # mu < 0: the band mu - 0.5 sigma_F is below the flip and is met first.
    rev = Reversion(value=-0.0009, mu=-0.0001, sigma_f=0.0002, theta=THETA)
    level, rising = exit_level(TradeType.REVERSE_BASIS, rev, TERMS)
    assert level == pytest.approx(-0.0002) and rising
    assert hours_to_exit(TradeType.REVERSE_BASIS, rev, TERMS) == pytest.approx(24 * math.log2(8))
    # Basis mirrors it: falling toward mu + 0.5 sigma_F (the flip below zero comes later).
    rev = Reversion(value=0.0011, mu=0.0001, sigma_f=0.0002, theta=THETA)
    assert exit_level(TradeType.BASIS, rev, TERMS) == (pytest.approx(0.0002), False)
    assert hours_to_exit(TradeType.BASIS, rev, TERMS) == pytest.approx(24 * math.log2(10))
    # A flip tolerance moves the flip level: in APR units for a spread (scale).
    terms = StrategyTerms(exit_z=0.5, flip_tolerance=0.0001)
    spread = Reversion(value=0.5, mu=-0.2, sigma_f=0.1, theta=THETA, scale=1095.0)
    assert exit_level(TradeType.LONG_SHORT, spread, terms) == (pytest.approx(-0.1095), False)
    # Already past the exit: nothing to wait for; an exit band at mu: never on the mean path.
    assert hours_to_exit(TradeType.BASIS, Reversion(value=0.00015, mu=0.0001, sigma_f=0.0002,
                                                    theta=THETA), TERMS) == 0.0
    assert hours_to_exit(TradeType.BASIS, Reversion(value=0.001, mu=0.0001, sigma_f=0.0002,
                                                    theta=THETA),
                         StrategyTerms(exit_z=0.0)) == math.inf


def test_the_hold_is_clamped_to_one_settlement_and_the_configured_bounds() -> None:
    cfg = ScannerConfig(min_holding_hours=8, max_holding_hours=240)
    assert clamp_hold(cfg, 0.0, 8.0) == 8.0
    assert clamp_hold(cfg, 0.0, 1.0) == 8.0
    assert clamp_hold(ScannerConfig(min_holding_hours=1), 0.5, 4.0) == 4.0    # one settlement
    assert clamp_hold(cfg, 47.5, 8.0) == 47.5
    assert clamp_hold(cfg, math.inf, 8.0) == 240.0


def _book(bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> OrderBook:
    book = OrderBook(0.1, symbol="ETHUSDT")
    book.load_snapshot(bids, asks, last_update_id=1)
    return book


def test_slippage_from_the_mid_through_depth() -> None:
    book = _book([(1999.0, 1.0), (1998.0, 4.0)], [(2001.0, 1.0), (2002.0, 1.0), (2005.0, 10.0)])
    mid = 2000.0
    # Within the touch level: half the spread, nothing the touch-based figure would see.
    assert slippage_from_mid_bps(book, "buy", 0.5) == pytest.approx(1.0 / mid * 1e4)
    assert book.slippage_bps("buy", 0.5) == 0.0
    # 3 ETH walks 1 @ 2001, 1 @ 2002, 1 @ 2005: VWAP 2002.667 -> 2.667 from the mid.
    assert slippage_from_mid_bps(book, "buy", 3.0) == pytest.approx((6008 / 3 - mid) / mid * 1e4)
    # Sells walk the bids: 1 @ 1999 and 2 @ 1998 -> VWAP 1998.333.
    assert slippage_from_mid_bps(book, "sell", 3.0) == pytest.approx((mid - 5995 / 3) / mid * 1e4)
    # Too thin, or one-sided: no figure (the scanner charges the cap instead).
    assert slippage_from_mid_bps(book, "buy", 100.0) is None
    assert slippage_from_mid_bps(_book([(1999.0, 1.0)], []), "sell", 0.5) is None


def test_no_fit_is_visibly_the_fallback() -> None:
    cfg = ScannerConfig(holding_hours=168.0, borrow_stress=1.0)
    p = price_hold(cfg, TERMS, TradeType.REVERSE_BASIS, -0.0003, 8, rev=None,
                   round_trip_fee=0.002, slippage_fraction=0.0)
    assert p.model == "apr_only" and p.holding_hours == 168.0 and p.expected_duration_h is None
    assert p.apr.funding_apr == pytest.approx(0.3285) == p.current_funding_apr


def test_domain_worked_check_through_the_pricing_path() -> None:
    # -0.03 % per 8 h, borrow 8 % (unstressed), 4 x 0.05 % fees, held a fixed 14 days: 19.6 %.
    cfg = ScannerConfig(holding="fixed", holding_hours=14 * 24, borrow_stress=1.0)
    p = price_hold(cfg, TERMS, TradeType.REVERSE_BASIS, -0.0003, 8, rev=None,
                   round_trip_fee=4 * 0.0005, slippage_fraction=0.0,
                   borrow_hourly_rate=0.08 / 8760)
    assert round(p.apr.net_apr * 100, 1) == 19.6
    # The same entry priced over its expected hold: funding from the OU mean path, the same T
    # amortising the fees, borrow stressed.
    rev = Reversion(value=-0.0003, mu=0.0001, sigma_f=0.0001, theta=THETA)
    cfg = ScannerConfig(borrow_stress=1.5)
    p = price_hold(cfg, TERMS, TradeType.REVERSE_BASIS, -0.0003, 8, rev=rev,
                   round_trip_fee=4 * 0.0005, slippage_fraction=0.0004,
                   borrow_hourly_rate=0.08 / 8760)
    hold = 24 * math.log2(4)                          # deviation 4e-4 -> 1e-4 (the flip at 0)
    assert p.model == "ou" and p.holding_hours == pytest.approx(hold)
    mean_rate = ec.mean_expected_funding(-0.0003, 0.0001, THETA, hold)
    assert p.expected_rate == pytest.approx(mean_rate)
    assert p.apr.funding_apr == pytest.approx(-mean_rate * 1095)
    assert p.apr.borrow_apr == pytest.approx(0.12)
    assert p.apr.fee_apr == pytest.approx(0.002 * 8760 / hold)
    assert p.apr.slippage_apr == pytest.approx(0.0004 * 8760 / hold)
    assert p.apr.net_apr == pytest.approx(p.apr.funding_apr - 0.12 - 0.0024 * 8760 / hold)
    assert p.apr.net_apr < 0.196 < p.current_funding_apr   # the instant figure flattered it
    # A pair already open has paid its entry and pays its exit whether it leaves now or later:
    # staying earns the expected funding less the borrow, with no fee term at all.
    assert p.hold_net_apr == pytest.approx(p.apr.funding_apr - 0.12)
    assert p.hold_net_apr > p.apr.net_apr


def test_a_settled_rate_is_carried_forward_by_its_age() -> None:
    rev = Reversion(value=-0.0009, mu=0.0001, sigma_f=0.0001, theta=THETA)
    cfg = ScannerConfig()
    fresh = price_hold(cfg, TERMS, TradeType.REVERSE_BASIS, -0.0009, 8, rev=rev,
                       round_trip_fee=0.0, slippage_fraction=0.0)
    aged = price_hold(cfg, TERMS, TradeType.REVERSE_BASIS, -0.0009, 8, rev=rev,
                      round_trip_fee=0.0, slippage_fraction=0.0, rate_age_h=24.0)
    # 24 h old = one half-life: priced as if today's rate were -0.04 %.
    same = price_hold(cfg, TERMS, TradeType.REVERSE_BASIS, -0.0004, 8,
                      rev=Reversion(value=-0.0004, mu=0.0001, sigma_f=0.0001, theta=THETA),
                      round_trip_fee=0.0, slippage_fraction=0.0)
    assert aged.apr == same.apr and aged.holding_hours == same.holding_hours
    assert aged.apr.funding_apr < fresh.apr.funding_apr
    assert aged.current_funding_apr == fresh.current_funding_apr  # today's rate is still shown

"""Price the hold, not the instant (pure: no clock, no I/O).

A candidate is worth what its funding is expected to pay over the time the strategy will
actually hold it, minus what it costs. With an OU fit of the rate:
- the hold T is the model's expected time for the rate to reach the strategy's exit (the
  mean-reversion band or the funding flip, whichever the mean path meets first), clamped to
  [min_holding_hours, max_holding_hours];
- funding earns the mean of E[F(t)] over T (daemon.core.economics.mean_expected_funding);
- borrow is today's rate times a stress multiple (rates spike exactly when funding is extreme);
- all four fills' fees and the slippage from the mid are amortised over the same T.
Without a fit there is nothing to project: the hold is the configured fallback and the funding
is today's rate, and the result says so (`model = "apr_only"`).

long_short is priced with the hold from the spread fit but today's spread as its funding term
("ou_hold"): the strategy's z-score and flip checks read `apr.funding_apr` of a long/short as
the current spread, so projecting it here would move the strategy's entry band.

The scanner (live books) and the backtest (real funding history) both price through `price_hold`.
"""
from __future__ import annotations

import math

from msgspec import Struct

from daemon.core import economics as ec
from daemon.core.book import OrderBook
from daemon.core.economics import TradeType
from daemon.opportunity.config import ScannerConfig, StrategyConfig

MODEL_OU = "ou"                # funding projected over the hold from the fit
MODEL_OU_HOLD = "ou_hold"      # hold from the fit, funding at today's rate (long_short)
MODEL_APR_ONLY = "apr_only"    # no usable fit: today's rate over the fallback hold


class StrategyTerms(Struct, frozen=True, kw_only=True):
    """What pricing takes from the strategy's configuration, so both use one exit rule."""

    exit_z: float = 0.5             # mean-reversion exit band, in sigma_F
    flip_tolerance: float = 0.0     # per-interval rate the funding may run against the trade
    order_size_usd: float = 1_000.0  # what one entry sends (slippage is walked for this size)

    @classmethod
    def from_strategy(cls, cfg: StrategyConfig) -> StrategyTerms:
        return cls(exit_z=cfg.exit_z, flip_tolerance=cfg.flip_tolerance_pct / 100.0,
                   order_size_usd=cfg.entry_notional_usd)


class Reversion(Struct, frozen=True, kw_only=True):
    """The mean-reversion state of the value the strategy's signals read.

    basis/reverse_basis: the perp's per-interval rate (scale 1). long_short: the APR spread
    short - long (scale = intervals per year of the short venue, the unit the flip tolerance
    is converted with).
    """

    value: float
    mu: float
    sigma_f: float
    theta: float                    # per hour
    scale: float = 1.0


class HoldPrice(Struct, frozen=True, kw_only=True):
    model: str
    apr: ec.AprBreakdown            # funding_apr is the expected funding over the hold
    current_funding_apr: float      # today's rate annualised, for comparison
    holding_hours: float
    expected_duration_h: float | None   # the model's time to the exit, before clamping
    expected_rate: float            # per interval: what the funding term was priced at
    # What staying in an open pair earns over the hold: its entry fills are paid, and its exit
    # fills are paid whether it leaves now or later, so neither belongs in the stay-or-leave
    # test (charging them over a shrinking remaining hold forces an exit after 1-3 settlements).
    hold_net_apr: float


def exit_level(trade: TradeType, rev: Reversion, terms: StrategyTerms) -> tuple[float, bool]:
    """(level, rising): the value at which the strategy's exit fires first on the mean path.

    reverse_basis exits when the rate rises above mu - exit_z sigma_F or above the flip
    tolerance: the lower of the two is met first. basis and long_short mirror it downward.
    """
    flip = terms.flip_tolerance * rev.scale
    if trade is TradeType.REVERSE_BASIS:
        return min(rev.mu - terms.exit_z * rev.sigma_f, flip), True
    return max(rev.mu + terms.exit_z * rev.sigma_f, -flip), False


def hours_to_exit(trade: TradeType, rev: Reversion, terms: StrategyTerms) -> float:
    """Expected hours until the strategy's exit rule fires (inf when the mean path never does)."""
    level, rising = exit_level(trade, rev, terms)
    return ec.hours_to_cross(rev.value, rev.mu, rev.theta, level, rising=rising)


def clamp_hold(cfg: ScannerConfig, hours: float, interval_h: float) -> float:
    """The hold used for pricing: at least one settlement and min_holding_hours, at most the cap."""
    return min(max(hours, cfg.min_holding_hours, interval_h), cfg.max_holding_hours)


def slippage_from_mid_bps(book: OrderBook, taker_side: str, qty: float) -> float | None:
    """Cost of taking ``qty`` measured from the mid, in bps: half the spread plus the walk.

    None when the book is one-sided or too thin for the size.
    """
    mid = book.mid()
    vwap = book.vwap(taker_side, qty)
    if mid is None or vwap is None or not mid > 0:
        return None
    return ((vwap - mid) if taker_side == "buy" else (mid - vwap)) / mid * 1e4


def price_hold(
    cfg: ScannerConfig, terms: StrategyTerms, trade: TradeType, rate: float, interval_h: float,
    *, rev: Reversion | None, round_trip_fee: float, slippage_fraction: float,
    borrow_hourly_rate: float = 0.0, rate_age_h: float = 0.0,
    long_rate: float | None = None, long_interval_h: float | None = None,
) -> HoldPrice:
    """Net APR of a candidate over its expected hold.

    ``rate_age_h``: how long ago ``rate`` applied. A venue's predicted rate is current (0); a
    rate just settled averages the premium over the interval before it, half an interval ago,
    and is carried forward on the mean path before the hold is priced.
    """
    current = ec.trade_funding_apr(trade, rate, interval_h, long_rate, long_interval_h)
    duration: float | None = None
    expected_rate = rate
    model = MODEL_APR_ONLY
    hold = cfg.holding_hours
    if rev is not None and rev.sigma_f > 0 and rev.theta > 0:
        now = rev
        if rate_age_h > 0:
            now = Reversion(value=ec.expected_funding(rev.value, rev.mu, rev.theta, rate_age_h),
                            mu=rev.mu, sigma_f=rev.sigma_f, theta=rev.theta, scale=rev.scale)
        duration = hours_to_exit(trade, now, terms)
        if cfg.holding == "expected":
            hold = clamp_hold(cfg, duration, interval_h)
        if trade is TradeType.LONG_SHORT:
            model = MODEL_OU_HOLD
        else:
            model = MODEL_OU
            expected_rate = ec.mean_expected_funding(now.value, now.mu, now.theta, hold)
    apr = ec.net_apr(
        trade, expected_rate, interval_h, holding_hours=hold,
        round_trip_fee_fraction=round_trip_fee, slippage_fraction_total=slippage_fraction,
        borrow_hourly_rate=borrow_hourly_rate * cfg.borrow_stress,
        long_funding_rate=long_rate, long_interval_hours=long_interval_h,
    )
    return HoldPrice(model=model, apr=apr, current_funding_apr=current, holding_hours=hold,
                     expected_duration_h=None if duration is None or math.isinf(duration)
                     else duration, expected_rate=expected_rate,
                     hold_net_apr=apr.funding_apr - apr.borrow_apr)

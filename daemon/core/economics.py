"""The money maths of the three trades (pure: floats in, floats out, no I/O).

Conventions used throughout, because a sign error here is a loss:
- Rates are fractions, not percent: 0.0001 is 0.01 %.
- APRs are fractions per year (0.3285 = 32.85 %).
- A funding rate > 0 means longs pay shorts; < 0 means shorts pay longs.
- A year is 365 days of 24 h (what venues use when they quote APR).
- Breakdown terms: ``funding_apr`` is what the trade *earns* (negative if the funding runs against
  it); ``borrow_apr``, ``fee_apr`` and ``slippage_apr`` are *costs* (positive = paid).
- OU time unit is hours: theta is per hour, half-life in hours, dt in hours.

See ../shared/DOMAIN.md for the derivations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from enum import Enum

import msgspec

HOURS_PER_YEAR: float = 24.0 * 365.0


class TradeType(str, Enum):
    BASIS = "basis"  # long spot + short perp: earns positive funding
    REVERSE_BASIS = "reverse_basis"  # borrow+sell spot + long perp: earns negative funding
    LONG_SHORT = "long_short"  # long perp on venue A + short perp on venue B: earns F_B - F_A


def _positive(name: str, value: float) -> None:
    # `not value > 0` also rejects NaN, which would otherwise propagate silently into a ranking.
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


# ---------------------------------------------------------------------------------------------
# Funding, basis, borrow, fees, slippage
# ---------------------------------------------------------------------------------------------


def funding_apr(rate: float, interval_hours: float) -> float:
    """Annualise a per-interval rate with the symbol's own interval (8 h is not universal)."""
    _positive("interval_hours", interval_hours)
    return rate * (24.0 / interval_hours) * 365.0


def funding_payment(side_qty_signed: float, mark: float, rate: float) -> float:
    """Cash received (+) or paid (-) at one settlement by a perp position of signed base qty.

    qty > 0 is long, qty < 0 is short. Rate > 0: longs pay shorts, so a long receives
    -qty * mark * rate (negative) and a short receives +|qty| * mark * rate.
    """
    return -side_qty_signed * mark * rate


def basis_bps(mark: float, index: float) -> float:
    """(mark - index) / index in basis points; < 0 is backwardation (goes with negative funding)."""
    _positive("index", index)
    return (mark - index) / index * 10_000.0


def borrow_apr_from_hourly(hourly_rate: float) -> float:
    """Simple annualisation of an hourly borrow rate (what venues display as APR)."""
    return hourly_rate * HOURS_PER_YEAR


def borrow_apy_from_hourly(hourly_rate: float) -> float:
    """Compounded annual cost if hourly interest is capitalised into the liability.

    Binance adds accrued interest to the liability in coin units; a position held for a year
    and never repaid compounds. Use this as the conservative figure for long holds.
    """
    if hourly_rate <= -1.0:
        raise ValueError(f"hourly_rate must be > -1, got {hourly_rate!r}")
    return math.expm1(HOURS_PER_YEAR * math.log1p(hourly_rate))


def round_trip_fee_fraction(*leg_fee_fractions: float) -> float:
    """Total fee as a fraction of notional for all legs of entry and exit (e.g. 4 x taker)."""
    return math.fsum(leg_fee_fractions)


def fee_apr(round_trip_fee_fraction: float, holding_hours: float) -> float:
    """One-off round-trip cost amortised over the expected holding time, as an APR."""
    _positive("holding_hours", holding_hours)
    return round_trip_fee_fraction * HOURS_PER_YEAR / holding_hours


def vwap_for_qty(levels: Iterable[tuple[float, float]], qty: float) -> tuple[float, float]:
    """Walk book levels (price, qty), best first, to fill ``qty``: returns (vwap, filled_qty).

    filled_qty < qty means the visible depth is too thin; the caller decides (cap the size or
    reject). vwap is nan if nothing can be filled.
    """
    _positive("qty", qty)
    remaining = qty
    notional = 0.0
    for price, level_qty in levels:
        if level_qty <= 0.0:
            continue
        take = level_qty if level_qty < remaining else remaining
        notional += take * price
        remaining -= take
        if remaining <= 0.0:
            break
    filled = qty - max(remaining, 0.0)
    return (notional / filled if filled > 0.0 else math.nan), filled


def slippage_fraction(vwap: float, touch: float, side: str) -> float:
    """Cost of walking the book relative to the touch, as a fraction (>= 0 for a sane book).

    side "buy": VWAP above the best ask costs (vwap - touch)/touch;
    side "sell": VWAP below the best bid costs (touch - vwap)/touch.
    """
    _positive("touch", touch)
    if side == "buy":
        return (vwap - touch) / touch
    if side == "sell":
        return (touch - vwap) / touch
    raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")


def slippage_apr(slippage_fraction_total: float, holding_hours: float) -> float:
    """Expected slippage over all legs of entry and exit, amortised like fees."""
    return fee_apr(slippage_fraction_total, holding_hours)


# ---------------------------------------------------------------------------------------------
# Net yield
# ---------------------------------------------------------------------------------------------


class AprBreakdown(msgspec.Struct, frozen=True):
    """Every term of the net APR so the scanner can show its working. Fractions per year."""

    trade_type: str
    funding_apr: float  # earned by this trade (signed: < 0 when funding runs against it)
    borrow_apr: float  # paid
    fee_apr: float  # paid
    slippage_apr: float  # paid
    net_apr: float
    viable: bool  # net_apr > 0


def trade_funding_apr(
    trade_type: TradeType | str,
    funding_rate: float,
    interval_hours: float,
    long_funding_rate: float | None = None,
    long_interval_hours: float | None = None,
) -> float:
    """Funding APR earned by the trade, signed toward the trade.

    Deliberately not |funding APR|: a reverse basis on positive funding pays, and must rank
    below zero rather than look like a winner.
    For LONG_SHORT, ``funding_rate``/``interval_hours`` are the SHORT venue's and
    ``long_funding_rate``/``long_interval_hours`` the LONG venue's; each is annualised with its
    own interval before the difference is taken.
    """
    tt = TradeType(trade_type)
    if tt is TradeType.LONG_SHORT:
        if long_funding_rate is None or long_interval_hours is None:
            raise ValueError("long_short needs long_funding_rate and long_interval_hours")
        return funding_apr(funding_rate, interval_hours) - funding_apr(
            long_funding_rate, long_interval_hours
        )
    if long_funding_rate is not None or long_interval_hours is not None:
        raise ValueError(
            f"long_funding_rate/long_interval_hours only apply to long_short, not {tt.value}"
        )
    apr = funding_apr(funding_rate, interval_hours)
    return apr if tt is TradeType.BASIS else -apr


def net_apr(
    trade_type: TradeType | str,
    funding_rate: float,
    interval_hours: float,
    *,
    holding_hours: float,
    round_trip_fee_fraction: float = 0.0,
    slippage_fraction_total: float = 0.0,
    borrow_hourly_rate: float = 0.0,
    long_funding_rate: float | None = None,
    long_interval_hours: float | None = None,
    compound_borrow: bool = False,
) -> AprBreakdown:
    """net APR = funding earned - borrow - (fees + slippage) amortised over the holding time.

    - basis: earns +funding; borrow normally 0 (pass a rate if the spot is margin-financed).
    - reverse_basis: earns -funding; borrow = the coin's hourly rate, annualised.
    - long_short: funding(short venue) - funding(long venue), see ``trade_funding_apr``.
    ``round_trip_fee_fraction`` and ``slippage_fraction_total`` cover all legs, entry and exit.
    """
    tt = TradeType(trade_type)
    f_apr = trade_funding_apr(
        tt, funding_rate, interval_hours, long_funding_rate, long_interval_hours
    )
    b_apr = (
        borrow_apy_from_hourly(borrow_hourly_rate)
        if compound_borrow
        else borrow_apr_from_hourly(borrow_hourly_rate)
    )
    fe_apr = fee_apr(round_trip_fee_fraction, holding_hours)
    sl_apr = slippage_apr(slippage_fraction_total, holding_hours)
    net = f_apr - b_apr - fe_apr - sl_apr
    return AprBreakdown(
        trade_type=tt.value,
        funding_apr=f_apr,
        borrow_apr=b_apr,
        fee_apr=fe_apr,
        slippage_apr=sl_apr,
        net_apr=net,
        viable=net > 0.0,
    )


# ---------------------------------------------------------------------------------------------
# Hurdle
# ---------------------------------------------------------------------------------------------


def no_arbitrage_funding_apr(r_usd: float, r_asset: float) -> float:
    """r_f* = r_USD - r_asset: the carry a cash-and-carry must beat to be worth doing at all."""
    return r_usd - r_asset


def excess_over_hurdle(trade_net_apr: float, r_usd: float, r_asset: float) -> float:
    """How much the trade's net APR beats simply lending the stable coin (r_f* benchmark)."""
    return trade_net_apr - no_arbitrage_funding_apr(r_usd, r_asset)


def leveraged_return(leverage: float, b: float, r_usd: float, r_asset: float) -> float:
    """l * (b - r_USD + r_asset) + r_USD: leverage scales the edge over r_f* and the drawdown."""
    return leverage * (b - r_usd + r_asset) + r_usd


# ---------------------------------------------------------------------------------------------
# Mean reversion (Ornstein-Uhlenbeck via AR(1))
# ---------------------------------------------------------------------------------------------


class NoMeanReversion(ValueError):
    """The AR(1) slope is outside (0, 1): the series is not a usable OU process."""


class OUFit(msgspec.Struct, frozen=True):
    theta: float  # mean-reversion speed, per hour
    mu: float  # long-run mean of the rate
    sigma_f: float  # stationary standard deviation of the rate: sd(eps)/sqrt(1-b^2)
    sigma: float  # diffusion sigma of dF = theta(mu-F)dt + sigma dW, per sqrt(hour)
    half_life_hours: float  # ln 2 / theta
    a: float  # AR(1) intercept
    b: float  # AR(1) slope
    resid_sd: float
    dt_hours: float
    n: int  # number of samples fitted


def fit_ou(samples: Sequence[float], dt_hours: float) -> OUFit:
    """OLS AR(1) F[t+1] = a + b F[t] + e on evenly spaced samples -> OU parameters.

    Raises NoMeanReversion when b <= 0 (no exponential decay: ln b undefined, the series
    over-corrects every step) or b >= 1 (unit root/explosive: no mean to revert to).
    Raises ValueError for fewer than 3 samples or a constant series.
    """
    _positive("dt_hours", dt_hours)
    n = len(samples)
    if n < 3:
        raise ValueError(f"need at least 3 samples for an AR(1) fit, got {n}")
    x = samples[:-1]
    y = samples[1:]
    m = n - 1
    mx = math.fsum(x) / m
    my = math.fsum(y) / m
    sxx = math.fsum((xi - mx) * (xi - mx) for xi in x)
    if not sxx > 0.0:
        raise ValueError("constant series: the AR(1) slope is undefined")
    sxy = math.fsum((xi - mx) * (yi - my) for xi, yi in zip(x, y))
    b = sxy / sxx
    a = my - b * mx
    if b <= 0.0:
        raise NoMeanReversion(f"AR(1) slope b={b:.6g} <= 0: no exponential mean reversion")
    if b >= 1.0:
        raise NoMeanReversion(f"AR(1) slope b={b:.6g} >= 1: unit root or explosive, no mean")
    # OLS with two fitted parameters leaves m - 2 degrees of freedom.
    ssr = math.fsum((yi - a - b * xi) ** 2 for xi, yi in zip(x, y))
    resid_sd = math.sqrt(ssr / (m - 2)) if m > 2 else 0.0
    theta = -math.log(b) / dt_hours
    sigma_f = resid_sd / math.sqrt(1.0 - b * b)
    return OUFit(
        theta=theta,
        mu=a / (1.0 - b),
        sigma_f=sigma_f,
        sigma=sigma_f * math.sqrt(2.0 * theta),
        half_life_hours=math.log(2.0) / theta,
        a=a,
        b=b,
        resid_sd=resid_sd,
        dt_hours=dt_hours,
        n=n,
    )


def zscore(f: float, mu: float, sigma: float) -> float:
    _positive("sigma", sigma)
    return (f - mu) / sigma


class Signal(str, Enum):
    ENTER = "enter"
    EXIT = "exit"
    HOLD = "hold"  # in a position, no exit condition
    NONE = "none"  # flat, no entry condition


def entry_signal(
    trade_type: TradeType | str, f: float, mu: float, sigma_f: float, entry_k: float = 2.0
) -> bool:
    """Funding stretched far enough from its mean, in the direction the trade earns.

    reverse_basis: F < mu - k sigma_F. basis: F > mu + k sigma_F. long_short: pass the spread
    F = funding(short venue) - funding(long venue) (per-interval or APR, consistently with mu and
    sigma_F); it earns like a basis so the basis rule applies.
    """
    _positive("sigma_f", sigma_f)
    if TradeType(trade_type) is TradeType.REVERSE_BASIS:
        return f < mu - entry_k * sigma_f
    return f > mu + entry_k * sigma_f


def exit_signal(
    trade_type: TradeType | str,
    f: float,
    mu: float,
    sigma_f: float,
    trade_net_apr: float,
    exit_k: float = 0.5,
) -> bool:
    """Funding has mostly reverted, or the trade no longer pays for itself.

    reverse_basis: F > mu - k sigma_F or net APR <= 0. basis/long_short: F < mu + k sigma_F or
    net APR <= 0. The gap between entry_k and exit_k is the hysteresis that prevents churn.
    """
    _positive("sigma_f", sigma_f)
    if not trade_net_apr > 0.0:
        return True
    if TradeType(trade_type) is TradeType.REVERSE_BASIS:
        return f > mu - exit_k * sigma_f
    return f < mu + exit_k * sigma_f


def mr_signal(
    trade_type: TradeType | str,
    f: float,
    mu: float,
    sigma_f: float,
    trade_net_apr: float,
    in_position: bool,
    entry_k: float = 2.0,
    exit_k: float = 0.5,
) -> Signal:
    """One call for the strategy: ENTER/NONE when flat, EXIT/HOLD when in a position.

    Entry also requires a positive net APR: a stretched rate that does not cover its costs is
    not a trade.
    """
    if in_position:
        if exit_signal(trade_type, f, mu, sigma_f, trade_net_apr, exit_k):
            return Signal.EXIT
        return Signal.HOLD
    if trade_net_apr > 0.0 and entry_signal(trade_type, f, mu, sigma_f, entry_k):
        return Signal.ENTER
    return Signal.NONE


def expected_duration_hours(f: float, mu: float, theta: float, target: float) -> float:
    """Expected hours until |F - mu| decays to ``target``: ln(|F - mu| / target) / theta.

    Under OU the expected deviation decays as |F0 - mu| e^{-theta t}, so the time is
    ln(ratio)/theta = half_life * log2(ratio). (DOMAIN.md writes half_life * ln(ratio), which is
    this divided by ln 2, i.e. 31 % too short; the exact form is used here.)
    Returns 0.0 when F is already within target of mu (nothing left to wait for).
    """
    _positive("theta", theta)
    _positive("target", target)
    dev = abs(f - mu)
    if dev <= target:
        return 0.0
    return math.log(dev / target) / theta


def expected_duration_from_half_life(
    f: float, mu: float, half_life_hours: float, target: float
) -> float:
    """Same as ``expected_duration_hours`` for callers holding a half-life rather than theta."""
    _positive("half_life_hours", half_life_hours)
    return expected_duration_hours(f, mu, math.log(2.0) / half_life_hours, target)


# ---------------------------------------------------------------------------------------------
# Pricing the hold, not the instant
# ---------------------------------------------------------------------------------------------


def expected_funding(f0: float, mu: float, theta: float, t_hours: float) -> float:
    """E[F(t)] = mu + (F0 - mu) e^(-theta t): the OU mean path from F0."""
    _positive("theta", theta)
    if t_hours < 0:
        raise ValueError(f"t_hours must be >= 0, got {t_hours!r}")
    return mu + (f0 - mu) * math.exp(-theta * t_hours)


def mean_reversion_factor(theta: float, hold_hours: float) -> float:
    """(1 - e^(-theta T)) / (theta T): the share of today's deviation a hold of T keeps on average.

    1 at T = 0 (the hold earns today's rate), -> 0 as T grows (it earns the mean). expm1 keeps
    the small-T end exact instead of cancelling 1 - 1.
    """
    _positive("theta", theta)
    if hold_hours < 0:
        raise ValueError(f"hold_hours must be >= 0, got {hold_hours!r}")
    x = theta * hold_hours
    if x < 1e-12:
        return 1.0
    return -math.expm1(-x) / x


def mean_expected_funding(f0: float, mu: float, theta: float, hold_hours: float) -> float:
    """Mean of E[F(t)] over a hold of T hours: mu + (F0 - mu)(1 - e^(-theta T))/(theta T).

    A net APR that assumes F0 lasts the whole hold overstates an entry made at an extreme; this
    is what the same rate is expected to pay on average while the position is held.
    """
    return mu + (f0 - mu) * mean_reversion_factor(theta, hold_hours)


def hours_to_cross(f0: float, mu: float, theta: float, level: float, *, rising: bool) -> float:
    """Hours until the mean path E[F(t)] from F0 crosses ``level`` (upward if ``rising``).

    0 when F0 is already at or past the level in that direction; inf when the mean path never
    gets there (it only approaches mu, so a level at mu or beyond is never reached).
    """
    _positive("theta", theta)
    if not rising:
        return hours_to_cross(-f0, -mu, theta, -level, rising=True)
    if f0 >= level:
        return 0.0
    if mu <= level:
        return math.inf
    return math.log((mu - f0) / (mu - level)) / theta

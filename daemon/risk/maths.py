"""Liquidation maths for both legs of a pair (pure: floats in, floats out, no I/O).

Conventions, because a sign error here liquidates someone:
- Prices and values are in the quote stable coin (USDT). Quantities are base-coin units.
- A *distance* is a signed fraction of the current price: how far the price must move against the
  leg before it is liquidated. > 0 is safe, <= 0 means at or beyond the liquidation price.
  A leg hurt by a rise (margin short, perp short) has direction UP (+1); a leg hurt by a fall
  (perp long, margin long) has direction DOWN (-1). distance = direction * (liq - mark) / mark.
- A *shock* is a signed fractional price move applied to every moving asset (or one of them).
- `math.inf` distance means "no price can liquidate this leg" (e.g. a long perp whose wallet
  covers the whole notional).

Cross margin (Binance): margin level ML = total assets / (liabilities + interest), all valued in
USDT; force liquidation at ML <= `forceLiquidationBar` (1.1 on Binance classic). The account is
evaluated as a whole: every coin held or owed counts, so several pairs sharing one account share
one fate. Two views are computed and the nearer wins: one coin moving alone (the others fixed),
and every non-stable coin moving together (crypto is correlated in a crash or a squeeze).

USD-M perpetuals (Binance): maintenance margin = notional * maintMarginRatio - cum, where the
bracket is the one the notional falls in (`GET /fapi/v1/leverageBracket`). The liquidation price
solves  WB - TMM1 + UPNL1 + cumB + side*Q*(LP - EP) = Q*LP*MMR  (WB: cross wallet balance, or the
isolated wallet; TMM1 / UPNL1: maintenance and unrealised PnL of the *other* cross positions).
Layout: the shared distance helpers are in daemon/risk/distance.py, the cross-margin half
(MarginAsset, margin_*, MarginBook) in daemon/risk/margin.py, the USD-M half (Bracket, perp_*) in
daemon/risk/perp.py. This module combines the two legs (proportional deleverage, hedge drift)
and re-exports every public name, so `from daemon.risk.maths import ...` and `risk.X` keep working.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from daemon.risk.distance import DOWN, UP, distance, shocked_price
from daemon.risk.margin import (
    FORCE_LIQUIDATION_BAR, MarginAsset, MarginBook, margin_after_buyback, margin_after_sale, margin_asset_distance,
    margin_collateral_needed, margin_distance_after_trim, margin_excess, margin_level,
    margin_liq_price, margin_liq_shock, margin_short_distance, margin_totals, margin_transferable,
    margin_with_deposit,
)
from daemon.risk.perp import (
    FALLBACK_MMR, Bracket, bracket_for, fallback_tiers, flat_brackets, maint_margin, nearer_liq, perp_collateral_needed,
    perp_distance, perp_distance_after_trim, perp_liq_price, perp_margin_balance,
    perp_transferable,
)

__all__ = [
    "DOWN", "FALLBACK_MMR", "FORCE_LIQUIDATION_BAR", "UP", "Bracket", "MarginAsset", "MarginBook",
    "bracket_for", "deleverage_fraction", "distance", "fallback_tiers", "flat_brackets", "hedge_gap",
    "largest_size", "maint_margin", "margin_after_buyback",
    "margin_after_sale", "margin_asset_distance", "margin_collateral_needed",
    "margin_distance_after_trim", "margin_excess", "margin_level", "margin_liq_price", "margin_liq_shock", "margin_short_distance", "margin_totals", "margin_transferable",
    "margin_with_deposit", "nearer_liq", "perp_collateral_needed", "perp_distance",
    "perp_distance_after_trim", "perp_liq_price", "perp_margin_balance", "perp_transferable",
    "shocked_price", "solve_fraction",
]


# ---------------------------------------------------------------------------------------------
# Proportional deleverage
# ---------------------------------------------------------------------------------------------


def solve_fraction(ok: Callable[[float], bool], tol: float = 1e-4) -> float:
    """Smallest f in [0, 1] with ok(f) (ok monotone: once true stays true); 1.0 if none."""
    if ok(0.0):
        return 0.0
    if not ok(1.0):
        return 1.0
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def largest_size(ok: Callable[[float], bool], upper: float = math.inf, tol: float = 1e-9) -> float:
    """Largest size s in [0, upper] with ok(s), for an ok that once false stays false as s grows
    (a liquidation distance that shrinks with size). The answer always satisfies ok (it errs
    small by at most `tol` of the bracket); 0.0 when only nothing does. An unbounded `upper` is
    bracketed by doubling from 1."""
    if upper <= 0 or not ok(0.0):
        return 0.0
    if not math.isfinite(upper):
        upper = 1.0
        while ok(upper):
            if upper > 1e18:
                return math.inf    # no size breaks it (e.g. nothing can liquidate the leg)
            upper *= 2.0
    # solve_fraction finds the smallest shrink x with ok(upper * (1 - x)).
    bound = upper
    return bound * (1.0 - solve_fraction(lambda x: ok(bound * (1.0 - x)), tol))


def deleverage_fraction(
    *,
    target: float,
    margin_assets: Sequence[MarginAsset] | None = None,
    margin_asset: str = "",
    margin_qty: float = 0.0,
    margin_bar: float = FORCE_LIQUIDATION_BAR,
    perp_qty: float = 0.0,
    perp_entry: float = 0.0,
    perp_wallet: float = 0.0,
    perp_brackets: Sequence[Bracket] = (),
    perp_mark: float = 0.0,
    perp_other_mm: float = 0.0,
    perp_other_upnl: float = 0.0,
    cost_fraction: float = 0.0,
) -> float:
    """Fraction f of both legs to close (in proportion, so the pair stays hedged) after which
    each leg is at least `target` away from liquidation."""

    def ok(f: float) -> bool:
        if margin_assets is not None and margin_qty != 0:
            if margin_distance_after_trim(margin_assets, margin_asset, margin_qty, f, margin_bar,
                                          cost_fraction) < target:
                return False
        if perp_qty != 0:
            if perp_distance_after_trim(perp_qty, perp_entry, perp_wallet, perp_brackets, perp_mark, f,
                                        cost_fraction, perp_other_mm, perp_other_upnl) < target:
                return False
        return True

    return solve_fraction(ok)


# ---------------------------------------------------------------------------------------------
# Hedge drift (interest accrues in coin units)
# ---------------------------------------------------------------------------------------------


def hedge_gap(short_liability: float, perp_long_qty: float) -> float:
    """Coins the perp long is short of covering the margin liability (> 0: re-hedge up)."""
    return short_liability - perp_long_qty

"""USD-M perpetual liquidation maths, tiered maintenance margin (pure: floats in, floats out).

Maintenance margin = notional * maintMarginRatio - cum, where the bracket is the one the notional
falls in (`GET /fapi/v1/leverageBracket`). The liquidation price solves
WB - TMM1 + UPNL1 + cumB + side*Q*(LP - EP) = Q*LP*MMR  (WB: cross wallet balance, or the isolated
wallet; TMM1 / UPNL1: maintenance and unrealised PnL of the *other* cross positions).
Conventions (prices in USDT, quantities in coins, signed distances): see daemon/risk/maths.py.

This is the one home of the perp liquidation price: the watchdog, pre-flight and strategy sizing
all reach `perp_liq_price` (through `perp_distance`), with the venue's tiers when known and the
one fallback tier (`FALLBACK_MMR`) otherwise.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from msgspec import Struct

from daemon.risk.distance import DOWN, UP, distance, shocked_price

__all__ = [
    "FALLBACK_MMR", "Bracket", "bracket_for", "flat_brackets", "fallback_tiers", "maint_margin", "nearer_liq", "perp_collateral_needed",
    "perp_distance", "perp_distance_after_trim", "perp_liq_price", "perp_margin_balance",
    "perp_transferable",
]


# Maintenance ratio of the single tier assumed while a symbol's leverage brackets are unknown.
# 1 % is Binance's first-tier ratio on its 50x symbols, 2.5x BTCUSDT's 0.4 %: an unknown symbol is
# judged no safer than a mid-cap until the venue's `leverageBracket` says otherwise.
FALLBACK_MMR = 0.01


class Bracket(Struct, frozen=True, kw_only=True):
    """One tier of `GET /fapi/v1/leverageBracket` (field names as Binance sends them)."""

    bracket: int
    initialLeverage: int
    notionalCap: float
    notionalFloor: float
    maintMarginRatio: float
    cum: float


def bracket_for(brackets: Sequence[Bracket], notional: float) -> Bracket:
    """The tier a notional falls in (floor < notional <= cap; the last tier beyond its cap)."""
    if not brackets:
        raise ValueError("no leverage brackets")
    n = abs(notional)
    for b in brackets:
        if n <= b.notionalCap:
            return b
    return brackets[-1]


def maint_margin(brackets: Sequence[Bracket], notional: float) -> float:
    """notional * maintMarginRatio - cum, with the tier of that notional (never < 0)."""
    n = abs(notional)
    b = bracket_for(brackets, n)
    return max(n * b.maintMarginRatio - b.cum, 0.0)


def flat_brackets(mmr: float) -> tuple[Bracket, ...]:
    """A single tier: used when the venue's brackets are not known yet (pass a conservative mmr)."""
    return (Bracket(bracket=1, initialLeverage=1, notionalCap=math.inf, notionalFloor=0.0,
                    maintMarginRatio=mmr, cum=0.0),)


def fallback_tiers(brackets: Sequence[Bracket] | None, mmr: float = FALLBACK_MMR) -> tuple[Bracket, ...]:
    """The venue's tiers when known, else the one flat tier of `mmr`."""
    return tuple(brackets or ()) or flat_brackets(mmr)


def perp_liq_price(qty: float, entry: float, wallet: float, brackets: Sequence[Bracket],
                   other_mm: float = 0.0, other_upnl: float = 0.0) -> float | None:
    """Binance's liquidation price of a one-way position of signed `qty` at `entry`.

    Cross: `wallet` is the cross wallet balance and `other_*` the other cross positions; isolated:
    `wallet` is the isolated wallet and the others are 0. Margin balance minus maintenance is
    monotone in the price (slope q*(1 - mmr)), so exactly one tier holds the root: solve per tier
    and keep the solution whose notional falls in that tier. None: no positive price liquidates
    (a long covered down to zero); 0.0: a short already beyond maintenance at any price."""
    if qty == 0:
        return None
    side = 1.0 if qty > 0 else -1.0
    q = abs(qty)
    base = wallet - other_mm + other_upnl - side * q * entry
    for b in brackets:
        lp = (base + b.cum) / (q * b.maintMarginRatio - side * q)
        if lp <= 0:
            continue
        if b.notionalFloor <= q * lp <= b.notionalCap:
            return lp
    if side < 0:
        return 0.0 if base + brackets[0].cum <= 0 else _fallback_liq(q, side, entry, base, brackets)
    # A long with no root above zero is never liquidated; a root may still exist if the input
    # tiers are inconsistent (cum not continuous): use the entry notional's tier then.
    lp = _fallback_liq(q, side, entry, base, brackets)
    return lp if lp is not None and lp > 0 else None


def _fallback_liq(q: float, side: float, entry: float, base: float,
                  brackets: Sequence[Bracket]) -> float | None:
    b = bracket_for(brackets, q * entry)
    lp = (base + b.cum) / (q * b.maintMarginRatio - side * q)
    return lp if lp > 0 else None


def perp_margin_balance(qty: float, entry: float, wallet: float, price: float,
                        other_upnl: float = 0.0) -> float:
    return wallet + qty * (price - entry) + other_upnl


def perp_collateral_needed(qty: float, entry: float, wallet: float, brackets: Sequence[Bracket],
                           mark: float, target: float, other_mm: float = 0.0,
                           other_upnl: float = 0.0) -> float:
    """USDT to add to the futures wallet so the position survives a `target` move against it."""
    if qty == 0:
        return 0.0
    direction = DOWN if qty > 0 else UP
    p = shocked_price(mark, target, direction)
    if p <= 0:
        p = 0.0
    need = maint_margin(brackets, qty * p) + other_mm - perp_margin_balance(qty, entry, wallet, p, other_upnl)
    return max(need, 0.0)


def perp_transferable(qty: float, entry: float, wallet: float, brackets: Sequence[Bracket],
                      mark: float, target: float, venue_available: float,
                      other_mm: float = 0.0, other_upnl: float = 0.0) -> float:
    """USDT that may leave the futures wallet: what the venue lets go (`maxWithdrawAmount`) and
    no more than keeps this position `target` away from liquidation."""
    if qty == 0:
        return max(0.0, venue_available)
    direction = DOWN if qty > 0 else UP
    p = max(shocked_price(mark, target, direction), 0.0)
    surplus = perp_margin_balance(qty, entry, wallet, p, other_upnl) - maint_margin(brackets, qty * p) - other_mm
    # Unrealised profit cannot be withdrawn on Binance: cap by the wallet less losses at the mark.
    cash = wallet + min(qty * (mark - entry), 0.0)
    return max(0.0, min(venue_available, surplus, cash))


def nearer_liq(mark: float, direction: int, own: float | None, venue: float | None) -> float | None:
    """The liquidation price nearer to the mark, of ours and the venue's (0 / None = none)."""
    cands = [p for p in (own, venue) if p is not None and p > 0 and math.isfinite(p)]
    if direction == DOWN:
        # a long: venue says 0 when no price liquidates; our figure can still be positive
        return max(cands) if cands else None
    return min(cands) if cands else None


def perp_distance(qty: float, entry: float, wallet: float, brackets: Sequence[Bracket], mark: float,
                  venue_liq: float | None = None, other_mm: float = 0.0,
                  other_upnl: float = 0.0) -> tuple[float, float | None]:
    """(distance, liquidation price used): own formula and the venue's figure, nearer wins."""
    if qty == 0:
        return math.inf, None
    direction = DOWN if qty > 0 else UP
    own = perp_liq_price(qty, entry, wallet, brackets, other_mm, other_upnl)
    liq = nearer_liq(mark, direction, own, venue_liq)
    return distance(mark, liq, direction), liq


def perp_distance_after_trim(qty: float, entry: float, wallet: float, brackets: Sequence[Bracket],
                             mark: float, f: float, cost_fraction: float = 0.0, other_mm: float = 0.0,
                             other_upnl: float = 0.0) -> float:
    """Own-formula distance after closing fraction f at the mark (PnL realised into the wallet)."""
    realised = f * qty * (mark - entry) - abs(f * qty) * mark * cost_fraction
    q = (1.0 - f) * qty
    if abs(q) <= 1e-12 * max(abs(qty), 1e-300):
        return math.inf
    return perp_distance(q, entry, wallet + realised, brackets, mark, None, other_mm, other_upnl)[0]

"""Signed liquidation distances, shared by the margin and the perp maths (pure).

A *distance* is a signed fraction of the current price: how far the price must move against the
leg before it is liquidated. > 0 is safe, <= 0 means at or beyond the liquidation price. A leg
hurt by a rise (margin short, perp short) has direction UP (+1); a leg hurt by a fall (perp long,
margin long) has direction DOWN (-1). distance = direction * (liq - mark) / mark; `math.inf`
means no price can liquidate the leg.
"""
from __future__ import annotations

import math

UP = 1
DOWN = -1


def distance(mark: float, liq: float | None, direction: int) -> float:
    """Signed fraction the price may move against the leg before liquidation (inf: never)."""
    if liq is None or not math.isfinite(liq):
        return math.inf
    if mark <= 0:
        raise ValueError(f"mark must be > 0, got {mark!r}")
    return direction * (liq - mark) / mark


def shocked_price(mark: float, distance_: float, direction: int) -> float:
    """The price at which a leg of `direction` would sit `distance_` from the current mark."""
    return mark * (1.0 + direction * distance_)

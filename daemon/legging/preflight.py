"""Pre-flight checks before any order of an open/increase (pure over a hub snapshot).

A failed check refuses the operation with the reason; nothing is sent.
"""
from __future__ import annotations

import math

from msgspec import Struct

from connectors.types import InstrumentKey
from daemon.hub import Hub
from daemon.legging.config import LeggingConfig
from daemon.core.pairs import Leg

HUB_MARKET = {"spot_margin": "spot", "perp": "perp"}
# Binance cross margin liquidates at margin level 1.1; USD-M maintenance margin of the first tier.
FORCE_LIQUIDATION_BAR = 1.1
PERP_MMR = 0.004


class PreflightError(ValueError):
    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class LegPlan(Struct, kw_only=True):
    side: str
    qty: float
    touch: float
    slippage_bps: float
    liq_distance_pct: float


def leg_key(leg: Leg) -> InstrumentKey:
    return InstrumentKey(leg.venue, HUB_MARKET[leg.market], leg.symbol)


def spot_short_liq_distance_pct(collateral: float, qty: float, price: float) -> float:
    """Price rise (%) that takes a cross-margin short to the liquidation bar:
    ML(P) = (C + q P0) / (q P) -> P_liq = (C + q P0) / (1.1 q)."""
    if qty <= 0 or price <= 0:
        return 100.0
    p_liq = (collateral + qty * price) / (FORCE_LIQUIDATION_BAR * qty)
    return (p_liq / price - 1.0) * 100.0


def perp_liq_distance_pct(wallet: float, qty: float, price: float, mmr: float = PERP_MMR) -> float:
    """Cross USD-M: the price move (%) that eats the wallet down to maintenance margin."""
    notional = qty * price
    if notional <= 0:
        return 100.0
    return max(0.0, (wallet - mmr * notional) / notional * 100.0)


def check(hub: Hub, cfg: LeggingConfig, legs: tuple[Leg, Leg], qty: float,
          now_ms: int, extra_liability: tuple[float, float] = (0.0, 0.0)) -> list[LegPlan]:
    """Raise PreflightError naming the first failed check; else the plan of both legs."""
    if not (qty > 0 and math.isfinite(qty)):
        raise PreflightError("size rounds to zero at the venue's lot step", "notional_usd")
    plans: list[LegPlan] = []
    for i, leg in enumerate(legs):
        key = leg_key(leg)
        if key not in hub.instruments:
            raise PreflightError(f"{leg.venue} does not list {leg.symbol} ({key.market})", "symbol")
        ok, why = hub.book_ready(key, cfg.book_max_age_ms, now_ms)
        if not ok:
            raise PreflightError(f"book not ready: {why}")
        book = hub.books[key]
        side = leg.side
        touch_level = book.best_ask() if side == "BUY" else book.best_bid()
        assert touch_level is not None     # book_ready checked two-sidedness
        slip = book.slippage_bps(side.lower(), qty)
        if slip is None or slip > cfg.slippage_cap_bps:
            shown = "not enough depth" if slip is None else f"{slip:.1f} bps"
            raise PreflightError(f"expected slippage on {leg.venue} {key.market} {leg.symbol} for "
                                 f"{qty:g}: {shown} > cap {cfg.slippage_cap_bps:g} bps",
                                 "notional_usd")
        touch = touch_level[0]
        if leg.market == "spot_margin":
            base = hub.instruments[key].base
            if leg.borrows:
                borrow = hub.borrow.get((leg.venue, base))
                if borrow is None:
                    raise PreflightError(f"no borrow rate known for {base} on {leg.venue}")
                if borrow.max_borrowable is not None and borrow.max_borrowable < qty:
                    raise PreflightError(f"max borrowable {borrow.max_borrowable:g} {base} < "
                                         f"{qty:g} on {leg.venue}", "notional_usd")
                usdt = hub.balances.get((leg.venue, "margin", hub.instruments[key].quote))
                collateral = usdt.net if usdt is not None else 0.0
                dist = spot_short_liq_distance_pct(collateral, qty + extra_liability[i], touch)
            else:
                dist = 100.0
        else:
            quote = hub.instruments[key].quote
            wallet = hub.balances.get((leg.venue, "futures", quote))
            w = (wallet.free + wallet.locked) if wallet is not None else 0.0
            dist = perp_liq_distance_pct(w, qty + extra_liability[i], touch)
        if dist < cfg.liq_distance_floor_pct:
            raise PreflightError(f"{leg.venue} {key.market} leg would start {dist:.1f}% from "
                                 f"liquidation (< floor {cfg.liq_distance_floor_pct:g}%): add "
                                 "collateral or reduce size", "notional_usd")
        plans.append(LegPlan(side=side, qty=qty, touch=touch, slippage_bps=slip,
                             liq_distance_pct=dist))
    return plans

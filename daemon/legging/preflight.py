"""Pre-flight checks before any order of an open/increase (pure over a hub snapshot).

A failed check refuses the operation with the reason; nothing is sent.

Liquidation distances are the watchdog's: the account the venue judges (every coin of the cross
margin wallet, every position on the futures wallet) as it will stand right after both legs
fill at the touch, through daemon/risk/margin.py (MarginBook) and daemon/risk/perp.py
(`perp_distance` -> `perp_liq_price`). No liquidation formula lives here.
"""
from __future__ import annotations

import math

from msgspec import Struct

from connectors.types import InstrumentKey
from daemon.core.accounting import LegBook, apply_fill
from daemon.core.pairs import Leg
from daemon.hub import Hub
from daemon.legging.config import LeggingConfig
from daemon.risk.inputs import BracketSource, FuturesBook, liquidation_bar, margin_assets
from daemon.risk.margin import (
    FORCE_LIQUIDATION_BAR, MarginAsset, MarginBook, margin_short_distance,
)
from daemon.risk.perp import FALLBACK_MMR, Bracket, fallback_tiers, perp_distance

HUB_MARKET = {"spot_margin": "spot", "perp": "perp"}
# What a leg that cannot be liquidated reports (a long spot leg, a long perp its wallet covers).
NO_LIQUIDATION_PCT = 100.0


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
    liq_price: float | None = None     # where the leg would be liquidated (None: no price does)


def leg_key(leg: Leg) -> InstrumentKey:
    return InstrumentKey(leg.venue, HUB_MARKET[leg.market], leg.symbol)


def distance_pct(distance: float) -> float:
    """A signed distance (fraction) as the percent pre-flight reports; 0 at or beyond the price."""
    if not math.isfinite(distance):
        return NO_LIQUIDATION_PCT
    return max(distance, 0.0) * 100.0


def _no_brackets(_venue: str, _symbol: str) -> None:
    return None


# ---------------------------------------------------------------------------------------------
# One leg alone on its wallet (what the engine shows when the watchdog has no figure)
# ---------------------------------------------------------------------------------------------


def spot_short_liq_distance_pct(collateral: float, qty: float, price: float, *,
                                bar: float = FORCE_LIQUIDATION_BAR) -> float:
    """Price rise (%) that takes a cross-margin short of `qty` coins, sold at `price` on
    `collateral` USDT and alone in the account, to the force-liquidation bar."""
    if qty <= 0 or price <= 0:
        return NO_LIQUIDATION_PCT
    return distance_pct(margin_short_distance(collateral, qty, price, bar))


def perp_liq_distance_pct(wallet: float, qty: float, price: float, mmr: float = FALLBACK_MMR, *,
                          brackets: tuple[Bracket, ...] | None = None) -> float:
    """Price move (%) that takes a USD-M position of signed `qty` (> 0 long) entered at `price`,
    alone on a cross `wallet`, to maintenance margin (the venue's tiers when given)."""
    if qty == 0 or price <= 0:
        return NO_LIQUIDATION_PCT
    return distance_pct(perp_distance(qty, price, wallet, fallback_tiers(brackets, mmr), price)[0])


# ---------------------------------------------------------------------------------------------
# Both legs on the accounts as they stand (the check)
# ---------------------------------------------------------------------------------------------


def _margin_short_after(hub: Hub, leg: Leg, key: InstrumentKey, qty: float, touch: float,
                        known: float) -> tuple[float, float | None, float]:
    """(distance, liquidation price, margin level) of the venue's cross-margin account after
    borrowing `qty` more of the coin and selling it at `touch`. `known`: coins the engine knows
    this pair already owes; what the account does not show yet (a fill whose balance update is
    still in flight) is counted as borrowed and sold at the touch too."""
    inst = hub.instruments[key]
    assets, priced = margin_assets(hub, leg.venue)
    if not priced:
        raise PreflightError(f"cannot value the {leg.venue} margin account: a coin held or owed "
                             "has no price")
    owed = sum(a.liability for a in assets if a.asset == inst.base)
    borrow = qty + max(known - owed, 0.0)
    # The account right after the sale, valued at the price the coin is sold at.
    after = [a if a.asset != inst.base else MarginAsset(asset=a.asset, held=a.held,
                                                        liability=a.liability, price=touch,
                                                        moves=a.moves) for a in assets]
    after.append(MarginAsset(asset=inst.base, liability=borrow, price=touch))
    after.append(MarginAsset(asset=inst.quote, held=borrow * touch, moves=False))
    book = MarginBook(after)
    bar = liquidation_bar(hub, leg.venue)
    liq, _direction = book.liq_price(inst.base, bar)
    return book.distance(inst.base, bar), liq, book.level()


def _perp_after(hub: Hub, leg: Leg, key: InstrumentKey, qty: float, touch: float, known: float,
                brackets: BracketSource) -> tuple[float, float | None]:
    """(distance, liquidation price) of the venue's position on `leg.symbol` after `qty` more at
    `touch` in the leg's direction, on the futures wallet with the other positions on it.
    `known`: coins the engine knows this pair already holds (see `_margin_short_after`)."""
    inst = hub.instruments[key]
    pos = hub.positions.get((leg.venue, leg.symbol))
    held = pos.qty if pos is not None else 0.0
    entry = pos.entry_price if pos is not None and pos.entry_price > 0 else touch
    sign = 1.0 if leg.side == "BUY" else -1.0
    position = LegBook(qty=held, avg_price=entry)
    apply_fill(position, leg.side, qty + max(known - max(sign * held, 0.0), 0.0), touch)
    bal = hub.balances.get((leg.venue, "futures", inst.quote))
    wallet = (bal.free + bal.locked) if bal is not None else 0.0
    other_mm, other_upnl = FuturesBook(hub, leg.venue, brackets, FALLBACK_MMR).others(leg.symbol)
    if position.qty == 0:
        return math.inf, None
    return perp_distance(position.qty, position.avg_price, wallet + position.realised,
                         fallback_tiers(brackets(leg.venue, leg.symbol)), touch, None,
                         other_mm, other_upnl)


def check(hub: Hub, cfg: LeggingConfig, legs: tuple[Leg, Leg], qty: float,
          now_ms: int, extra_liability: tuple[float, float] = (0.0, 0.0), *,
          brackets: BracketSource | None = None) -> list[LegPlan]:
    """Raise PreflightError naming the first failed check; else the plan of both legs.

    `extra_liability`: coins each leg of the pair already holds (an increase); `brackets`: the
    venue's leverage brackets per (venue, symbol), the one fallback tier when None."""
    if not (qty > 0 and math.isfinite(qty)):
        raise PreflightError("size rounds to zero at the venue's lot step", "notional_usd")
    tiers = brackets if brackets is not None else _no_brackets
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
        liq: float | None = None
        level = ""
        if leg.market == "spot_margin":
            base = hub.instruments[key].base
            if leg.borrows:
                borrow = hub.borrow.get((leg.venue, base))
                if borrow is None:
                    raise PreflightError(f"no borrow rate known for {base} on {leg.venue}")
                if borrow.max_borrowable is not None and borrow.max_borrowable < qty:
                    raise PreflightError(f"max borrowable {borrow.max_borrowable:g} {base} < "
                                         f"{qty:g} on {leg.venue}", "notional_usd")
                distance, liq, ml = _margin_short_after(hub, leg, key, qty, touch,
                                                        extra_liability[i])
                level = f" (margin level {ml:.2f})"
            else:
                distance = math.inf
        else:
            distance, liq = _perp_after(hub, leg, key, qty, touch, extra_liability[i], tiers)
        dist = distance_pct(distance)
        if dist < cfg.liq_distance_floor_pct:
            raise PreflightError(f"{leg.venue} {key.market} leg would start {dist:.1f}% from "
                                 f"liquidation{level} (< floor {cfg.liq_distance_floor_pct:g}%): "
                                 "add collateral or reduce size", "notional_usd")
        plans.append(LegPlan(side=side, qty=qty, touch=touch, slippage_bps=slip,
                             liq_distance_pct=dist, liq_price=liq if math.isfinite(distance) else None))
    return plans

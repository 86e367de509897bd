"""The watchdog's decision (pure): a pair's risk picture in, the protective actions out.

Order of defence (DOMAIN.md "Two liquidations at once"): warn; move collateral to the weak leg
(transfer between the margin and futures wallets, within what is free); trim both legs in
proportion until the target distance is restored (the pair stays hedged); unwind. Collateral
moves are always listed before a trim, and a trim is only sized for what the transfer cannot
cover. Around the ladder: the net-APR floor (exit), the hedge drift from interest or a borrow
recall (re-hedge), stale market data (no new risk; reduce after a timeout).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import msgspec
from msgspec import Struct

from daemon.risk.config import LegThresholds, WatchdogConfig

OK, WARN, COLLATERAL, DELEVERAGE, UNWIND = 0, 1, 2, 3, 4
LEVEL_NAMES = ("ok", "warn", "collateral", "deleverage", "unwind")

Wallet = Literal["margin", "futures"]


def level(dist: float, thr: LegThresholds) -> int:
    """The ladder step a leg's distance has reached (NaN counts as the worst: fail closed)."""
    if math.isnan(dist) or dist <= thr.unwind:
        return UNWIND
    if dist <= thr.deleverage:
        return DELEVERAGE
    if dist <= thr.collateral:
        return COLLATERAL
    if dist <= thr.warn:
        return WARN
    return OK


class LegRisk(Struct, frozen=True, kw_only=True):
    leg: Literal["margin", "perp"]
    venue: str
    wallet: Wallet
    distance: float
    liq_price: float | None = None
    collateral_needed: float = 0.0     # USDT into `wallet` to restore the target distance
    healthy: bool = True
    # Whether trimming or unwinding this pair takes the leg toward safety. A venue position is
    # netted across pairs: a pair whose share is on the other side of it would only grow it, so
    # that leg warns and draws collateral but never trims or unwinds the pair.
    trims: bool = True
    share: float | None = None         # the pair's share of the venue's net position (perp)
    venue_qty: float | None = None     # the venue's net position the distance is of


class PairRisk(Struct, frozen=True, kw_only=True):
    pair_id: str
    legs: tuple[LegRisk, ...]
    # Stable collateral free to leave each wallet, keyed "venue:wallet" (see risk.*_transferable).
    free: dict[str, float] = {}
    # Fraction of both legs to trim to restore the target: as things are, and after the
    # transfers `plan_transfers` would make.
    fraction: float = 0.0
    fraction_after_transfer: float = 0.0
    net_apr: float | None = None
    apr_below_floor_s: float = 0.0     # how long net APR has been under the floor
    hedge_gap: float = 0.0             # coins: liability - perp qty (> 0: perp short of cover)
    hedge_qty: float = 0.0             # the pair's size in coins, for the relative tolerance
    stale_s: float = 0.0               # how long a leg's market data has been unhealthy


class Warn(Struct, frozen=True, kw_only=True, tag="warn"):
    pair_id: str
    leg: str
    distance: float
    level: str


class Transfer(Struct, frozen=True, kw_only=True, tag="transfer"):
    pair_id: str
    venue: str
    direction: Literal["margin_to_futures", "futures_to_margin"]
    asset: str
    amount: float
    reason: str = ""


class Deleverage(Struct, frozen=True, kw_only=True, tag="deleverage"):
    pair_id: str
    fraction: float
    reason: str


class Unwind(Struct, frozen=True, kw_only=True, tag="unwind"):
    pair_id: str
    reason: str


class Close(Struct, frozen=True, kw_only=True, tag="close"):
    pair_id: str
    reason: str


class Rehedge(Struct, frozen=True, kw_only=True, tag="rehedge"):
    pair_id: str
    qty: float        # coins to add to the perp long (> 0) or take off it (< 0) to match
    reduce_only: bool
    reason: str = ""


Action = Warn | Transfer | Deleverage | Unwind | Close | Rehedge

_OTHER: dict[str, Wallet] = {"margin": "futures", "futures": "margin"}
_DIRECTION = {"margin": "futures_to_margin", "futures": "margin_to_futures"}


def planned_transfers(legs: tuple[LegRisk, ...], free: dict[str, float], thresholds: dict[str, LegThresholds],
                      min_transfer: float, min_cover: float = 0.0) -> list[tuple[LegRisk, str, float]]:
    """(weak leg, source wallet key, amount) for every leg at the collateral step or worse that
    needs collateral, taken from the other wallet on the same venue, within what is free there.
    At the collateral step a transfer must cover `min_cover` of the need: a transfer costs 900 of
    the /sapi weight (about a dozen a minute), so dribbling the few USDT freed by each tick would
    spend the budget the deleverage step may need; there the transfer goes with the trim."""
    left = dict(free)
    out: list[tuple[LegRisk, str, float]] = []
    for leg in sorted(legs, key=lambda g: g.distance):
        lv = level(leg.distance, thresholds[leg.leg])
        if lv < COLLATERAL or leg.collateral_needed <= 0:
            continue
        src = f"{leg.venue}:{_OTHER[leg.wallet]}"
        amount = min(leg.collateral_needed, left.get(src, 0.0))
        if lv < DELEVERAGE and amount < min_cover * leg.collateral_needed:
            continue
        if amount >= min_transfer:
            out.append((leg, src, amount))
            left[src] = left.get(src, 0.0) - amount
    return out


def decide(risk: PairRisk, cfg: WatchdogConfig, *, reduce_only: bool = False,
           asset: str = "USDT") -> list[Action]:
    """The actions for one pair, in the order they must be sent."""
    thresholds = {"margin": cfg.margin, "perp": cfg.perp}
    levels = [level(leg.distance, thresholds[leg.leg]) for leg in risk.legs]
    # Only a leg that trimming this pair helps may trim or unwind it (LegRisk.trims).
    worst = max((lv for g, lv in zip(risk.legs, levels, strict=True) if g.trims), default=OK)
    actions: list[Action] = []
    for leg, lv in zip(risk.legs, levels, strict=True):
        if lv >= WARN:
            actions.append(Warn(pair_id=risk.pair_id, leg=leg.leg, distance=leg.distance,
                                level=LEVEL_NAMES[lv]))
    if worst >= UNWIND:
        weak = min((g for g in risk.legs if g.trims), key=lambda g: g.distance)
        actions.append(Unwind(pair_id=risk.pair_id, reason=leg_reason(weak, "at the unwind step")))
        return actions

    transfers = planned_transfers(risk.legs, risk.free, thresholds, cfg.min_transfer,
                                  cfg.transfer_min_cover)
    for leg, src, amount in transfers:
        actions.append(Transfer(pair_id=risk.pair_id, venue=leg.venue, direction=_DIRECTION[leg.wallet],
                                asset=asset, amount=amount,
                                reason=leg_reason(leg, f"collateral from {src.split(':', 1)[1]}")))

    trimmed = False
    if worst >= DELEVERAGE:
        f = risk.fraction_after_transfer if transfers else risk.fraction
        if f >= cfg.min_fraction:
            weak = min((g for g in risk.legs if g.trims), key=lambda g: g.distance)
            actions.append(Deleverage(pair_id=risk.pair_id, fraction=min(f, 1.0),
                                      reason=leg_reason(weak, f"trim {min(f, 1.0):.1%} to restore "
                                                              f"{cfg.target_distance:.0%}")))
            trimmed = True

    if risk.stale_s >= cfg.stale_timeout_s and not trimmed:
        actions.append(Deleverage(pair_id=risk.pair_id, fraction=cfg.stale_reduce_fraction,
                                  reason=f"market data unhealthy for {risk.stale_s:.0f}s"))
        trimmed = True

    if (risk.net_apr is not None and risk.net_apr < cfg.net_apr_floor
            and risk.apr_below_floor_s >= cfg.net_apr_grace_s):
        actions.append(Close(pair_id=risk.pair_id,
                             reason=f"net APR {risk.net_apr:.2%} below floor {cfg.net_apr_floor:.2%}"))
        return actions

    if not trimmed and risk.hedge_qty > 0 and abs(risk.hedge_gap) > cfg.rehedge_tolerance * risk.hedge_qty:
        actions.append(Rehedge(pair_id=risk.pair_id, qty=risk.hedge_gap, reduce_only=reduce_only,
                               reason=f"perp {'short of' if risk.hedge_gap > 0 else 'beyond'} the "
                                      f"liability by {abs(risk.hedge_gap):.8g} coins "
                                      f"(tolerance {cfg.rehedge_tolerance * risk.hedge_qty:.8g})"))
    return actions


def leg_reason(leg: LegRisk, what: str) -> str:
    """Why an action was taken on a leg, in words: its distance (a fraction, shown once as a
    percentage), the liquidation price, and the venue position it is of when that is netted."""
    dist = f"{leg.distance:.2%}" if math.isfinite(leg.distance) else "no price"
    liq = f", liquidation {leg.liq_price:.8g}" if leg.liq_price else ""
    net = ""
    if leg.venue_qty is not None and leg.share is not None:
        net = f", venue net {leg.venue_qty:.8g}, pair share {leg.share:.8g}"
    return f"{leg.leg} leg on {leg.venue} {dist} from liquidation{liq}{net}: {what}"


def is_protective(action: Action) -> bool:
    """Actions that send a request to a venue to protect a pair (what the reaction time measures)."""
    return isinstance(action, (Transfer, Deleverage, Unwind))


class MarginHold(Struct, kw_only=True):
    """A pair's cross-margin account between a buy-back with AUTO_REPAY (a trim or a close of a
    pair that borrows) and the liability that buy-back repays. The venue reports the quote spent
    and the liability repaid in separate events, possibly on separate sockets: in between, the
    account can read as if the quote were spent and nothing repaid."""

    kind: str                        # the watchdog action that started it ("deleverage", "close")
    venue: str
    asset: str                       # the borrowed coin
    liab0: float                     # its liability when the action was sent
    legs: dict[str, LegRisk] = {}    # "margin:<venue>" -> that leg's risk the action was sent on
    free: float | None = None        # the margin wallet's transferable USDT then
    until: float | None = None       # deadline (clock seconds); None while the action is in flight


def held_risk(h: MarginHold, r: PairRisk, liability: float, now: float) -> PairRisk | None:
    """`r` seen through the hold: a margin leg reads no worse than the action was sent on, the
    margin wallet no freer. None once settled: the borrowed coin's liability (`liability`, now)
    fell after the action completed, or the deadline passed."""
    if h.until is not None and (now >= h.until or liability < h.liab0 * (1 - 1e-9)):
        return None
    legs = r.legs
    worse = False
    for g in legs:
        was = h.legs.get("margin:" + g.venue) if g.leg == "margin" else None
        if was is not None and g.distance < was.distance:
            worse = True
    if worse:
        legs = tuple(h.legs["margin:" + g.venue]
                     if g.leg == "margin" and "margin:" + g.venue in h.legs
                     and g.distance < h.legs["margin:" + g.venue].distance else g for g in legs)
    free = r.free
    key = h.venue + ":margin"
    if h.free is not None and free.get(key, 0.0) > h.free:
        free = {**free, key: h.free}
    if legs is r.legs and free is r.free:
        return r
    return msgspec.structs.replace(r, legs=legs, free=free)


def settling_filter(acts: list[Action], r: PairRisk, h: MarginHold,
                    thresholds: Mapping[str, LegThresholds]) -> list[Action]:
    """While the margin account settles, what the margin leg alone calls for waits: only a perp
    leg at that step may trim or unwind, collateral does not move into the margin wallet, and the
    hedge is not judged on a liability not yet updated (a re-hedge would re-buy the perp just
    sold)."""
    perp_worst = max((level(g.distance, thresholds["perp"]) for g in r.legs if g.leg == "perp"),
                     default=OK)
    out: list[Action] = []
    for a in acts:
        if isinstance(a, Unwind) and perp_worst < UNWIND:
            continue
        if isinstance(a, Deleverage) and perp_worst < DELEVERAGE:
            continue
        if isinstance(a, Transfer) and a.venue == h.venue and a.direction == "futures_to_margin":
            continue
        if isinstance(a, Rehedge):
            continue
        out.append(a)
    return out


def margin_alone(acts: list[Action], r: PairRisk,
                 thresholds: Mapping[str, LegThresholds]) -> list[Action]:
    """The trims and unwinds only the margin leg calls for (no perp leg is at that step)."""
    perp_worst = max((level(g.distance, thresholds["perp"]) for g in r.legs if g.leg == "perp"),
                     default=OK)
    return [a for a in acts if (isinstance(a, Unwind) and perp_worst < UNWIND)
            or (isinstance(a, Deleverage) and perp_worst < DELEVERAGE)]


def confirm_margin_breach(acts: list[Action], r: PairRisk,
                          thresholds: Mapping[str, LegThresholds], since: float | None,
                          now: float, settle_s: float) -> tuple[list[Action], float | None]:
    """While an operation of ours moves the margin account (a borrow, a sale, a buy-back), the
    venue reports each change in its own message: a borrow's liability can arrive before the coin
    it credits, and the account then reads as if the coin were already sold with no USDT in (a
    healthy 3x reverse basis at margin level 0.5). A trim or unwind the margin leg alone calls for
    waits until its breach has lasted `settle_s`; everything else goes at once. Returns the
    actions to take now and when the breach was first seen (None: no such breach now)."""
    waiting = margin_alone(acts, r, thresholds)
    if not waiting:
        return acts, None
    if since is None:
        since = now
    if now - since >= settle_s:
        return acts, since
    return [a for a in acts if a not in waiting], since

"""From a pair's numbers to its risk picture (pure): distances, collateral needs, what is free to
move, and the proportional trim that restores the target, with and without the planned transfer.

The watchdog shell reads the hub into these inputs; tests build them by hand.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from msgspec import Struct

from daemon.core import netting
from daemon.risk import maths as risk
from daemon.risk.maths import Bracket, MarginAsset, MarginBook
from daemon.risk.ladder import LegRisk, PairRisk, planned_transfers
from daemon.risk.config import WatchdogConfig


class MarginLegInput(Struct, frozen=True, kw_only=True):
    venue: str
    asset: str                        # the coin of this pair (BTC)
    qty: float                        # > 0: coins shorted (borrowed and sold) by this pair
    assets: tuple[MarginAsset, ...]   # the whole cross-margin account (shared by every pair on it)
    bar: float = risk.FORCE_LIQUIDATION_BAR   # the venue's forceLiquidationBar
    healthy: bool = True
    # The account's figures summed once and shared by every pair on it (must be of `assets`);
    # None: summed here, for this pair alone.
    book: MarginBook | None = None
    # Netted (daemon/core/netting.py): the coins every pair owing this one shorts together, all
    # trimmed by one fraction, and this pair's share of the liability. None: the pair's alone.
    account_qty: float | None = None
    share: float | None = None

    def trim_qty(self) -> float:
        """The coins a trim of fraction 1 buys back across the account (signed as `qty`)."""
        return self.qty if self.account_qty is None else math.copysign(self.account_qty, self.qty)

    def account(self) -> MarginBook:
        return self.book if self.book is not None else MarginBook(self.assets)


class PerpLegInput(Struct, frozen=True, kw_only=True):
    venue: str
    symbol: str
    qty: float                        # signed, base units
    entry: float
    mark: float
    wallet: float                     # cross wallet balance (or the isolated wallet)
    brackets: tuple[Bracket, ...]
    venue_liq: float | None = None    # the venue's liquidationPrice (0/None: none)
    other_mm: float = 0.0             # cross: maintenance of the other positions on the wallet
    other_upnl: float = 0.0
    available: float = 0.0            # what the venue lets leave the wallet (maxWithdrawAmount)
    healthy: bool = True
    # Netted (daemon/core/netting.py): `qty` is the venue's net position; `share` this pair's
    # part of it, `aligned_qty` the shares on the net's side (every one of those pairs trims by
    # one fraction). None: the position is the pair's alone.
    share: float | None = None
    aligned_qty: float | None = None

    def trims(self) -> bool:
        """Whether trimming the pair takes the venue position toward safety: its share is on the
        side the venue position is on (a pair on the other side would only grow it)."""
        return self.share is None or (self.share != 0 and (self.share > 0) == (self.qty > 0))

    def venue_fraction(self, f: float) -> float:
        """The fraction of the venue position a trim of `f` of every aligned pair closes."""
        if self.aligned_qty is None:
            return f
        return netting.trim_fraction_of_venue(self.qty, self.aligned_qty, f)


class PairInputs(Struct, frozen=True, kw_only=True):
    pair_id: str
    margin: MarginLegInput | None = None
    perps: tuple[PerpLegInput, ...] = ()
    net_apr: float | None = None
    apr_below_floor_s: float = 0.0
    hedge_gap: float = 0.0
    hedge_qty: float = 0.0
    stale_s: float = 0.0


def _margin_leg(m: MarginLegInput, book: MarginBook, target: float) -> LegRisk:
    if book.owing == 0:
        return LegRisk(leg="margin", venue=m.venue, wallet="margin", distance=math.inf, healthy=m.healthy)
    price = book.price(m.asset)
    liq, direction = book.liq_price(m.asset, m.bar)
    dist = book.distance(m.asset, m.bar)
    need = book.collateral_needed(m.asset, m.bar, target, direction)
    return LegRisk(leg="margin", venue=m.venue, wallet="margin", distance=dist,
                   liq_price=liq if liq is not None and math.isfinite(dist) and price > 0 else None,
                   collateral_needed=need, healthy=m.healthy, share=m.share,
                   venue_qty=None if m.share is None else m.account_qty)


def _perp_leg(p: PerpLegInput, target: float) -> LegRisk:
    dist, liq = risk.perp_distance(p.qty, p.entry, p.wallet, p.brackets, p.mark, p.venue_liq,
                                   p.other_mm, p.other_upnl)
    need = risk.perp_collateral_needed(p.qty, p.entry, p.wallet, p.brackets, p.mark, target,
                                       p.other_mm, p.other_upnl)
    # The venue's figure may be nearer than ours: make the need cover the difference too.
    own_dist = dist if p.venue_liq is None else risk.perp_distance(
        p.qty, p.entry, p.wallet, p.brackets, p.mark, None, p.other_mm, p.other_upnl)[0]
    if dist < own_dist and dist < target:
        need = max(need, abs(p.qty) * p.mark * (target - dist))
    return LegRisk(leg="perp", venue=p.venue, wallet="futures", distance=dist, liq_price=liq,
                   collateral_needed=need, healthy=p.healthy, trims=p.trims(), share=p.share,
                   venue_qty=p.qty)


def _fraction(inp: PairInputs, cfg: WatchdogConfig, book: MarginBook | None, deposit: float,
              wallets: Sequence[float]) -> float:
    """Trim fraction restoring the target, on the account after `deposit` USDT reached (or left,
    < 0) the margin wallet and with the futures `wallets` given."""
    target = cfg.target_distance
    cost = cfg.trim_cost_fraction
    m = inp.margin

    def ok(f: float) -> bool:
        if m is not None and book is not None and m.qty != 0:
            if book.distance_after_trim(m.asset, m.trim_qty(), f, m.bar, cost, deposit) < target:
                return False
        for p, w in zip(inp.perps, wallets, strict=True):
            if p.qty != 0 and p.trims() and risk.perp_distance_after_trim(
                    p.qty, p.entry, w, p.brackets, p.mark, p.venue_fraction(f), cost,
                    p.other_mm, p.other_upnl) < target:
                return False
        return True

    return risk.solve_fraction(ok)


def assess(inp: PairInputs, cfg: WatchdogConfig, *, stale_s: float | None = None,
           apr_below_floor_s: float | None = None) -> PairRisk:
    """The pair's risk picture. `stale_s` / `apr_below_floor_s` override the inputs' (the shell
    knows them only after reading the inputs; passing them spares a copy per evaluation)."""
    target = cfg.target_distance
    legs: list[LegRisk] = []
    free: dict[str, float] = {}
    book: MarginBook | None = None
    if inp.margin is not None:
        book = inp.margin.account()
        legs.append(_margin_leg(inp.margin, book, target))
        free[f"{inp.margin.venue}:margin"] = book.transferable(
            inp.margin.bar, target, min_level=cfg.margin_transfer_out_level) * cfg.transfer_haircut
    for p in inp.perps:
        legs.append(_perp_leg(p, target))
        free[f"{p.venue}:futures"] = risk.perp_transferable(
            p.qty, p.entry, p.wallet, p.brackets, p.mark, target, p.available * cfg.transfer_haircut,
            p.other_mm, p.other_upnl)
    leg_tuple = tuple(legs)
    worst = min((g.distance for g in leg_tuple), default=math.inf)
    fraction = after = 0.0
    if worst <= max(cfg.margin.deleverage, cfg.perp.deleverage):
        wallets = [p.wallet for p in inp.perps]
        fraction = _fraction(inp, cfg, book, 0.0, wallets)
        thresholds = {"margin": cfg.margin, "perp": cfg.perp}
        plan = planned_transfers(leg_tuple, free, thresholds, cfg.min_transfer, cfg.transfer_min_cover)
        if plan:
            deposit = 0.0
            for leg, src, amount in plan:
                if leg.leg == "margin" and book is not None:
                    deposit += amount
                    wallets = [w - amount if f"{p.venue}:futures" == src else w
                               for p, w in zip(inp.perps, wallets, strict=True)]
                elif leg.leg == "perp":
                    wallets = [w + amount if p.venue == leg.venue else w
                               for p, w in zip(inp.perps, wallets, strict=True)]
                    if book is not None and src == f"{inp.margin.venue}:margin":  # type: ignore[union-attr]
                        deposit -= amount
            after = _fraction(inp, cfg, book, deposit, wallets)
        else:
            after = fraction
    return PairRisk(pair_id=inp.pair_id, legs=leg_tuple, free=free, fraction=fraction,
                    fraction_after_transfer=after, net_apr=inp.net_apr,
                    apr_below_floor_s=inp.apr_below_floor_s if apr_below_floor_s is None else apr_below_floor_s,
                    hedge_gap=inp.hedge_gap, hedge_qty=inp.hedge_qty,
                    stale_s=inp.stale_s if stale_s is None else stale_s)

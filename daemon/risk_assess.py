"""From a pair's numbers to its risk picture (pure): distances, collateral needs, what is free to
move, and the proportional trim that restores the target, with and without the planned transfer.

The watchdog shell reads the hub into these inputs; tests build them by hand.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from msgspec import Struct

from daemon import risk
from daemon.risk import Bracket, MarginAsset
from daemon.risk_ladder import LegRisk, PairRisk, planned_transfers
from daemon.watchdog_config import WatchdogConfig


class MarginLegInput(Struct, frozen=True, kw_only=True):
    venue: str
    asset: str                        # the coin of this pair (BTC)
    qty: float                        # > 0: coins shorted (borrowed and sold) by this pair
    assets: tuple[MarginAsset, ...]   # the whole cross-margin account (shared by every pair on it)
    bar: float = 1.1                  # forceLiquidationBar
    healthy: bool = True


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


class PairInputs(Struct, frozen=True, kw_only=True):
    pair_id: str
    margin: MarginLegInput | None = None
    perps: tuple[PerpLegInput, ...] = ()
    net_apr: float | None = None
    apr_below_floor_s: float = 0.0
    hedge_gap: float = 0.0
    hedge_qty: float = 0.0
    stale_s: float = 0.0


def _margin_leg(m: MarginLegInput, target: float) -> LegRisk:
    if not any(a.liability > 0 for a in m.assets):
        return LegRisk(leg="margin", venue=m.venue, wallet="margin", distance=math.inf, healthy=m.healthy)
    price = next(a.price for a in m.assets if a.asset == m.asset)
    liq, direction = risk.margin_liq_price(m.assets, m.asset, m.bar)
    dist = risk.margin_asset_distance(m.assets, m.asset, m.bar)
    need = risk.margin_collateral_needed(m.assets, m.asset, m.bar, target, direction)
    return LegRisk(leg="margin", venue=m.venue, wallet="margin", distance=dist,
                   liq_price=liq if liq is not None and math.isfinite(dist) and price > 0 else None,
                   collateral_needed=need, healthy=m.healthy)


def _perp_leg(p: PerpLegInput, target: float) -> LegRisk:
    dist, liq = risk.perp_distance(p.qty, p.entry, p.wallet, p.brackets, p.mark, p.venue_liq,
                                   p.other_mm, p.other_upnl)
    need = risk.perp_collateral_needed(p.qty, p.entry, p.wallet, p.brackets, p.mark, target,
                                       p.other_mm, p.other_upnl)
    # The venue's figure may be nearer than ours: make the need cover the difference too.
    own_dist, _ = risk.perp_distance(p.qty, p.entry, p.wallet, p.brackets, p.mark, None,
                                     p.other_mm, p.other_upnl)
    if dist < own_dist and dist < target:
        need = max(need, abs(p.qty) * p.mark * (target - dist))
    return LegRisk(leg="perp", venue=p.venue, wallet="futures", distance=dist, liq_price=liq,
                   collateral_needed=need, healthy=p.healthy)


def _fraction(inp: PairInputs, cfg: WatchdogConfig, margin_assets: Sequence[MarginAsset] | None,
              wallets: Sequence[float]) -> float:
    target = cfg.target_distance
    cost = cfg.trim_cost_fraction

    def ok(f: float) -> bool:
        m = inp.margin
        if m is not None and margin_assets is not None and m.qty != 0:
            if risk.margin_distance_after_trim(margin_assets, m.asset, m.qty, f, m.bar, cost) < target:
                return False
        for p, w in zip(inp.perps, wallets, strict=True):
            if p.qty != 0 and risk.perp_distance_after_trim(p.qty, p.entry, w, p.brackets, p.mark, f, cost,
                                                            p.other_mm, p.other_upnl) < target:
                return False
        return True

    return risk.solve_fraction(ok)


def assess(inp: PairInputs, cfg: WatchdogConfig) -> PairRisk:
    target = cfg.target_distance
    legs: list[LegRisk] = []
    free: dict[str, float] = {}
    if inp.margin is not None:
        legs.append(_margin_leg(inp.margin, target))
        free[f"{inp.margin.venue}:margin"] = risk.margin_transferable(
            inp.margin.assets, inp.margin.bar, target,
            min_level=cfg.margin_transfer_out_level) * cfg.transfer_haircut
    for p in inp.perps:
        legs.append(_perp_leg(p, target))
        free[f"{p.venue}:futures"] = risk.perp_transferable(
            p.qty, p.entry, p.wallet, p.brackets, p.mark, target, p.available * cfg.transfer_haircut,
            p.other_mm, p.other_upnl)
    leg_tuple = tuple(legs)
    thresholds = {"margin": cfg.margin, "perp": cfg.perp}
    worst = min((g.distance for g in leg_tuple), default=math.inf)
    fraction = after = 0.0
    if worst <= max(cfg.margin.deleverage, cfg.perp.deleverage):
        margin_assets = inp.margin.assets if inp.margin is not None else None
        wallets = [p.wallet for p in inp.perps]
        fraction = _fraction(inp, cfg, margin_assets, wallets)
        plan = planned_transfers(leg_tuple, free, thresholds, cfg.min_transfer, cfg.transfer_min_cover)
        if plan:
            for leg, src, amount in plan:
                if leg.leg == "margin" and margin_assets is not None:
                    margin_assets = risk.margin_with_deposit(margin_assets, amount)
                    wallets = [w - amount if f"{p.venue}:futures" == src else w
                               for p, w in zip(inp.perps, wallets, strict=True)]
                elif leg.leg == "perp":
                    wallets = [w + amount if p.venue == leg.venue else w
                               for p, w in zip(inp.perps, wallets, strict=True)]
                    if margin_assets is not None and src == f"{inp.margin.venue}:margin":  # type: ignore[union-attr]
                        margin_assets = risk.margin_with_deposit(margin_assets, -amount)
            after = _fraction(inp, cfg, margin_assets, wallets)
        else:
            after = fraction
    return PairRisk(pair_id=inp.pair_id, legs=leg_tuple, free=free, fraction=fraction,
                    fraction_after_transfer=after, net_apr=inp.net_apr,
                    apr_below_floor_s=inp.apr_below_floor_s, hedge_gap=inp.hedge_gap,
                    hedge_qty=inp.hedge_qty, stale_s=inp.stale_s)

"""Each pair's share of the netted venue figures, for the positions view (daemon/core/netting.py).

A perp leg's venue figure is the venue's net position on the symbol; a borrowing spot leg's is the
coin's liability on the venue's cross margin (principal + interest), shown as a negative exposure
like the leg's own. The shares of every pair on one figure add up to it.
"""
from __future__ import annotations

from collections.abc import Mapping

from daemon.core import netting
from daemon.core.netting import Claim
from daemon.core.pairs import State
from daemon.hub import Hub
from daemon.legging.runtime import PairRuntime
from daemon.risk.inputs import HOLDING

LegKey = tuple[str, int]          # (pair id, leg index)


def _venue_figure(hub: Hub, key: tuple[str, str, str]) -> float:
    venue, kind, name = key
    if kind == "perp":
        pos = hub.positions.get((venue, name))
        return pos.qty if pos is not None else 0.0
    bal = hub.balances.get((venue, "margin", name))
    return -bal.liability if bal is not None else 0.0


def venue_shares(pairs: Mapping[str, PairRuntime], hub: Hub) -> dict[LegKey, tuple[float, float]]:
    """(pair id, leg) -> (the pair's share, the venue's net figure) for the legs of every pair
    that may hold something (perp legs and borrowing spot legs)."""
    claims: dict[tuple[str, str, str], list[tuple[LegKey, Claim]]] = {}
    for rt in pairs.values():
        p = rt.pair
        if p.state not in HOLDING:
            continue
        busy = p.state is not State.OPEN or (rt.task is not None and not rt.task.done())
        for i, leg in enumerate(p.legs):
            if leg.market == "perp":
                key = (leg.venue, "perp", leg.symbol)
            elif leg.borrows:
                key = (leg.venue, "owed", rt.meta[i].base or leg.symbol)
            else:
                continue
            claims.setdefault(key, []).append(((p.id, i), Claim(pair_id=f"{p.id}:{i}",
                                                                qty=rt.exposure(i), busy=busy)))
    out: dict[LegKey, tuple[float, float]] = {}
    for key, items in claims.items():
        figure = _venue_figure(hub, key)
        by_claim = netting.shares(figure, (c for _k, c in items))
        for leg_key, c in items:
            out[leg_key] = (by_claim[c.pair_id], figure)
    return out

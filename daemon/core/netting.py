"""Each pair's share of netted venue state (pure).

A venue nets: one position per symbol (one-way mode), one balance and one liability per coin.
Several pairs on one venue and symbol therefore share one venue figure, and each owns a share of
it. A pair's *claim* is what its own books say it holds there (signed base units); its *share* is
its claim plus its part of whatever the venue holds beyond the claims (fills the books have not
seen yet, interest, a partial fill still folding in). That remainder goes to the pairs whose
operations are running when there are any (their books are the ones in flux), else to every
claimant, in proportion to the size of its claim. The shares always add up to the venue figure.

Binance hedge mode (positionSide LONG/SHORT) would split a perp position by side, but not by
pair: two reverse-basis pairs still share the LONG side, and the coin liability on cross margin
nets whatever the futures mode. So basisd stays in one-way mode and attributes instead.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from msgspec import Struct


class Claim(Struct, frozen=True, kw_only=True):
    pair_id: str
    qty: float                  # signed base units the pair's books hold on the venue
    busy: bool = False          # an operation of the pair is running (its books are in flux)


def shares(venue_qty: float, claims: Iterable[Claim]) -> dict[str, float]:
    """Each claimant's share of `venue_qty` (see the module doc); the shares sum to `venue_qty`
    (the last claimant takes the rounding). No claim with a size: the remainder has no owner,
    every share is its claim (0) and the venue figure is unexplained."""
    items = list(claims)
    if not items:
        return {}
    remainder = venue_qty - math.fsum(c.qty for c in items)
    takers = [c for c in items if c.busy and c.qty != 0] or [c for c in items if c.qty != 0]
    weight = math.fsum(abs(c.qty) for c in takers)
    out = {c.pair_id: c.qty for c in items}
    if weight <= 0:
        return out
    for c in takers:
        out[c.pair_id] += remainder * abs(c.qty) / weight
    last = takers[-1].pair_id
    out[last] = venue_qty - math.fsum(v for k, v in out.items() if k != last)
    return out


def aligned(venue_qty: float, share_by_pair: Mapping[str, float]) -> float:
    """Sum of the shares on the side the venue position is on: what trimming each of those pairs
    by the same fraction f takes off the venue position (f times this)."""
    if venue_qty == 0:
        return 0.0
    return math.fsum(s for s in share_by_pair.values() if (s > 0) == (venue_qty > 0) and s != 0)


def trim_fraction_of_venue(venue_qty: float, aligned_qty: float, f: float) -> float:
    """The fraction of the venue position that a trim of fraction `f` of every aligned pair
    removes (at most 1: past it the position would flip, which a trim never asks for)."""
    if venue_qty == 0 or aligned_qty == 0:
        return 0.0
    return min(1.0, f * abs(aligned_qty) / abs(venue_qty))


def agreed_gap(venue_gap: float, own_gap: float | None) -> float:
    """A re-hedge both the venue and the pair's own books ask for: the smaller of the two when
    they agree in sign, else none (a reading of the shared venue figure that the pair's books
    contradict is a lag between two venue events, not a hedge to repair). `own_gap` None: the
    pair's books are not known, the venue's figure stands."""
    if own_gap is None:
        return venue_gap
    if venue_gap * own_gap <= 0:
        return 0.0
    return math.copysign(min(abs(venue_gap), abs(own_gap)), venue_gap)

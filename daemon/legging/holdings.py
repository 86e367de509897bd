"""What the venue holds vs what the pairs say they hold (pure: no I/O, no clock).

A venue keeps one net position per perp symbol and, on cross margin, one balance and one
liability per coin; several pairs share them. Each holding is a `Key`: (venue, "perp", symbol)
is compared with the signed perp legs, (venue, "coin", asset) with the long spot legs (coins
held) and (venue, "debt", asset) with the short spot legs (liability incl. interest).

`judge` finds the pairs the venue cannot explain any more (`lost`): where a holding differs from
the pairs' sum by more than its tolerance, the newest pair whose removal brings the sum closer
is dropped, until every holding agrees or no removal helps; a pair dropped from one holding is
dropped from all (its other leg counts no more either). What is left over on the venue once the
kept pairs are explained is `unmanaged`.
"""
from __future__ import annotations

from msgspec import Struct

Key = tuple[str, str, str]        # (venue, "perp" | "coin" | "debt", symbol or asset)


class LegHolding(Struct, frozen=True, kw_only=True):
    pair_id: str
    created_ms: int
    key: Key
    qty: float                    # what the pair's books say this leg holds (perp: signed)
    tolerance: float              # the pair's residual budget


class Unmanaged(Struct, frozen=True, kw_only=True):
    venue: str
    kind: str                     # perp | coin | debt
    name: str                     # symbol (perp) or asset
    qty: float                    # venue minus what the kept pairs explain
    venue_qty: float
    explained_qty: float


class Judgement(Struct, frozen=True, kw_only=True):
    lost: tuple[str, ...]
    unmanaged: tuple[Unmanaged, ...]


REL_SLACK = 0.005                 # interest accrued while the daemon was away, rounding


def _tolerance(legs: list[LegHolding], venue_qty: float) -> float:
    base = max((leg.tolerance for leg in legs), default=0.0)
    return base + REL_SLACK * abs(venue_qty) + 1e-12


def judge(legs: list[LegHolding], venue: dict[Key, float], floors: dict[Key, float]) -> Judgement:
    """`venue`: every holding read from the venues (a key the read did not cover is absent and
    is not judged); `floors`: per key, the size below which a leftover is dust, not unmanaged."""
    lost: set[str] = set()
    by_key: dict[Key, list[LegHolding]] = {}
    for leg in legs:
        by_key.setdefault(leg.key, []).append(leg)
    changed = True
    while changed:
        changed = False
        for key, held in by_key.items():
            if key not in venue:
                continue
            kept = [leg for leg in held if leg.pair_id not in lost]
            have = venue[key]
            tol = _tolerance(kept, have)
            gap = have - sum(leg.qty for leg in kept)
            while abs(gap) > tol and kept:
                # the newest pair whose removal brings the pairs' sum closer to the venue's
                for leg in sorted(kept, key=lambda lg: (-lg.created_ms, lg.pair_id)):
                    if abs(gap + leg.qty) < abs(gap):
                        lost.add(leg.pair_id)
                        changed = True
                        break
                else:
                    break
                kept = [leg for leg in held if leg.pair_id not in lost]
                gap = have - sum(leg.qty for leg in kept)
    unmanaged = []
    for key in sorted(venue):
        kept = [leg for leg in by_key.get(key, []) if leg.pair_id not in lost]
        explained = sum(leg.qty for leg in kept)
        left = venue[key] - explained
        if abs(left) > max(_tolerance(kept, venue[key]), floors.get(key, 0.0)):
            unmanaged.append(Unmanaged(venue=key[0], kind=key[1], name=key[2], qty=left,
                                       venue_qty=venue[key], explained_qty=explained))
    return Judgement(lost=tuple(sorted(lost)), unmanaged=tuple(unmanaged))

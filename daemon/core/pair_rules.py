"""Rules every new pair must pass, whoever opens it (pure): the strategy's `decide` and the
legging engine's open path (the admin API, basisctl) ask the same questions here.

- A long/short with both legs on one venue account: the venue nets the long and the short into
  nothing (one position per symbol), so the pair pays four fills' fees and holds no trade.
- A pair that offsets an open one: same symbol, each leg opposite to a leg of the other on the
  same venue and market (long/short long B short A, then long A short B; a basis against a
  reverse basis on one venue). Together they net to zero: the fees twice, nothing earned.
"""
from __future__ import annotations

from collections.abc import Iterable

from msgspec import Struct

from daemon.core.pairs import Leg, make_legs, venue_keys

LegSig = tuple[str, str, str, int]      # (venue, market, symbol, sign)


class Refusal(Struct, frozen=True, kw_only=True):
    status: int          # the HTTP status the admin API answers with
    message: str
    field: str


def signature(legs: Iterable[Leg]) -> frozenset[LegSig]:
    return frozenset((leg.venue, leg.market, leg.symbol, leg.sign) for leg in legs)


def offsets(a: Iterable[Leg], b: Iterable[Leg]) -> bool:
    """Every leg of `a` is the opposite of a leg of `b` (same venue, market, symbol) and back."""
    sa = signature(a)
    flipped = frozenset((v, m, s, -sign) for v, m, s, sign in signature(b))
    return bool(sa) and sa == flipped


def same_venue_long_short(pair_type: str, venues: dict[str, str]) -> Refusal | None:
    if pair_type == "long_short" and venues.get("long") and venues.get("long") == venues.get("short"):
        return Refusal(status=400, field="venues.short",
                       message=f"venues.short: a long/short needs two venue accounts; both legs on "
                               f"{venues['long']!r} net to nothing on the venue")
    return None


def offset_of(pair_type: str, symbol: str, venues: dict[str, str],
              open_pairs: Iterable[tuple[str, tuple[Leg, Leg]]]) -> Refusal | None:
    """A refusal naming the open pair (id, legs) the new one would offset, if any."""
    legs = make_legs(pair_type, symbol, venues)
    for pid, other in open_pairs:
        if offsets(legs, other):
            keys = venue_keys(pair_type)
            return Refusal(status=409, field="venues",
                           message=f"would offset open pair {pid}: same symbol, opposite legs on "
                                   f"the same venues ({keys[0]}={venues[keys[0]]}, "
                                   f"{keys[1]}={venues[keys[1]]}); together they net to zero")
    return None


def open_refusal(pair_type: str, symbol: str, venues: dict[str, str],
                 open_pairs: Iterable[tuple[str, tuple[Leg, Leg]]]) -> Refusal | None:
    """Why a pair of `pair_type` on `venues` may not open next to `open_pairs` (None: it may)."""
    return same_venue_long_short(pair_type, venues) or offset_of(pair_type, symbol, venues, open_pairs)

"""L2 order book: pure data structure, no I/O.

Prices are stored exactly, as integer multiples of a price unit: the tick, as long as every
price the venue sends is on the tick grid (always, for a sane venue). An off-grid price is not
rounded to a tick (that once merged 232 into a level at 40, and let a zero-qty update for an off-grid
price delete a real level): the unit is refined to a divisor of the tick that holds it and every key
is rescaled, once; ``load_snapshot`` and ``clear`` go back to the tick. Internally each side is
kept in "key space", where key = +units on the bid side and -units on the ask side, so that on
*both* sides the best level is the largest key and the distance from the touch (in the direction
that costs a taker) is simply ``best_key - key``. Every query is therefore written once for both
sides.

Per side:
  * ``dict key -> qty`` for O(1) level look-up,
  * a list of keys sorted ascending, best at the end. Venue diffs mostly touch levels near the
    touch, so ``bisect.insort`` / ``del`` move only the few tail elements after the insertion
    point, and reading the best is ``keys[-1]`` (O(1), no lazy-deletion clean-up as a heap
    would need, and ordered walks for depth/VWAP come for free). See benchmarks/bench_book.py.

Quantities are floats (base units); a quantity <= 0 (or NaN) removes the level.
"""
from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from math import gcd
from typing import Final

__all__ = ["ASK", "BID", "OrderBook"]

BID: Final = 0
ASK: Final = 1

# key = _SIGN[side] * ticks
_SIGN: Final = (1, -1)
# A taker buy consumes asks, a taker sell consumes bids. Upper case too: Binance spells it so.
_TAKER_SIDE: Final[dict[str, int]] = {"buy": ASK, "sell": BID, "BUY": ASK, "SELL": BID}
# Venue prices arrive as decimal strings and the same few hundred recur near the touch;
# memoising string -> key units skips the exact decimal parse (most of the cost of a level update
# otherwise, see benchmarks/bench_book.py). Bounded: cleared when full.
_PRICE_CACHE_MAX: Final = 8192
# Sizes computed by summing level quantities can exceed the true total by float rounding;
# such a residue must not turn a fillable order into "cannot fill".
_FILL_REL_TOL: Final = 1e-9

Level = Sequence[str | float]


def _decimal_grid(tick: float | str) -> tuple[int, int]:
    """Tick as an exact ratio ``units / scale`` with ``scale`` a power of ten.

    ``to_price`` computes ``ticks * units / scale``: an exact integer divided by an exact power
    of ten is one correctly rounded division, so it yields the same float as parsing the
    decimal string the venue sent (e.g. 302361 ticks of 0.1 -> 30236.1, not 30236.100000000002).
    """
    d = Decimal(tick if isinstance(tick, str) else repr(float(tick))).normalize()
    exp = d.as_tuple().exponent
    assert isinstance(exp, int)
    decimals = max(0, -exp)
    scale = 10**decimals
    units = int(d * scale)
    return units, scale


def _side_index(taker_side: str) -> int:
    try:
        return _TAKER_SIDE[taker_side]
    except KeyError:
        raise ValueError(f"taker_side must be 'buy' or 'sell', got {taker_side!r}") from None


class OrderBook:
    """One instrument's L2 book. Not thread-safe; owned by one event loop."""

    __slots__ = (
        "_tick",
        "symbol",
        "last_update_id",
        "ts_ms",
        "_units",
        "_scale",
        "_per_tick",
        "_tick_units",
        "_tick_scale",
        "_qty",
        "_keys",
        "_pcache",
    )

    def __init__(self, tick_size: float | str, *, symbol: str = "") -> None:
        tick = float(tick_size)
        if not (math.isfinite(tick) and tick > 0.0):
            raise ValueError(f"tick_size must be a positive finite number, got {tick_size!r}")
        self._tick = tick
        self.symbol: str = symbol
        self.last_update_id: int = 0
        self.ts_ms: int = 0
        # Price of a key unit is _units / _scale; a tick is _per_tick key units (1 unless an
        # off-grid price refined the unit).
        self._tick_units, self._tick_scale = _decimal_grid(tick_size)
        self._units, self._scale = self._tick_units, self._tick_scale
        self._per_tick = 1
        self._qty: tuple[dict[int, float], dict[int, float]] = ({}, {})
        self._keys: tuple[list[int], list[int]] = ([], [])
        self._pcache: dict[str | float, int] = {}

    @property
    def tick_size(self) -> float:
        """Read-only: levels are stored in ticks, so changing it would silently re-price them."""
        return self._tick

    # ------------------------------------------------------------------ ticks <-> prices
    def to_ticks(self, price: float | str) -> int:
        """Nearest tick. Division error is ~1e-16 relative, far below the half tick ``round``
        tolerates, so on-grid prices always map to their exact tick."""
        return round(float(price) / self._tick)

    def to_price(self, ticks: int) -> float:
        return ticks * self._tick_units / self._tick_scale

    @property
    def on_grid(self) -> bool:
        """False while the book holds (or held, since the last snapshot) an off-grid price."""
        return self._per_tick == 1

    def _key_units(self, price: str | float, grow: bool) -> int | None:
        """``price`` as an exact whole number of key units (unsigned).

        An off-grid price refines the unit when ``grow``; otherwise it answers None (no level
        can sit there). Floats are taken at their shortest repr, as a venue would have sent it."""
        try:
            d = Decimal(price if isinstance(price, str) else repr(float(price)))
            num, den = d.as_integer_ratio()
        except (InvalidOperation, OverflowError, ValueError):
            raise ValueError(f"price must be a finite decimal number, got {price!r}") from None
        # price / unit = (num / den) * (scale / units)
        top, bottom = num * self._scale, den * self._units
        if top % bottom:
            if not grow:
                return None
            self._refine(bottom // gcd(top, bottom))
            top, bottom = num * self._scale, den * self._units
        return top // bottom

    def _refine(self, factor: int) -> None:
        """Divide the key unit by ``factor``: every key is multiplied, order is unchanged. In place,
        because ``apply_levels`` holds the dicts, lists and memo in locals."""
        for side in (BID, ASK):
            d = self._qty[side]
            scaled = [(k * factor, q) for k, q in d.items()]
            d.clear()
            d.update(scaled)
            keys = self._keys[side]
            keys[:] = [k * factor for k in keys]
        self._scale *= factor
        self._per_tick *= factor
        self._pcache.clear()
        self.__class__ = _OffGridOrderBook

    def _back_to_tick_grid(self) -> None:
        """With no levels left, an off-grid episode is over: keys are ticks again."""
        if self._per_tick != 1:
            self._units, self._scale = self._tick_units, self._tick_scale
            self._per_tick = 1
            self._pcache.clear()
            self.__class__ = OrderBook

    # ------------------------------------------------------------------ mutation
    def clear(self) -> None:
        """Drop every level. ``last_update_id`` and ``ts_ms`` are left to the connector."""
        for side in (BID, ASK):
            self._qty[side].clear()
            self._keys[side].clear()
        self._back_to_tick_grid()

    def set_level_ticks(self, side: int, ticks: int, qty: float) -> None:
        key = ticks if side == BID else -ticks
        d = self._qty[side]
        if qty > 0.0:
            if key not in d:
                insort(self._keys[side], key)
            d[key] = qty
        elif key in d:
            del d[key]
            keys = self._keys[side]
            del keys[bisect_left(keys, key)]

    def set_level(self, side: int, price: float | str, qty: float | str) -> None:
        self.apply_levels(side, ((price, qty),))

    def apply_levels(self, side: int, levels: Iterable[Level]) -> None:
        """Apply venue levels ``[[price, qty, ...], ...]`` (strings or numbers) in order.

        Extra fields per level (OKX sends ``[px, sz, liq, n_orders]``) are ignored. This is the
        hot path, so ``set_level_ticks`` is inlined.
        """
        d = self._qty[side]
        keys = self._keys[side]
        cache = self._pcache
        neg = side != BID
        for lv in levels:
            p = lv[0]
            qty = float(lv[1])
            key = cache.get(p)
            if key is None:
                key = self._parse_price(p, qty > 0.0)
                if key is None:  # removing a price finer than any level held: nothing to delete
                    continue
            if neg:
                key = -key
            if qty > 0.0:
                if key not in d:
                    insort(keys, key)
                d[key] = qty
            elif key in d:
                del d[key]
                del keys[bisect_left(keys, key)]

    def _parse_price(self, price: str | float, grow: bool = True) -> int | None:
        key = self._key_units(price, grow)  # before touching the memo: refining clears it
        if key is not None:
            cache = self._pcache
            if len(cache) >= _PRICE_CACHE_MAX:
                cache.clear()
            cache[price] = key
        return key

    def apply_diff(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        self.apply_levels(BID, bids)
        self.apply_levels(ASK, asks)

    def load_snapshot(
        self,
        bids: Iterable[Level],
        asks: Iterable[Level],
        *,
        last_update_id: int | None = None,
        ts_ms: int | None = None,
    ) -> None:
        """Replace the whole book. One sort per side instead of one insort per level.

        A refined price unit is kept (and so is the memo): a venue whose book holds off-grid
        prices sends them in every snapshot."""
        for d in self._qty:
            d.clear()
        cache = self._pcache
        for side, levels in ((BID, bids), (ASK, asks)):
            sign = _SIGN[side]
            d = self._qty[side]
            for lv in levels:
                p = lv[0]
                qty = float(lv[1])
                key = cache.get(p)
                if key is None:
                    key = self._parse_price(p, qty > 0.0)
                    if key is None:
                        continue
                key *= sign
                if qty > 0.0:
                    d[key] = qty
                else:  # a later zero for a price seen earlier in the same snapshot removes it
                    d.pop(key, None)
            keys = self._keys[side]
            keys.clear()
            keys.extend(sorted(d))
        if last_update_id is not None:
            self.last_update_id = last_update_id
        if ts_ms is not None:
            self.ts_ms = ts_ms

    def trim(self, side: int, max_levels: int) -> int:
        """Keep only the best ``max_levels`` on ``side``; returns how many were dropped.

        Diff streams keep adding far levels a bounded snapshot never covered; callers can trim
        occasionally (not per update) to bound memory."""
        keys = self._keys[side]
        excess = len(keys) - max(0, max_levels)
        if excess <= 0:
            return 0
        d = self._qty[side]
        for key in keys[:excess]:
            del d[key]
        del keys[:excess]
        return excess

    # ------------------------------------------------------------------ touch
    def best_bid_ticks(self) -> int | None:
        keys = self._keys[BID]
        return keys[-1] if keys else None

    def best_ask_ticks(self) -> int | None:
        keys = self._keys[ASK]
        return -keys[-1] if keys else None

    def best_bid(self) -> tuple[float, float] | None:
        keys = self._keys[BID]
        if not keys:
            return None
        key = keys[-1]
        return key * self._units / self._scale, self._qty[BID][key]

    def best_ask(self) -> tuple[float, float] | None:
        keys = self._keys[ASK]
        if not keys:
            return None
        key = keys[-1]
        return -key * self._units / self._scale, self._qty[ASK][key]

    def best(self, side: int) -> tuple[float, float] | None:
        return self.best_bid() if side == BID else self.best_ask()

    def mid(self) -> float | None:
        bk, ak = self._keys
        if not bk or not ak:
            return None
        # One division of an exact integer: the correctly rounded mid, even at half ticks.
        return (bk[-1] - ak[-1]) * self._units / (2 * self._scale)

    def spread_bps(self) -> float | None:
        """(ask - bid) / mid * 1e4; negative when the book is crossed."""
        bk, ak = self._keys
        if not bk or not ak:
            return None
        bid, ask = bk[-1], -ak[-1]
        return (ask - bid) * 2e4 / (ask + bid)

    def is_crossed(self) -> bool:
        """Best bid >= best ask (a locked book counts as crossed: it cannot be a real L2 state)."""
        bk, ak = self._keys
        return bool(bk) and bool(ak) and bk[-1] >= -ak[-1]

    def is_empty(self) -> bool:
        """No level on either side."""
        return not self._keys[BID] and not self._keys[ASK]

    def is_two_sided(self) -> bool:
        return bool(self._keys[BID]) and bool(self._keys[ASK])

    # ------------------------------------------------------------------ sizes
    def __len__(self) -> int:
        return len(self._keys[BID]) + len(self._keys[ASK])

    def count(self, side: int) -> int:
        return len(self._keys[side])

    @property
    def bid_count(self) -> int:
        return len(self._keys[BID])

    @property
    def ask_count(self) -> int:
        return len(self._keys[ASK])

    def qty_at(self, side: int, price: float | str) -> float:
        """Quantity resting at exactly ``price`` on ``side`` (0.0 if no level)."""
        key = self._key_units(price, grow=False)
        if key is None:
            return 0.0
        return self._qty[side].get(key * _SIGN[side], 0.0)

    def qty_at_ticks(self, side: int, ticks: int) -> float:
        return self._qty[side].get(ticks if side == BID else -ticks, 0.0)

    def total_qty(self, side: int) -> float:
        return math.fsum(self._qty[side].values())

    # ------------------------------------------------------------------ depth
    def levels(self, side: int, n: int) -> list[tuple[float, float]]:
        """Up to ``n`` levels, best first, as (price, qty)."""
        if n <= 0:
            return []
        d = self._qty[side]
        units, scale, sign = self._units, self._scale, _SIGN[side]
        return [(sign * k * units / scale, d[k]) for k in self._keys[side][: -n - 1 : -1]]

    def levels_ticks(self, side: int, n: int) -> list[tuple[int, float]]:
        """Up to ``n`` levels, best first, as (ticks, qty)."""
        if n <= 0:
            return []
        d = self._qty[side]
        sign = _SIGN[side]
        return [(sign * k, d[k]) for k in self._keys[side][: -n - 1 : -1]]

    def _max_dev(self, touch: int, bps: float) -> float:
        """Largest integer ``dev`` (key units) with ``dev * 1e4 <= bps * touch``.

        The comparison is the definition of "within bps" used everywhere (depth and its
        reference model); the floor of the quotient is corrected both ways so float rounding
        in the division can never include or drop a boundary level."""
        limit = bps * touch
        if limit == math.inf:
            return math.inf  # every level, however far
        dev = math.floor(limit / 1e4)
        while (dev + 1) * 1e4 <= limit:
            dev += 1
        while dev > 0 and dev * 1e4 > limit:
            dev -= 1
        return dev

    def depth_within_bps(self, side: int, bps: float) -> float:
        """Total base qty on ``side`` at prices within ``bps`` of that side's touch.

        A level at ``t`` ticks is included iff ``|t - touch| * 1e4 <= bps * touch`` (touch
        included; ``bps < 0`` gives 0.0)."""
        keys = self._keys[side]
        if not keys or not bps >= 0.0:
            return 0.0
        best = keys[-1]
        dev = self._max_dev(abs(best), bps)
        i = bisect_left(keys, best - dev)
        d = self._qty[side]
        return math.fsum([d[k] for k in keys[i:]])

    def notional_within_bps(self, side: int, bps: float) -> float:
        """Quote notional (sum of price * qty) of the levels ``depth_within_bps`` counts."""
        keys = self._keys[side]
        if not keys or not bps >= 0.0:
            return 0.0
        best = keys[-1]
        dev = self._max_dev(abs(best), bps)
        i = bisect_left(keys, best - dev)
        d = self._qty[side]
        ticks_notional = math.fsum([abs(k) * d[k] for k in keys[i:]])
        return ticks_notional * self._units / self._scale

    # ------------------------------------------------------------------ taker maths
    def _walk(self, side: int, qty: float) -> tuple[int, float] | None:
        """(touch, mean distance from the touch) in key units to fill ``qty`` on ``side``.

        Works on distances from the touch rather than on prices so that the VWAP of a size
        filled at the touch is exactly the touch, and slippage carries no cancellation error.
        """
        keys = self._keys[side]
        if not keys:
            return None
        best = keys[-1]
        if not qty > 0.0:
            return abs(best), 0.0
        d = self._qty[side]
        remaining = qty
        cost = 0.0  # sum of (ticks away from touch) * qty taken
        for key in reversed(keys):
            q = d[key]
            if q >= remaining:
                cost += (best - key) * remaining
                remaining = 0.0
                break
            cost += (best - key) * q
            remaining -= q
        if remaining > qty * _FILL_REL_TOL:
            return None
        return abs(best), cost / qty

    def vwap(self, taker_side: str, qty: float) -> float | None:
        """Average price to take ``qty`` ("buy" walks asks, "sell" walks bids).

        None if that side is empty or holds less than ``qty``; ``qty <= 0`` gives the touch."""
        side = _side_index(taker_side)
        walked = self._walk(side, qty)
        if walked is None:
            return None
        touch, mean_dev = walked
        vwap_ticks = touch + mean_dev if side == ASK else touch - mean_dev
        return vwap_ticks * self._units / self._scale

    def slippage_bps(self, taker_side: str, qty: float) -> float | None:
        """Cost of taking ``qty`` versus the touch, in bps of the touch; >= 0 on both sides."""
        walked = self._walk(_side_index(taker_side), qty)
        if walked is None:
            return None
        touch, mean_dev = walked
        return mean_dev / touch * 1e4

    def qty_within_slippage(self, taker_side: str, max_bps: float) -> float:
        """Largest base qty whose taker slippage versus the touch is <= ``max_bps``.

        Slippage is continuous and non-decreasing in size, so walk levels while the running
        mean distance stays within the cap, then solve for the partial level that reaches it
        exactly. Returns the whole side if even that stays within the cap; 0.0 if empty or
        ``max_bps < 0``."""
        side = _side_index(taker_side)
        keys = self._keys[side]
        if not keys or not max_bps >= 0.0:
            return 0.0
        best = keys[-1]
        cap = max_bps * abs(best) / 1e4  # allowed mean distance from the touch, in ticks
        d = self._qty[side]
        filled = 0.0
        cost = 0.0
        for key in reversed(keys):
            q = d[key]
            dist = best - key
            if cost + dist * q <= cap * (filled + q):
                filled += q
                cost += dist * q
                continue
            # (cost + dist * x) / (filled + x) == cap; dist > cap here, so x in [0, q).
            if dist <= cap:  # only reachable through rounding at the boundary
                return filled
            x = (cap * filled - cost) / (dist - cap)
            return filled + max(0.0, min(x, q))
        return filled

    # ------------------------------------------------------------------ misc
    def copy(self) -> OrderBook:
        """Independent copy (e.g. for a scanner snapshot)."""
        other = type(self).__new__(type(self))
        other._tick = self._tick
        other.symbol = self.symbol
        other.last_update_id = self.last_update_id
        other.ts_ms = self.ts_ms
        other._units = self._units
        other._scale = self._scale
        other._per_tick = self._per_tick
        other._tick_units = self._tick_units
        other._tick_scale = self._tick_scale
        other._qty = (self._qty[BID].copy(), self._qty[ASK].copy())
        other._keys = (self._keys[BID].copy(), self._keys[ASK].copy())
        other._pcache = {}
        return other

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.symbol or '?'} tick={self.tick_size!r} bid={self.best_bid()} "
            f"ask={self.best_ask()} levels={len(self._keys[BID])}/{len(self._keys[ASK])} "
            f"u={self.last_update_id})"
        )


class _OffGridOrderBook(OrderBook):
    """The book while its key unit is finer than the tick (see ``OrderBook._refine``): the tick API
    scales between ticks and keys. A separate class so that the usual on-grid book pays nothing
    for it; ``OrderBook`` switches ``__class__`` both ways.

    An off-grid level has no tick of its own: the *_ticks reads round it away from the touch (bids
    down, asks up), to the tick a taker could surely get. Prices themselves are exact."""

    __slots__ = ()

    def set_level_ticks(self, side: int, ticks: int, qty: float) -> None:
        super().set_level_ticks(side, ticks * self._per_tick, qty)

    def best_bid_ticks(self) -> int | None:
        keys = self._keys[BID]
        return keys[-1] // self._per_tick if keys else None

    def best_ask_ticks(self) -> int | None:
        keys = self._keys[ASK]
        return -(keys[-1] // self._per_tick) if keys else None

    def qty_at_ticks(self, side: int, ticks: int) -> float:
        return super().qty_at_ticks(side, ticks * self._per_tick)

    def levels_ticks(self, side: int, n: int) -> list[tuple[int, float]]:
        if n <= 0:
            return []
        d = self._qty[side]
        sign, per_tick = _SIGN[side], self._per_tick
        return [(sign * (k // per_tick), d[k]) for k in self._keys[side][: -n - 1 : -1]]

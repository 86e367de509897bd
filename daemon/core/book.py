"""L2 order book: pure data structure, no I/O.

Prices are stored exactly, as integer multiples of a price unit: the tick, as long as every
price the venue sends is on the tick grid (always, for a sane venue). An off-grid price is not
rounded to a tick (that once merged 232 into a level at 40, and let a zero-qty update for an off-grid
price delete a real level): the unit is refined to a divisor of the tick that holds it and every key
is rescaled, once; ``load_snapshot`` keeps the finer unit and ``clear`` goes back to the tick.
Internally each side is kept in "key space", where key = +units on the bid side and -units on the
ask side, so that on *both* sides the best level is the largest key and the distance from the
touch (in the direction that costs a taker) is simply ``best_key - key``. Every query is
therefore written once for both sides.

Storage and the per-frame operations (apply, snapshot, touch, crossed, levels) live in a core:
the compiled ``daemon.core._book.BookCore`` (daemon/core/_book.c: per side a sorted int64 key
array and a float quantity array, best at the end; price text parsed straight into exact keys,
no Python object per level; levels also taken as raw JSON text) or, when that is not built or
``BASISD_PURE_BOOK=1`` is set, the pure-Python ``book_core.PyBookCore`` (same results, slower).
Both hand anything but plain on-grid decimal text to ``_slow_key``, the one exact (Decimal)
parser below. Keys are 64-bit: a price whose key would not fit is a ValueError in both.

Quantities are floats (base units); a quantity <= 0 (or NaN) removes the level.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal, InvalidOperation
from math import gcd
from typing import TYPE_CHECKING, Any, Final

import msgspec

from daemon.core.book_core import KEY_MAX, PyBookCore

try:
    from daemon.core import _book as _native
except ImportError:  # not built (no C compiler at install): the pure-Python core
    _native = None  # type: ignore[assignment]

__all__ = ["ASK", "BID", "IMPLEMENTATION", "NativeOrderBook", "OrderBook", "PyOrderBook"]

BID: Final = 0
ASK: Final = 1

# key = _SIGN[side] * ticks
_SIGN: Final = (1, -1)
# A taker buy consumes asks, a taker sell consumes bids. Upper case too: Binance spells it so.
_TAKER_SIDE: Final[dict[str, int]] = {"buy": ASK, "sell": BID, "BUY": ASK, "SELL": BID}
# Sizes computed by summing level quantities can exceed the true total by float rounding;
# such a residue must not turn a fillable order into "cannot fill".
_FILL_REL_TOL: Final = 1e-9
# Taker walks read this many levels first, the rest of the side only if the size needs it.
_WALK_CHUNK: Final = 32

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


class _Book:
    """Everything of the book above its core (see the module docstring). Not thread-safe; owned
    by one event loop."""

    __slots__ = ()

    _tick: float
    symbol: str
    last_update_id: int
    ts_ms: int
    _units: int
    _scale: int
    _per_tick: int
    _tick_units: int
    _tick_scale: int

    # the core's interface, for the type checker (BookCore / PyBookCore provide it)
    if TYPE_CHECKING:
        def _set_grid(self, units: int, scale: int) -> None: ...
        def _rescale(self, factor: int) -> None: ...
        def _copy_core(self, other: Any) -> None: ...
        def _best_key(self, side: int) -> int | None: ...
        def _top(self, side: int, n: int) -> list[tuple[int, float]]: ...
        def _within(self, side: int, lo: int | None) -> list[tuple[int, float]]: ...
        def _qty_key(self, side: int, key: int) -> float: ...
        def _set_key(self, side: int, key: int, qty: float) -> None: ...
        def apply_levels(self, side: int, levels: Any) -> None: ...
        def count(self, side: int) -> int: ...
        def best_bid(self) -> tuple[float, float] | None: ...
        def best_ask(self) -> tuple[float, float] | None: ...

    def __init__(self, tick_size: float | str, *, symbol: str = "") -> None:
        tick = float(tick_size)
        if not (math.isfinite(tick) and tick > 0.0):
            raise ValueError(f"tick_size must be a positive finite number, got {tick_size!r}")
        self._tick = tick
        self.symbol = symbol
        # Price of a key unit is _units / _scale; a tick is _per_tick key units (1 unless an
        # off-grid price refined the unit).
        self._set_grid(*_decimal_grid(tick_size))
        self.last_update_id = 0
        self.ts_ms = 0

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
        """False while the book holds (or held, since the last clear) an off-grid price."""
        return self._per_tick == 1

    def _key_units(self, price: str | float, grow: bool) -> int | None:
        """``price`` as an exact whole number of key units (unsigned).

        An off-grid price refines the unit when ``grow``; otherwise it answers None (no level
        can sit there). Floats are taken at their shortest repr, as a venue would have sent it;
        a float within float rounding (1e-12 relative) of a tick is that tick (computed prices
        such as ``mark - 3 * tick`` carry such noise; refining the unit to it would leave 64 bits)."""
        if not isinstance(price, str):
            f = float(price)
            t = round(f / self._tick) if math.isfinite(f) else 0
            if t and abs(f - t * self._tick) <= abs(f) * 1e-12:
                return t * self._per_tick
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

    def _slow_key(self, price: Any, grow: bool) -> int | None:
        """The cores' exact path for every price their fast parse does not take."""
        key = self._key_units(price, grow)
        if key is not None and not -KEY_MAX <= key <= KEY_MAX:
            raise ValueError(f"price {price!r} is beyond the book's 64-bit key range")
        return key

    def _apply_json_slow(self, side: int, raw: Any) -> None:
        """Raw JSON levels the compiled parser does not expect (escapes, numbers, extra fields)."""
        self.apply_levels(side, msgspec.json.decode(raw))

    def _refine(self, factor: int) -> None:
        """Divide the key unit by ``factor``: every key is multiplied, order is unchanged."""
        self._rescale(factor)

    # ------------------------------------------------------------------ mutation
    def set_level_ticks(self, side: int, ticks: int, qty: float) -> None:
        self._set_key(side, (ticks if side == BID else -ticks) * self._per_tick, float(qty))

    def set_level(self, side: int, price: float | str, qty: float | str) -> None:
        self.apply_levels(side, ((price, qty),))

    def apply_diff(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        self.apply_levels(BID, bids)
        self.apply_levels(ASK, asks)

    # ------------------------------------------------------------------ touch
    def best_bid_ticks(self) -> int | None:
        """An off-grid level has no tick of its own: the *_ticks reads round it away from the
        touch (bids down, asks up), to the tick a taker could surely get."""
        key = self._best_key(BID)
        return None if key is None else key // self._per_tick

    def best_ask_ticks(self) -> int | None:
        key = self._best_key(ASK)
        return None if key is None else -(key // self._per_tick)

    def best(self, side: int) -> tuple[float, float] | None:
        return self.best_bid() if side == BID else self.best_ask()

    def spread_bps(self) -> float | None:
        """(ask - bid) / mid * 1e4; negative when the book is crossed."""
        bk, ak = self._best_key(BID), self._best_key(ASK)
        if bk is None or ak is None:
            return None
        bid, ask = bk, -ak
        return (ask - bid) * 2e4 / (ask + bid)

    def is_empty(self) -> bool:
        """No level on either side."""
        return not self.count(BID) and not self.count(ASK)

    def is_two_sided(self) -> bool:
        return bool(self.count(BID)) and bool(self.count(ASK))

    # ------------------------------------------------------------------ sizes
    def __len__(self) -> int:
        return self.count(BID) + self.count(ASK)

    @property
    def bid_count(self) -> int:
        return self.count(BID)

    @property
    def ask_count(self) -> int:
        return self.count(ASK)

    def qty_at(self, side: int, price: float | str) -> float:
        """Quantity resting at exactly ``price`` on ``side`` (0.0 if no level)."""
        key = self._key_units(price, grow=False)
        if key is None or abs(key) > KEY_MAX:
            return 0.0
        return self._qty_key(side, key * _SIGN[side])

    def qty_at_ticks(self, side: int, ticks: int) -> float:
        key = (ticks if side == BID else -ticks) * self._per_tick
        return self._qty_key(side, key) if abs(key) <= KEY_MAX else 0.0

    def total_qty(self, side: int) -> float:
        return math.fsum([q for _, q in self._within(side, None)])

    # ------------------------------------------------------------------ depth
    def levels_ticks(self, side: int, n: int) -> list[tuple[int, float]]:
        """Up to ``n`` levels, best first, as (ticks, qty)."""
        sign, per_tick = _SIGN[side], self._per_tick
        return [(sign * (k // per_tick), q) for k, q in self._top(side, n)]

    def _walk_levels(self, side: int) -> Iterator[tuple[int, float]]:
        """(key, qty) best first: the first few, then the rest of the side only if asked for."""
        first = self._top(side, _WALK_CHUNK)
        yield from first
        if len(first) == _WALK_CHUNK:
            yield from self._top(side, self.count(side))[_WALK_CHUNK:]

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

    def _within_bps(self, side: int, bps: float) -> list[tuple[int, float]]:
        best = self._best_key(side)
        if best is None or not bps >= 0.0:
            return []
        dev = self._max_dev(abs(best), bps)
        lo = best - dev
        return self._within(side, int(lo) if -KEY_MAX <= lo <= KEY_MAX else None)

    def depth_within_bps(self, side: int, bps: float) -> float:
        """Total base qty on ``side`` at prices within ``bps`` of that side's touch.

        A level at ``t`` ticks is included iff ``|t - touch| * 1e4 <= bps * touch`` (touch
        included; ``bps < 0`` gives 0.0)."""
        return math.fsum([q for _, q in self._within_bps(side, bps)])

    def notional_within_bps(self, side: int, bps: float) -> float:
        """Quote notional (sum of price * qty) of the levels ``depth_within_bps`` counts."""
        levels = self._within_bps(side, bps)
        if not levels:
            return 0.0
        ticks_notional = math.fsum([abs(k) * q for k, q in levels])
        return ticks_notional * self._units / self._scale

    # ------------------------------------------------------------------ taker maths
    def _walk(self, side: int, qty: float) -> tuple[int, float] | None:
        """(touch, mean distance from the touch) in key units to fill ``qty`` on ``side``.

        Works on distances from the touch rather than on prices so that the VWAP of a size
        filled at the touch is exactly the touch, and slippage carries no cancellation error.
        """
        best = self._best_key(side)
        if best is None:
            return None
        if not qty > 0.0:
            return abs(best), 0.0
        remaining = qty
        cost = 0.0  # sum of (ticks away from touch) * qty taken
        for key, q in self._walk_levels(side):
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
        best = self._best_key(side)
        if best is None or not max_bps >= 0.0:
            return 0.0
        cap = max_bps * abs(best) / 1e4  # allowed mean distance from the touch, in ticks
        filled = 0.0
        cost = 0.0
        for key, q in self._walk_levels(side):
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
    def copy(self) -> Any:
        """Independent copy (e.g. for a scanner snapshot)."""
        other = type(self).__new__(type(self))
        other._tick = self._tick
        other.symbol = self.symbol
        self._copy_core(other)
        return other

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.symbol or '?'} tick={self.tick_size!r} bid={self.best_bid()} "
            f"ask={self.best_ask()} levels={self.count(BID)}/{self.count(ASK)} "
            f"u={self.last_update_id})"
        )


class PyOrderBook(_Book, PyBookCore):
    """The book on the pure-Python core."""

    __slots__ = ("_tick", "symbol")


if _native is not None:
    class NativeOrderBook(_Book, _native.BookCore):
        """The book on the compiled core."""

        __slots__ = ("_tick", "symbol")
else:
    NativeOrderBook = None  # type: ignore[assignment,misc]

# The book everyone uses: compiled unless it is absent or BASISD_PURE_BOOK=1 asks for Python.
if NativeOrderBook is not None and os.environ.get("BASISD_PURE_BOOK", "") in ("", "0"):
    OrderBook: type[_Book] = NativeOrderBook
    IMPLEMENTATION: Final = "native"
else:
    OrderBook = PyOrderBook
    IMPLEMENTATION = "python"

"""The pure-Python core of daemon.core.book.OrderBook: the fallback when the compiled core
(daemon/core/_book.c) is absent or ``BASISD_PURE_BOOK=1``. Same contract, same results
(tests/daemon/core/test_book_native.py feeds both the same streams and compares).

Per side, in key space (key = +units on bids, -units on asks: the best level is the largest key):
  * ``dict key -> qty`` for O(1) level look-up,
  * a list of keys sorted ascending, best at the end: venue diffs mostly touch levels near the
    touch, so ``insort`` / ``del`` move only the few tail elements, and the best is ``keys[-1]``.
Price text -> key goes through the book's one exact parser, ``_slow_key`` (Decimal), memoised per
string for diffs (bounded; the prices near the touch recur), since Python has no cheaper exact
parse. Levels may also come as the raw JSON
text of ``[[price, qty], ...]`` (msgspec.Raw from a decoder): decoded here, parsed by C in _book.c.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from typing import Any

import msgspec

__all__ = ["KEY_MAX", "SCALE_MAX", "PyBookCore"]

BID = 0
# Both cores keep keys in 64 bits and the unit's scale within 62 bits.
KEY_MAX = 2**63 - 1
SCALE_MAX = 2**62
_PRICE_CACHE_MAX = 2048
_BUFFERS = (msgspec.Raw, bytes, bytearray, memoryview)
_json_decode = msgspec.json.decode


class PyBookCore:
    __slots__ = ("_units", "_scale", "_per_tick", "_tick_units", "_tick_scale", "last_update_id",
                 "ts_ms", "_qty", "_keys", "_pcache")

    _qty: tuple[dict[int, float], dict[int, float]]
    _keys: tuple[list[int], list[int]]
    _pcache: dict[Any, int]

    def _slow_key(self, price: Any, grow: bool) -> int | None:  # provided by the book
        raise NotImplementedError

    # ------------------------------------------------------------------ grid
    def _set_grid(self, units: int, scale: int) -> None:
        if not (0 < units <= KEY_MAX and 0 < scale <= SCALE_MAX):
            raise ValueError("tick is beyond the book's 64-bit key range")
        self._units = self._tick_units = units
        self._scale = self._tick_scale = scale
        self._per_tick = 1
        self._qty = ({}, {})
        self._keys = ([], [])
        self._pcache = {}

    def _rescale(self, factor: int) -> None:
        """Divide the key unit by ``factor``: every key is multiplied, order is unchanged. In
        place, because ``apply_levels`` holds the dicts and lists in locals."""
        lim = KEY_MAX // factor
        if (factor <= 0 or self._scale > SCALE_MAX // factor or self._per_tick > lim
                or any(abs(k) > lim for d in self._qty for k in d)):
            raise ValueError("price is beyond the book's 64-bit key range")
        for side in (0, 1):
            d = self._qty[side]
            scaled = [(k * factor, q) for k, q in d.items()]
            d.clear()
            d.update(scaled)
            keys = self._keys[side]
            keys[:] = [k * factor for k in keys]
        self._scale *= factor
        self._per_tick *= factor
        self._pcache.clear()

    def _copy_core(self, other: PyBookCore) -> None:
        for name in ("_units", "_scale", "_per_tick", "_tick_units", "_tick_scale",
                     "last_update_id", "ts_ms"):
            setattr(other, name, getattr(self, name))
        other._qty = (self._qty[0].copy(), self._qty[1].copy())
        other._keys = (self._keys[0].copy(), self._keys[1].copy())
        other._pcache = {}

    # ------------------------------------------------------------------ mutation
    def clear(self) -> None:
        self._clear_levels()
        if self._per_tick != 1:  # with no levels left, an off-grid episode is over
            self._units, self._scale = self._tick_units, self._tick_scale
            self._per_tick = 1
            self._pcache.clear()

    def _parse_price(self, price: Any, grow: bool) -> int | None:
        key = self._slow_key(price, grow)  # before touching the memo: refining clears it
        if key is not None:
            cache = self._pcache
            if len(cache) >= _PRICE_CACHE_MAX:
                cache.clear()
            cache[price] = key
        return key

    def apply_levels(self, side: int, levels: Any) -> None:
        if isinstance(levels, _BUFFERS):
            levels = _json_decode(levels)
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

    def apply_update(self, bids: Any, asks: Any, update_id: int, ts_ms: int) -> bool:
        self.apply_levels(0, bids)
        self.apply_levels(1, asks)
        self.last_update_id = update_id
        self.ts_ms = ts_ms
        return self.is_crossed()

    def _set_key(self, side: int, key: int, qty: float) -> None:
        d = self._qty[side]
        if qty > 0.0:
            if key not in d:
                insort(self._keys[side], key)
            d[key] = qty
        elif key in d:
            del d[key]
            keys = self._keys[side]
            del keys[bisect_left(keys, key)]

    def load_snapshot(self, bids: Any, asks: Any, *, last_update_id: int | None = None,
                      ts_ms: int | None = None) -> None:
        self._clear_levels()
        try:
            self._load(bids, asks)
        except BaseException:
            self._clear_levels()   # a snapshot that cannot be read leaves no half a book
            raise
        if last_update_id is not None:
            self.last_update_id = last_update_id
        if ts_ms is not None:
            self.ts_ms = ts_ms

    def _clear_levels(self) -> None:
        for side in (0, 1):
            self._qty[side].clear()
            self._keys[side].clear()

    def _load(self, bids: Any, asks: Any) -> None:
        cache = self._pcache
        for side, levels in ((0, bids), (1, asks)):
            sign = -1 if side else 1
            d = self._qty[side]
            for lv in levels:
                p = lv[0]
                qty = float(lv[1])
                key = cache.get(p)
                if key is None:   # not memoised: most of a snapshot's far levels never recur
                    key = self._slow_key(p, qty > 0.0)
                    if key is None:
                        continue
                key *= sign
                if qty > 0.0:
                    d[key] = qty
                else:  # a later zero for a price seen earlier in the same snapshot removes it
                    d.pop(key, None)
            self._keys[side].extend(sorted(d))

    def trim(self, side: int, max_levels: int) -> int:
        keys = self._keys[side]
        excess = len(keys) - max(0, max_levels)
        if excess <= 0:
            return 0
        d = self._qty[side]
        for key in keys[:excess]:
            del d[key]
        del keys[:excess]
        return excess

    # ------------------------------------------------------------------ reads
    def best_bid(self) -> tuple[float, float] | None:
        keys = self._keys[0]
        if not keys:
            return None
        key = keys[-1]
        return key * self._units / self._scale, self._qty[0][key]

    def best_ask(self) -> tuple[float, float] | None:
        keys = self._keys[1]
        if not keys:
            return None
        key = keys[-1]
        return -key * self._units / self._scale, self._qty[1][key]

    def mid(self) -> float | None:
        bk, ak = self._keys
        if not bk or not ak:
            return None
        # One division of an exact integer: the correctly rounded mid, even at half ticks.
        return (bk[-1] - ak[-1]) * self._units / (2 * self._scale)

    def is_crossed(self) -> bool:
        bk, ak = self._keys
        return bool(bk) and bool(ak) and bk[-1] >= -ak[-1]

    def count(self, side: int) -> int:
        return len(self._keys[side])

    def levels(self, side: int, n: int) -> list[tuple[float, float]]:
        if n <= 0:
            return []
        d = self._qty[side]
        units, scale, sign = self._units, self._scale, -1 if side else 1
        return [(sign * k * units / scale, d[k]) for k in self._keys[side][: -n - 1 : -1]]

    def _best_key(self, side: int) -> int | None:
        keys = self._keys[side]
        return keys[-1] if keys else None

    def _top(self, side: int, n: int) -> list[tuple[int, float]]:
        if n <= 0:
            return []
        d = self._qty[side]
        return [(k, d[k]) for k in self._keys[side][: -n - 1 : -1]]

    def _within(self, side: int, lo: int | None) -> list[tuple[int, float]]:
        keys = self._keys[side]
        d = self._qty[side]
        i = 0 if lo is None else bisect_left(keys, lo)
        return [(k, d[k]) for k in reversed(keys[i:])]

    def _qty_key(self, side: int, key: int) -> float:
        return self._qty[side].get(key, 0.0)

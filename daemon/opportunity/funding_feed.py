"""Funding history per (venue, symbol): fetched at start, extended live at each settlement.

Pure core: `FundingStore` keeps the raw settled points, normalises them onto the symbol's own
funding grid (`funding_history.normalise`), fits the OU model on the longest evenly spaced tail
and detects settlements from the mark stream (`next_funding_ms` moving forward).
Thin shell: `FundingFeed` fetches history through per-venue fetchers at start, listens to the hub
for settlements, and re-fetches the latest rows after a settlement so the venue's settled value
replaces the locally inferred one.

A venue's fetcher lives with its connector (Binance: connectors/binance/funding_history.py).
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from msgspec import Struct

from daemon.core.economics import NoMeanReversion, OUFit, fit_ou
from daemon.core.funding_history import HOUR_MS, FundingSeries, normalise
from connectors.types import Mark
from daemon.hub import MARK, Hub

Key = tuple[str, str]  # (venue, symbol)
# (symbol, start_ms | None, limit) -> [(funding_time_ms, rate)] ascending
Fetcher = Callable[[str, int | None, int], Awaitable[list[tuple[int, float]]]]


class FundingStats(Struct, frozen=True, kw_only=True):
    """What the scanner needs from history for one perp."""

    venue: str
    symbol: str
    interval_h: float
    samples: int                     # evenly spaced samples in the fitted tail
    fit: OUFit | None
    fit_error: str = ""
    last_settled_rate: float | None = None
    last_settled_ms: int | None = None


def evenly_spaced_tail(series: FundingSeries) -> list[float]:
    """The rates of the longest run of consecutive grid slots ending at the latest slot.

    A hole (missing settlement) or an interval change breaks the AR(1) spacing; only the part
    after the last break is fit.
    """
    slots, rates = series.slot_ms, series.rate
    if not slots:
        return []
    start = len(slots) - 1
    while start > 0 and slots[start] - slots[start - 1] == series.interval_ms:
        start -= 1
    return rates[start:]


class SpreadFit(Struct, frozen=True, kw_only=True):
    """OU fit of the funding spread of a long/short pair: short venue's rate minus the long
    venue's, each summed over a common window (the coarser of the two intervals)."""

    window_h: float
    samples: int
    fit: OUFit | None
    fit_error: str = ""


def _window_sums(series: FundingSeries, window_ms: int) -> dict[int, float]:
    """Funding paid per complete window (every slot of the window present), keyed by window start."""
    per = window_ms // series.interval_ms
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for slot, rate in zip(series.slot_ms, series.rate):
        w = slot - slot % window_ms
        sums[w] = sums.get(w, 0.0) + rate
        counts[w] = counts.get(w, 0) + 1
    return {w: v for w, v in sums.items() if counts[w] == per}


def spread_samples(long: FundingSeries, short: FundingSeries) -> tuple[float, list[float]] | None:
    """(window hours, short - long funding per window) over the longest run of consecutive common
    windows ending at the latest one; None when the intervals do not nest (e.g. 3 h and 8 h)."""
    window_ms = max(long.interval_ms, short.interval_ms)
    if window_ms % long.interval_ms or window_ms % short.interval_ms:
        return None
    a, b = _window_sums(long, window_ms), _window_sums(short, window_ms)
    common = sorted(set(a) & set(b))
    if not common:
        return window_ms / HOUR_MS, []
    start = len(common) - 1
    while start > 0 and common[start] - common[start - 1] == window_ms:
        start -= 1
    return window_ms / HOUR_MS, [b[w] - a[w] for w in common[start:]]


def fit_spread(long: FundingSeries, short: FundingSeries, min_history: int) -> SpreadFit | None:
    spread = spread_samples(long, short)
    if spread is None:
        return None
    window_h, values = spread
    if len(values) < min_history:
        return SpreadFit(window_h=window_h, samples=len(values), fit=None,
                         fit_error=f"{len(values)} common windows < {min_history}")
    try:
        return SpreadFit(window_h=window_h, samples=len(values), fit=fit_ou(values, window_h))
    except (NoMeanReversion, ValueError) as exc:
        return SpreadFit(window_h=window_h, samples=len(values), fit=None, fit_error=str(exc))


class FundingStore:
    """Settled funding per (venue, symbol), with the current interval and an OU fit cache."""

    def __init__(self, *, min_history: int = 30, max_points: int = 5000,
                 tolerance_ms: int = 60_000) -> None:
        self.min_history = min_history
        self.max_points = max_points
        self.tolerance_ms = tolerance_ms
        self._points: dict[Key, dict[int, float]] = {}     # raw ts -> rate (last write wins)
        self._interval_h: dict[Key, float] = {}
        self._stats: dict[Key, FundingStats] = {}
        self._spreads: dict[tuple[Key, Key], SpreadFit] = {}
        self._pending: dict[Key, tuple[int, float]] = {}   # (next_funding_ms, predicted rate)
        self.settlements_seen = 0

    # -- input ---------------------------------------------------------------------------------
    def set_interval(self, key: Key, interval_h: float) -> None:
        if interval_h > 0 and self._interval_h.get(key) != interval_h:
            self._interval_h[key] = interval_h
            self._forget(key)

    def add_points(self, key: Key, points: Iterable[tuple[int, float]], *,
                   inferred: bool = False) -> int:
        """Merge settled (ts_ms, rate) points. Venue rows win over inferred ones.

        Inferred points (from the mark stream) sit exactly on the slot; venue rows are stamped a
        few ms late. One raw point per slot is kept so normalise() never sees the pair as a
        duplicate and keeps the wrong one.
        """
        store = self._points.setdefault(key, {})
        interval_ms = round(self._interval_h.get(key, 8.0) * HOUR_MS)
        tol = self.tolerance_ms
        added = 0
        for ts, rate in points:
            slot = ((ts + interval_ms // 2) // interval_ms) * interval_ms
            if inferred:
                if any(abs(t - slot) <= tol for t in store if t != ts):
                    continue        # the venue already published this slot
            elif slot != ts:
                store.pop(slot, None)   # drop the inferred value for this slot
            store[ts] = rate
            added += 1
        if len(store) > self.max_points:
            for ts in sorted(store)[: len(store) - self.max_points]:
                del store[ts]
        if added:
            self._forget(key)
        return added

    def _forget(self, key: Key) -> None:
        """Drop cached fits that used `key`'s history."""
        self._stats.pop(key, None)
        for pair in [p for p in self._spreads if key in p]:
            del self._spreads[pair]

    def on_mark(self, mark: Mark) -> tuple[int, float] | None:
        """Detect a settlement from the mark stream: returns the (slot_ms, rate) it recorded.

        When `next_funding_ms` moves forward the previous slot has settled. Its rate is the
        venue's `last_settled_rate` when the mark carries it, else the last predicted rate seen
        for that slot (Binance's predicted rate converges to the settled one by settlement).
        """
        key = (mark.venue, mark.symbol)
        if mark.interval_h > 0:
            self.set_interval(key, mark.interval_h)
        prev = self._pending.get(key)
        self._pending[key] = (mark.next_funding_ms, mark.funding_rate)
        if prev is None or mark.next_funding_ms <= prev[0]:
            return None
        settled_ms = prev[0]
        rate = mark.last_settled_rate if mark.last_settled_rate is not None else prev[1]
        self.add_points(key, [(settled_ms, rate)], inferred=True)
        self.settlements_seen += 1
        return settled_ms, rate

    # -- output --------------------------------------------------------------------------------
    def keys(self) -> list[Key]:
        return list(self._points)

    def series(self, key: Key) -> FundingSeries | None:
        pts = self._points.get(key)
        if not pts:
            return None
        interval_h = self._interval_h.get(key, 8.0)
        return normalise(key[1], sorted(pts.items()), interval_h, tolerance_ms=self.tolerance_ms)

    def stats(self, key: Key) -> FundingStats | None:
        cached = self._stats.get(key)
        if cached is not None:
            return cached
        series = self.series(key)
        if series is None:
            return None
        interval_h = series.interval_ms / HOUR_MS
        tail = evenly_spaced_tail(series)
        fit: OUFit | None = None
        error = ""
        if len(tail) < self.min_history:
            error = f"{len(tail)} evenly spaced samples < {self.min_history}"
        else:
            try:
                fit = fit_ou(tail, interval_h)
            except (NoMeanReversion, ValueError) as exc:
                error = str(exc)
        stats = FundingStats(
            venue=key[0], symbol=key[1], interval_h=interval_h, samples=len(tail), fit=fit,
            fit_error=error,
            last_settled_rate=series.rate[-1] if series.rate else None,
            last_settled_ms=series.slot_ms[-1] if series.slot_ms else None,
        )
        self._stats[key] = stats
        return stats

    def spread_fits(self) -> dict[tuple[Key, Key], SpreadFit]:
        """Spread fits for every ordered pair of venues holding the same symbol (long, short)."""
        out: dict[tuple[Key, Key], SpreadFit] = {}
        keys = sorted(self._points)
        by_symbol: dict[str, list[Key]] = {}
        for key in keys:
            by_symbol.setdefault(key[1], []).append(key)
        for long_key in keys:
            for short_key in by_symbol[long_key[1]]:      # linear: only keys of the same symbol
                if long_key[0] == short_key[0]:
                    continue
                cached = self._spreads.get((long_key, short_key))
                if cached is None:
                    a, b = self.series(long_key), self.series(short_key)
                    if a is None or b is None:
                        continue
                    cached = fit_spread(a, b, self.min_history)
                    if cached is None:
                        continue
                    self._spreads[(long_key, short_key)] = cached
                out[(long_key, short_key)] = cached
        return out

    def all_stats(self) -> dict[Key, FundingStats]:
        out = {}
        for key in self._points:
            s = self.stats(key)
            if s is not None:
                out[key] = s
        return out


# ---------------------------------------------------------------------------------------------
# Shell
# ---------------------------------------------------------------------------------------------


class FundingFeed:
    """Fetch history at start, extend it live from the hub's mark stream.

    `fetchers` maps venue name -> Fetcher; `symbols` maps venue name -> perp symbols.
    """

    def __init__(self, hub: Hub, fetchers: Mapping[str, Fetcher],
                 symbols: Mapping[str, Iterable[str]], *, min_history: int = 30,
                 history_limit: int = 1000, refetch_delay_s: float = 2.0,
                 log: Any = None) -> None:
        self.hub = hub
        self.fetchers = dict(fetchers)
        self.symbols = {v: list(s) for v, s in symbols.items()}
        self.store = FundingStore(min_history=min_history)
        self.history_limit = history_limit
        self.refetch_delay_s = refetch_delay_s
        self.log = log
        self.errors: dict[Key, str] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._unsubscribe = self.hub.subscribe(self._on_hub, priority=60)
        await asyncio.gather(*(self._load(v, s) for v, syms in self.symbols.items() for s in syms))

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def stats(self) -> dict[Key, FundingStats]:
        return self.store.all_stats()

    def spread_fits(self) -> dict[tuple[Key, Key], SpreadFit]:
        return self.store.spread_fits()

    def status_fields(self) -> dict[str, Any]:
        return {"funding_history": {f"{v}:{s}": st.samples for (v, s), st in self.stats().items()}}

    def _interval_for(self, venue: str, symbol: str) -> float | None:
        mark = self.hub.marks.get((venue, symbol))
        if mark is not None and mark.interval_h > 0:
            return mark.interval_h
        for inst in self.hub.instruments.values():
            if inst.venue == venue and inst.symbol == symbol and inst.market == "perp":
                return inst.funding_interval_h
        return None

    async def _load(self, venue: str, symbol: str, start_ms: int | None = None) -> None:
        fetch = self.fetchers.get(venue)
        if fetch is None:
            return
        key = (venue, symbol)
        interval = self._interval_for(venue, symbol)
        if interval is not None:
            self.store.set_interval(key, interval)
        try:
            rows = await fetch(symbol, start_ms, self.history_limit)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # history is an input to signals, never a reason to stop
            self.errors[key] = repr(exc)
            if self.log is not None:
                self.log.warning("funding_history_failed", venue=venue, symbol=symbol,
                                 error=repr(exc))
            return
        self.errors.pop(key, None)
        self.store.add_points(key, rows)

    def _on_hub(self, kind: str, item: Any) -> None:
        if kind != MARK:
            return
        settled = self.store.on_mark(item)
        if settled is not None and item.venue in self.fetchers:
            # The venue's settled row replaces the inferred one once it is published.
            interval_ms = round(item.interval_h * HOUR_MS)
            self._spawn(self._refetch(item.venue, item.symbol, settled[0] - interval_ms))

    async def _refetch(self, venue: str, symbol: str, start_ms: int) -> None:
        await asyncio.sleep(self.refetch_delay_s)
        await self._load(venue, symbol, start_ms)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

"""L2 books as integer ticks -> integer lots, with Binance update-id sequencing, and the model that
lays liquidity around a mid price (depth thinning away from the touch, consumed liquidity refilling).

Sequencing: every level change bumps `update_id`; a diff published at a step carries
U = previous u + 1, u = update_id, pu = previous u, so spot's `U == prev u + 1` and futures'
`pu == prev u` both hold. A snapshot taken with nothing pending reserves one id, so that the next
diff always satisfies both documented sync rules (spot: U <= lastUpdateId+1 <= u; futures:
U <= lastUpdateId <= u) and applying it on top of the snapshot is exact (levels are absolute)."""
from __future__ import annotations

import math
import random

Levels = dict[int, int]
Diff = tuple[int, int, int, list[tuple[int, int]], list[tuple[int, int]]]


def _changes(old: Levels, new: Levels) -> list[tuple[int, int]]:
    out = [(p, q) for p, q in new.items() if old.get(p) != q]
    out.extend((p, 0) for p in old if p not in new)
    return out


class Book:
    def __init__(self, first_update_id: int) -> None:
        self.bids: Levels = {}
        self.asks: Levels = {}
        self._pub_bids: Levels = {}
        self._pub_asks: Levels = {}
        self.update_id = first_update_id
        self.last_u = first_update_id

    def replace(self, bids: Levels, asks: Levels) -> None:
        n = len(_changes(self.bids, bids)) + len(_changes(self.asks, asks))
        self.bids, self.asks = bids, asks
        self.update_id += n

    def take(self, bid_side: bool, tick: int, lots: int) -> None:
        side = self.bids if bid_side else self.asks
        left = side.get(tick, 0) - lots
        if left > 0:
            side[tick] = left
        else:
            side.pop(tick, None)
        self.update_id += 1

    def snapshot_id(self) -> int:
        if self.update_id == self.last_u:
            self.update_id += 1
        return self.update_id

    def best_bid(self) -> tuple[int, int] | None:
        if not self.bids:
            return None
        p = max(self.bids)
        return p, self.bids[p]

    def best_ask(self) -> tuple[int, int] | None:
        if not self.asks:
            return None
        p = min(self.asks)
        return p, self.asks[p]

    def sorted_bids(self, limit: int | None = None) -> list[tuple[int, int]]:
        return sorted(self.bids.items(), reverse=True)[:limit]

    def sorted_asks(self, limit: int | None = None) -> list[tuple[int, int]]:
        return sorted(self.asks.items())[:limit]

    def publish(self) -> Diff | None:
        """Changes since the last publish, as (U, u, pu, bids, asks); None when nothing happened."""
        if self.update_id == self.last_u:
            return None
        b = sorted(_changes(self._pub_bids, self.bids), reverse=True)
        a = sorted(_changes(self._pub_asks, self.asks))
        diff = (self.last_u + 1, self.update_id, self.last_u, b, a)
        self.last_u = self.update_id
        self._pub_bids = dict(self.bids)
        self._pub_asks = dict(self.asks)
        return diff


class DepthModel:
    """Liquidity around a mid: a one-tick spread at the touch, then levels on a fixed grid of
    `spacing` ticks whose size decays with distance; per-price noise persists between steps (so a
    diff carries only what moved) and is refreshed a few levels at a time."""

    def __init__(self, rng: random.Random, levels: int, spacing: int, touch_lots: float,
                 decay: float, refill_tau_s: float) -> None:
        self.rng = rng
        self.levels = levels
        self.spacing = max(1, spacing)
        self.touch_lots = touch_lots
        self.decay = decay
        self.refill_tau_s = refill_tau_s
        self.noise: dict[int, float] = {}
        self.depleted_bids: dict[int, float] = {}
        self.depleted_asks: dict[int, float] = {}

    def _noise(self, tick: int) -> float:
        v = self.noise.get(tick)
        if v is None:
            v = self.noise[tick] = 0.5 + self.rng.random()
        return v

    def refresh(self, dt_s: float) -> None:
        keys = sorted(self.noise)
        for k in keys:
            if self.rng.random() < 0.03:
                self.noise[k] = 0.5 + self.rng.random()
        f = math.exp(-dt_s / self.refill_tau_s)
        for dep in (self.depleted_bids, self.depleted_asks):
            for k in list(dep):
                dep[k] *= f
                if dep[k] < 0.5:
                    del dep[k]

    def deplete(self, bid_side: bool, tick: int, lots: int) -> None:
        dep = self.depleted_bids if bid_side else self.depleted_asks
        dep[tick] = dep.get(tick, 0.0) + lots

    def levels_for(self, mid_ticks: float) -> tuple[Levels, Levels]:
        bid0 = math.ceil(mid_ticks) - 1
        ask0 = bid0 + 1
        sp = self.spacing
        bid_ticks = [bid0] + [(bid0 - 1) // sp * sp - i * sp for i in range(self.levels - 1)]
        ask_ticks = [ask0] + [(ask0 // sp + 1) * sp + i * sp for i in range(self.levels - 1)]
        bids = self._side(bid_ticks, self.depleted_bids)
        asks = self._side(ask_ticks, self.depleted_asks)
        lo = bid_ticks[-1] - sp
        hi = ask_ticks[-1] + sp
        for k in [k for k in self.noise if k < lo or k > hi]:
            del self.noise[k]
        return bids, asks

    def _side(self, ticks: list[int], dep: dict[int, float]) -> Levels:
        out: Levels = {}
        for i, t in enumerate(ticks):
            if t <= 0:
                break
            q = self.touch_lots * math.exp(-self.decay * i) * self._noise(t) - dep.get(t, 0.0)
            lots = int(q)
            if lots > 0:
                out[t] = lots
        return out

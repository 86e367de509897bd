"""A seeded, generated Binance USD-M depth stream: one REST snapshot and `@depth@100ms` frames.

The shape of BTCUSDT on fapi: tick 0.1, a `levels`-a-side snapshot (`/fapi/v1/depth?limit=1000`
body), then combined-stream frames `{"stream": "btcusdt@depth@100ms", "data": {depthUpdate}}`
with a `pu` chain (U = previous u + 1, pu = previous u) and about `changes` level changes a
frame: 80 % within 10 ticks of the touch, 15 % within 100, 5 % anywhere in the book; a quarter
of them deletions of a level that exists (qty "0.000"). The mid drifts by a tick now and then;
a level the drift would cross is deleted in the same frame, so the book never crosses (every
consumer's sequence and crossed-book checks pass). Deterministic per seed.

`frames` are bytes as the websocket delivers them to our connector; `inner(frame)` is the bare
depthUpdate object that a raw `/ws/<symbol>@depth` stream (ccxt's) delivers.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import orjson

SYMBOL = "BTCUSDT"
TICK = "0.1"
_TICK_F = 0.1
STREAM = "btcusdt@depth@100ms"
_T0_MS = 1_764_000_000_000


@dataclass(frozen=True, slots=True)
class DepthStream:
    snapshot: bytes            # the REST body
    last_update_id: int
    frames: list[bytes]        # combined-stream frames, in order
    levels: int
    changes: int               # level changes in all frames

    def snapshot_levels(self) -> tuple[list[list[str]], list[list[str]]]:
        d = orjson.loads(self.snapshot)
        return d["bids"], d["asks"]


def inner(frame: bytes) -> bytes:
    """The depthUpdate object of a combined-stream frame (what a raw stream sends)."""
    start = frame.index(b'"data":') + 7
    return frame[start:-1]


def _px(ticks: int) -> str:
    return f"{ticks * _TICK_F:.1f}"


def generate(n_frames: int = 200_000, levels: int = 1000, changes: int = 5, seed: int = 16,
             mid_ticks: int = 600_000) -> DepthStream:
    rng = random.Random(seed)
    bids: dict[int, str] = {}
    asks: dict[int, str] = {}
    for i in range(1, levels + 1):
        bids[mid_ticks - i] = f"{rng.uniform(0.001, 20):.3f}"
        asks[mid_ticks + i] = f"{rng.uniform(0.001, 20):.3f}"
    last_id = 7_000_000_000
    ms = _T0_MS
    snap = {"lastUpdateId": last_id, "E": ms, "T": ms,
            "bids": [[_px(t), bids[t]] for t in sorted(bids, reverse=True)],
            "asks": [[_px(t), asks[t]] for t in sorted(asks)]}
    frames: list[bytes] = []
    mid = mid_ticks          # no level at `mid`: bids below it, asks above it
    prev_u = last_id - 3     # the first frame straddles the snapshot: U <= lastUpdateId <= u
    total = 0
    dumps = orjson.dumps
    for _ in range(n_frames):
        b: list[list[str]] = []
        a: list[list[str]] = []
        step = rng.random()
        if step < 0.05:          # the mid ticks up: an ask at the new mid goes
            mid += 1
            if asks.pop(mid, None) is not None:
                a.append([_px(mid), "0.000"])
        elif step < 0.10:
            mid -= 1
            if bids.pop(mid, None) is not None:
                b.append([_px(mid), "0.000"])
        k = max(1, changes - len(a) - len(b) + rng.choice((-1, 0, 0, 1)))
        for _ in range(k):
            side_bid = rng.random() < 0.5
            r = rng.random()
            span = 10 if r < 0.8 else 100 if r < 0.95 else levels
            dist = 1 + rng.randrange(span)
            book, out = (bids, b) if side_bid else (asks, a)
            t = mid - dist if side_bid else mid + dist
            if t in book and rng.random() < 0.25:
                del book[t]
                out.append([_px(t), "0.000"])
            else:
                q = f"{rng.uniform(0.001, 20):.3f}"
                book[t] = q
                out.append([_px(t), q])
        total += len(a) + len(b)
        ms += 100
        u = prev_u + 1 + rng.randrange(20)
        if not frames:
            u = last_id + rng.randrange(20)
        frames.append(dumps({"stream": STREAM, "data": {
            "e": "depthUpdate", "E": ms, "T": ms - 2, "s": SYMBOL, "U": prev_u + 1, "u": u,
            "pu": prev_u, "b": b, "a": a}}))
        prev_u = u
    return DepthStream(dumps(snap), last_id, frames, levels, total)

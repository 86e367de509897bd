"""daemon.core.book throughput.

1. Real workload: the four USD-M depth@100ms streams recorded in
   realdata/cryptofeed_master/BINANCE_FUTURES.ws.1.0 (snapshot + diffs), replayed many times.
   Frames are decoded once up front; what is timed is the book's own work (parsing the price
   and qty strings, rounding to ticks, the sorted-key maintenance).
2. Synthetic near-touch workload on a 1000-level book, comparing the shipped sorted-list book
   with a heap + lazy-deletion alternative (the other design the issue suggested).
3. Read costs: best bid/ask, mid, VWAP, depth within bps.

Run: python -m benchmarks.bench_book [--rounds N]
"""
from __future__ import annotations

import argparse
import heapq
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from daemon.core.book import ASK, BID, OrderBook

ROOT = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("BASISD_REALDATA", ROOT.parent / "shared" / "realdata"))
CF = REALDATA / "cryptofeed_master"


def _ns_per(total_ns: int, n: int) -> str:
    return f"{total_ns / max(n, 1):8.1f} ns"


Json = dict[str, Any]


def load_binance() -> tuple[dict[str, str], dict[str, Json], dict[str, list[Json]]]:
    ticks, snaps, raw = load_binance_raw()
    return ticks, snaps, {s: [orjson.loads(f) for f in frames] for s, frames in raw.items()}


def load_binance_raw() -> tuple[dict[str, str], dict[str, Json], dict[str, list[bytes]]]:
    """Tick sizes, decoded snapshots, and each symbol's applicable depth frames still encoded."""
    info = orjson.loads((CF / "BINANCE_FUTURES.0").read_bytes().splitlines()[0].split(b": ", 1)[1])
    ticks = {
        s["symbol"]: f["tickSize"]
        for s in info["symbols"]
        for f in s["filters"]
        if f["filterType"] == "PRICE_FILTER"
    }
    snaps: dict[str, Json] = {}
    for line in (CF / "BINANCE_FUTURES.http.0.0").read_bytes().splitlines():
        if line.strip():
            url, body = line.split(b" -> ", 1)
            sym = url.split(b"symbol=")[1].split(b"&")[0].decode()
            snaps[sym] = orjson.loads(body.split(b": ", 1)[1])
    diffs: dict[str, list[bytes]] = {s: [] for s in snaps}
    for line in (CF / "BINANCE_FUTURES.ws.1.0").read_bytes().splitlines()[1:]:
        data = orjson.loads(line.split(b": ", 1)[1])["data"]
        if data["e"] == "depthUpdate" and data["u"] >= snaps[data["s"]]["lastUpdateId"]:
            diffs[data["s"]].append(orjson.dumps(data))
    return ticks, snaps, diffs


def bench_real(rounds: int) -> None:
    ticks, snaps, raw = load_binance_raw()
    diffs = {s: [orjson.loads(f) for f in frames] for s, frames in raw.items()}
    books = {s: OrderBook(ticks[s], symbol=s) for s in snaps}
    n_frames = sum(len(v) for v in diffs.values())
    n_levels = sum(len(d["b"]) + len(d["a"]) for v in diffs.values() for d in v)
    snap_levels = sum(len(s["bids"]) + len(s["asks"]) for s in snaps.values())
    t_snap = t_diff = 0
    perf = time.perf_counter_ns
    for _ in range(rounds):
        for sym, book in books.items():
            # Fresh string objects every round, as a live decoder produces: keeps the price
            # memo honest (a str caches its hash, so re-used objects would flatter it).
            snap = orjson.loads(orjson.dumps(snaps[sym]))
            frames = [orjson.loads(f) for f in raw[sym]]
            t0 = perf()
            book.load_snapshot(snap["bids"], snap["asks"])
            t1 = perf()
            for d in frames:
                book.apply_levels(BID, d["b"])
                book.apply_levels(ASK, d["a"])
                book.last_update_id = d["u"]
            t_diff += perf() - t1
            t_snap += t1 - t0
    print(
        f"binance usd-m replay: {len(snaps)} symbols, {n_frames} diffs, {n_levels} level updates "
        f"(~{n_levels / max(n_frames, 1):.1f}/diff), {rounds} rounds"
    )
    print(f"  apply per level update   {_ns_per(t_diff, n_levels * rounds)}")
    print(f"  apply per diff frame     {_ns_per(t_diff, n_frames * rounds)}")
    print(
        f"  load_snapshot per level  {_ns_per(t_snap, snap_levels * rounds)}"
        f"  ({snap_levels // len(snaps)} levels/book)"
    )
    for sym, book in books.items():
        print(
            f"  {sym:10s} final {book.best_bid()} / {book.best_ask()}"
            f" levels {book.bid_count}/{book.ask_count}"
        )


class HeapBook:
    """Comparison only: dict + heap with lazy deletion (rebuilt when stale entries pile up)."""

    def __init__(self) -> None:
        self.qty: tuple[dict[int, float], dict[int, float]] = ({}, {})
        self.heap: tuple[list[int], list[int]] = ([], [])

    def set_level_ticks(self, side: int, ticks: int, qty: float) -> None:
        key = -ticks if side == BID else ticks  # min-heap of keys: best first
        d = self.qty[side]
        if qty > 0.0:
            if key not in d:
                h = self.heap[side]
                heapq.heappush(h, key)
                if len(h) > 2 * len(d) + 64:
                    h[:] = list(d) + [key]
                    heapq.heapify(h)
            d[key] = qty
        else:
            d.pop(key, None)

    def best_ticks(self, side: int) -> int | None:
        h, d = self.heap[side], self.qty[side]
        while h and h[0] not in d:
            heapq.heappop(h)
        if not h:
            return None
        return -h[0] if side == BID else h[0]


def near_touch_workload(n: int, seed: int = 7) -> list[tuple[int, int, float]]:
    """(side, ticks, qty) updates on a drifting mid: 80% within 10 ticks of the touch, 15% within
    100, 5% far; 25% deletions (roughly Binance's mix of size changes and pulled quotes)."""
    rng = random.Random(seed)
    mid = 1_000_000
    out: list[tuple[int, int, float]] = []
    for _ in range(n):
        mid += rng.choice((-1, 0, 0, 0, 1))
        side = rng.randrange(2)
        r = rng.random()
        span = 10 if r < 0.8 else 100 if r < 0.95 else 1000
        dist = 1 + rng.randrange(span)
        ticks = mid - dist if side == BID else mid + dist
        qty = 0.0 if rng.random() < 0.25 else round(rng.uniform(0.001, 50), 3)
        out.append((side, ticks, qty))
    return out


def seed_book(book: Any, mid: int = 1_000_000, depth: int = 1000) -> None:
    for i in range(1, depth + 1):
        book.set_level_ticks(BID, mid - i, 1.0)
        book.set_level_ticks(ASK, mid + i, 1.0)


def bench_structures(n: int) -> None:
    work = near_touch_workload(n)
    perf = time.perf_counter_ns
    rows: list[tuple[str, int, int]] = []

    sorted_book = OrderBook(0.01)
    seed_book(sorted_book)
    set_ = sorted_book.set_level_ticks
    bb, ba = sorted_book.best_bid_ticks, sorted_book.best_ask_ticks
    t0 = perf()
    for side, ticks, qty in work:
        set_(side, ticks, qty)
    t1 = perf()
    for side, ticks, qty in work:
        set_(side, ticks, qty)
        bb()
        ba()
    t2 = perf()
    rows.append(("sorted list + bisect (shipped)", t1 - t0, t2 - t1))

    heap_book = HeapBook()
    seed_book(heap_book)
    hset, hbest = heap_book.set_level_ticks, heap_book.best_ticks
    t0 = perf()
    for side, ticks, qty in work:
        hset(side, ticks, qty)
    t1 = perf()
    for side, ticks, qty in work:
        hset(side, ticks, qty)
        hbest(BID)
        hbest(ASK)
    t2 = perf()
    rows.append(("heap + lazy deletion", t1 - t0, t2 - t1))

    print(f"synthetic near-touch updates on a 2x1000-level book, n={n}")
    for name, upd, upd_read in rows:
        print(f"  {name:32s} update {_ns_per(upd, n)}   update+best bid/ask {_ns_per(upd_read, n)}")
    print(f"  (final: sorted {sorted_book.best_bid_ticks()}/{sorted_book.best_ask_ticks()}, "
          f"heap {heap_book.best_ticks(BID)}/{heap_book.best_ticks(ASK)})")


def _time(label: str, fn: Callable[[], object], n: int) -> None:
    perf = time.perf_counter_ns
    t0 = perf()
    for _ in range(n):
        fn()
    print(f"  {label:34s} {_ns_per(perf() - t0, n)}")


def bench_reads(n: int) -> None:
    _, snaps, _ = load_binance()
    book = OrderBook("0.0010", symbol="SUSHIUSDT")
    snap = snaps["SUSHIUSDT"]
    book.load_snapshot(snap["bids"], snap["asks"])
    top10 = sum(q for _, q in book.levels(ASK, 10))
    print(f"reads on SUSHIUSDT snapshot ({book.bid_count}/{book.ask_count} levels), n={n}")
    _time("best_bid_ticks()", book.best_bid_ticks, n)
    _time("best_bid() -> (price, qty)", book.best_bid, n)
    _time("mid()", book.mid, n)
    _time("is_crossed()", book.is_crossed, n)
    _time("vwap('buy', top-10 qty)", lambda: book.vwap("buy", top10), n // 10)
    _time("slippage_bps('sell', top-10 qty)", lambda: book.slippage_bps("sell", top10), n // 10)
    _time("depth_within_bps(BID, 10)", lambda: book.depth_within_bps(BID, 10.0), n // 10)
    _time("qty_within_slippage('buy', 5)", lambda: book.qty_within_slippage("buy", 5.0), n // 10)
    _time("levels(ASK, 20)", lambda: book.levels(ASK, 20), n // 10)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=30, help="replays of the real recording")
    ap.add_argument("--n", type=int, default=200_000, help="synthetic updates / read iterations")
    args = ap.parse_args(argv if argv is not None else [])
    bench_real(args.rounds)
    bench_structures(args.n)
    bench_reads(args.n)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

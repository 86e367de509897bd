"""Memory of books: RSS of N books of L levels a side, measured in a fresh subprocess.

The child imports everything, generates one depth stream (benchmarks/stream.py), reads its RSS,
then builds N books the way the connector does (hub.book(key) under a BookSync, loaded from the
decoded REST snapshot, then `diffs` depth frames decoded and applied through the sync: each book
decodes its own copies, so no price string is shared between books), collects garbage and reads
RSS again. The delta is the books' own memory (price caches included).

Run: python -m benchmarks.bench_memory [--books N] [--levels L] [--diffs D]
"""
from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def child(books: int, levels: int, diffs: int) -> dict[str, Any]:
    from benchmarks.stream import generate
    from connectors.binance import schemas
    from connectors.binance.sync import BookSync, Rule, Sync
    from connectors.types import Instrument, InstrumentKey
    from daemon.hub import Hub

    stream = generate(diffs, levels=levels, seed=300)
    hub = Hub()
    keys = []
    for i in range(books):
        sym = f"B{i:03d}USDT"
        hub.set_instrument(Instrument(venue="m", market="perp", symbol=sym, base=sym[:-4],
                                      quote="USDT", tick_size=0.1, step_size=0.001))
        keys.append(InstrumentKey("m", "perp", sym))
    gc.collect()
    before = rss_kb()
    syncs = []
    for key in keys:
        sync = BookSync(hub.book(key), Rule.FUTURES)
        snap = schemas.DEPTH_SNAPSHOT.decode(stream.snapshot)
        sync.reset()
        if sync.on_snapshot(snap.lastUpdateId, snap.bids, snap.asks, snap.T) is not Sync.SYNCED:
            raise RuntimeError("snapshot did not sync")
        del snap
        for frame in stream.frames:
            if sync.apply_event(schemas.DEPTH_ENVELOPE.decode(frame).data) is not Sync.APPLIED:
                raise RuntimeError("a generated frame did not apply")
        syncs.append(sync)
    gc.collect()
    after = rss_kb()
    held = sum(len(s.book) for s in syncs) / max(books, 1)
    return {"books": books, "levels": levels, "diffs": diffs, "rss_before_kb": before,
            "rss_after_kb": after, "delta_kb": after - before, "levels_per_book": held}


def measure(books: int = 300, levels: int = 1000, diffs: int = 2000, timeout: float = 900.0
            ) -> dict[str, Any]:
    """Run `child` in a fresh interpreter; returns its figures plus the derived ones."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_memory", "--child",
                          "--books", str(books), "--levels", str(levels), "--diffs", str(diffs)],
                         cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bench_memory child failed: {out.stderr[-2000:]}")
    res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    res["rss_mb"] = res["delta_kb"] / 1024
    # per book, scaled to 1000 levels a side (the book holds 2 x levels_per_book / 2 levels)
    res["kb_per_1000_level_book"] = res["delta_kb"] / books * (2000 / max(res["levels_per_book"], 1))
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--books", type=int, default=300)
    ap.add_argument("--levels", type=int, default=1000)
    ap.add_argument("--diffs", type=int, default=2000)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv if argv is not None else [])
    if args.child:
        print(json.dumps(child(args.books, args.levels, args.diffs)))
        return
    print(measure(args.books, args.levels, args.diffs))


if __name__ == "__main__":
    main(sys.argv[1:])

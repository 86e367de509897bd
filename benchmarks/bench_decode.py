"""Depth frame -> book -> hub: the connector's real per-frame path on real Binance USD-M frames.

Frames: the `@depth@100ms` frames recorded in realdata/cryptofeed_master/BINANCE_FUTURES.ws.1.0
(the exact bytes Binance sent on a combined stream), those that apply on top of the recorded REST
snapshots. What is timed per frame is `_BookFeed.on_frame(bytes)` of connectors/binance/market_data
itself: precompiled msgspec decode -> BookSync (pu chain) -> OrderBook.apply_levels -> hub.touch +
hub.book_changed (one no-op subscriber, so the publish loop runs). Each round re-loads the snapshots
(untimed) and replays the frames in recorded order.

The comparison path does the same work from `json.loads` (stdlib) and from `orjson.loads` into
dicts, then the same BookSync/book/hub calls. The decode-only rows isolate the decoder.

Run: python -m benchmarks.bench_decode [--rounds N]
"""
from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from benchmarks._common import CRYPTOFEED, Row, print_table, summarize, time_each, timer_overhead_ns
from connectors.binance import schemas
from connectors.binance.market_data import BinanceMarketData, _BookFeed
from connectors.binance.sync import Sync
from connectors.binance.config import BinanceUrls
from connectors.binance.rest import BINANCE
from connectors.transport.rest import RestSession
from connectors.types import Health, Instrument, InstrumentKey, book_stream
from daemon.hub import Hub

VENUE = "bench"


def load() -> tuple[dict[str, float], dict[str, schemas.DepthSnapshot], list[bytes]]:
    """Tick sizes, snapshots, and the applicable depth frames (raw bytes, recorded order)."""
    info = orjson.loads((CRYPTOFEED / "BINANCE_FUTURES.0").read_bytes().split(b"\n", 1)[0]
                        .split(b": ", 1)[1])
    ticks = {s["symbol"]: float(f["tickSize"]) for s in info["symbols"] for f in s["filters"]
             if f["filterType"] == "PRICE_FILTER"}
    snaps: dict[str, schemas.DepthSnapshot] = {}
    for line in (CRYPTOFEED / "BINANCE_FUTURES.http.0.0").read_bytes().splitlines():
        if line.strip():
            url, rest = line.split(b" -> ", 1)
            sym = url.split(b"symbol=", 1)[1].split(b"&", 1)[0].decode()
            snaps[sym] = schemas.DEPTH_SNAPSHOT.decode(rest.split(b": ", 1)[1])
    frames: list[bytes] = []
    for line in (CRYPTOFEED / "BINANCE_FUTURES.ws.1.0").read_bytes().splitlines()[1:]:
        if b"@depth@100ms" not in line[:80]:
            continue
        frame = line.split(b": ", 1)[1]
        ev = schemas.DEPTH_ENVELOPE.decode(frame).data
        if ev.u >= snaps[ev.s].lastUpdateId:
            frames.append(frame)
    return {s: ticks[s] for s in snaps}, snaps, frames


class Rig:
    """A hub + the real USD-M book feed of BinanceMarketData (no socket: frames are handed in)."""

    def __init__(self, ticks: dict[str, float], snaps: dict[str, schemas.DepthSnapshot]) -> None:
        self.hub = Hub()
        self.snaps = snaps
        for sym, tick in ticks.items():
            self.hub.set_instrument(Instrument(venue=VENUE, market="perp", symbol=sym,
                                               base=sym.removesuffix("USDT"), quote="USDT",
                                               tick_size=tick, step_size=1.0))
        md = BinanceMarketData(self.hub, VENUE, RestSession(BINANCE), BinanceUrls(), list(ticks),
                               spot=False, perp=True)
        self.feed: _BookFeed = md.feeds["perp"]
        self.published = 0
        self.hub.subscribe(self._count, 50)
        for sym in ticks:
            self.hub.set_health(VENUE, book_stream(InstrumentKey(VENUE, "perp", sym)),
                                Health.HEALTHY)

    def _count(self, kind: str, item: Any) -> None:
        self.published += 1

    def resnapshot(self) -> None:
        for sym, sync in self.feed.syncs.items():
            s = self.snaps[sym]
            sync.reset()
            assert sync.on_snapshot(s.lastUpdateId, s.bids, s.asks, s.T or s.E) is Sync.SYNCED

    def dict_handler(self, loads: Callable[[bytes], Any]) -> Callable[[bytes], None]:
        """on_frame as it would be written over a dict decoder (same sync, book and hub calls)."""
        feed, hub = self.feed, self.hub

        def on_frame(data: bytes) -> None:
            try:
                ev = loads(data)["data"]
            except (ValueError, KeyError):
                feed.bad_frames += 1
                return
            sym = ev["s"]
            sync = feed.syncs.get(sym)
            if sync is None:
                return
            result = sync.on_diff(ev["U"], ev["u"], ev["pu"], ev["b"], ev["a"], ev["E"])
            if result is Sync.APPLIED:
                hub.touch(VENUE, feed.streams[sym], int(time.time() * 1000))
                hub.book_changed(feed.keys[sym])
        return on_frame

    def gaps(self) -> int:
        return sum(s.gaps for s in self.feed.syncs.values())


def replay(rig: Rig, handler: Callable[[bytes], None], frames: list[bytes], rounds: int
           ) -> list[float]:
    perf = time.perf_counter_ns
    over = timer_overhead_ns()
    out: list[float] = []
    rig.resnapshot()
    for data in frames[:50]:        # warm the price caches and code paths
        handler(data)
    was = gc.isenabled()
    for _ in range(rounds):
        rig.resnapshot()
        gc.disable()
        try:
            for data in frames:
                t0 = perf()
                handler(data)
                out.append(perf() - t0 - over)
        finally:
            if was:
                gc.enable()
    return [max(0.0, x) for x in out]


def run(rounds: int = 60, n_decode: int = 20_000) -> list[Row]:
    ticks, snaps, frames = load()
    # The depth schema keeps its levels as raw JSON text: decode them to count level changes.
    levels = sum(len(msgspec.json.decode(schemas.DEPTH_ENVELOPE.decode(f).data.b))
                 + len(msgspec.json.decode(schemas.DEPTH_ENVELOPE.decode(f).data.a)) for f in frames)
    rows: list[Row] = []

    rig = Rig(ticks, snaps)
    rows.append(summarize("on_frame: msgspec -> sync -> book -> hub (shipped)",
                          replay(rig, rig.feed.on_frame, frames, rounds)))
    assert rig.gaps() == 0 and rig.feed.bad_frames == 0, "recording no longer replays cleanly"
    assert rig.published >= len(frames) * rounds
    shipped_books = {s: (rig.hub.books[k].best_bid(), rig.hub.books[k].best_ask())
                     for s, k in rig.feed.keys.items()}

    for label, loads in (("json.loads", json.loads), ("orjson.loads", orjson.loads)):
        r = Rig(ticks, snaps)
        rows.append(summarize(f"on_frame: {label} dict -> sync -> book -> hub",
                              replay(r, r.dict_handler(loads), frames, rounds)))
        assert r.gaps() == 0
        books = {s: (r.hub.books[k].best_bid(), r.hub.books[k].best_ask())
                 for s, k in r.feed.keys.items()}
        assert books == shipped_books, "dict path built a different book"

    # decode alone, cycling over the real frames
    n = max(n_decode, 1)
    it = [frames[i % len(frames)] for i in range(n)]
    for label, fn in (("decode only: DEPTH_ENVELOPE.decode (msgspec)", schemas.DEPTH_ENVELOPE.decode),
                      ("decode only: json.loads -> dict", json.loads),
                      ("decode only: orjson.loads -> dict", orjson.loads)):
        pos = iter(it * 2)
        rows.append(summarize(label, time_each(lambda fn=fn, pos=pos: fn(next(pos)), n, warmup=n // 10 or 1)))
    # the sync + book work alone, from pre-decoded structs
    evs = [schemas.DEPTH_ENVELOPE.decode(f).data for f in frames]
    r = Rig(ticks, snaps)
    samples: list[float] = []
    for _ in range(max(1, rounds // 4)):
        r.resnapshot()
        ev_it = iter(evs)
        samples += time_each(lambda: r.feed.syncs[(e := next(ev_it)).s].apply_event(e), len(evs), 0)
    rows.append(summarize("BookSync.apply_event + book apply (no decode)", samples))
    key = next(iter(rig.feed.keys.values()))
    rows.append(summarize("hub.book_changed (1 no-op subscriber)",
                          time_each(lambda: rig.hub.book_changed(key), n)))
    rows.append(summarize("int(time.time()*1000) per frame (hub.touch arg)",
                          time_each(lambda: int(time.time() * 1000), n)))
    print(f"  {len(frames)} real depth frames x {rounds} rounds, {levels / len(frames):.1f} level "
          f"updates/frame, {len(snaps)} symbols")
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=60)
    args = ap.parse_args(argv if argv is not None else [])
    rows = run(args.rounds)
    print_table("binance usd-m depth frame -> book -> hub (per frame)", rows)
    shipped, std, orj = rows[0], rows[1], rows[2]
    print(f"  msgspec path vs json.loads dict path: {std.mean / shipped.mean:.2f}x mean, "
          f"{std.p50 / shipped.p50:.2f}x p50; vs orjson dict path: {orj.mean / shipped.mean:.2f}x")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

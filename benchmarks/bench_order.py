"""Tick-to-order and leg skew on loopback: a depth frame -> both legs' signed orders written.

The stack as `basisd run` wires it, on uvloop: the embedded exchange (SimCluster, manual clock),
a BinanceVenue connected to it over loopback websockets and pre-opened REST connections, a real
LeggingEngine (journal on disk) holding one open reverse basis pair. The daemon has no entry
rule that fires on a single depth frame (the strategy acts on the scanner's tick), so the
decision is a hub subscriber at the legging engine's priority (20): armed, on the first perp
BOOK event it reads both books' top (the basis) and calls `LeggingEngine.decrease_now`, the
engine's synchronous entry point (the watchdog's), which journals both legs' reducing orders
write-ahead, builds and signs them and writes them before it returns.

Timestamps (perf_counter_ns, one process):
  t_frame   the perp depth websocket's frame handler starts (bytes off the loopback socket), for
            the frame whose BOOK event fires the trigger
  t_write   each order request handed to its socket (`transport.write` of the pre-opened
            connection, instrumented); a request that falls back to aiohttp is stamped when it
            enters RestSession.send and counted
  t_venue   the embedded exchange's engine executes each order (request parsed on loopback)
tick_to_order = the later leg's t_write - t_frame; leg_skew = |t_write(B) - t_write(A)|.
Each repetition decreases the pair by a small fraction; when it has shrunk to half it is
increased back (untimed).

Run: python -m benchmarks.bench_order [--reps N]
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._sim import SYMBOL, VENUE, start_sim, stop_stack, venue_for
from tests.sim_time import wait_until

NOTIONAL = 20_000.0
FRACTION = 0.02
_ORDER_PATHS = (b"/sapi/v1/margin/order", b"/fapi/v1/order")


class Probe:
    def __init__(self) -> None:
        self.armed = False
        self.t_frame = self.t_sub = 0
        self.writes: list[tuple[int, bytes]] = []
        self.venue: list[int] = []
        self.fallbacks = 0

    def arm(self) -> None:
        self.armed = True
        self.t_frame = self.t_sub = 0
        self.writes.clear()
        self.venue.clear()


def _instrument_writes(probe: Probe) -> Any:
    """Stamp every request written on a pre-opened connection; returns the undo."""
    from connectors.transport import http_fast
    conn_cls = http_fast._Conn
    orig = conn_cls.write
    perf = time.perf_counter_ns

    def write(self: Any, data: bytes, waiter: Any) -> None:
        if probe.armed:
            line = data[:data.find(b" HTTP/")]
            if any(p in line for p in _ORDER_PATHS):
                probe.writes.append((perf(), line))
        orig(self, data, waiter)
    conn_cls.write = write
    return lambda: setattr(conn_cls, "write", orig)


async def measure(reps: int, budget_s: float = 30.0) -> dict[str, Any]:
    from connectors.binance.legs import BinanceLegVenue
    from connectors.types import InstrumentKey
    from daemon.hub import BOOK, Hub
    from daemon.journal import Journal
    from daemon.legging.config import LeggingConfig
    from daemon.legging.engine import LeggingEngine

    perf = time.perf_counter_ns
    probe = Probe()

    def at_venue() -> None:
        if probe.armed:
            probe.venue.append(perf())
    cluster = await start_sim("200000", "200000", ("margin_new_order", "futures_new_order"),
                              at_venue)
    undo = _instrument_writes(probe)
    hub = Hub()
    venue = venue_for(cluster, hub)
    feed = venue.market.feeds["perp"]
    on_depth = feed.ws._on_frame

    def timed_depth(data: bytes) -> None:
        if probe.armed and not probe.t_sub:    # the frame whose BOOK event fires the trigger
            probe.t_frame = perf()
        on_depth(data)
    feed.ws._on_frame = timed_depth           # read by the pump when the socket opens
    rest_send = venue.rest.send

    async def counted_send(prep: Any) -> bytes:
        if probe.armed and any(p.decode() in str(prep.url) for p in _ORDER_PATHS):
            probe.fallbacks += 1
            probe.writes.append((perf(), str(prep.url).encode()))
        return await rest_send(prep)
    venue.rest.send = counted_send            # type: ignore[method-assign]

    tmp = tempfile.TemporaryDirectory(prefix="basisd-bench-")
    engine: Any = None
    out: dict[str, Any] = {}
    try:
        await venue.start()
        perp_key, spot_key = (InstrumentKey(VENUE, m, SYMBOL) for m in ("perp", "spot"))
        for _ in range(40):
            cluster.advance(0.5)
            await asyncio.sleep(0.02)
            if hub.book_ready(perp_key)[0] and hub.book_ready(spot_key)[0] and \
                    (VENUE, SYMBOL) in hub.marks:
                break
        await wait_until(lambda: hub.book_ready(perp_key)[0] and hub.book_ready(spot_key)[0], 15,
                    "books")
        engine = LeggingEngine(hub, {VENUE: BinanceLegVenue(venue)},
                               LeggingConfig(default_spot_venue=VENUE, default_perp_venue=VENUE,
                                             default_long_venue=VENUE, default_short_venue=VENUE,
                                             journal_sync="normal"),
                               Journal(Path(tmp.name)))
        await engine.start()
        pid = await engine.open_pair("reverse_basis", SYMBOL, NOTIONAL, "taker")
        await engine.wait_idle(pid, 30)
        if engine.view(pid)["state"] != "open":
            raise RuntimeError(f"bench_order: pair did not open: {engine.view(pid)}")
        qty0 = engine.pairs[pid].pair.target_qty
        errors: list[str] = []

        def trigger(kind: str, item: Any) -> None:
            if kind != BOOK or item != perp_key or not probe.armed or probe.t_sub:
                return
            probe.t_sub = perf()
            perp, spot = hub.books[perp_key], hub.books[spot_key]
            bid, ask = perp.best_bid(), spot.best_ask()
            if bid is None or ask is None:
                return
            try:
                engine.decrease_now(pid, FRACTION, f"bench: basis {bid[0] / ask[0] - 1:.6f}")
            except Exception as exc:           # counted: a repetition that did not fire
                errors.append(repr(exc))
        hub.subscribe(trigger, 20)
        samples: dict[str, list[float]] = {"order": [], "skew": [], "first": [], "venue": [],
                                           "decide": []}
        started = time.monotonic()
        done = 0
        while done < reps and time.monotonic() - started < budget_s:
            probe.arm()
            for _ in range(200):               # frames until the armed trigger has fired
                cluster.advance(0.1)
                await asyncio.sleep(0)
                await asyncio.sleep(0.001)
                if len(probe.writes) >= 2 or errors:
                    break
            await wait_until(lambda: len(probe.writes) >= 2 or errors, 10, "both legs written")
            await wait_until(lambda: len(probe.venue) >= 2, 10, "both orders at the venue")
            probe.armed = False
            if errors:
                raise RuntimeError(f"bench_order: decrease_now failed: {errors[-1]}")
            (ta, _la), (tb, _lb) = probe.writes[:2]
            if probe.t_frame:
                samples["order"].append(max(ta, tb) - probe.t_frame)
                samples["first"].append(min(ta, tb) - probe.t_frame)
                samples["venue"].append(max(probe.venue[:2]) - probe.t_frame)
                samples["decide"].append(probe.t_sub - probe.t_frame)
                samples["skew"].append(abs(tb - ta))
                done += 1
            await engine.wait_idle(pid, 30)
            if engine.pairs[pid].pair.target_qty < qty0 / 2:
                await engine.increase(pid, NOTIONAL / 2, "taker")
                await engine.wait_idle(pid, 30)
        out = {"samples": samples, "reps": done, "fallbacks": probe.fallbacks}
    finally:
        undo()
        await stop_stack(engine, venue, cluster)
        tmp.cleanup()
    return out


def run(reps: int = 200, budget_s: float = 30.0) -> dict[str, Any]:
    import uvloop
    return uvloop.run(measure(reps, budget_s))


def main(argv: list[str] | None = None) -> None:
    from benchmarks._common import print_table, summarize
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args(argv if argv is not None else [])
    res = run(args.reps)
    s = res["samples"]
    print_table("tick-to-order on loopback (depth frame -> both legs written)", [
        summarize("frame -> trigger subscriber", s["decide"], "us"),
        summarize("frame -> first leg written", s["first"], "us"),
        summarize("frame -> both legs written (tick-to-order)", s["order"], "us"),
        summarize("leg skew (first bytes A -> B)", s["skew"], "us"),
        summarize("frame -> both orders executed by the venue", s["venue"], "us")])
    print(f"  repetitions {res['reps']}, fell back to aiohttp {res['fallbacks']}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

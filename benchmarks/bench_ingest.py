"""Ingest: the generated Binance USD-M depth stream (benchmarks/stream.py) through our connector
path and through the peers (benchmarks/peers.py), interleaved in one process; per-frame cost at
100 / 1000 / 5000 levels a side; and our path with the daemon's real hub subscribers attached.

Per frame, timed with two perf_counter_ns reads (their cost subtracted): handle the frame, read
the best bid and ask. msgs/s = frames / sum of the per-frame times. The garbage collector stays
on (it is part of what a consumer costs). Every consumer must end on the same top of book as
ours, with no sequence error: asserted, so a broken rig cannot produce a figure.

With subscribers: the hub is built as daemon/wiring.py builds it: the risk Watchdog (priority 10)
watching N open reverse-basis pairs on the stream's venue (the first one on the streamed symbol,
held by a real LeggingEngine whose HubEvents subscriber is attached), the FundingFeed (priority
60) started, the Scanner built (it runs on its own tick, not per frame: not timed here).

Run: python -m benchmarks.bench_ingest [--frames N] [--runs R] [--profile]
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import percentile, timer_overhead_ns
from benchmarks.peers import PEERS, Consumer, Ours, make, unavailable
from benchmarks.stream import SYMBOL, DepthStream, generate

Figures = dict[str, float]


def time_frames(handle: Callable[[Any], None], inputs: list[Any]) -> list[float]:
    perf = time.perf_counter_ns
    over = timer_overhead_ns()
    out = [0.0] * len(inputs)
    gc.collect()
    for i, frame in enumerate(inputs):
        t0 = perf()
        handle(frame)
        out[i] = perf() - t0 - over
    return out


def figures(samples_ns: list[float]) -> Figures:
    vals = sorted(max(0.0, x) for x in samples_ns)
    total = sum(vals)
    return {"msgs_per_s": len(vals) * 1e9 / total if total else 0.0,
            "mean_us": total / len(vals) / 1e3, "p50_us": percentile(vals, 0.5) / 1e3,
            "p99_us": percentile(vals, 0.99) / 1e3}


def one_pass(c: Consumer, warmup: int = 200, limit: int | None = None) -> Figures:
    inputs = c.inputs()
    if limit is not None:
        inputs = inputs[:limit]
    c.reset()
    for f in inputs[:warmup]:          # warm caches and code paths, then replay from the snapshot
        c.handle(f)
    c.reset()
    out = figures(time_frames(c.handle, inputs))
    if getattr(c, "errors", lambda: 0)():
        raise RuntimeError(f"{c.name}: sequence errors on a clean stream")
    return out


def median_figures(runs: list[Figures]) -> Figures:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def peers_interleaved(stream: DepthStream, runs: int, names: tuple[str, ...]
                      ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Our path and each peer that can run, interleaved (rotated order) in every run. Returns
    the figures (medians of `runs`) and ratios (ours / peer msgs/s, each from one interleaved
    run, the median of those per-run ratios)."""
    consumers: dict[str, Consumer] = {"ours": make("ours", stream)}
    result: dict[str, Any] = {}
    for name in names:
        why = unavailable(name)
        if why is None:
            try:
                consumers[name] = make(name, stream)
            except Exception as exc:       # a peer's own set-up failed: say so, measure the rest
                why = f"set-up failed: {exc!r}"
        if why is not None:
            result[name] = {"msgs_per_s": None, "p50_us": None, "p99_us": None, "reason": why}
    per_run: dict[str, list[Figures]] = {n: [] for n in consumers}
    order = list(consumers)
    for r in range(runs):
        for name in order[r % len(order):] + order[:r % len(order)]:
            per_run[name].append(one_pass(consumers[name]))
    tops = {n: c.top() for n, c in consumers.items()}
    for n, top in tops.items():
        if top != tops["ours"]:
            raise RuntimeError(f"{n} ended on {top}, ours on {tops['ours']}: not the same book")
    ratios: dict[str, Any] = {}
    for n, rs in per_run.items():
        result[n] = median_figures(rs) | {"runs": len(rs)}
        if n != "ours":
            ratios[f"ours/{n}"] = statistics.median(
                o["msgs_per_s"] / p["msgs_per_s"] for o, p in zip(per_run["ours"], rs))
    for n in names:
        if n not in per_run:
            ratios[f"ours/{n}"] = None
    return result, ratios


def per_level_scale(frames: int, runs: int, sizes: tuple[int, ...] = (100, 1000, 5000)
                    ) -> dict[str, Figures]:
    out: dict[str, Figures] = {}
    for levels in sizes:
        stream = generate(frames, levels=levels, seed=16 + levels)
        c = Ours(stream)
        out[str(levels)] = median_figures([one_pass(c) for _ in range(runs)])
    return out


def subscribed_hub(n_pairs: int) -> dict[str, Any]:
    """A hub with the daemon's subscribers, N open pairs on venue `bench_hub.V`: hub, watchdog,
    its counting actions, engine, funding feed, scanner."""
    from benchmarks import bench_hub
    from daemon.hub import Hub
    from daemon.legging.config import LeggingConfig
    from daemon.legging.engine import LeggingEngine
    from daemon.legging.runtime import LegMeta, PairRuntime
    from daemon.opportunity.config import ScannerConfig
    from daemon.opportunity.funding_feed import FundingFeed
    from daemon.opportunity.scanner import Scanner

    hub = Hub()
    engine = LeggingEngine(hub, {}, LeggingConfig())

    def source(pairs: list[Any]) -> Callable[[], list[Any]]:
        for p in pairs:
            engine.pairs[p.id] = PairRuntime(p, (LegMeta(step=0.001), LegMeta(step=0.001)))
        return lambda: [rt.pair for rt in engine.pairs.values()]
    _, wd, actions, symbols = bench_hub.rig(n_pairs, lead=SYMBOL, source=source, hub=hub)
    feed = FundingFeed(hub, {}, {bench_hub.V: symbols or [SYMBOL]})
    asyncio.run(feed.start())          # no fetchers: it only subscribes
    scanner = Scanner(hub, ScannerConfig(), feed.stats)
    return {"hub": hub, "watchdog": wd, "actions": actions, "engine": engine, "feed": feed,
            "scanner": scanner}


def with_pairs(stream: DepthStream, runs: int, sizes: tuple[int, ...] = (0, 10, 100),
               budget_s: float = 10.0, probe: int = 200) -> dict[str, Any]:
    """Each size replays the whole stream, or the prefix that fits `budget_s` per run at the
    cost a `probe`-frame run shows (a watchdog that is linear in pairs makes the full stream take
    hours); `frames` in the result says how many."""
    from benchmarks import bench_hub
    consumers: dict[int, tuple[Ours, dict[str, Any]]] = {}
    for n in sizes:
        rig = subscribed_hub(n)
        consumers[n] = (Ours(stream, hub=rig["hub"], venue=bench_hub.V), rig)
    limits: dict[int, int] = {}
    for n, (c, _rig) in consumers.items():
        cost = one_pass(c, warmup=20, limit=probe)
        limits[n] = max(probe, min(len(stream.frames), int(budget_s * cost["msgs_per_s"])))
    per_run: dict[int, list[Figures]] = {n: [] for n in sizes}
    for r in range(runs):
        for n in sizes[r % len(sizes):] + sizes[:r % len(sizes)]:
            c, rig = consumers[n]
            wd, calls = rig["watchdog"], rig["actions"]
            before = getattr(wd, "evaluations", 0)     # warm from the probe: no warm-up evaluations counted
            per_run[n].append(one_pass(c, warmup=0, limit=limits[n]))
            if calls.calls or c.hub.subscriber_errors:
                raise RuntimeError(f"with {n} pairs: actions {calls.calls}, subscriber "
                                   f"errors {c.hub.subscriber_errors} {c.hub.last_subscriber_error}")
            per_run[n][-1]["evaluations_per_frame"] = (getattr(wd, "evaluations", 0) - before) / limits[n]
    out: dict[str, Any] = {str(n): median_figures(rs) | {"frames": limits[n]}
                           for n, rs in per_run.items()}
    base = per_run[sizes[0]]
    for n in sizes[1:]:
        out[str(n)][f"vs_{sizes[0]}"] = statistics.median(
            x["msgs_per_s"] / b["msgs_per_s"] for x, b in zip(per_run[n], base))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--profile", action="store_true",
                    help="profile our path with pyinstrument (requirements-bench.lock) instead")
    args = ap.parse_args(argv if argv is not None else [])
    stream = generate(args.frames)
    if args.profile:
        from pyinstrument import Profiler
        c = Ours(stream)
        c.reset()
        with Profiler(interval=0.0001) as prof:
            for f in c.inputs():
                c.handle(f)
        print(prof.output_text(unicode=True, color=False))
        return
    res, ratios = peers_interleaved(stream, args.runs, PEERS)
    for n, f in res.items():
        print(f"  {n:12s} {f}")
    print(f"  ratios {ratios}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

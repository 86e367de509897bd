"""Shared bits of the benchmarks: per-op samples -> a row (n, mean, p50, p99), one table format.

Per-op timing wraps each call in two `perf_counter_ns()` reads; their own cost (calibrated once,
printed with every table) is subtracted from each sample so sub-microsecond figures stay honest.
"""
from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("BASISD_REALDATA", ROOT.parent / "shared" / "realdata"))
CRYPTOFEED = REALDATA / "cryptofeed_master"

_UNITS = {"ns": 1.0, "us": 1e3, "ms": 1e6}


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    n: int
    mean: float
    p50: float
    p99: float
    unit: str


def percentile(sorted_vals: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_vals:
        return 0.0
    k = min(len(sorted_vals) - 1, max(0, round(q * (len(sorted_vals) - 1))))
    return sorted_vals[k]


def summarize(name: str, samples_ns: Iterable[float], unit: str = "ns") -> Row:
    vals = sorted(samples_ns)
    scale = _UNITS[unit]
    n = len(vals)
    mean = sum(vals) / n if n else 0.0
    return Row(name, n, mean / scale, percentile(vals, 0.5) / scale,
               percentile(vals, 0.99) / scale, unit)


_overhead_ns: float | None = None


def timer_overhead_ns() -> float:
    """Median cost of the two clock reads that bracket each timed call."""
    global _overhead_ns
    if _overhead_ns is None:
        perf = time.perf_counter_ns
        samples = []
        for _ in range(20_000):
            t0 = perf()
            samples.append(perf() - t0)
        samples.sort()
        _overhead_ns = float(samples[len(samples) // 2])
    return _overhead_ns


def time_each(fn: Callable[[], object], n: int, warmup: int = 100) -> list[float]:
    """`n` per-call timings of `fn()` in ns, timer overhead removed. GC is paused while timing
    so a collection lands in no single sample (it is a per-process cost, not a per-op one)."""
    for _ in range(min(warmup, n)):
        fn()
    over = timer_overhead_ns()
    perf = time.perf_counter_ns
    out = [0.0] * n
    was = gc.isenabled()
    gc.disable()
    try:
        for i in range(n):
            t0 = perf()
            fn()
            out[i] = perf() - t0 - over
    finally:
        if was:
            gc.enable()
    return [max(0.0, x) for x in out]


def print_table(title: str, rows: list[Row]) -> None:
    print(title)
    width = max([len(r.name) for r in rows] + [4])
    print(f"  {'name':<{width}}  {'n':>8}  {'mean':>11}  {'p50':>11}  {'p99':>11}  unit")
    for r in rows:
        print(f"  {r.name:<{width}}  {r.n:>8}  {r.mean:>11.3f}  {r.p50:>11.3f}  {r.p99:>11.3f}"
              f"  {r.unit}")
    print(f"  (per-op timer overhead {timer_overhead_ns():.0f} ns, subtracted)", flush=True)

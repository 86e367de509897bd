"""`make bench`: every figure of issue 16 in one run -> a table and bench-results.json.

Sections (each module's docstring says exactly what it times):
  ingest              bench_ingest.peers_interleaved: ours, the msgspec + SortedDict baseline,
                      cryptofeed, ccxt.pro on the same generated frames, interleaved per run
  per_frame_us        bench_ingest.per_level_scale: our path at 100 / 1000 / 5000 levels a side
  ingest_with_pairs   bench_ingest.with_pairs: the daemon's hub subscribers, 0 / 10 / 100 pairs
  tick_to_order_us    bench_order: depth frame on loopback -> both legs written; leg_skew_us
  watchdog_reaction_us bench_e2e: crossing mark frame -> first protective request written
  rss_mb_300_books    bench_memory (a subprocess); rss_kb_per_1000_level_book
  scanner_ms          bench_scanner.per_pass_ms: 2 venues x 10 / 50 / 200 symbols
  watchdog_us_per_mark bench_hub: 1 / 10 / 100 / 300 pairs
  rss_growth_pct      bench_soak: a real `basisd run` over BENCH_SIM_MINUTES (default 30)
Our throughput figures are medians of BENCH_RUNS runs (default 5); each ratio is ours / peer
within one interleaved run (the median of the per-run ratios); latency p50/p99 are over all
repetitions of one run. A section that cannot run records null and its reason; a peer that is not
installed records null with the reason.

Environment / arguments: BENCH_RUNS, BENCH_FRAMES (default 200000), BENCH_SIM_MINUTES,
BENCH_OUT (default <repo>/bench-results.json); `--smoke`: tiny sizes (the test suite's check
that every figure is produced), `--only a,b`: some sections.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from benchmarks._common import ROOT, percentile

SECTIONS = ("ingest", "per_frame", "with_pairs", "tick_to_order", "watchdog_reaction", "memory",
            "scanner", "watchdog", "soak")


@dataclasses.dataclass
class Sizes:
    """Every size knob of the suite; `tiny()` makes them small enough for the smoke test."""

    runs: int = 5
    frames: int = 200_000
    sim_minutes: float = 30.0
    smoke: bool = False
    scale_frames: int = 50_000      # at most `frames`
    pairs_budget_s: float = 5.0
    pairs_probe: int = 200
    order_reps: int = 200
    order_budget_s: float = 60.0
    reaction_reps: int = 300
    reaction_budget_s: float = 30.0
    books: int = 300
    book_diffs: int = 2000
    scanner_budget_s: float = 3.0
    scanner_passes: int = 3
    watchdog_n: int = 3000
    watchdog_budget_s: float = 3.0

    def __post_init__(self) -> None:
        self.scale_frames = min(self.frames, self.scale_frames)

    @classmethod
    def tiny(cls) -> Sizes:
        return cls(runs=1, frames=300, sim_minutes=0.05, smoke=True, scale_frames=200,
                   pairs_budget_s=0.05, pairs_probe=10, order_reps=3, order_budget_s=20.0,
                   reaction_reps=3, reaction_budget_s=20.0, books=3, book_diffs=20,
                   scanner_budget_s=0.01, scanner_passes=1, watchdog_n=20, watchdog_budget_s=0.02)


def _pcts(samples_ns: list[float]) -> dict[str, float]:
    vals = sorted(samples_ns)
    return {"p50": percentile(vals, 0.5) / 1e3, "p99": percentile(vals, 0.99) / 1e3,
            "n": float(len(vals))}


def sec_ingest(sz: Sizes, out: dict[str, Any]) -> None:
    from benchmarks import bench_ingest
    from benchmarks.peers import PEERS
    from benchmarks.stream import generate
    stream = generate(sz.frames)
    res, ratios = bench_ingest.peers_interleaved(stream, sz.runs, PEERS + ("cryptofeed_no_top",))
    out["ingest"] = res
    out["ratios"] = ratios
    out["ingest_stream"] = {"frames": len(stream.frames), "levels_a_side": stream.levels,
                            "changes_per_frame": stream.changes / len(stream.frames)}


def sec_per_frame(sz: Sizes, out: dict[str, Any]) -> None:
    from benchmarks import bench_ingest
    scale = bench_ingest.per_level_scale(sz.scale_frames, sz.runs)
    out["per_frame_us"] = {k: v["mean_us"] for k, v in scale.items()}
    out["per_frame_detail"] = scale


def sec_with_pairs(sz: Sizes, out: dict[str, Any]) -> None:
    from benchmarks import bench_ingest
    from benchmarks.stream import generate
    out["ingest_with_pairs"] = bench_ingest.with_pairs(generate(min(sz.frames, 200_000)),
                                                       sz.runs, budget_s=sz.pairs_budget_s,
                                                       probe=sz.pairs_probe)


def sec_tick_to_order(sz: Sizes, out: dict[str, Any]) -> None:
    from benchmarks import bench_order
    res = bench_order.run(sz.order_reps, sz.order_budget_s)
    s = res["samples"]
    out["tick_to_order_us"] = _pcts(s["order"]) | {"first_leg_p50": _pcts(s["first"])["p50"],
                                                   "frame_to_trigger_p50": _pcts(s["decide"])["p50"],
                                                   "fallbacks": res["fallbacks"]}
    out["leg_skew_us"] = _pcts(s["skew"])
    out["tick_to_venue_us"] = _pcts(s["venue"])


def sec_watchdog_reaction(sz: Sizes, out: dict[str, Any]) -> None:
    from benchmarks import bench_e2e
    bench_e2e.run(sz.reaction_reps, sz.reaction_budget_s)
    res = bench_e2e.run.last  # type: ignore[attr-defined]
    s = res["samples"]
    which = "written" if s["written"] else "send"     # the task fallback: when it enters send
    out["watchdog_reaction_us"] = _pcts(s[which]) | {
        "measured_at": "request bytes written" if which == "written" else "RestSession.send",
        "frame_to_venue_p50": _pcts(s["venue"])["p50"], "actions": res["kinds"]}


def sec_memory(sz: Sizes, out: dict[str, Any]) -> None:
    from benchmarks import bench_memory
    res = bench_memory.measure(sz.books, 1000, sz.book_diffs)
    out["rss_mb_300_books"] = res["rss_mb"] * 300 / sz.books
    out["rss_kb_per_1000_level_book"] = res["kb_per_1000_level_book"]
    out["rss_books_detail"] = res


def sec_scanner(sz: Sizes, out: dict[str, Any]) -> None:
    from benchmarks import bench_scanner
    rows = bench_scanner.per_pass_ms(budget_s=sz.scanner_budget_s,
                                     min_passes=sz.scanner_passes)
    out["scanner_ms"] = {k: r.p50 for k, r in rows.items()}
    out["scanner_detail"] = {k: {"p50": r.p50, "p99": r.p99, "n": r.n} for k, r in rows.items()}


def sec_watchdog(sz: Sizes, out: dict[str, Any]) -> None:
    from benchmarks import bench_hub
    sizes = (1, 10, 100, 300)
    rows = bench_hub.run(sz.watchdog_n, sizes, sz.watchdog_budget_s)
    out["watchdog_us_per_mark"] = {str(n): r.p50 for n, r in zip(sizes, rows)}
    out["watchdog_detail"] = {str(n): {"p50": r.p50, "p99": r.p99, "n": r.n}
                              for n, r in zip(sizes, rows)}


def sec_soak(sz: Sizes, out: dict[str, Any]) -> None:
    from benchmarks import bench_soak
    res = bench_soak.measure(sz.sim_minutes, sample_s=1.0 if sz.smoke else 5.0)
    out["rss_growth_pct"] = res["growth_pct"]
    out["rss_growth_detail"] = res


RUNNERS: dict[str, Callable[[Sizes, dict[str, Any]], None]] = {
    "ingest": sec_ingest, "per_frame": sec_per_frame, "with_pairs": sec_with_pairs,
    "tick_to_order": sec_tick_to_order, "watchdog_reaction": sec_watchdog_reaction,
    "memory": sec_memory, "scanner": sec_scanner, "watchdog": sec_watchdog, "soak": sec_soak}
# the keys each section must fill (null on failure, with the reason under "errors")
KEYS: dict[str, tuple[str, ...]] = {
    "ingest": ("ingest", "ratios"), "per_frame": ("per_frame_us",),
    "with_pairs": ("ingest_with_pairs",), "tick_to_order": ("tick_to_order_us", "leg_skew_us"),
    "watchdog_reaction": ("watchdog_reaction_us",),
    "memory": ("rss_mb_300_books", "rss_kb_per_1000_level_book"), "scanner": ("scanner_ms",),
    "watchdog": ("watchdog_us_per_mark",), "soak": ("rss_growth_pct",)}


# Every figure the JSON must hold (issue 16). A peer's figures may be null with a reason.
REQUIRED: tuple[str, ...] = (
    *(f"ingest.{n}.{k}" for n in ("ours", "baseline", "cryptofeed", "ccxt")
      for k in ("msgs_per_s", "p50_us", "p99_us")),
    "ratios.ours/baseline", "ratios.ours/cryptofeed", "ratios.ours/ccxt",
    "tick_to_order_us.p50", "tick_to_order_us.p99", "leg_skew_us.p50", "leg_skew_us.p99",
    "watchdog_reaction_us.p50", "watchdog_reaction_us.p99", "rss_mb_300_books",
    "rss_kb_per_1000_level_book", "per_frame_us.100", "per_frame_us.1000", "per_frame_us.5000",
    "scanner_ms.10", "scanner_ms.50", "scanner_ms.200", "watchdog_us_per_mark.1",
    "watchdog_us_per_mark.10", "watchdog_us_per_mark.100", "watchdog_us_per_mark.300",
    "ingest_with_pairs.0.msgs_per_s", "ingest_with_pairs.10.msgs_per_s",
    "ingest_with_pairs.100.msgs_per_s", "rss_growth_pct")
_MAY_BE_NULL = ("ingest.baseline.", "ingest.cryptofeed.", "ingest.ccxt.", "ratios.")
_SIGNED = ("rss_growth_pct",)       # RSS may shrink


def problems(out: dict[str, Any], sections: tuple[str, ...] = SECTIONS) -> list[str]:
    """What is missing or implausible in a result of `sections`: absent keys, non-positive
    figures, a null peer figure without its reason, p50 > p99, a failed section."""
    bad = [f"section {sec} failed" for sec in out.get("errors", {})]
    tops = {k for sec in sections for k in KEYS[sec]}
    for path in (p for p in REQUIRED if p.split(".")[0] in tops):
        v = _get(out, path)
        if v is None:
            peer = path.split(".")[1].split("/")[-1] if path.startswith(_MAY_BE_NULL) else None
            if peer is None or not _get(out, f"ingest.{peer}.reason"):
                bad.append(f"{path}: missing")
        elif not isinstance(v, (int, float)) or not math.isfinite(v):
            bad.append(f"{path}: not a number: {v!r}")
        elif v <= 0 and path not in _SIGNED:
            bad.append(f"{path}: not positive: {v}")
    for path in REQUIRED:
        if path.endswith(("p50", "p50_us")):
            lo, hi = _get(out, path), _get(out, path.replace("p50", "p99"))
            if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo > hi:
                bad.append(f"{path} {lo} > p99 {hi}")
    return bad


def _get(d: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


# (figure, target, "<=" or ">=")
TARGETS: tuple[tuple[str, float, str], ...] = (
    ("ratios.ours/baseline", 2.0, ">="), ("ratios.ours/cryptofeed", 4.0, ">="),
    ("ratios.ours/ccxt", 10.0, ">="),
    ("tick_to_order_us.p50", 40.0, "<="), ("tick_to_order_us.p99", 200.0, "<="),
    ("leg_skew_us.p99", 50.0, "<="), ("watchdog_reaction_us.p99", 500.0, "<="),
    ("rss_mb_300_books", 300.0, "<="), ("rss_growth_pct", 10.0, "<="),
    ("scanner_ms.200", 5.0, "<="), ("watchdog_us_per_mark.300", 50.0, "<="),
    ("ingest_with_pairs.100.vs_0", 0.8, ">="), ("rss_kb_per_1000_level_book", 200.0, "<="))


def verdicts(out: dict[str, Any]) -> dict[str, Any]:
    res: dict[str, Any] = {}
    for path, target, op in TARGETS:
        v = _get(out, path)
        met = None if not isinstance(v, (int, float)) else (v <= target if op == "<=" else v >= target)
        res[path] = {"value": v, "target": f"{op} {target:g}", "met": met}
    return res


def _fmt(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


def table(out: dict[str, Any]) -> str:
    lines = [f"basisd bench  ({out['meta']['mode']}, runs={out['meta']['runs']}, "
             f"loadavg {out['meta']['loadavg_start']} -> {out['meta']['loadavg_end']})"]
    ing = out.get("ingest") or {}
    if ing:
        lines.append(f"  {'ingest':<18} {'msgs/s':>12} {'p50 us':>10} {'p99 us':>10}  ours/x")
        for name, f in ing.items():
            ratio = (out.get("ratios") or {}).get(f"ours/{name}")
            extra = f"  {ratio:.2f}x" if isinstance(ratio, float) else ""
            if f.get("msgs_per_s") is None:
                extra = f"  null: {f.get('reason')}"
            lines.append(f"  {name:<18} {_fmt(f.get('msgs_per_s')):>12} {_fmt(f.get('p50_us')):>10}"
                         f" {_fmt(f.get('p99_us')):>10}{extra}")
    for key in ("per_frame_us", "ingest_with_pairs", "scanner_ms", "watchdog_us_per_mark"):
        val = out.get(key)
        if isinstance(val, dict):
            cells = ", ".join(f"{k}: {_fmt(v['msgs_per_s'] if isinstance(v, dict) else v)}"
                              for k, v in val.items())
            unit = " msgs/s" if key == "ingest_with_pairs" else ""
            lines.append(f"  {key:<26} {cells}{unit}")
    for key in ("tick_to_order_us", "leg_skew_us", "watchdog_reaction_us", "tick_to_venue_us"):
        val = out.get(key)
        if isinstance(val, dict):
            lines.append(f"  {key:<26} p50 {_fmt(val['p50'])}  p99 {_fmt(val['p99'])}"
                         f"  (n={int(val['n'])})")
    for key in ("rss_mb_300_books", "rss_kb_per_1000_level_book", "rss_growth_pct"):
        lines.append(f"  {key:<26} {_fmt(out.get(key))}")
    lines.append("  targets:")
    for path, v in out["targets"].items():
        mark = {True: "met", False: "NOT met", None: "n/a"}[v["met"]]
        lines.append(f"    {path:<30} {_fmt(v['value']):>12}  target {v['target']:<8} {mark}")
    for sec, err in out.get("errors", {}).items():
        lines.append(f"  ERROR in {sec}: {err.splitlines()[-1] if err else ''}")
    return "\n".join(lines)


def run(sz: Sizes, only: tuple[str, ...] = SECTIONS, log: Callable[[str], None] = print
        ) -> dict[str, Any]:
    out: dict[str, Any] = {"meta": {
        "mode": "smoke" if sz.smoke else "full", "runs": sz.runs, "frames": sz.frames,
        "sim_minutes": sz.sim_minutes, "python": platform.python_version(),
        "cpus": os.cpu_count(), "loadavg_start": _load(), "started": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "note": "ours = medians of `runs`; ratios = ours/peer within one interleaved run "
                "(median over runs); latency p50/p99 over the repetitions of one run"}}
    errors: dict[str, str] = {}
    for sec in only:
        t0 = time.monotonic()
        log(f"bench: {sec} ...")
        try:
            RUNNERS[sec](sz, out)
        except Exception:
            errors[sec] = traceback.format_exc()
            for key in KEYS[sec]:
                out.setdefault(key, None)
            log(f"bench: {sec} FAILED: {errors[sec].splitlines()[-1]}")
        out["meta"].setdefault("section_s", {})[sec] = round(time.monotonic() - t0, 1)
    out["errors"] = errors
    out["meta"]["loadavg_end"] = _load()
    out["targets"] = verdicts(out)
    return out


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _clean(v: Any) -> Any:
    """NaN/inf are not JSON: null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated sections: " + ", ".join(SECTIONS))
    ap.add_argument("--out", default=os.environ.get("BENCH_OUT", str(ROOT / "bench-results.json")))
    args = ap.parse_args(argv if argv is not None else sys.argv[1:])
    env = os.environ
    sz = Sizes.tiny() if args.smoke else Sizes(
        runs=int(env.get("BENCH_RUNS", 5)), frames=int(env.get("BENCH_FRAMES", 200_000)),
        sim_minutes=float(env.get("BENCH_SIM_MINUTES", 30)))
    only = tuple(s for s in args.only.split(",") if s) or SECTIONS
    unknown = set(only) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections: {sorted(unknown)}")
    from daemon.ops.logs import configure_logging
    configure_logging("warning", stream=sys.stderr)    # the engine logs every order at info
    out = _clean(run(sz, only, log=lambda m: print(m, file=sys.stderr, flush=True)))
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2, sort_keys=False)
    print(table(out))
    print(f"(written to {args.out}; the machine is shared, see loadavg: figures are noisy)")
    bad = problems(out, only)
    for p in bad:
        print(f"  PROBLEM: {p}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

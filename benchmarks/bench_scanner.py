"""daemon.opportunity.scanner.scan over a hub of 2 venues x 50 symbols (spot + perp each): ms per scan.

The hub is filled by hand like tests/strategy do: per (venue, symbol) a spot and a perp book of 50
levels a side (the depth a slippage/VWAP walk actually has to cross for a 10 000 USD quote on the
small coins), a mark with its own funding interval (4 h or 8 h), a borrow rate, fresh healthy book
streams, and funding stats with an OU fit for every perp, so every branch of pricing runs: basis,
reverse basis (per venue) and long/short across the two venues, with z-scores.

Run: python -m benchmarks.bench_scanner [--n N]
"""
from __future__ import annotations

import argparse
import math
import random
import time

from benchmarks._common import Row, print_table, summarize, time_each
from daemon.core import economics as ec
from daemon.opportunity.funding_feed import FundingStats
from connectors.types import Borrow, Health, Instrument, InstrumentKey, Mark, book_stream
from daemon.hub import Hub
from daemon.opportunity.scanner import candidates, scan
from daemon.opportunity.config import ScannerConfig, VenueFees

NOW_MS = 1_700_000_000_000 // 28_800_000 * 28_800_000 + 3_600_000
VENUES = ("a", "b")
CFG = ScannerConfig(default_fees=VenueFees(spot_taker_pct=0.1, perp_taker_pct=0.05),
                    holding="expected", quote_size_usd=10_000.0, slippage_cap_bps=20.0,
                    book_max_age_ms=600_000)


def build(n_symbols: int = 50, depth: int = 50, seed: int = 3) -> tuple[Hub, dict[tuple[str, str], FundingStats]]:
    rng = random.Random(seed)
    hub = Hub()
    stats: dict[tuple[str, str], FundingStats] = {}
    for i in range(n_symbols):
        sym = f"C{i:03d}USDT"
        base = sym.removesuffix("USDT")
        price = 10 ** rng.uniform(-1, 4)
        tick = 10 ** (round(math.log10(price)) - 4)
        interval_h = 4.0 if i % 3 == 0 else 8.0
        for v in VENUES:
            mark = price * (1 + rng.uniform(-0.002, 0.002))
            for market in ("spot", "perp"):
                hub.set_instrument(Instrument(venue=v, market=market, symbol=sym, base=base,
                                              quote="USDT", tick_size=tick, step_size=0.001,
                                              funding_interval_h=interval_h))
                key = InstrumentKey(v, market, sym)
                lvl_qty = 2_000.0 / price       # ~2 000 USD a level: a 10k quote walks 5 levels
                bids = [(mark - tick * (k + 1), lvl_qty * (1 + k / 10)) for k in range(depth)]
                asks = [(mark + tick * (k + 1), lvl_qty * (1 + k / 10)) for k in range(depth)]
                hub.book(key).load_snapshot(bids, asks, last_update_id=1)
                hub.set_health(v, book_stream(key), Health.HEALTHY)
                hub.touch(v, book_stream(key), NOW_MS)
            rate = rng.uniform(-0.0006, 0.0006)
            interval_ms = int(interval_h * 3_600_000)
            hub.set_mark(Mark(venue=v, symbol=sym, mark_price=mark, index_price=price,
                              funding_rate=rate, next_funding_ms=(NOW_MS // interval_ms + 1) * interval_ms,
                              interval_h=interval_h, ts_ms=NOW_MS))
            hub.set_borrow(Borrow(venue=v, asset=base, hourly_rate=rng.uniform(1e-6, 3e-5),
                                  max_borrowable=1e9, ts_ms=NOW_MS))
            # an AR(1) history around the current rate, so the fit is a real OU fit
            hist, f = [], rate
            for _ in range(90):
                f = 0.0001 + 0.8 * (f - 0.0001) + rng.gauss(0, 0.00005)
                hist.append(f)
            stats[(v, sym)] = FundingStats(venue=v, symbol=sym, interval_h=interval_h,
                                           samples=len(hist), fit=ec.fit_ou(hist, interval_h))
    return hub, stats


def run(n: int = 100, n_symbols: int = 50) -> list[Row]:
    hub, stats = build(n_symbols)
    cands = candidates(hub, CFG)
    opps = scan(hub, CFG, stats, NOW_MS)
    assert len(cands) == 2 * n_symbols * 2 + n_symbols * 2, len(cands)
    assert len(opps) >= 2 * n_symbols * 2 + n_symbols and all(o.zscore is not None for o in opps)
    return [
        summarize(f"scan(): {len(cands)} candidates -> {len(opps)} ranked",
                  time_each(lambda: scan(hub, CFG, stats, NOW_MS), n, warmup=3), "ms"),
        summarize("candidates() alone", time_each(lambda: candidates(hub, CFG), n * 10, warmup=3), "ms"),
    ]


def per_pass_ms(sizes: tuple[int, ...] = (10, 50, 200), budget_s: float = 3.0,
                min_passes: int = 3) -> dict[str, Row]:
    """One scan() pass at 2 venues x N symbols; as many passes per size as fit `budget_s`."""
    out: dict[str, Row] = {}
    for size in sizes:
        hub, stats = build(size)
        t0 = time.perf_counter()
        scan(hub, CFG, stats, NOW_MS)
        one = max(time.perf_counter() - t0, 1e-6)
        count = max(min_passes, min(500, int(budget_s / one)))
        out[str(size)] = summarize(f"scan() 2 venues x {size} symbols",
                                   time_each(lambda: scan(hub, CFG, stats, NOW_MS), count,
                                             warmup=0), "ms")
    return out


def incremental_pass_ms(sizes: tuple[int, ...] = (10, 50, 200), budget_s: float = 3.0,
                        min_passes: int = 3) -> dict[str, Row]:
    """The daemon's scanner pass (Scanner.refresh: incremental.py) at 2 venues x N symbols, one
    second of venue time apart, after one symbol's four books (spot and perp on both venues)
    moved: what a pass costs when a depth frame or two arrived since the last one. The first,
    full pass is not timed; a pass still stamps and returns the whole ranking."""
    from daemon.opportunity.scanner import Scanner

    out: dict[str, Row] = {}
    for size in sizes:
        hub, stats = build(size)
        clock = [NOW_MS]
        scanner = Scanner(hub, CFG, stats=lambda stats=stats: stats, clock_ms=lambda: clock[0])
        full = len(scanner.refresh())
        keys = [[InstrumentKey(v, m, f"C{i:03d}USDT") for v in VENUES for m in ("spot", "perp")]
                for i in range(size)]
        count = max(min_passes, min(2000, int(budget_s / 0.002)))
        samples: list[float] = []
        for n in range(count):
            for key in keys[n % size]:
                book = hub.book(key)
                bid = book.best_bid()
                assert bid is not None
                # a diff at the touch: the best bid's size moves by half
                book.apply_diff([(bid[0], bid[1] * (1.5 if n % 2 else 1 / 1.5))], [])
                hub.book_changed(key, clock[0])
            clock[0] += 1000
            t0 = time.perf_counter_ns()
            ranked = scanner.refresh()
            samples.append(float(time.perf_counter_ns() - t0))
            assert len(ranked) == full
        out[str(size)] = summarize(f"Scanner.refresh() 2 venues x {size} symbols, 1 symbol moved",
                                   samples, "ms")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args(argv if argv is not None else [])
    rows = run(args.n)
    print_table("scanner over 2 venues x 50 symbols (per scan)", rows)
    print(f"  per candidate: {rows[0].mean * 1000 / int(rows[0].name.split()[1]):.1f} us")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

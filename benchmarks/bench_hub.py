"""hub.set_mark fan-out to the real risk watchdog, by number of open pairs in its view.

Real objects built by hand as tests/risk do: a Hub with, per symbol, spot + perp instruments, a
perp position, the borrowed coin and a mark; one cross-margin account and one futures wallet; N
open reverse-basis pairs (one per symbol, all on the same venue) in the watchdog's view; the
leverage brackets of Binance's BTCUSDT tiers. Collateral is ample, so each mark only evaluates
(no protective action fires: asserted). What is timed is one `hub.set_mark(Mark(...))` of one
symbol, i.e. the hub publish plus the watchdog's `on_event` for that mark.

Run: python -m benchmarks.bench_hub [--n N]
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import Row, print_table, summarize, time_each
from connectors.types import Balance, Instrument, MarginAccount, Mark, PerpPosition
from daemon.hub import Hub
from daemon.core.pairs import Pair, State, make_legs
from daemon.risk.watchdog import Watchdog
from daemon.risk.config import WatchdogConfig

V = "v"
BRACKETS = [{"bracket": 1, "initialLeverage": 125, "notionalCap": 50_000, "notionalFloor": 0,
             "maintMarginRatio": 0.004, "cum": 0},
            {"bracket": 2, "initialLeverage": 100, "notionalCap": 600_000,
             "notionalFloor": 50_000, "maintMarginRatio": 0.005, "cum": 50}]


class CountingActions:
    """RiskActions that only count: any call means the rig is not the steady state we time."""

    def __init__(self) -> None:
        self.calls = 0

    def _hit(self, *_a: Any) -> None:
        self.calls += 1

    transfer = deleverage = unwind = close = rehedge = _hit


def rig(n_pairs: int, lead: str | None = None,
        source: Callable[[list[Pair]], Callable[[], list[Pair]]] | None = None,
        hub: Hub | None = None) -> tuple[Hub, Watchdog, CountingActions, list[str]]:
    """`lead`: the first pair's symbol; `source(pairs)`: the watchdog's view of them (default: the
    list itself; the ingest benchmark hands them to a real LeggingEngine and reads them back)."""
    hub = hub if hub is not None else Hub()
    symbols = [f"C{i:03d}USDT" for i in range(n_pairs)]
    if lead is not None and symbols:
        symbols[0] = lead
    price, qty = 100.0, 10.0            # 1 000 USDT per pair
    hub.set_margin_account(MarginAccount(venue=V, margin_level=8.0))
    hub.set_balance(Balance(venue=V, wallet="margin", asset="USDT",
                            free=n_pairs * price * qty * 8))
    hub.set_balance(Balance(venue=V, wallet="futures", asset="USDT",
                            free=n_pairs * price * qty, locked=n_pairs * price * qty / 3))
    pairs = []
    for sym in symbols:
        base = sym.removesuffix("USDT")
        for market in ("spot", "perp"):
            hub.set_instrument(Instrument(venue=V, market=market, symbol=sym, base=base,
                                          quote="USDT", tick_size=0.01, step_size=0.001))
        hub.set_balance(Balance(venue=V, wallet="margin", asset=base, borrowed=qty))
        hub.set_position(PerpPosition(venue=V, symbol=sym, qty=qty, entry_price=price, leverage=3))
        hub.set_mark(_mark(sym, price))
        pairs.append(Pair(id=f"p-{sym}", type="reverse_basis", symbol=sym,
                          legs=make_legs("reverse_basis", sym, {"spot": V, "perp": V}),
                          target_qty=qty, notional_usd=price * qty, execution="taker",
                          state=State.OPEN))
    actions = CountingActions()
    wd = Watchdog(hub, WatchdogConfig(net_apr_grace_s=1e9),
                  source(pairs) if source is not None else (lambda: pairs), actions)
    for sym in symbols:
        wd.set_brackets(V, sym, BRACKETS)
    wd.start()
    return hub, wd, actions, symbols


def _mark(sym: str, price: float) -> Mark:
    return Mark(venue=V, symbol=sym, mark_price=price, index_price=price, funding_rate=-0.0003,
                next_funding_ms=0, interval_h=8.0, ts_ms=0)


def run(n: int = 3000, sizes: tuple[int, ...] = (1, 10, 100, 300), budget_s: float = 3.0
        ) -> list[Row]:
    rows: list[Row] = []
    for n_pairs in sizes:
        hub, wd, actions, symbols = rig(n_pairs)
        # marks pre-built and alternating by a tick so every update is a real change
        marks = [_mark(symbols[i % n_pairs], 100.0 + (i % 2) * 0.01) for i in range(n + 200)]
        it = iter(marks)
        before = getattr(wd, "evaluations", 0)
        # size the sample to a budget (a full pass over the venue is linear in pairs)
        t0 = time.perf_counter_ns()
        for _ in range(5):
            hub.set_mark(next(it))
        probe_ns = (time.perf_counter_ns() - t0) / 5
        count = max(10, min(n, int(budget_s * 1e9 / max(probe_ns, 1.0))))
        samples = time_each(lambda: hub.set_mark(next(it)), count, warmup=min(100, count // 10))
        per_mark = (getattr(wd, "evaluations", 0) - before) / (count + 5 + min(100, count // 10))
        assert actions.calls == 0 and hub.subscriber_errors == 0, (actions.calls, hub.last_subscriber_error)
        # all pairs on the venue (the linear watchdog) or fewer (one that only re-evaluates the
        # pairs a mark moves): never more
        assert per_mark <= n_pairs, per_mark
        rows.append(summarize(f"set_mark -> watchdog, {n_pairs:>3} pairs ({per_mark:.0f} evals/mark)",
                              samples, "us"))
    hub = Hub()
    m = _mark("X", 1.0)
    rows.append(summarize("set_mark, no subscriber (hub floor)", time_each(lambda: hub.set_mark(m), n),
                          "us"))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=3000)
    args = ap.parse_args(argv if argv is not None else [])
    rows = run(args.n)
    print_table("hub.set_mark fan-out to the watchdog (per mark update)", rows)
    one = rows[0].mean
    print("  per pair in view: " + ", ".join(f"{r.mean / int(r.name.split(',')[1].split()[0]):.1f} us"
                                             for r in rows[:-1]) + f"  (1 pair: {one:.1f} us)")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

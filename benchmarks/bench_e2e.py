"""Tick-to-trade on loopback: a crossing mark frame -> the watchdog's protective request.

The full stack as `basisd run` wires it, on uvloop: the embedded exchange (SimCluster, manual
clock, one venue), a BinanceVenue connected to it (books, marks, user streams), the LeggingEngine
that opens a small reverse basis (margin short + perp long on a thin futures wallet), and the
risk Watchdog with the daemon's EngineRiskActions subscribed to the hub.

Each repetition pushes one markPrice frame through the sim's own websocket fan-out with a price
just inside the perp leg's collateral step (20 % above its liquidation price); the connector
decodes it, the hub publishes it, the watchdog evaluates and asks for a margin -> futures transfer.
Timestamps, all `perf_counter_ns` in this one process:
  t_frame   the connector's mark frame callback starts (WsStream handler entry)
  t_sub     a priority-0 hub subscriber sees the mark (frame -> hub fan-out)
  t_act     the watchdog records its reaction (its histogram: on_event start -> action returned)
  t_send    the request enters RestSession.send (after the task hop of EngineRiskActions)
  t_venue   the embedded exchange's engine executes the transfer (request parsed on loopback)
The watchdog's own histogram value is printed as measured (it starts at the hub callback, not at
the frame). Between repetitions the transfer is reversed, the position refreshed from REST and the
watchdog's per-pair state reset, so every repetition is a first crossing.

Run: python -m benchmarks.bench_e2e [--reps N]
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any


from benchmarks._common import Row, print_table, summarize
from benchmarks._sim import SYMBOL, VENUE, start_sim, stop_stack, venue_for
from tests.sim_time import wait_until



class Probe:
    """Timestamps of one repetition (ns)."""

    def __init__(self) -> None:
        self.armed = False
        self.t_frame = self.t_sub = self.t_act = self.t_send = self.t_venue = self.t_written = 0
        self.reaction_s = 0.0
        self.kind = ""

    def arm(self) -> None:
        self.armed = True
        self.t_frame = self.t_sub = self.t_act = self.t_send = self.t_venue = self.t_written = 0
        self.reaction_s = 0.0
        self.kind = ""


async def measure(reps: int, budget_s: float = 20.0) -> dict[str, Any]:
    from connectors.types import InstrumentKey
    from daemon.hub import MARK, Hub
    from daemon.journal import Journal
    from daemon.legging.engine import LeggingEngine
    from connectors.binance.legs import BinanceLegVenue
    from daemon.legging.config import LeggingConfig
    from daemon.risk.actions import EngineRiskActions, brackets_from_tiers
    from daemon.risk.watchdog import Watchdog
    from daemon.risk.config import WatchdogConfig

    perf = time.perf_counter_ns
    probe = Probe()

    def at_venue() -> None:
        if probe.armed and not probe.t_venue:
            probe.t_venue = perf()
    cluster = await start_sim("100000", "1100",
                              ("asset_transfer", "margin_new_order", "futures_new_order"), at_venue)
    server = cluster._servers[0]
    hub = Hub()
    venue = venue_for(cluster, hub)
    mark_ws = venue.market.mark_ws
    assert mark_ws is not None
    on_mark = mark_ws._on_frame

    def timed_on_mark(data: bytes) -> None:
        if probe.armed and not probe.t_frame:
            probe.t_frame = perf()
        on_mark(data)
    mark_ws._on_frame = timed_on_mark          # read by the pump when the socket opens

    rest_send = venue.rest.send

    async def timed_send(prep: Any) -> bytes:
        if probe.armed and not probe.t_send:
            probe.t_send = perf()
        return await rest_send(prep)
    venue.rest.send = timed_send                # type: ignore[method-assign]

    def first_subscriber(kind: str, _item: Any) -> None:
        if kind == MARK and probe.armed and not probe.t_sub:
            probe.t_sub = perf()
    hub.subscribe(first_subscriber, 0)

    tmp = tempfile.TemporaryDirectory(prefix="basisd-bench-")
    engine: Any = None
    wd: Any = None
    out: dict[str, Any] = {}
    try:
        await venue.start()
        keys = [InstrumentKey(VENUE, m, SYMBOL) for m in ("spot", "perp")]
        await wait_until(lambda: all(hub.book_ready(k)[0] for k in keys), 15, "books")
        cluster.advance(1.0, 1.0)                  # one mark frame
        await wait_until(lambda: (VENUE, SYMBOL) in hub.marks, 10, "first mark")
        engine = LeggingEngine(hub, {VENUE: BinanceLegVenue(venue)},
                               LeggingConfig(default_spot_venue=VENUE, default_perp_venue=VENUE,
                                             default_long_venue=VENUE, default_short_venue=VENUE),
                               Journal(Path(tmp.name)))
        await engine.start()
        pid = await engine.open_pair("reverse_basis", SYMBOL, 3000.0, "taker")
        await engine.wait_idle(pid, 30)
        view = engine.view(pid)
        if view["state"] != "open":
            raise RuntimeError(f"bench_e2e: pair did not open: {view['state']} {view['reason']}")
        await venue.refresh_account()

        actions = EngineRiskActions(engine, {VENUE: venue})

        def brackets(v: str, s: str) -> Any:
            tiers = venue.reference.tiers.get(s)
            return brackets_from_tiers(tiers) if tiers else None
        wd = Watchdog(hub, WatchdogConfig(net_apr_grace_s=86_400), lambda: [rt.pair for rt in engine.pairs.values()],
                      actions, brackets=brackets)
        observe = wd.reaction.observe

        def timed_observe(value: float) -> None:
            if probe.armed and not probe.t_act:
                probe.t_act = perf()
                probe.reaction_s = value
            observe(value)
        wd.reaction.observe = timed_observe     # type: ignore[method-assign]
        transfer = actions.transfer

        def noted_transfer(v: str, direction: str, asset: str, amount: float) -> Any:
            probe.kind = f"transfer {direction}"
            moved.append(amount if direction == "margin_to_futures" else -amount)
            res = transfer(v, direction, asset, amount)
            # a synchronous write path stamps when the bytes were written (0: it fell back)
            written = getattr(res, "written_ns", 0)
            if probe.armed and written and not probe.t_written:
                probe.t_written = written
            return res
        actions.transfer = noted_transfer        # type: ignore[method-assign]
        moved: list[float] = []
        wd.start()
        wd.evaluate_all()
        st = wd.state[pid]
        if any(lv >= 2 for lv in st.levels.values()):
            raise RuntimeError(f"bench_e2e: pair already at risk before the first frame: {st.levels}")

        stream_key = f"fut:{SYMBOL.lower()}@markPrice@1s"
        base = hub.marks[(VENUE, SYMBOL)]
        samples: dict[str, list[float]] = {k: [] for k in
                                           ("sub", "act", "send", "written", "venue", "reaction", "hop")}
        kinds: dict[str, int] = {}
        started = time.monotonic()
        n_done = skipped = fell_back = 0
        while n_done < reps and time.monotonic() - started < budget_s:
            wd.state.pop(pid, None)
            wd._stale_liq.clear()
            wd.evaluate_all()
            risk = wd.state[pid].risk
            perp = next(g for g in risk.legs if g.leg == "perp")
            price = perp.liq_price / (1.0 - 0.20)   # inside the collateral step (22 %), above 15 %
            moved.clear()
            probe.arm()
            server.hub.publish(stream_key, {
                "e": "markPriceUpdate", "E": int(time.time() * 1000), "s": SYMBOL,
                "p": f"{price:.2f}", "i": f"{price:.2f}", "P": f"{price:.2f}",
                "r": f"{base.funding_rate:.8f}", "T": base.next_funding_ms})
            await wait_until(lambda: probe.t_venue != 0, 10, "the protective request at the venue")
            probe.armed = False
            # Only frame, reaction and venue are required: how the request reaches the socket
            # (RestSession.send or a synchronous write path) may change under us.
            if probe.t_frame and probe.t_act:
                samples["act"].append(probe.t_act - probe.t_frame)
                samples["venue"].append(probe.t_venue - probe.t_frame)
                samples["reaction"].append(probe.reaction_s * 1e9)
                if probe.t_sub:
                    samples["sub"].append(probe.t_sub - probe.t_frame)
                if probe.t_send:
                    samples["send"].append(probe.t_send - probe.t_frame)
                    samples["hop"].append(probe.t_send - probe.t_act)
                if probe.t_written:
                    samples["written"].append(probe.t_written - probe.t_frame)
                else:
                    fell_back += 1
                kinds[probe.kind or "other"] = kinds.get(probe.kind or "other", 0) + 1
                n_done += 1
            else:
                skipped += 1
                if skipped > 20 and not n_done:
                    raise RuntimeError("bench_e2e: the watchdog never recorded a reaction")
            # put the mark back (the watchdog sees the normal price again), let the action finish,
            # undo the transfer so the account is the same for the next repetition
            server.hub.publish(stream_key, {
                "e": "markPriceUpdate", "E": int(time.time() * 1000), "s": SYMBOL,
                "p": f"{base.mark_price:.2f}", "i": f"{base.index_price:.2f}",
                "P": f"{base.mark_price:.2f}", "r": f"{base.funding_rate:.8f}",
                "T": base.next_funding_ms})
            await wait_until(lambda: hub.marks[(VENUE, SYMBOL)].mark_price == float(f"{base.mark_price:.2f}"),
                        10, "normal mark")
            if wd._tasks:
                await asyncio.gather(*list(wd._tasks), return_exceptions=True)
            net = sum(moved)
            if net > 0:
                await venue.transfer("USDT", round(net, 8), to_futures=False)
            elif net < 0:
                await venue.transfer("USDT", round(-net, 8), to_futures=True)
            await venue.trading.position_risk(SYMBOL)
            await venue.trading.futures_account()
        out = {"samples": samples, "kinds": kinds, "reps": n_done, "skipped": skipped,
               "fell_back": fell_back, "sync_write": hasattr(venue, "transfer_now"),
               "wd_count": wd.reaction.count, "wd_p50": wd.reaction.quantile(0.5),
               "wd_p99": wd.reaction.quantile(0.99), "errors": wd.action_errors,
               "last_error": wd.last_error}
    finally:
        if wd is not None:
            wd.stop()
            if wd._tasks:
                await asyncio.gather(*list(wd._tasks), return_exceptions=True)
        await stop_stack(engine, venue, cluster)
        tmp.cleanup()
    return out


def run(reps: int = 300, budget_s: float = 20.0, loop: str = "uvloop") -> list[Row]:
    """`loop`: "uvloop" (what `basisd run` uses) or "asyncio"."""
    if loop == "uvloop":
        import uvloop
        res = uvloop.run(measure(reps, budget_s))
    else:
        res = asyncio.run(measure(reps, budget_s))
    s = res["samples"]
    labels = [
        ("sub", "frame -> hub subscriber (priority 0) sees the mark"),
        ("act", "frame -> watchdog reaction recorded (action call returned)"),
        ("reaction", "  watchdog histogram value (hub callback -> action returned)"),
        ("send", "frame -> request enters RestSession.send (written next)"),
        ("hop", "  action returned -> RestSession.send (task hop + build + sign; < 0: sync)"),
        ("written", "frame -> request bytes written (synchronous write path's stamp)"),
        ("venue", "frame -> embedded exchange executes it (loopback wire)"),
    ]
    rows = [summarize(label, s[k], "us") for k, label in labels if s[k]]
    run.last = res  # type: ignore[attr-defined]
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--loop", choices=("uvloop", "asyncio", "both"), default="both")
    args = ap.parse_args(argv if argv is not None else [])
    for loop in (("uvloop", "asyncio") if args.loop == "both" else (args.loop,)):
        rows = run(args.reps, loop=loop)
        res = run.last  # type: ignore[attr-defined]
        print_table(f"tick-to-trade on loopback ({loop}): crossing mark frame -> protective request",
                    rows)
        print(f"  repetitions {res['reps']}, actions {res['kinds']}, watchdog histogram count "
              f"{res['wd_count']} (bucket p50 <= {res['wd_p50']}, p99 <= {res['wd_p99']} s), "
              f"action errors {res['errors']} {res['last_error']}")
        if res["sync_write"]:
            print(f"  synchronous write path present; fell back to a task in {res['fell_back']} of "
                  f"{res['reps']} repetitions")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

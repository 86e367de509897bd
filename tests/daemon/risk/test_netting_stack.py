"""Issue 12, done-when 1: pairs sharing one venue's netted state through the real stack.

Two reverse-basis pairs (spot and perp on sim-a) and a long/short (long sim-b, short sim-a) share
sim-a's one BTCUSDT position (one-way mode: +q1 +q2 -q3) and its one BTC liability (q1 + q2).
The embedded exchange runs its default scenario (calm, negative funding, a 12 % crash with a basis
blowout, a borrow spike, recovery) on a manual clock at 480x: the test moves 600 scenario
seconds (one full cycle of the scenario, 80 venue hours) in small steps, waiting for each step's
frames to reach the hub. The watchdog watches all three pairs; the net-APR exit is switched off
(a strategy exit, not a risk one: the calm regime's funding would close the reverse-basis pairs).
Nothing may be done to any pair, and the positions view gives every pair a share of the venue's
figures that adds up to what the venue holds.
"""
from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

from connectors.binance import BinanceVenue
from connectors.binance.legs import BinanceLegVenue
from connectors.config import VenueConfig
from connectors.secrets import Secret
from connectors.sim import SimCluster, SimConfig, SimVenueConfig
from connectors.types import InstrumentKey
from daemon.hub import Hub
from daemon.journal import Journal
from daemon.legging.engine import LeggingEngine
from daemon.risk.actions import EngineRiskActions, brackets_from_tiers
from daemon.risk.config import WatchdogConfig
from daemon.risk.watchdog import Watchdog

from tests.daemon.risk.stack_rig import LEG_CFG, shut_down, wait_for, wait_quiet

A, B, SYM = "sim-a", "sim-b", "BTCUSDT"
SCENARIO_S = 600.0            # one cycle of the default scenario
STEP_S = 2.0
ACTIONS = {"transfer", "deleverage", "unwind", "close", "rehedge"}


def _check_shares(engine: LeggingEngine, hub: Hub) -> None:
    views = engine.views()
    perp: dict[str, float] = {}
    owed: dict[str, float] = {}
    for v in views:
        for leg in v["legs"]:
            if leg["market"] == "perp":
                perp[leg["venue"]] = perp.get(leg["venue"], 0.0) + leg["venue_share"]
                assert leg["venue_qty"] == hub.positions[(leg["venue"], SYM)].qty
            else:
                owed[leg["venue"]] = owed.get(leg["venue"], 0.0) + leg["venue_share"]
    for venue, total in perp.items():
        assert math.isclose(total, hub.positions[(venue, SYM)].qty, abs_tol=1e-12), (venue, total)
    btc = hub.balances[(A, "margin", "BTC")]
    assert math.isclose(owed[A], -btc.liability, abs_tol=1e-12)


async def test_two_reverse_basis_and_a_long_short_share_one_venue(tmp_path: Path) -> None:
    cluster = SimCluster(SimConfig(seed=12, clock="manual", venues=tuple(
        SimVenueConfig(name=n, symbols=(SYM,), scenario="default", speedup=480.0) for n in (A, B))))
    await cluster.start()
    hub = Hub()
    venues: dict[str, BinanceVenue] = {}
    engine: LeggingEngine | None = None
    wd: Watchdog | None = None
    try:
        for info in cluster.venues:
            vcfg = VenueConfig(name=info.name, sim=True, symbols=[SYM], rest_url=info.rest_url,
                               futures_rest_url=info.rest_url, spot_ws_url=info.spot_ws_url,
                               futures_ws_url=info.futures_ws_url, stale_after_s=60.0)
            v = BinanceVenue(vcfg, hub, api_key=Secret(info.api_key), api_secret=Secret(info.api_secret),
                             account_refresh_s=3600.0, interest_poll_s=3600.0)
            await v.start()
            assert v.user is not None
            await v.user.wait_connected(10.0)
            venues[info.name] = v
        keys = [InstrumentKey(n, m, SYM) for n in (A, B) for m in ("spot", "perp")]

        def ready() -> bool:
            return all(hub.book_ready(k)[0] for k in keys) and all((n, SYM) in hub.marks for n in (A, B))
        for _ in range(20):
            cluster.advance(0.5)
            await asyncio.sleep(0.02)
            if ready():
                break
        await wait_for(ready, 10.0, "books and marks")
        engine = LeggingEngine(hub, {n: BinanceLegVenue(v) for n, v in venues.items()}, LEG_CFG,
                               Journal(tmp_path))
        await engine.start()
        pids = []
        for pair_type, notional, legs in (("reverse_basis", 4000.0, {"spot": A, "perp": A}),
                                          ("reverse_basis", 3000.0, {"spot": A, "perp": A}),
                                          ("long_short", 2000.0, {"long": B, "short": A})):
            pid = await engine.open_pair(pair_type, SYM, notional, "taker", legs)
            await engine.wait_idle(pid, 30)
            assert engine.view(pid)["state"] == "open", engine.view(pid)
            pids.append(pid)
        for v in venues.values():
            await v.refresh_account()
        # sim-a's one position nets all three pairs: +q1 + q2 - q3
        qs = [engine.pairs[p].pair.target_qty for p in pids]
        assert math.isclose(hub.positions[(A, SYM)].qty, qs[0] + qs[1] - qs[2], abs_tol=1e-9)
        _check_shares(engine, hub)

        def brackets(v: str, s: str) -> Any:
            tiers = venues[v].reference.tiers.get(s)
            return brackets_from_tiers(tiers) if tiers else None
        wd = Watchdog(hub, WatchdogConfig(net_apr_grace_s=86_400), lambda: [rt.pair for rt in engine.pairs.values()],
                      EngineRiskActions(engine, venues), brackets=brackets,
                      journal=engine.journal.record_risk_step if engine.journal else None,
                      clock=lambda: float(cluster.venues[0].server.exchange.t), exposures=engine.exposures)
        engine.allow = wd.allows
        wd.start()
        exchange = cluster.venues[0].server.exchange
        t0 = exchange.t
        while exchange.t - t0 < SCENARIO_S:
            cluster.advance(STEP_S)
            target = int(exchange.now_ms())
            await wait_for(lambda: (m := hub.marks.get((A, SYM))) is not None and m.ts_ms >= target - 1000,
                           10.0, "mark frame")
            await wait_quiet(lambda: not wd._tasks, 0.5)
            acted = [s for s in wd.steps if s["step"] in ACTIONS or s["step"].endswith("_failed")]
            assert not acted, acted
        for v in venues.values():
            await v.refresh_account()
        wd.evaluate_all()
        assert not [s for s in wd.steps if s["step"] in ACTIONS], list(wd.steps)
        for pid in pids:
            view = engine.view(pid)
            assert view["state"] == "open", view
            assert view["hedged"], view
            st = wd.status()["pairs"][pid]
            assert st["hedge_gap"] == 0.0 or abs(st["hedge_gap"]) <= 0.002 * engine.pairs[pid].pair.target_qty
        assert not list(exchange.liquidation_log())
        _check_shares(engine, hub)
        # the watchdog's shares are the view's: the long/short's sim-a share is its own short
        ls = wd.status()["pairs"][pids[2]]["legs"]
        short = next(g for g in ls if g["venue"] == A)
        assert short["trims"] is False          # net long on sim-a: trimming the short would grow it
        assert math.isclose(short["share"], -qs[2], rel_tol=1e-6)
    finally:
        await shut_down(wd, engine, venues.values(), cluster)

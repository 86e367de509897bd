"""The watchdog through the real stack on the embedded exchange: SimCluster (manual clock) on
loopback -> BinanceVenue (REST + websockets) -> Hub -> Watchdog (priority 10) -> EngineRiskActions
-> LeggingEngine / BinanceVenue -> back to the SimCluster. Nothing is faked: the test only moves
the sim's clock, in small steps, and waits for the frames of each step to reach the hub.

Sizing "3x" on both legs (DOMAIN.md): a reverse basis of notional N borrows and sells N of coin on
cross margin with N/2 of USDT collateral (margin level 1.5 at entry: Binance's 3x cross margin),
and buys N of perp with a futures wallet of N/3 (3x). A +40 % pump then takes the margin level to
1.5/1.4 = 1.07 < 1.1 and a -40 % crash costs the perp 0.4 N > N/3: both liquidate untended.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.binance import BinanceVenue
from connectors.binance.config import BinanceUrls
from connectors.sim import SimCluster, SimConfig, SimVenueConfig
from connectors.config import VenueConfig
from connectors.types import InstrumentKey
from daemon.hub import Hub
from daemon.journal import Journal
from daemon.legging.engine import LeggingEngine
from connectors.binance.legs import BinanceLegVenue
from daemon.legging.config import LeggingConfig
from daemon.risk.actions import EngineRiskActions, brackets_from_tiers
from connectors.secrets import Secret
from daemon.risk.watchdog import Watchdog
from daemon.risk.config import WatchdogConfig
from tests.sim_time import lag_aware_wait, last_mark_ms

V, SYM = "sim-a", "BTCUSDT"
NOTIONAL = 30_000.0
LEG_CFG = LeggingConfig(default_execution="taker", complete_budget_s=0.5, backoff_base_s=0.02,
                        backoff_cap_s=0.2, journal_sync="normal")
# The venue refuses a transfer out of cross margin below ML 2 only when Binance says so; the sim
# allows it down to the bar plus the haircut, so the watchdog may take more (see report).
WD_CFG = WatchdogConfig(margin_transfer_out_level=1.5, net_apr_grace_s=86_400)


async def wait_for(pred: Callable[[], object], timeout: float, what: str) -> None:
    if not await lag_aware_wait(pred, timeout):
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def wait_quiet(pred: Callable[[], object], timeout: float) -> bool:
    """Like wait_for, but the market does not wait for anyone: give up quietly."""
    return await lag_aware_wait(pred, timeout)


@dataclass
class StackRig:
    sim: SimCluster
    hub: Hub
    venue: BinanceVenue
    engine: LeggingEngine
    watchdog: Watchdog | None
    pid: str = ""
    qty0: float = 0.0
    worst_residual: float = 0.0
    residual_samples: int = 0
    calls: list[str] = field(default_factory=list)

    @property
    def exchange(self) -> Any:
        return self.sim.venues[0].server.exchange

    def liquidations(self) -> list[dict[str, Any]]:
        return list(self.exchange.liquidation_log())

    def autoclose_orders(self) -> int:
        n = 0
        for acct in self.exchange.accounts.values():
            n += sum(1 for o in getattr(acct, "orders", {}).values()
                     if str(getattr(o, "client_id", "")).startswith("autoclose-"))
        return n

    def residual(self) -> float | None:
        """Unhedged coins as the venue reports them: perp qty - (liability - coins held)."""
        btc = self.hub.balances.get((V, "margin", "BTC"))
        pos = self.hub.positions.get((V, SYM))
        if btc is None or pos is None:
            return None
        return pos.qty - (btc.liability - btc.free - btc.locked)

    async def step(self, seconds: float, timeout: float = 5.0) -> None:
        """Advance the venue clock, then wait until that step's last mark frame has reached the
        hub through the websocket and whatever the watchdog started has finished."""
        self.sim.advance(seconds)
        target = last_mark_ms(self.exchange)
        await wait_for(lambda: (m := self.hub.marks.get((V, SYM))) is not None and m.ts_ms >= target,
                       timeout, "mark frame")
        await asyncio.sleep(0)
        if self.watchdog is not None:
            # The venue clock is stopped while requests are in flight (a real venue answers in
            # milliseconds), however slowly a busy machine runs them; an operation that needs
            # the market to move (a chase) carries on over the next steps.
            await wait_quiet(lambda: not self.watchdog._tasks and not self._engine_busy(), timeout)
            await asyncio.sleep(0.005)     # the account updates those requests caused
        r = self.residual()
        if r is not None:
            self.residual_samples += 1
            self.worst_residual = max(self.worst_residual, abs(r))

    def _engine_busy(self) -> bool:
        rt = self.engine.pairs.get(self.pid)
        return rt is not None and rt.task is not None and not rt.task.done()


def sim_config(seed: int, scenario: str, notional: float = NOTIONAL,
               margin_usdt: float | None = None, futures_usdt: float | None = None) -> SimConfig:
    margin = notional / 2 if margin_usdt is None else margin_usdt
    futures = notional / 3 * 1.02 if futures_usdt is None else futures_usdt
    return SimConfig(seed=seed, clock="manual", venues=(SimVenueConfig(
        name=V, symbols=(SYM,), scenario=scenario, speedup=480.0,
        margin_funding={"USDT": f"{margin:.2f}"}, futures_funding={"USDT": f"{futures:.2f}"}),))


@contextlib.asynccontextmanager
async def stack(tmp: Path, seed: int, scenario: str, *, watchdog: bool = True,
                wd_cfg: WatchdogConfig = WD_CFG, notional: float = NOTIONAL,
                margin_usdt: float | None = None, futures_usdt: float | None = None,
                open_pair: bool = True, listen_token: bool = False) -> AsyncIterator[StackRig]:
    """`listen_token`: the connector's production cross-margin flow (WS-API subscription for
    orders and balances, the margin risk stream for liabilities) instead of the classic one."""
    cluster = SimCluster(sim_config(seed, scenario, notional, margin_usdt, futures_usdt))
    await cluster.start()
    info = cluster.venues[0]
    hub = Hub()
    vcfg = VenueConfig(name=V, sim=True, symbols=[SYM], rest_url=info.rest_url,
                       futures_rest_url=info.rest_url, spot_ws_url=info.spot_ws_url,
                       futures_ws_url=info.futures_ws_url, stale_after_s=60.0)
    urls = BinanceUrls.for_sim(info.rest_url, info.spot_ws_url, info.futures_ws_url,
                               margin_flow="listen_token", ws_api=info.ws_api_url,
                               margin_risk_ws=info.margin_risk_ws_url) if listen_token else None
    venue = BinanceVenue(vcfg, hub, api_key=Secret(info.api_key), api_secret=Secret(info.api_secret),
                         urls=urls, account_refresh_s=3600.0, interest_poll_s=3600.0)
    engine: LeggingEngine | None = None
    wd: Watchdog | None = None
    try:
        await venue.start()
        assert venue.user is not None
        await venue.user.wait_connected(10.0)
        keys = [InstrumentKey(V, m, SYM) for m in ("spot", "perp")]
        for _ in range(20):     # the first frames after connect build the books; marks each second
            cluster.advance(0.5)
            await asyncio.sleep(0.02)
            if all(hub.book_ready(k)[0] for k in keys) and (V, SYM) in hub.marks:
                break
        await wait_for(lambda: all(hub.book_ready(k)[0] for k in keys) and (V, SYM) in hub.marks,
                       10.0, "books and marks")
        engine = LeggingEngine(hub, {V: BinanceLegVenue(venue)}, LEG_CFG, Journal(tmp))
        await engine.start()
        if watchdog:
            def brackets(v: str, s: str) -> Any:
                tiers = venue.reference.tiers.get(s)
                return brackets_from_tiers(tiers) if tiers else None
            wd = Watchdog(hub, wd_cfg, lambda: [rt.pair for rt in engine.pairs.values()],
                          EngineRiskActions(engine, {V: venue}), brackets=brackets,
                          journal=engine.journal.record_risk_step if engine.journal else None,
                          # the market's clock: settle and stale timers run in scenario seconds
                          clock=lambda: float(cluster.venues[0].server.exchange.t))
            engine.allow = wd.allows       # the halt gate, as the daemon wires it
        rig = StackRig(cluster, hub, venue, engine, wd)
        if open_pair:
            await venue.set_leverage(SYM, 3)
            rig.pid = await engine.open_pair("reverse_basis", SYM, notional, "taker")
            await engine.wait_idle(rig.pid, 30)
            view = engine.view(rig.pid)
            assert view["state"] == "open", view
            rig.qty0 = engine.pairs[rig.pid].pair.target_qty
            await venue.refresh_account()     # liquidation prices (REST only) and liabilities
        if wd is not None:
            wd.start()
        yield rig
    finally:
        await shut_down(wd, engine, [venue], cluster)


async def shut_down(wd: Watchdog | None, engine: LeggingEngine | None, venues: Any,
                    cluster: SimCluster) -> None:
    """Watchdog, engine, connectors, then the sim: each only what is already up."""
    if wd is not None:
        wd.stop()
        for t in list(wd._tasks):
            t.cancel()
    if engine is not None:
        await engine.stop()
    for v in venues:
        await v.stop()
    await cluster.stop()

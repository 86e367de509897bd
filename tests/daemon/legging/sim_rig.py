"""A legging engine on the real Binance connector against an in-process embedded exchange, plus
readers of the sim's own books (ledger, orders) to check the engine against the venue's truth."""
from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.binance import BinanceVenue
from connectors.bybit import BybitUrls, BybitVenue
from connectors.okx.config import OkxUrls
from connectors.okx.venue import OkxVenue
from connectors.sim import SimCluster, SimConfig, SimVenueConfig
from connectors.config import VenueConfig
from connectors.types import InstrumentKey
from daemon.hub import Hub
from daemon.journal import Journal
from daemon.legging.engine import LeggingEngine
from daemon.wiring import leg_venue_for
from daemon.legging.config import LeggingConfig
from daemon.legging.runtime import PairRuntime
from connectors.secrets import Secret
from tests.sim_time import lag_aware_wait

CFG = LeggingConfig(chase_escalate_after_s=3.0, complete_budget_s=0.5, backoff_base_s=0.02,
                    backoff_cap_s=0.2)


async def wait_until(pred: Any, timeout: float, what: str, every: float = 0.02) -> None:
    if not await lag_aware_wait(pred, timeout, every):
        raise AssertionError(f"timed out waiting for {what}")


class Rig:
    def __init__(self, engine: LeggingEngine, cluster: SimCluster,
                 venues: dict[str, Any]) -> None:
        self.engine = engine
        self.cluster = cluster
        self.venues = venues

    def exchange(self, venue: str = "sim-a") -> Any:
        return self.cluster.venue(venue).server.exchange

    def account(self, venue: str = "sim-a") -> str:
        info = self.cluster.venue(venue)
        acct = self.exchange(venue).account_for_key(info.api_key)
        assert acct is not None
        return str(acct)

    def fault(self, venue: str, kind: str, **kw: Any) -> None:
        self.exchange(venue).inject_fault(kind, **kw)

    def sim_orders(self, prefix: str, venue: str = "sim-a") -> list[Any]:
        """Every order the sim accepted for our account whose client id has `prefix`."""
        ex = self.exchange(venue)
        return [o for o in ex.accounts[self.account(venue)].orders.values()
                if o.client_id.startswith(prefix)]

    def rejects_used(self, venue: str, market: str, injected: int) -> int:
        left = self.exchange(venue).faults._reject.get(market)
        return injected - (left[0] if left else 0)

    def ledger_sum(self, venue: str, asset: str, causes: set[str],
                   buckets: set[str] | None = None) -> Decimal:
        acct = self.account(venue)
        total = Decimal(0)
        for e in self.exchange(venue).ledger_.entries:
            if e["account"] == acct and e["asset"] == asset and e["cause"] in causes \
                    and (buckets is None or e["bucket"] in buckets):
                total += e["delta"]
        return total

    def balance(self, venue: str, asset: str, bucket: str) -> Decimal:
        return self.exchange(venue)._bal(self.account(venue), asset, bucket)

    def perp_amt(self, venue: str, symbol: str = "BTCUSDT") -> Decimal:
        pos = self.exchange(venue).accounts[self.account(venue)].positions.get(symbol)
        return pos.amt if pos is not None else Decimal(0)


class ResidualSpy:
    """Records (monotonic time, residual, tolerance) every time the engine folds an update, so a
    test can measure how long a pair stayed outside its residual tolerance."""

    def __init__(self, engine: LeggingEngine) -> None:
        self.samples: dict[str, list[tuple[float, float, float]]] = {}
        executor = engine.executor
        orig = executor.notify

        def spy(rt: PairRuntime) -> None:
            orig(rt)
            self.samples.setdefault(rt.pair.id, []).append(
                (time.monotonic(), rt.residual(), executor.tolerance(rt)))
        executor.notify = spy  # type: ignore[method-assign]

    def episodes(self, pid: str) -> list[float]:
        """Durations (s) of every stretch the residual spent outside tolerance (an episode still
        open at the last sample counts as infinite)."""
        out: list[float] = []
        start: float | None = None
        for t, r, tol in self.samples.get(pid, []):
            if abs(r) > tol and start is None:
                start = t
            elif abs(r) <= tol and start is not None:
                out.append(t - start)
                start = None
        if start is not None:
            out.append(float("inf"))
        return out


def _connector(info: Any, hub: Hub, symbols: list[str], dialect: str) -> Any:
    """The venue's own connector against its sim dialect, as daemon/wiring.py builds it."""
    key, secret = Secret(info.api_key), Secret(info.api_secret)
    if dialect == "bybit":
        return BybitVenue(VenueConfig(name=info.name, kind="bybit", sim=True, symbols=symbols),
                          hub, api_key=key, api_secret=secret,
                          urls=BybitUrls.for_sim(info.rest_url, info.spot_ws_url))
    if dialect == "okx":
        return OkxVenue(VenueConfig(name=info.name, kind="okx", sim=True, symbols=symbols), hub,
                        api_key=key, api_secret=secret, passphrase=Secret(info.passphrase),
                        urls=OkxUrls.for_sim(info.rest_url, info.spot_ws_url))
    vc = VenueConfig(name=info.name, sim=True, symbols=symbols, rest_url=info.rest_url,
                     futures_rest_url=info.rest_url, spot_ws_url=info.spot_ws_url,
                     futures_ws_url=info.futures_ws_url)
    return BinanceVenue(vc, hub, api_key=key, api_secret=secret)


@asynccontextmanager
async def sim_rig(tmp_path: Path, *, venues: tuple[str, ...] = ("sim-a",), speedup: float = 480.0,
                  cfg: LeggingConfig = CFG, symbols: tuple[str, ...] = ("BTCUSDT",),
                  venue_kw: dict[str, Any] | None = None,
                  dialects: dict[str, str] | None = None) -> AsyncIterator[Rig]:
    """`dialects`: venue name -> "bybit" / "okx" for a venue of that dialect with its own
    connector (the rest speak Binance)."""
    dialect = (dialects or {}).get
    cluster = SimCluster(SimConfig(seed=11, venues=tuple(
        SimVenueConfig(name=n, dialect=dialect(n, "binance"), symbols=symbols,  # type: ignore[arg-type]
                       scenario="", speedup=speedup, **(venue_kw or {}))
        for n in venues)))
    await cluster.start()
    hub = Hub()
    conns: dict[str, Any] = {}
    try:
        for info in cluster.venues:
            v = _connector(info, hub, list(symbols), dialect(info.name, "binance"))
            await v.start()
            conns[info.name] = v
        keys = [InstrumentKey(n, m, s) for n in venues for m in ("spot", "perp") for s in symbols]
        await wait_until(lambda: all(hub.book_ready(k)[0] for k in keys), 10, "books")
        engine = LeggingEngine(hub, {n: leg_venue_for(v) for n, v in conns.items()}, cfg,
                               Journal(tmp_path))
        await engine.start()
        try:
            yield Rig(engine, cluster, conns)
        finally:
            await engine.stop()
    finally:
        for v in conns.values():
            await v.stop()
        await cluster.stop()

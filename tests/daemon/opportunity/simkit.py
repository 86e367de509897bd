"""The embedded exchange wired like the daemon: BinanceVenue -> Hub -> funding/borrow feeds ->
Scanner (+ legging engine + strategy) -> admin socket. Manual sim clock, advanced by the test."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from connectors.binance.venue import BinanceVenue
from connectors.sim import SimCluster, SimConfig, SimVenueConfig
from daemon.ops.admin import AdminServer
from daemon.opportunity.borrow_feed import BorrowFeed
from connectors.config import VenueConfig
from connectors.binance.funding_history import binance_fetcher
from daemon.opportunity.funding_feed import FundingFeed
from daemon.hub import Hub
from daemon.ops.logs import get_logger
from daemon.opportunity.scanner import Scanner
from daemon.opportunity.api import scanner_routes
from connectors.secrets import Secret
from daemon.opportunity.config import ScannerConfig
from tests.sim_time import lag_aware_wait, last_mark_ms

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


@dataclass
class Rig:
    sim: SimCluster
    hub: Hub
    venue: BinanceVenue
    feed: FundingFeed
    borrow: BorrowFeed
    scanner: Scanner
    admin: AdminServer
    socket: str
    stops: list[Any] = field(default_factory=list)

    async def advance(self, seconds: float, chunk: float = 1.0, pause: float = 0.02,
                      until: Callable[[], bool] | None = None,
                      caught_up: Callable[[], bool] | None = None) -> bool:
        """Move scenario time in chunks, yielding so streams and engines run between them.
        After each chunk the venue clock stays stopped until the chunk's last mark frames have
        reached the hub and `caught_up()` holds (say, the strategy decided on them): a busy
        machine slows the test down, never the market relative to the daemon."""
        done = 0.0
        while done < seconds - 1e-9:
            step = min(chunk, seconds - done)
            self.sim.advance(step)
            done += step
            await asyncio.sleep(pause)
            await self.wait_caught_up(caught_up)
            if until is not None and until():
                return True
        return until() if until is not None else True

    async def wait_caught_up(self, caught_up: Callable[[], bool] | None, timeout: float = 30.0
                             ) -> None:
        last_mark = last_mark_ms(self.sim.venues[0].server.exchange)

        def done() -> bool:
            return all((m := self.hub.marks.get(("sim-a", s))) is not None and m.ts_ms >= last_mark
                       for s in SYMBOLS) and (caught_up is None or caught_up())
        if not await lag_aware_wait(done, timeout):
            raise AssertionError(f"the daemon did not catch up with the sim in {timeout}s")


async def settle(hub: Hub, quiet_s: float = 0.3, timeout: float = 5.0) -> None:
    """Wait until no mark has changed for `quiet_s` (manual clock: the venue is frozen)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = None
    while loop.time() < deadline:
        snap = {k: (m.ts_ms, m.funding_rate) for k, m in hub.marks.items()}
        if snap == last:
            return
        last = snap
        await asyncio.sleep(quiet_s)


@contextlib.asynccontextmanager
async def rig(short_dir: Path, scenario: str, scanner_cfg: ScannerConfig, *, seed: int = 5,
              extra_routes: Callable[[Hub, BinanceVenue], list[Any]] | None = None
              ) -> AsyncIterator[Rig]:
    cfg = SimConfig(seed=seed, clock="manual",
                    venues=(SimVenueConfig(name="sim-a", scenario=scenario,
                                           symbols=tuple(SYMBOLS)),))
    async with SimCluster(cfg) as sim, aiohttp.ClientSession() as session:
        v = sim.venues[0]
        vc = VenueConfig(name="sim-a", sim=True, symbols=SYMBOLS, rest_url=v.rest_url,
                         futures_rest_url=v.rest_url, spot_ws_url=v.spot_ws_url,
                         futures_ws_url=v.futures_ws_url)
        hub = Hub()
        venue = BinanceVenue(vc, hub, api_key=Secret(v.api_key), api_secret=Secret(v.api_secret))
        await venue.start()
        feed = FundingFeed(hub, {"sim-a": binance_fetcher(session, v.rest_url)},
                           {"sim-a": SYMBOLS}, min_history=scanner_cfg.min_history,
                           refetch_delay_s=0.05)
        await feed.start()
        borrow = BorrowFeed({"sim-a": venue}, {"sim-a": ["BTC", "ETH"]}, interval_s=0.5)
        await borrow.start()
        scanner = Scanner(hub, scanner_cfg, feed.stats)
        await scanner.start()
        sock = str(short_dir / "b.sock")
        admin = AdminServer(sock, group=None, max_body=65536, status=lambda: {},
                            log=get_logger("test"))
        admin.add_routes(scanner_routes(scanner))
        r = Rig(sim=sim, hub=hub, venue=venue, feed=feed, borrow=borrow, scanner=scanner,
                admin=admin, socket=sock)
        if extra_routes is not None:
            admin.add_routes(extra_routes(hub, venue))
        await admin.start()
        try:
            yield r
        finally:
            for comp in reversed(r.stops):
                with contextlib.suppress(Exception):
                    await comp.stop()
            await admin.stop()
            await scanner.stop()
            await borrow.stop()
            await feed.stop()
            await venue.stop()

"""`BybitVenue`: the one object the daemon holds per Bybit(-dialect) venue.

start(): REST session -> server time -> instruments into the hub -> public websockets (books,
tickers) -> (with keys) wallet, positions and borrow into the hub + the private stream, then a
slow REST refresh (the stream keeps the hub live in between).
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from connectors.base import StateHub
from connectors.bybit import constants as C
from connectors.bybit.config import BybitUrls
from connectors.bybit.errors import BybitError
from connectors.bybit.legs import BybitLegVenue
from connectors.bybit.market_data import BybitMarketData
from connectors.bybit.reference import load_instruments
from connectors.bybit.rest import BybitDialect
from connectors.bybit.trading import BybitTrading
from connectors.bybit.user_stream import BybitUserStream
from connectors.config import VenueConfig
from connectors.secrets import Secret
from connectors.tasks import cancel_and_wait
from connectors.transport.backoff import Backoff
from connectors.transport.rest import RestSession

ACCOUNT_REFRESH_S = 60.0
PRIVATE_READY_S = 10.0


class _Reference:
    """What the watchdog reads from a venue: Bybit reports liqPrice itself, no tiers kept."""

    def __init__(self) -> None:
        self.tiers: dict[str, list[object]] = {}
        self.funding_intervals: dict[str, float] = {}


class BybitVenue:
    def __init__(self, cfg: VenueConfig, hub: StateHub, *, api_key: Secret | None,
                 api_secret: Secret | None, urls: BybitUrls | None = None,
                 backoff: Callable[[], Backoff] = Backoff,
                 account_refresh_s: float = ACCOUNT_REFRESH_S) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.hub = hub
        self.urls = urls or BybitUrls.from_config(cfg)
        dialect = BybitDialect(api_key=api_key.reveal() if api_key is not None else "",
                               recv_window_ms=cfg.recv_window_ms)
        self.rest = RestSession(dialect, api_key=api_key, api_secret=api_secret,
                                recv_window_ms=cfg.recv_window_ms,
                                timeout_s=cfg.request_timeout_s, backoff=backoff)
        self.reference = _Reference()
        self.trading = BybitTrading(hub, cfg.name, self.rest, self.urls,
                                    recv_window_ms=cfg.recv_window_ms)
        self.market = BybitMarketData(hub, cfg.name, self.urls, list(cfg.symbols),
                                      stale_after_s=cfg.stale_after_s,
                                      funding_intervals=lambda: self.reference.funding_intervals,
                                      backoff=backoff)
        self.has_keys = api_key is not None and api_secret is not None
        self.user = (BybitUserStream(hub, cfg.name, self.urls, self.trading, api_key=api_key,
                                     api_secret=api_secret, backoff=backoff)
                     if api_key is not None and api_secret is not None else None)
        self.account_refresh_s = account_refresh_s
        self.last_error = ""
        self._tasks: list[asyncio.Task[None]] = []

    def leg_venue(self) -> BybitLegVenue:
        return BybitLegVenue(self)

    async def start(self) -> None:
        await self.rest.open()
        if self.urls.use_server_time:
            await self.rest.sync_time(self.urls.rest, C.MARKET_TIME)
        insts = await load_instruments(self.rest, self.urls.rest, venue=self.name,
                                       symbols=list(self.cfg.symbols))
        for inst in insts:
            self.hub.set_instrument(inst)
            if inst.market == "perp":
                self.reference.funding_intervals[inst.symbol] = inst.funding_interval_h
        self.market.start()
        if self.user is not None:
            with contextlib.suppress(OSError):
                await self.rest.open_fast(self.urls.rest)
            self.user.start()
            # fills pushed before the private stream is subscribed would only reach the hub
            # through a query: wait for it (a venue that never answers still starts)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.user.ws.connected.wait(), PRIVATE_READY_S)
            await self.refresh_account()
            self._tasks.append(asyncio.create_task(self._refresh_loop(), name="account-refresh"))

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()
        await self.market.stop()
        if self.user is not None:
            await self.user.stop()
        await self.rest.close()

    async def refresh_account(self) -> None:
        await self.trading.wallet()
        await self.trading.positions()
        bases = {i.base for i in self.hub.instruments.values()
                 if i.venue == self.name and i.market == "spot"}
        for asset in sorted(bases):
            with contextlib.suppress(BybitError):
                await self.trading.collateral(asset)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.account_refresh_s)
            try:
                await self.refresh_account()
            except BybitError as exc:
                self.last_error = f"account refresh: {exc}"

    async def max_borrowable(self, asset: str) -> float | None:
        rows = await self.trading.collateral(asset)
        return float(rows[0].availableToBorrow) if rows and rows[0].borrowable else 0.0

    async def next_hourly_interest_rates(self, assets: list[str]) -> dict[str, float]:
        out = {}
        for asset in assets:
            rows = await self.trading.collateral(asset)
            if rows:
                out[asset] = float(rows[0].hourlyBorrowRate)
        return out

    async def repay(self, asset: str, amount: float) -> None:
        await self.trading.repay(asset, amount)

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        await self.trading.set_leverage(symbol, leverage)

    def now_ms(self) -> int:
        return int(time.time() * 1000)

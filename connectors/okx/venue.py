"""`OkxVenue`: the one object the daemon holds per OKX(-dialect) venue.

start(): REST session (keep-alive) -> server time -> instruments into the hub (ctVal kept for
the contract <-> coin conversion) -> public websocket (books, funding, marks) -> (with keys)
account, positions and borrow rates from REST, then the private websocket; a slow REST refresh
keeps borrow rates and max loans current and repairs anything a dropped stream missed.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from connectors.base import StateHub
from connectors.config import VenueConfig
from connectors.okx import constants as C
from connectors.okx.config import OkxUrls
from connectors.okx.errors import OkxError
from connectors.okx.market_data import OkxMarketData
from connectors.okx.reference import ContractSizes, load_reference
from connectors.okx.rest import OkxDialect
from connectors.okx.symbols import split
from connectors.okx.trading import OkxTrading
from connectors.okx.user_stream import OkxUserStream
from connectors.secrets import Secret
from connectors.tasks import cancel_and_wait
from connectors.transport.backoff import Backoff
from connectors.transport.http_fast import Staged, WriteFuture
from connectors.transport.rest import Prepared, RestSession
from connectors.types import Borrow, OrderUpdate

ACCOUNT_REFRESH_S = 60.0


class OkxVenue:
    def __init__(self, cfg: VenueConfig, hub: StateHub, *, api_key: Secret | None,
                 api_secret: Secret | None, passphrase: Secret | None,
                 urls: OkxUrls | None = None, backoff: Callable[[], Backoff] = Backoff,
                 account_refresh_s: float = ACCOUNT_REFRESH_S) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.hub = hub
        self.urls = urls or OkxUrls.from_config(cfg)
        self.rest = RestSession(OkxDialect(passphrase), api_key=api_key, api_secret=api_secret,
                                recv_window_ms=cfg.recv_window_ms,
                                timeout_s=cfg.request_timeout_s, backoff=backoff)
        self.sizes = ContractSizes()
        self.trading = OkxTrading(hub, cfg.name, self.rest, self.urls.rest, self.sizes)
        self.market = OkxMarketData(hub, cfg.name, self.urls, list(cfg.symbols), self.sizes,
                                    stale_after_s=cfg.stale_after_s, backoff=backoff)
        self.has_keys = api_key is not None and api_secret is not None and passphrase is not None
        self.user = (OkxUserStream(hub, cfg.name, self.urls, self.trading, api_key=api_key,
                                   api_secret=api_secret, passphrase=passphrase,
                                   backoff=backoff)
                     if api_key is not None and api_secret is not None and passphrase is not None
                     else None)
        self.account_refresh_s = account_refresh_s
        self._tasks: list[asyncio.Task[None]] = []
        self.last_error = ""

    @property
    def assets(self) -> list[str]:
        return sorted({a for s in self.cfg.symbols for a in split(s)})

    async def start(self) -> None:
        await self.rest.open()
        if self.urls.use_server_time:
            await self.rest.sync_time(self.urls.rest, C.TIME)
        else:
            await self.rest.request("GET", self.urls.rest, C.TIME)   # warm the connection
        insts = await load_reference(self.rest, self.urls.rest, venue=self.name,
                                     symbols=list(self.cfg.symbols))
        self.sizes.update(insts)
        for inst in insts:
            self.hub.set_instrument(inst)
        self.market.start()
        if self.has_keys:
            with contextlib.suppress(OSError):
                await self.rest.open_fast(self.urls.rest)
            await self.refresh_account()
        if self.user is not None:
            self.user.start()
            self._tasks.append(asyncio.create_task(self._refresh_loop(), name="okx-refresh"))

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()
        await self.market.stop()
        if self.user is not None:
            await self.user.stop()
        await self.rest.close()

    async def refresh_account(self) -> None:
        await self.trading.balance()
        await self.trading.positions()
        await self.refresh_borrow()

    async def refresh_borrow(self) -> None:
        """Hourly rates and the max loan of every base coin (what a reverse basis borrows)."""
        rates = await self.trading.interest_rates(self.assets)
        now = int(time.time() * 1000)
        for sym in self.cfg.symbols:
            base, _ = split(sym)
            try:
                cap = await self.trading.max_loan(base, sym)
            except OkxError as exc:
                self.last_error = f"max-loan {base}: {exc}"
                continue
            self.hub.set_borrow(Borrow(venue=self.name, asset=base,
                                       hourly_rate=rates.get(base, 0.0), max_borrowable=cap,
                                       ts_ms=now))

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.account_refresh_s)
            try:
                await self.refresh_account()
            except OkxError as exc:
                self.last_error = f"account refresh: {exc}"

    # -- trading (thin delegation; see trading.py) -----------------------------------------------
    def prepare(self, market: str, symbol: str, side: str, qty: float, **kw: object) -> Prepared:
        return self.trading.prepare_order(market, symbol, side, qty, **kw)  # type: ignore[arg-type]

    async def send(self, prepared: Prepared) -> OrderUpdate:
        return await self.trading.send(prepared)

    def stage_now(self, prepared: Prepared) -> Staged:
        """`send_now` up to the write (RestSession.stage_now)."""
        return self.rest.stage_now(prepared)

    def send_now(self, prepared: Prepared) -> WriteFuture:
        return self.rest.send_now(prepared)

    async def next_hourly_interest_rates(self, assets: list[str]) -> dict[str, float]:
        """The borrow feed's poll (as on Binance): the hourly rates, written to the hub with the
        max loan of each base coin by `refresh_borrow`."""
        await self.refresh_borrow()
        return {a: b.hourly_rate for a in assets
                if (b := self.hub.borrow.get((self.name, a))) is not None}

    async def max_borrowable(self, asset: str) -> float | None:
        sym = next((s for s in self.cfg.symbols if split(s)[0] == asset), None)
        return await self.trading.max_loan(asset, sym)

    def now_ms(self) -> int:
        return int(time.time() * 1000)

"""`BinanceVenue`: the one object the daemon holds per Binance(-dialect) venue.

start(): REST session (keep-alive, warmed) -> server time -> reference data into the hub ->
market data websockets (books, marks) -> (with keys) account snapshot + user streams.

Account snapshots and the user streams' incremental liability events are reconciled by the venue's
clock (see liability_sync.py): the margin account read is bracketed by two `GET /api/v3/time`
reads, and an ambiguous event triggers a margin re-read (`_reread_loop`).
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from connectors.transport.backoff import Backoff
from connectors.binance.errors import BinanceError
from connectors.binance.market_data import BinanceMarketData
from connectors.binance.reference import ReferenceData, load_reference
from connectors.binance.trading import BinanceTrading
from connectors.binance.config import BinanceUrls
from connectors.binance.user_stream import AUTO_REPAY_EFFECTS, BinanceUserStreams
from connectors.binance import constants as C
from connectors.binance import schemas
from connectors.binance.rest import BINANCE, server_time_ms
from connectors.transport.rest import Prepared, RestSession
from connectors.transport.http_fast import Staged, WriteFuture
from connectors.config import VenueConfig
from connectors.types import OrderUpdate
from connectors.base import StateHub
from connectors.secrets import Secret
from connectors.tasks import cancel_and_wait

ACCOUNT_REFRESH_S = 60.0
REREAD_RETRY_S = 1.0


class BinanceVenue:
    def __init__(self, cfg: VenueConfig, hub: StateHub, *, api_key: Secret | None,
                 api_secret: Secret | None, urls: BinanceUrls | None = None,
                 backoff: Callable[[], Backoff] = Backoff,
                 account_refresh_s: float = ACCOUNT_REFRESH_S,
                 interest_poll_s: float = 600.0) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.hub = hub
        self.urls = urls or BinanceUrls.from_config(cfg)
        self.rest = RestSession(BINANCE, api_key=api_key, api_secret=api_secret,
                                recv_window_ms=cfg.recv_window_ms,
                                timeout_s=cfg.request_timeout_s, backoff=backoff)
        self.reference = ReferenceData()
        self.trading = BinanceTrading(hub, cfg.name, self.rest, self.urls,
                                      recv_window_ms=cfg.recv_window_ms)
        self.market = BinanceMarketData(hub, cfg.name, self.rest, self.urls, list(cfg.symbols),
                                        stale_after_s=cfg.stale_after_s,
                                        funding_intervals=lambda: self.reference.funding_intervals,
                                        backoff=backoff)
        self.has_keys = api_key is not None and api_secret is not None
        self.user: BinanceUserStreams | None = (
            BinanceUserStreams(hub, cfg.name, self.rest, self.urls, self.trading, backoff=backoff,
                               interest_poll_s=interest_poll_s) if self.has_keys else None)
        self.account_refresh_s = account_refresh_s
        self._tasks: list[asyncio.Task[None]] = []
        self.last_error = ""
        # one snapshot at a time: the liability gate brackets exactly one margin account read
        self._refresh_lock = asyncio.Lock()
        self._coeff: schemas.TradeCoeff | None = None
        self._reread_task: asyncio.Task[None] | None = None
        self.rereads = 0
        if self.user is not None:
            self.user.on_reread = self._want_reread

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        await self.rest.open()
        if self.urls.use_server_time:
            await self.rest.sync_time(self.urls.rest, C.SPOT_TIME)
            await self.rest.sync_time(self.urls.futures_rest, C.FUTURES_TIME)
        else:
            await self.rest.request("GET", self.urls.rest, C.SPOT_PING)  # warm the connection
        insts, self.reference = await load_reference(
            self.rest, self.urls.rest, self.urls.futures_rest, venue=self.name,
            symbols=list(self.cfg.symbols), signed_brackets=self.has_keys)
        for inst in insts:
            self.hub.set_instrument(inst)
        self.market.start()
        if self.has_keys:
            # keep-alive connections for protective requests written in the caller's pass: a
            # transfer and both legs of a trim may leave together, so one shared host needs more
            bases = {self.urls.rest, self.urls.futures_rest}
            if len(bases) == 1:
                self.rest.fast.size = max(self.rest.fast.size, 4)
            for base in bases:
                with contextlib.suppress(OSError):
                    await self.rest.open_fast(base)
        if self.user is not None:
            await self.refresh_account()
            await self.refresh_fee_prices()
            await self.user.start()
            self._tasks.append(asyncio.create_task(self._refresh_loop(), name="account-refresh"))

    async def stop(self) -> None:
        if self._reread_task is not None:
            self._tasks.append(self._reread_task)
            self._reread_task = None
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()
        await self.market.stop()
        if self.user is not None:
            await self.user.stop()
        await self.rest.close()

    async def refresh_account(self) -> None:
        """REST truth for margin/futures balances, liabilities, positions (streams keep it live)."""
        with contextlib.suppress(BinanceError):
            self._coeff = await self.trading.trade_coeff()
        await self.refresh_margin()
        await self.trading.futures_account()
        await self.trading.position_risk()

    async def refresh_margin(self) -> Any:
        """The cross-margin account snapshot, bracketed on the venue's clock so that liability
        events it already contains are not added again (liability_sync.py); returns it."""
        user = self.user
        async with self._refresh_lock:
            if user is None:
                return await self.trading.margin_account(self._coeff)
            user.snapshot_begin()
            try:
                t0 = await self._server_ms()
                acct = await self.trading.margin_account(self._coeff)
            except BaseException:
                user.snapshot_abort()
                raise
            t1: int | None = None
            try:
                t1 = await self._server_ms()
            except BinanceError:
                pass        # open-ended bracket: later events are settled by a re-read
            finally:
                user.snapshot_end(t0, t1)
            return acct

    async def _server_ms(self) -> int:
        return server_time_ms(await self.rest.request("GET", self.urls.rest, C.SPOT_TIME))

    def _want_reread(self) -> None:
        if self._reread_task is None or self._reread_task.done():
            self._reread_task = asyncio.create_task(self._reread_loop(), name="margin-reread")

    async def _reread_loop(self) -> None:
        """Re-read the margin account until no ambiguous liability event is outstanding."""
        assert self.user is not None
        gate = self.user.liabilities
        while gate.reread_wanted:
            gate.reread_wanted = False
            try:
                await self.refresh_margin()
                self.rereads += 1
            except Exception as exc:    # retried: the hub must not keep a dropped change
                gate.reread_wanted = True
                self.last_error = f"margin re-read: {exc}"
                await asyncio.sleep(REREAD_RETRY_S)

    async def refresh_fee_prices(self) -> None:
        """The USDT price of each asset a fee may be charged in besides the pair's own (BNB),
        for valuing such fees at the fill; a venue without the symbol leaves it unpriced."""
        if self.user is None:
            return
        for asset in C.FEE_ASSETS:
            try:
                self.user.fee_prices[asset] = await self.trading.ticker_price(f"{asset}USDT")
            except BinanceError:
                continue

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.account_refresh_s)
            try:
                await self.refresh_account()
                await self.refresh_fee_prices()
            except BinanceError as exc:
                self.last_error = f"account refresh: {exc}"

    # -- trading (thin delegation; see trading.py for semantics) -------------------------------
    def prepare_spot_order(self, symbol: str, side: str, quantity: float, **kw: Any) -> Prepared:
        prepared = self.trading.prepare_margin_order(symbol, side, quantity, **kw)
        if self.user is not None and prepared.client_id \
                and kw.get("side_effect") in AUTO_REPAY_EFFECTS:
            # its fills repay: the user stream counts that from the fill (user_stream.py)
            self.user.expect_auto_repay(prepared.client_id)
        return prepared

    def prepare_perp_order(self, symbol: str, side: str, quantity: float, **kw: Any) -> Prepared:
        return self.trading.prepare_futures_order(symbol, side, quantity, **kw)

    async def send(self, prepared: Prepared) -> OrderUpdate:
        return await self.trading.send(prepared)

    async def send_pair(self, a: Prepared, b: Prepared) -> tuple[Any, Any]:
        """Both legs leave in the same loop iteration; results (or exceptions) in order."""
        ta = asyncio.create_task(self.trading.send(a))
        tb = asyncio.create_task(self.trading.send(b))
        ra, rb = await asyncio.gather(ta, tb, return_exceptions=True)
        return ra, rb

    async def get_order(self, symbol: str, *, market: str, client_id: str) -> OrderUpdate:
        return await self.trading.get_order(symbol, market=market, client_id=client_id)

    async def cancel_order(self, symbol: str, *, market: str, client_id: str) -> OrderUpdate:
        return await self.trading.cancel_order(symbol, market=market, client_id=client_id)

    async def borrow(self, asset: str, amount: float) -> int:
        return await self.trading.borrow(asset, amount)

    async def repay(self, asset: str, amount: float) -> int:
        return await self.trading.repay(asset, amount)

    async def max_borrowable(self, asset: str) -> float:
        return await self.trading.max_borrowable(asset)

    async def next_hourly_interest_rates(self, assets: list[str]) -> dict[str, float]:
        return await self.trading.next_hourly_interest_rates(assets)

    async def set_leverage(self, symbol: str, leverage: int) -> int:
        return await self.trading.set_leverage(symbol, leverage)

    async def transfer(self, asset: str, amount: float, *, to_futures: bool) -> int:
        return await self.trading.transfer(asset, amount, to_futures=to_futures)

    def stage_now(self, prepared: Prepared) -> Staged:
        """`send_now` up to the write (RestSession.stage_now)."""
        return self.rest.stage_now(prepared)

    def send_now(self, prepared: Prepared) -> WriteFuture:
        """Write a prepared request before returning (pre-opened connection; see
        connectors/transport/http_fast.py); the future resolves to the raw body."""
        return self.rest.send_now(prepared)

    def transfer_now(self, asset: str, amount: float | str, *, to_futures: bool) -> WriteFuture:
        """`transfer`, prepared, signed and written before returning; resolves to the tranId.
        `written_ns` on the result is when the bytes were written (0: fell back to a task)."""
        raw = self.send_now(self.trading.prepare_transfer(asset, amount, to_futures=to_futures))
        out = WriteFuture(loop=asyncio.get_running_loop())
        out.written_ns = raw.written_ns

        def done(f: asyncio.Future[bytes]) -> None:
            if out.done():
                return
            if f.cancelled():
                out.cancel()
            elif f.exception() is not None:
                out.set_exception(f.exception())  # type: ignore[arg-type]
            else:
                try:
                    out.set_result(schemas.TRAN_ID.decode(f.result()).tranId)
                except Exception as exc:
                    out.set_exception(exc)
        raw.add_done_callback(done)
        return out

    def now_ms(self) -> int:
        return int(time.time() * 1000)

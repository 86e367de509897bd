"""The `Venue` (connectors.base) over `OkxVenue`: what the legging engine, recovery and the
watchdog call. Quantities are coins on both sides of this boundary (trading.py converts swap
contracts with ctVal)."""
from __future__ import annotations

import functools
from typing import Any

from connectors.okx.errors import error_kind
from connectors.okx.venue import OkxVenue
from connectors.transport.http_fast import StagedCompletion, WriteFuture, send_staged
from connectors.types import ErrorKind, OrderRequest, OrderUpdate

_HUB_MARKET = {"spot_margin": "spot", "perp": "perp", "spot": "spot"}


class OkxLegVenue:
    def __init__(self, venue: OkxVenue) -> None:
        self.venue = venue
        self.name: str = venue.name

    def prepare(self, req: OrderRequest) -> Any:
        return self.venue.trading.prepare_order(
            req.market, req.symbol, req.side, req.qty, order_type=req.order_type,
            price=req.price, time_in_force=req.time_in_force, reduce_only=req.reduce_only,
            client_id=req.client_id)

    async def send(self, prepared: Any) -> OrderUpdate:
        return await self.venue.send(prepared)

    def send_now(self, prepared: Any) -> WriteFuture:
        """`send`, written before returning when an idle pre-opened connection allows it."""
        return send_staged(self.stage_now(prepared))

    def stage_now(self, prepared: Any) -> StagedCompletion:
        """`send_now` up to the write (connectors.base.StagesNow)."""
        return StagedCompletion(self.venue.stage_now(prepared),
                                functools.partial(self.venue.trading.complete, prepared))

    def error_kind(self, exc: BaseException) -> ErrorKind:
        return error_kind(exc)

    async def cancel(self, market: str, symbol: str, client_id: str) -> OrderUpdate | None:
        return await self.venue.trading.cancel(symbol, _HUB_MARKET[market], client_id)

    async def query(self, market: str, symbol: str, client_id: str) -> OrderUpdate | None:
        return await self.venue.trading.query(symbol, _HUB_MARKET[market], client_id)

    async def orders_since(self, market: str, symbol: str, since_ms: int) -> list[OrderUpdate]:
        return await self.venue.trading.orders_since(symbol, _HUB_MARKET[market], since_ms)

    async def max_borrowable(self, asset: str) -> float | None:
        return await self.venue.max_borrowable(asset)

    async def borrow_rate(self, asset: str) -> float | None:
        return (await self.venue.trading.interest_rates([asset])).get(asset)

    async def refresh_balances(self) -> None:
        await self.venue.refresh_account()

    async def repay(self, asset: str, amount: float) -> None:
        await self.venue.trading.repay(asset, amount)

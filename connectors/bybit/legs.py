"""The `Venue` (connectors.base) over `connectors.bybit.BybitVenue`, for the legging engine.

The engine's markets are "spot_margin" (-> Bybit spot with isLeverage=1: borrow on a sell, repay
from a buy, whatever the request's side effect says) and "perp" (-> linear). LIMIT_MAKER and GTX
become Bybit's PostOnly; a PostOnly Bybit cancelled for taking comes back as a CANCELED order,
which the engine re-quotes like any expired maker order."""
from __future__ import annotations

from typing import Any

from connectors.bybit.errors import BybitError, UnknownOrder, error_kind
from connectors.binance.legs import _dec
from connectors.types import ErrorKind, OrderRequest, OrderUpdate

_HUB_MARKET = {"spot_margin": "spot", "perp": "perp"}


class BybitLegVenue:
    def __init__(self, venue: Any) -> None:
        self.venue = venue
        self.name: str = venue.name

    def prepare(self, req: OrderRequest) -> Any:
        market = _HUB_MARKET[req.market]
        post_only = req.order_type == "LIMIT_MAKER" or req.time_in_force == "GTX"
        return self.venue.trading.prepare_order(
            market, req.symbol, req.side, _dec(req.qty) or "0", client_id=req.client_id,
            order_type="MARKET" if req.order_type == "MARKET" else "LIMIT",
            price=_dec(req.price), time_in_force=None if post_only else req.time_in_force,
            post_only=post_only, leverage=req.side_effect != "NO_SIDE_EFFECT",
            reduce_only=req.reduce_only)

    async def send(self, prepared: Any) -> OrderUpdate:
        return await self.venue.trading.send(prepared)

    def error_kind(self, exc: BaseException) -> ErrorKind:
        return error_kind(exc)

    async def cancel(self, market: str, symbol: str, client_id: str) -> OrderUpdate | None:
        try:
            return await self.venue.trading.cancel_order(symbol, market=_HUB_MARKET[market],
                                                         client_id=client_id)
        except UnknownOrder:
            return await self.query(market, symbol, client_id)
        except BybitError:
            return await self.query(market, symbol, client_id)

    async def query(self, market: str, symbol: str, client_id: str) -> OrderUpdate | None:
        try:
            return await self.venue.trading.get_order(symbol, market=_HUB_MARKET[market],
                                                      client_id=client_id)
        except UnknownOrder:
            return None

    async def orders_since(self, market: str, symbol: str, since_ms: int) -> list[OrderUpdate]:
        return await self.venue.trading.orders_since(_HUB_MARKET[market], symbol, since_ms)

    async def max_borrowable(self, asset: str) -> float | None:
        return await self.venue.max_borrowable(asset)

    async def borrow_rate(self, asset: str) -> float | None:
        rows = await self.venue.trading.collateral(asset)
        return float(rows[0].hourlyBorrowRate) if rows else None

    async def refresh_balances(self) -> None:
        await self.venue.refresh_account()

    async def repay(self, asset: str, amount: float) -> None:
        await self.venue.trading.repay(asset, amount)

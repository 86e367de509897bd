"""The `Venue` (connectors.base) over `connectors.binance.BinanceVenue`: Binance and the embedded exchange."""
from __future__ import annotations

from typing import Any

from connectors.binance import constants as C
from connectors.binance.errors import BinanceError, UnknownOrder, error_kind
from connectors.transport.http_fast import WriteFuture, completed_after_write
from connectors.types import OrderUpdate
from connectors.types import ErrorKind, OrderRequest

_HUB_MARKET = {"spot_margin": "spot", "perp": "perp"}


def _dec(x: float | None) -> str | None:
    """Shortest decimal text of a float already on the venue's grid: repr round-trips exactly,
    where a fixed 12-decimal format shows binary noise (59891.9 -> 59891.900000000001)."""
    if x is None:
        return None
    s = repr(float(x))
    if "e" in s or "E" in s:
        s = f"{x:.12f}".rstrip("0").rstrip(".")
    return s


class BinanceLegVenue:
    def __init__(self, venue: Any) -> None:
        self.venue = venue
        self.name: str = venue.name

    def prepare(self, req: OrderRequest) -> Any:
        if req.market == "spot_margin":
            return self.venue.prepare_spot_order(
                req.symbol, req.side, _dec(req.qty),
                order_type="LIMIT" if req.order_type == "LIMIT_MAKER" else req.order_type,
                price=_dec(req.price), time_in_force=req.time_in_force,
                side_effect=req.side_effect or "NO_SIDE_EFFECT", client_id=req.client_id,
                post_only=req.order_type == "LIMIT_MAKER")
        post_only = req.time_in_force == "GTX"
        return self.venue.prepare_perp_order(
            req.symbol, req.side, _dec(req.qty),
            order_type="LIMIT" if req.order_type == "LIMIT_MAKER" else req.order_type,
            price=_dec(req.price), time_in_force=None if post_only else req.time_in_force,
            reduce_only=req.reduce_only, client_id=req.client_id, post_only=post_only)

    async def send(self, prepared: Any) -> OrderUpdate:
        return await self.venue.send(prepared)

    def error_kind(self, exc: BaseException) -> ErrorKind:
        return error_kind(exc)

    def send_now(self, prepared: Any) -> WriteFuture:
        """`send`, with the request written before returning when the venue has an idle
        pre-opened connection (BinanceVenue.send_now; else it leaves from a task, `written_ns`
        0). Resolves to the acknowledgement, with `send`'s unknown-outcome and clock handling."""
        raw = self.venue.send_now(prepared)
        return completed_after_write(raw, self.venue.trading.complete(prepared, raw))

    async def cancel(self, market: str, symbol: str, client_id: str) -> OrderUpdate | None:
        try:
            return await self.venue.cancel_order(symbol, market=_HUB_MARKET[market],
                                                 client_id=client_id)
        except UnknownOrder:
            return None
        except BinanceError as exc:
            if exc.code == C.CANCEL_REJECTED:     # already final: the query tells how it ended
                return await self.query(market, symbol, client_id)
            raise

    async def query(self, market: str, symbol: str, client_id: str) -> OrderUpdate | None:
        try:
            return await self.venue.get_order(symbol, market=_HUB_MARKET[market],
                                              client_id=client_id)
        except UnknownOrder:
            return None

    async def orders_since(self, market: str, symbol: str, since_ms: int) -> list[OrderUpdate]:
        """allOrders since `since_ms` where the venue has it, else the open orders (recovery then
        queries the journaled intents one by one)."""
        from connectors.binance.trading import order_update_from
        trading = self.venue.trading
        hub_market = _HUB_MARKET[market]
        if hub_market == "spot":
            base, paths = trading.urls.rest, (C.MARGIN_ALL_ORDERS, C.MARGIN_OPEN_ORDERS)
            extra = [("isIsolated", "FALSE")]
        else:
            base, paths = trading.urls.futures_rest, (C.FUTURES_ALL_ORDERS, C.FUTURES_OPEN_ORDERS)
            extra = []
        for i, path in enumerate(paths):
            params = [("symbol", symbol), *extra]
            if i == 0:
                params += [("startTime", str(since_ms)), ("limit", "500")]
            try:
                raw = await trading.rest.request("GET", base, path, params, signed=True,
                                                 weight=200 if i == 0 else 40)
            except BinanceError:
                continue
            rows = _ORDERS.decode(raw)
            return [order_update_from(r, venue=self.name, market=hub_market) for r in rows]
        raise NotImplementedError("venue lists no orders")

    async def max_borrowable(self, asset: str) -> float | None:
        return await self.venue.max_borrowable(asset)

    async def borrow_rate(self, asset: str) -> float | None:
        rates = await self.venue.next_hourly_interest_rates([asset])
        return rates.get(asset)

    async def refresh_balances(self) -> None:
        await self.venue.refresh_account()

    async def repay(self, asset: str, amount: float) -> None:
        await self.venue.repay(asset, amount)


def _decoder() -> Any:
    import msgspec

    from connectors.binance import schemas
    return msgspec.json.Decoder(list[schemas.OrderResponse])


class _Lazy:
    def __init__(self) -> None:
        self._d: Any = None

    def decode(self, raw: bytes) -> Any:
        if self._d is None:
            self._d = _decoder()
        return self._d.decode(raw)


_ORDERS = _Lazy()

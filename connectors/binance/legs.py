"""The `Venue` (connectors.base) over `connectors.binance.BinanceVenue`: Binance and the embedded exchange."""
from __future__ import annotations

import functools
from typing import Any

from connectors.binance import constants as C
from connectors.binance.errors import BinanceError, UnknownOrder, error_kind
from connectors.transport.http_fast import StagedCompletion, WriteFuture, send_staged
from connectors.types import Balance, ErrorKind, IncomeRow, OrderRequest, OrderUpdate

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
        return send_staged(self.stage_now(prepared))

    def stage_now(self, prepared: Any) -> StagedCompletion:
        """`send_now` up to the write (connectors.base.StagesNow)."""
        return StagedCompletion(self.venue.stage_now(prepared),
                                functools.partial(self.venue.trading.complete, prepared))

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

    async def _list_orders(self, market: str, symbol: str, every_since_ms: int | None
                           ) -> list[OrderUpdate]:
        """allOrders since `every_since_ms` (None: the open orders only)."""
        from connectors.binance.trading import order_update_from
        trading = self.venue.trading
        hub_market = _HUB_MARKET[market]
        params = [("symbol", symbol)]
        if hub_market == "spot":
            base = trading.urls.rest
            path = C.MARGIN_OPEN_ORDERS if every_since_ms is None else C.MARGIN_ALL_ORDERS
            params.append(("isIsolated", "FALSE"))
        else:
            base = trading.urls.futures_rest
            path = C.FUTURES_OPEN_ORDERS if every_since_ms is None else C.FUTURES_ALL_ORDERS
        if every_since_ms is not None:
            params += [("startTime", str(every_since_ms)), ("limit", "500")]
        raw = await trading.rest.request("GET", base, path, params, signed=True,
                                         weight=40 if every_since_ms is None else 200)
        return [order_update_from(r, venue=self.name, market=hub_market)
                for r in _ORDERS.decode(raw)]

    async def orders_since(self, market: str, symbol: str, since_ms: int) -> list[OrderUpdate]:
        """allOrders since `since_ms` where the venue has it, else the open orders (recovery then
        queries the journaled intents one by one)."""
        for since in (since_ms, None):
            try:
                return await self._list_orders(market, symbol, since)
            except BinanceError:
                continue
        raise NotImplementedError("venue lists no orders")

    async def open_orders(self, market: str, symbol: str) -> list[OrderUpdate]:
        return await self._list_orders(market, symbol, None)

    async def perp_positions(self) -> dict[str, float]:
        rows = await self.venue.trading.position_risk()     # also refreshes the hub
        out: dict[str, float] = {}
        for r in rows:
            qty = float(r.positionAmt)
            if qty:
                out[r.symbol] = out.get(r.symbol, 0.0) + qty
        return out

    async def margin_balances(self) -> dict[str, Balance]:
        # bracketed on the venue's clock: liability events it contains are not added again
        acct = await self.venue.refresh_margin()
        return {a.asset: Balance(venue=self.name, wallet="margin", asset=a.asset,
                                 free=float(a.free), locked=float(a.locked),
                                 borrowed=float(a.borrowed), interest=float(a.interest))
                for a in acct.userAssets}

    async def max_borrowable(self, asset: str) -> float | None:
        return await self.venue.max_borrowable(asset)

    async def borrow_rate(self, asset: str) -> float | None:
        rates = await self.venue.next_hourly_interest_rates([asset])
        return rates.get(asset)

    async def refresh_balances(self) -> None:
        await self.venue.refresh_account()

    async def repay(self, asset: str, amount: float) -> None:
        await self.venue.repay(asset, amount)

    async def income_since(self, kind: str, start_ms: int) -> list[IncomeRow]:
        """The venue's own settlement history (see connectors.base.ReportsIncome)."""
        trading = self.venue.trading
        if kind == "funding":
            return [IncomeRow(venue=self.name, kind="funding", tx_id=str(r.tranId),
                              symbol=r.symbol, asset=r.asset, amount=r.income, ts_ms=r.time)
                    for r in await trading.funding_income_since(start_ms)]
        return [IncomeRow(venue=self.name, kind="interest", tx_id=str(r.txId), symbol="",
                          asset=r.asset, amount=r.interest, ts_ms=r.interestAccuredTime)
                for r in await trading.interest_since(start_ms)]


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

"""An in-process venue for engine tests: instant IOC matching at the hub's book, post-only resting
orders, scripted rejects and partial fills; fills reach the engine through the hub like the real
user stream does (asynchronously, after the REST answer)."""
from __future__ import annotations

import asyncio
import time
from typing import Any

from connectors.binance.errors import (BorrowUnavailable, InsufficientMargin, PostOnlyRejected,
                                       error_kind)
from connectors.types import Balance, Borrow, Health, Instrument, InstrumentKey, OrderUpdate, book_stream
from daemon.hub import Hub
from connectors.types import ErrorKind, OrderRequest

PRICE = 60_000.0


def make_hub(venue: str = "sim-a", symbol: str = "BTCUSDT") -> Hub:
    hub = Hub()
    for market, tick, step in (("spot", 0.01, 0.00001), ("perp", 0.1, 0.001)):
        hub.set_instrument(Instrument(venue=venue, market=market, symbol=symbol, base="BTC",
                                      quote="USDT", tick_size=tick, step_size=step, min_qty=step))
        key = InstrumentKey(venue, market, symbol)
        book = hub.book(key)
        book.load_snapshot([(PRICE - tick * i, 5.0) for i in range(1, 30)],
                           [(PRICE + tick * i, 5.0) for i in range(0, 29)], last_update_id=1)
        hub.set_health(venue, book_stream(key), Health.HEALTHY)
        hub.touch(venue, book_stream(key), int(time.time() * 1000))
    hub.set_borrow(Borrow(venue=venue, asset="BTC", hourly_rate=1e-6, max_borrowable=50.0))
    hub.set_balance(Balance(venue=venue, wallet="margin", asset="USDT", free=100_000.0))
    hub.set_balance(Balance(venue=venue, wallet="futures", asset="USDT", free=100_000.0))
    return hub


class FakeVenue:
    def __init__(self, hub: Hub, name: str = "sim-a") -> None:
        self.name = name
        self.hub = hub
        self.sent: list[OrderRequest] = []
        self.orders: dict[str, OrderUpdate] = {}
        self.reject: dict[str, Exception] = {}      # market -> exception for every new order
        self.fill_ratio: dict[str, float] = {}      # market -> fraction an IOC fills
        self.maker_fills = True                     # resting post-only orders fill after a delay
        self.maker_delay = 0.05
        self.trade_seq = 0
        self.fee_rate = 0.0004
        self.repaid = 0.0
        self.ack_fills = True

    def prepare(self, req: OrderRequest) -> OrderRequest:
        return req

    def error_kind(self, exc: BaseException) -> ErrorKind:
        """It raises Binance's errors, so it classifies them as Binance does."""
        return error_kind(exc)

    def _book(self, market: str, symbol: str) -> Any:
        return self.hub.books[InstrumentKey(self.name, "spot" if market == "spot_margin" else
                                            "perp", symbol)]

    def _publish(self, u: OrderUpdate) -> None:
        self.hub.order_update(u)

    async def send(self, req: OrderRequest) -> OrderUpdate:
        assert req.client_id not in self.orders, f"client id sent twice: {req.client_id}"
        self.sent.append(req)
        await asyncio.sleep(0)
        exc = self.reject.get(req.market)
        if exc is not None:
            raise exc
        book = self._book(req.market, req.symbol)
        touch = (book.best_ask() if req.side == "BUY" else book.best_bid())[0]
        u = OrderUpdate(venue=self.name, market=req.market, symbol=req.symbol,
                        client_id=req.client_id, order_id=len(self.sent), side=req.side,
                        status="NEW", qty=req.qty, price=req.price or 0.0, ts_ms=int(time.time() * 1000))
        self.orders[req.client_id] = u
        if req.order_type in ("LIMIT_MAKER",) or req.time_in_force == "GTX":
            if (req.side == "BUY" and req.price >= touch) or (req.side == "SELL" and req.price <= touch):
                del self.orders[req.client_id]
                raise PostOnlyRejected(400, -5022, "would immediately match")
            if self.maker_fills:
                asyncio.get_running_loop().call_later(self.maker_delay, self._fill, req.client_id,
                                                      req.qty, req.price, True)
            return u
        ratio = self.fill_ratio.get(req.market, 1.0)
        qty = round(req.qty * ratio, 8)
        if qty > 0:
            self._fill(req.client_id, qty, touch, False, publish=not self.ack_fills)
        u = self.orders[req.client_id]
        if u.status == "NEW":
            u.status = "EXPIRED"
        final = OrderUpdate(**{f: getattr(u, f) for f in u.__struct_fields__})
        final.status = "FILLED" if u.filled_qty >= req.qty - 1e-12 else "EXPIRED"
        u.status = final.status
        # the user stream repeats what the REST answer said, later
        asyncio.get_running_loop().call_later(0.01, self._publish, final)
        return final

    def _fill(self, cid: str, qty: float, price: float, maker: bool, publish: bool = True) -> None:
        u = self.orders.get(cid)
        if u is None or u.status in ("FILLED", "CANCELED", "EXPIRED"):
            return
        qty = min(qty, u.qty - u.filled_qty)
        self.trade_seq += 1
        new_filled = u.filled_qty + qty
        u.avg_price = (u.avg_price * u.filled_qty + price * qty) / new_filled
        u.filled_qty = new_filled
        u.last_fill_qty, u.last_fill_price = qty, price
        u.fee, u.fee_asset, u.trade_id = qty * price * self.fee_rate, "USDT", self.trade_seq
        u.status = "FILLED" if new_filled >= u.qty - 1e-12 else "PARTIALLY_FILLED"
        if publish:
            self._publish(OrderUpdate(**{f: getattr(u, f) for f in u.__struct_fields__}))

    async def cancel(self, market: str, symbol: str, client_id: str) -> OrderUpdate | None:
        u = self.orders.get(client_id)
        if u is None:
            return None
        if u.status in ("NEW", "PARTIALLY_FILLED"):
            u.status = "CANCELED"
        return OrderUpdate(**{f: getattr(u, f) for f in u.__struct_fields__})

    async def query(self, market: str, symbol: str, client_id: str) -> OrderUpdate | None:
        u = self.orders.get(client_id)
        return None if u is None else OrderUpdate(**{f: getattr(u, f) for f in u.__struct_fields__})

    async def orders_since(self, market: str, symbol: str, since_ms: int) -> list[OrderUpdate]:
        return [OrderUpdate(**{f: getattr(u, f) for f in u.__struct_fields__})
                for u in self.orders.values() if u.market == market and u.symbol == symbol]

    async def max_borrowable(self, asset: str) -> float | None:
        b = self.hub.borrow.get((self.name, asset))
        return b.max_borrowable if b is not None else 50.0

    async def repay(self, asset: str, amount: float) -> None:
        self.repaid += amount


NO_BORROW = BorrowUnavailable(400, -3045, "The system does not have enough asset now.")
NO_MARGIN = InsufficientMargin(400, -2019, "Margin is insufficient.")

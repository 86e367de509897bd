"""Private websocket -> hub: `order`, `execution`, `position`, `wallet`, after `op: auth`.

- order: the order's status and cumulative fill -> hub.order_update (never regressing it);
- execution: a Trade fill -> hub.order_update with the last fill and its fee; a Funding
  settlement (execType Funding, execFee > 0 = paid) -> hub.funding_fee for its symbol;
- position: size, entry, Bybit's liqPrice -> hub.set_position;
- wallet: coins with their liabilities and the account IM/MM rates (trading.apply_wallet).
The stream counts as connected only once auth and the subscription were acknowledged.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import msgspec
import orjson
from websockets.asyncio.client import ClientConnection

from connectors.base import StateHub
from connectors.bybit import constants as C
from connectors.bybit import schemas
from connectors.bybit.config import BybitUrls
from connectors.bybit.signing import ws_auth_args
from connectors.bybit.trading import BybitTrading, order_update_from
from connectors.secrets import Secret
from connectors.transport.backoff import Backoff
from connectors.transport.ws import WsStream
from connectors.types import FundingFee, OrderUpdate

AUTH_EXPIRES_MS = 10_000
ACK_TIMEOUT_S = 10.0


class BybitUserStream:
    def __init__(self, hub: StateHub, venue: str, urls: BybitUrls, trading: BybitTrading, *,
                 api_key: Secret, api_secret: Secret,
                 backoff: Callable[[], Backoff] = Backoff) -> None:
        self.hub = hub
        self.venue = venue
        self.trading = trading
        self._key = api_key
        self._secret = api_secret
        self.auth_failures = 0
        self.unknown_events = 0
        self.ws = WsStream("private", urls.private(), self._on_frame, hub=hub, venue=venue,
                           stale_after_s=24 * 3600, on_open=self._on_open, backoff=backoff())
        self._decode = schemas.PRIVATE.decode

    def start(self) -> None:
        self.ws.start()

    async def stop(self) -> None:
        await self.ws.stop()

    async def _on_open(self, ws: ClientConnection) -> None:
        expires = int(time.time() * 1000) + AUTH_EXPIRES_MS
        args = ws_auth_args(self._key.reveal(), self._secret.reveal(), expires)
        await ws.send(orjson.dumps({"op": "auth", "args": args}).decode())
        await self._ack(ws, "auth")
        await ws.send(orjson.dumps({"op": "subscribe", "args": list(C.PRIVATE_TOPICS)}).decode())
        await self._ack(ws, "subscribe")

    async def _ack(self, ws: ClientConnection, op: str) -> None:
        async with asyncio.timeout(ACK_TIMEOUT_S):
            while True:
                reply = schemas.WS_REPLY.decode(await ws.recv(decode=False))
                if reply.op != op:
                    continue
                if not reply.success:
                    self.auth_failures += 1
                    raise ConnectionError(f"private stream {op} refused: {reply.ret_msg}")
                return

    def _on_frame(self, data: bytes) -> None:
        try:
            msg = self._decode(data)
        except msgspec.DecodeError:
            self.unknown_events += 1
            return
        topic = msg.topic
        raw = msg.data
        if topic == "order":
            for row in schemas.ORDER_EVENTS.decode(raw):
                self._order(order_update_from(row, venue=self.venue))
        elif topic == "execution":
            for ex in schemas.EXECUTION_EVENTS.decode(raw):
                self._execution(ex)
        elif topic == "position":
            for p in schemas.POSITION_EVENTS.decode(raw):
                self.trading.apply_position(p)
        elif topic == "wallet":
            for w in schemas.WALLET_EVENTS.decode(raw):
                self.trading.apply_wallet(w)
        elif topic:
            self.unknown_events += 1

    def _order(self, update: OrderUpdate) -> None:
        prev = self.hub.orders.get((self.venue, update.client_id))
        if prev is not None and (prev.is_final or prev.filled_qty > update.filled_qty):
            return
        self.hub.order_update(update)

    def _execution(self, ex: schemas.Execution) -> None:
        if ex.execType == C.EXEC_FUNDING:
            self.hub.funding_fee(FundingFee(venue=self.venue, symbol=ex.symbol,
                                            asset=ex.feeCurrency or "USDT",
                                            amount=-float(ex.execFee or 0),
                                            ts_ms=int(ex.execTime or 0)))
            return
        if ex.execType != C.EXEC_TRADE or not ex.orderLinkId:
            return
        prev = self.hub.orders.get((self.venue, ex.orderLinkId))
        if prev is None:
            return        # the order event carries the cumulative state; nothing to add to
        # the fill itself (qty, price, fee) on top of the order's last known state
        self.hub.order_update(OrderUpdate(
            venue=self.venue, market=prev.market, symbol=prev.symbol, client_id=prev.client_id,
            order_id=prev.order_id, side=prev.side, status=prev.status, qty=prev.qty,
            price=prev.price, filled_qty=prev.filled_qty, avg_price=prev.avg_price,
            last_fill_qty=float(ex.execQty or 0), last_fill_price=float(ex.execPrice or 0),
            fee=float(ex.execFee or 0), fee_asset=ex.feeCurrency, trade_id=ex.execId,
            ts_ms=int(ex.execTime or 0)))

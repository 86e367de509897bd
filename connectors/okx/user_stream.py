"""Private websocket shell: login with the passphrase, then `orders`, `positions` and `account`
into the hub (fills as OrderUpdates in coins, positions in coins, balances with liabilities).

The login answer is awaited inside `on_open` before subscribing (OKX drops subscriptions sent
before the login succeeded); a refused login is raised, so the stream reconnects with backoff
and the hub shows it DOWN.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from connectors.base import StateHub
from connectors.okx import constants as C
from connectors.okx import schemas
from connectors.okx.config import OkxUrls
from connectors.okx.signing import ws_login_message
from connectors.okx.trading import OkxTrading, order_update_from
from connectors.secrets import Secret
from connectors.transport.backoff import Backoff
from connectors.transport.ws import WsStream

_LOGIN_TIMEOUT_S = 10.0


class LoginRefused(ConnectionError):
    pass


class OkxUserStream:
    def __init__(self, hub: StateHub, venue: str, urls: OkxUrls, trading: OkxTrading, *,
                 api_key: Secret, api_secret: Secret, passphrase: Secret,
                 backoff: Callable[[], Backoff] = Backoff, stale_after_s: float = 60.0) -> None:
        self.hub = hub
        self.venue = venue
        self.trading = trading
        self._key, self._secret, self._passphrase = api_key, api_secret, passphrase
        # private channels are quiet without activity: rely on pings, not on frame staleness
        self.ws = WsStream("private", urls.private_ws, self.on_frame, hub=hub, venue=venue,
                           stale_after_s=stale_after_s, on_open=self.on_open,
                           backoff=backoff())
        self.logins = 0
        self.fills = 0
        self.bad_frames = 0
        self.last_error = ""

    def start(self) -> None:
        self.ws.start()

    async def stop(self) -> None:
        await self.ws.stop()

    async def on_open(self, ws: Any) -> None:
        await ws.send(ws_login_message(self._key.reveal(), self._secret.reveal(),
                                       self._passphrase.reveal()))
        while True:
            raw = await asyncio.wait_for(ws.recv(decode=False), _LOGIN_TIMEOUT_S)
            try:
                ev = schemas.WS_EVENT.decode(raw)
            except msgspec.DecodeError:
                continue
            if ev.event == "login" and ev.code == C.OK:
                break
            if ev.event in ("login", "error"):
                self.last_error = f"login refused: {ev.code} {ev.msg}"
                raise LoginRefused(self.last_error)
        self.logins += 1
        args = [{"channel": C.CH_ORDERS, "instType": "ANY"},
                {"channel": C.CH_POSITIONS, "instType": "ANY"},
                {"channel": C.CH_ACCOUNT}]
        await ws.send(orjson.dumps({"op": "subscribe", "args": args}).decode())

    def on_frame(self, data: bytes) -> None:
        try:
            head = schemas.CHANNEL_ONLY.decode(data)
        except msgspec.DecodeError:
            self.bad_frames += 1
            return
        if head.arg is None or head.event:
            return
        channel = head.arg.channel
        trading = self.trading
        if channel == C.CH_ORDERS:
            for o in schemas.ORDERS_MESSAGE.decode(data).data:
                update = order_update_from(o, venue=self.venue, sizes=trading.sizes)
                if update.last_fill_qty:
                    self.fills += 1
                trading.publish(update)
        elif channel == C.CH_POSITIONS:
            for p in schemas.POSITIONS_MESSAGE.decode(data).data:
                if p.instType == C.SWAP:
                    trading.publish_position(p)
        elif channel == C.CH_ACCOUNT:
            for acct in schemas.ACCOUNT_MESSAGE.decode(data).data:
                trading.publish_account(acct)

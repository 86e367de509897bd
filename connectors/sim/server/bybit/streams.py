"""Bybit v5 websockets of the embedded exchange, one port:

- `/v5/public/spot`, `/v5/public/linear`: `{"op": "subscribe", "args": ["orderbook.50.BTCUSDT",
  "tickers.BTCUSDT"]}`; each subscription answers `{"success": true, "op": "subscribe", ...}`,
  then a `snapshot` of the topic, then `delta`s. `{"op": "ping"}` answers a pong.
- `/v5/private`: `{"op": "auth", "args": [key, expires, HMAC(secret, "GET/realtime" + expires)]}`
  first, then subscribe to `order`, `execution`, `position`, `wallet`.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from connectors.bybit import constants as C

_QUEUE_MAX = 20000
_conn_ids = itertools.count(1)


@dataclass(eq=False)
class BybitConn:
    ws: web.WebSocketResponse
    request: web.Request
    route: str                                  # "spot", "linear" or "private"
    topics: set[str] = field(default_factory=set)
    account: str = ""
    conn_id: str = field(default_factory=lambda: f"sim-{next(_conn_ids)}")
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(_QUEUE_MAX))

    def push(self, payload: Any) -> None:
        try:
            self.queue.put_nowait(payload if isinstance(payload, str)
                                  else orjson.dumps(payload, default=str).decode())
        except asyncio.QueueFull:
            self.abort()

    def abort(self) -> None:
        if self.request.transport is not None:
            self.request.transport.abort()


# snapshot(route, topic) -> the first message of a public topic, or None if unknown
Snapshot = Callable[[str, str], dict[str, Any] | None]
Secret = Callable[[str], tuple[str, str] | None]     # api key -> (account, secret)


class BybitStreams:
    def __init__(self, snapshot: Snapshot, secret_of: Secret) -> None:
        self.snapshot = snapshot
        self.secret_of = secret_of
        self.conns: set[BybitConn] = set()

    # -- fan-out
    def publish(self, route: str, topic: str, message: dict[str, Any]) -> None:
        text = None
        for conn in tuple(self.conns):
            if conn.route == route and topic in conn.topics:
                text = text or orjson.dumps(message, default=str).decode()
                conn.push(text)

    def publish_private(self, account: str, topic: str, message: dict[str, Any]) -> None:
        text = None
        for conn in tuple(self.conns):
            if conn.route == "private" and conn.account == account and topic in conn.topics:
                text = text or orjson.dumps(message, default=str).decode()
                conn.push(text)

    def drop_all(self) -> int:
        conns = list(self.conns)
        for conn in conns:
            conn.abort()
        return len(conns)

    # -- control messages
    def _reply(self, conn: BybitConn, req: dict[str, Any]) -> list[dict[str, Any]]:
        op = req.get("op")
        base = {"op": op, "conn_id": conn.conn_id, "req_id": req.get("req_id", "")}
        args = req.get("args") or []
        if op == "ping":
            return [{**base, "success": True, "ret_msg": "pong"}]
        if op == "auth":
            return [self._auth(conn, base, args)]
        if op in ("subscribe", "unsubscribe"):
            if conn.route == "private" and not conn.account:
                return [{**base, "success": False, "ret_msg": "Request not authorized"}]
            if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
                return [{**base, "success": False, "ret_msg": "args must be topic strings"}]
            out: list[dict[str, Any]] = []
            snaps = []
            for topic in args:
                if op == "unsubscribe":
                    conn.topics.discard(topic)
                    continue
                if conn.route != "private":
                    snap = self.snapshot(conn.route, topic)
                    if snap is None:
                        return [{**base, "success": False,
                                 "ret_msg": f"Invalid topic: {topic}"}]
                    snaps.append(snap)
                elif topic not in C.PRIVATE_TOPICS:
                    return [{**base, "success": False, "ret_msg": f"Invalid topic: {topic}"}]
                conn.topics.add(topic)
            out.append({**base, "success": True, "ret_msg": ""})
            return out + snaps
        return [{**base, "success": False, "ret_msg": f"unknown op {op}"}]

    def _auth(self, conn: BybitConn, base: dict[str, Any], args: list[Any]) -> dict[str, Any]:
        if conn.route != "private" or len(args) != 3:
            return {**base, "success": False, "ret_msg": "auth needs [key, expires, signature]"}
        key, expires, signature = args
        found = self.secret_of(str(key))
        if found is None:
            return {**base, "success": False, "ret_msg": "Invalid apikey"}
        account, secret = found
        if not isinstance(expires, int) or expires < int(time.time() * 1000):
            return {**base, "success": False, "ret_msg": "Params Error: expires"}
        expected = hmac.new(secret.encode(), f"{C.WS_AUTH_PATH}{expires}".encode(),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, str(signature)):
            return {**base, "success": False, "ret_msg": "Invalid sign"}
        conn.account = account
        return {**base, "success": True, "ret_msg": ""}

    # -- aiohttp
    async def _serve(self, request: web.Request, route: str) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, autoping=True)
        await ws.prepare(request)
        conn = BybitConn(ws=ws, request=request, route=route)
        self.conns.add(conn)
        writer = asyncio.create_task(_writer(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    try:
                        req = orjson.loads(msg.data)
                    except orjson.JSONDecodeError:
                        conn.push({"success": False, "ret_msg": "invalid json"})
                        continue
                    if isinstance(req, dict):
                        for reply in self._reply(conn, req):
                            conn.push(reply)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.conns.discard(conn)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        return ws

    def routes(self) -> list[web.RouteDef]:
        async def spot(r: web.Request) -> web.StreamResponse:
            return await self._serve(r, "spot")

        async def linear(r: web.Request) -> web.StreamResponse:
            return await self._serve(r, "linear")

        async def private(r: web.Request) -> web.StreamResponse:
            return await self._serve(r, "private")

        return [web.get(C.WS_PUBLIC_SPOT, spot), web.get(C.WS_PUBLIC_LINEAR, linear),
                web.get(C.WS_PRIVATE, private)]


async def _writer(conn: BybitConn) -> None:
    while True:
        text = await conn.queue.get()
        if conn.ws.closed:
            return
        await conn.ws.send_str(text)

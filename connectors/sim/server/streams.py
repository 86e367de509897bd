"""Websocket surface of one venue: the stream hub (who gets which event) and the aiohttp handlers.

Spot port (Binance `stream.binance.com`): raw `/ws/<stream>`, combined `/stream?streams=a/b`
(`{"stream":..,"data":..}`), live SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS, and the cross-margin
user data stream at `/ws/<listenKey>` (listenKey from `POST /sapi/v1/userDataStream`).

Futures port (Binance `fstream.binance.com`), routes split as Binance does since 2026-03:
`/public` carries high-frequency book data (`@depth@100ms`, `@bookTicker`), `/market` the regular
market data (`@markPrice@1s`), `/private` user data (`/private/ws/<listenKey>`,
`/private/ws?listenKey=`). The legacy `/ws` and `/stream` still answer and carry what `/public`
carries plus `/ws/<listenKey>` user data; a `@markPrice` subscription there is accepted but stays
silent, which is how Binance documents it ("fails silently rather than erroring").

Server pings every 20 s (aiohttp heartbeat) and drops a peer that does not pong.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

PING_INTERVAL_S = 20.0
_QUEUE_MAX = 20000

# Which route may deliver which event key (see module docstring).
_PUBLIC_SUFFIXES = ("@depth", "@bookTicker")


def _is_fut_public(key: str) -> bool:
    stream = key[4:]
    return any(s in stream for s in _PUBLIC_SUFFIXES)


def route_allows(route: str, key: str) -> bool:
    if key.startswith("user:"):
        if key.endswith(":margin"):
            return route == "spot"
        if key.endswith(":risk"):
            return route == "risk"          # margin risk stream (margin_risk.py)
        return route in ("private", "legacy")
    if key.startswith("spot:"):
        return route == "spot"
    if key.startswith("fut:"):
        if route in ("public", "legacy"):
            return _is_fut_public(key)
        return route == "market" and not _is_fut_public(key)
    return False


@dataclass(eq=False)
class WsConn:
    ws: web.WebSocketResponse
    request: web.Request
    route: str
    combined: bool
    names: dict[str, str] = field(default_factory=dict)  # event key -> stream name the client used
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(_QUEUE_MAX))

    def push(self, text: str) -> None:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            # A consumer this slow is cut off, as Binance does; the client must reconnect.
            self.abort()

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()


# Resolves a stream name sent by a client on a port to an event key ("spot:..", "fut:..",
# "user:<acct>:<kind>"), or None when the name is a dead listenKey-like token.
Resolver = Callable[[str], str]


class StreamHub:
    """Subscriptions of one venue's websocket connections (both ports) and the fan-out."""

    def __init__(self) -> None:
        self.conns: set[WsConn] = set()
        self._subs: dict[str, set[WsConn]] = {}
        self._frozen: dict[str, float] = {}
        self.sent = 0

    # -- subscriptions
    def subscribe(self, conn: WsConn, name: str, key: str) -> None:
        conn.names[key] = name
        self._subs.setdefault(key, set()).add(conn)

    def unsubscribe(self, conn: WsConn, key: str) -> None:
        conn.names.pop(key, None)
        subs = self._subs.get(key)
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self._subs[key]

    def remove(self, conn: WsConn) -> None:
        for key in list(conn.names):
            self.unsubscribe(conn, key)
        self.conns.discard(conn)

    def subscribers(self, key: str) -> set[WsConn]:
        return self._subs.get(key, set())

    # -- faults
    def freeze(self, key: str, seconds: float) -> None:
        self._frozen[key] = time.monotonic() + seconds

    def drop_all(self) -> int:
        conns = list(self.conns)
        for conn in conns:
            conn.abort()
        return len(conns)

    # -- fan-out
    def publish(self, key: str, payload: Any) -> None:
        subs = self._subs.get(key)
        if not subs:
            return
        if self._frozen:
            until = self._frozen.get(key)
            if until is not None:
                if time.monotonic() < until:
                    return  # a frozen stream loses its messages: the client sees a gap after
                del self._frozen[key]
        raw = orjson.dumps(payload).decode()
        wrapped: dict[str, str] = {}
        for conn in tuple(subs):
            if not route_allows(conn.route, key):
                continue
            if conn.combined:
                name = conn.names.get(key, "")
                text = wrapped.get(name)
                if text is None:
                    quoted = orjson.dumps(name).decode()
                    text = wrapped[name] = f'{{"stream":{quoted},"data":{raw}}}'
                conn.push(text)
            else:
                conn.push(raw)
            self.sent += 1


def _parse_names(raw: str) -> list[str]:
    return [s for s in raw.split("/") if s]


async def ws_writer(conn: WsConn) -> None:
    """Drain a connection's queue onto its socket (one writer per connection)."""
    ws = conn.ws
    while True:
        text = await conn.queue.get()
        if ws.closed:
            return
        await ws.send_str(text)


def _control_reply(hub: StreamHub, conn: WsConn, resolve: Resolver, msg: str) -> dict[str, Any]:
    """Answer a live SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS message, Binance's way."""
    try:
        req = orjson.loads(msg)
    except orjson.JSONDecodeError:
        return {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}
    if not isinstance(req, dict):
        return {"code": 3, "msg": "Invalid JSON: expected an object"}
    req_id = req.get("id")
    if not (req_id is None or isinstance(req_id, (int, str))) or isinstance(req_id, bool):
        return {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer",
                "id": None}
    method = req.get("method")
    params = req.get("params", [])
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return {"code": 2, "msg": "Invalid request: 'params' must be an array of strings",
                    "id": req_id}
        for name in params:
            key = resolve(name)
            if method == "SUBSCRIBE":
                hub.subscribe(conn, name, key)
            else:
                hub.unsubscribe(conn, key)
        return {"result": None, "id": req_id}
    if method == "LIST_SUBSCRIPTIONS":
        return {"result": sorted(conn.names.values()), "id": req_id}
    if method == "SET_PROPERTY":
        if isinstance(params, list) and len(params) == 2 and params[0] == "combined":
            conn.combined = bool(params[1])
            return {"result": None, "id": req_id}
        return {"code": 0, "msg": "Unknown property", "id": req_id}
    if method == "GET_PROPERTY":
        if params == ["combined"]:
            return {"result": conn.combined, "id": req_id}
        return {"code": 0, "msg": "Unknown property", "id": req_id}
    return {"code": 2, "msg": f"Invalid request: unknown variant `{method}`", "id": req_id}


async def serve_ws(request: web.Request, hub: StreamHub, route: str, combined: bool,
                   names: list[str], resolve: Resolver) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=PING_INTERVAL_S, autoping=True)
    await ws.prepare(request)
    conn = WsConn(ws=ws, request=request, route=route, combined=combined)
    hub.conns.add(conn)
    for name in names:
        hub.subscribe(conn, name, resolve(name))
    writer = asyncio.create_task(ws_writer(conn))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                conn.push(orjson.dumps(_control_reply(hub, conn, resolve, msg.data)).decode())
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        hub.remove(conn)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
    return ws


def ws_routes(hub: StreamHub, prefix_routes: dict[str, str], resolve: Resolver,
              listen_key_query: bool = False) -> list[web.RouteDef]:
    """aiohttp routes `<prefix>/ws`, `<prefix>/ws/<names>`, `<prefix>/stream?streams=` per prefix.

    `prefix_routes` maps a URL prefix ("" or "/public"...) to the route name used by
    `route_allows`. With `listen_key_query`, `?listenKey=` on `/ws` subscribes that key (the
    futures `/private` form).
    """
    routes: list[web.RouteDef] = []
    for prefix, route in prefix_routes.items():
        async def raw(request: web.Request, route: str = route) -> web.StreamResponse:
            names = _parse_names(request.match_info.get("names", ""))
            if listen_key_query and request.query.get("listenKey"):
                names.append(request.query["listenKey"])
            return await serve_ws(request, hub, route, False, names, resolve)

        async def combined(request: web.Request, route: str = route) -> web.StreamResponse:
            names = _parse_names(request.query.get("streams", ""))
            if listen_key_query and request.query.get("listenKey"):
                names.append(request.query["listenKey"])
            return await serve_ws(request, hub, route, True, names, resolve)

        routes += [web.get(f"{prefix}/ws", raw), web.get(f"{prefix}/ws/{{names:.+}}", raw),
                   web.get(f"{prefix}/stream", combined)]
    return routes

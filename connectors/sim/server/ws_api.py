"""Spot WebSocket API (`/ws-api/v3` on the spot websocket port) and the margin listenToken flow.

Binance's current cross-margin user data flow (the `/sapi/v1/userDataStream` listenKey endpoints
were retired on 2026-02-20), as documented on:
- https://developers.binance.com/docs/margin_trading/trade-data-stream  ("listenToken Subscription
  Methods"; Chinese mirror .../docs/zh-CN/margin_trading/trade-data-stream)
- https://developers.binance.com/docs/binance-spot-api-docs/web-socket-api/general-api-information
- https://developers.binance.com/docs/binance-spot-api-docs/websocket-api/event-format
- https://developers.binance.com/docs/binance-spot-api-docs/websocket-api/user-data-stream-requests
- https://developers.binance.com/docs/binance-spot-api-docs/user-data-stream

What the docs say and what this module does with it:
- `POST /sapi/v1/userListenToken` (USER_STREAM, weight UID 1). Params: `symbol` (required when
  `isIsolated=true`), `isIsolated` (default false = cross margin), `validity` (ms, default 24 h,
  max 24 h). `expirationTime = now + validity`. Response `{"token": "...", "expirationTime": ms}`.
  The sim serves cross margin only (isolated -> -11001) and answers -1130 for a `validity` out of
  (0, 24 h]. USER_STREAM means API key; a signed request is accepted as well.
- WS-API base endpoint `wss://ws-api.binance.com:443/ws-api/v3` (testnet
  `wss://ws-api.testnet.binance.vision/ws-api/v3`). Requests are JSON text frames
  `{"id", "method", "params"}`; responses `{"id", "status", "result" | "error": {code, msg}}`.
  The server pings every 20 s (aiohttp heartbeat here). `rateLimits` is not sent by the sim.
- `userDataStream.subscribe.listenToken`, params `{"listenToken"}` (weight UID 2). No login and no
  signature: the token is the credential ("allowed in non-logged-in sessions"). An invalid token
  -> error -1209. Result `{"subscriptionId": n, "expirationTime": ms}`. The WS-API never renews
  by itself: calling the method again with a fresh token before expiry extends the subscription to
  the new expirationTime (one subscription per account per connection, so the id is kept). Left
  to expire, the subscription ends with an `eventStreamTerminated` event.
- Events: one JSON text frame per event, `{"subscriptionId": n, "event": {...}}`; the margin
  account sends the spot payloads executionReport, outboundAccountPosition, balanceUpdate (and
  listStatus). Liability and margin-level events are NOT on this stream: they come from the risk
  stream (see margin_risk.py).
Also answered: `ping`, `time`, `session.subscriptions`, `userDataStream.unsubscribe`.
The tokens and sessions themselves (state, no protocol) are in listen_tokens.py.

Clocks: token expiry uses the wall clock, like the listenKeys (see listenkeys.py): no client can
follow a venue clock running `speedup` times faster.
"""
from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from connectors.sim.server import auth
from connectors.sim.server.context import VenueContext
from connectors.sim.server.errors import ApiError
from connectors.sim.server.listen_tokens import WsApiSession, wall_ms
from connectors.sim.server.rest import Ctx, Endpoint
from connectors.sim.server.streams import PING_INTERVAL_S, StreamHub, WsConn, ws_writer

WS_API_PATH = "/ws-api/v3"
MAX_VALIDITY_MS = 24 * 3600 * 1000


# -- request handling ------------------------------------------------------------------------------
def _ok(req_id: Any, result: Any) -> dict[str, Any]:
    return {"id": req_id, "status": 200, "result": result}


def _err(req_id: Any, exc: ApiError) -> dict[str, Any]:
    return {"id": req_id, "status": exc.http_status, "error": {"code": exc.code, "msg": exc.msg}}


def answer(venue: VenueContext, session: WsApiSession, text: str) -> dict[str, Any]:
    """One WS-API request -> its response (pure apart from the session/hub state it changes)."""
    try:
        req = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _err(None, ApiError(400, -1100, "Illegal characters found in parameter 'id'."))
    if not isinstance(req, dict):
        return _err(None, ApiError(400, -1100, "Request must be a JSON object."))
    req_id = req.get("id")
    method = req.get("method")
    params = req.get("params", {})
    if not isinstance(params, dict):
        return _err(req_id, ApiError(400, -1104, "Not all sent parameters were read."))
    hub = venue.ws_api
    try:
        if method == "userDataStream.subscribe.listenToken":
            token = params.get("listenToken")
            if not isinstance(token, str) or not token:
                raise ApiError(400, -1102, "Mandatory parameter 'listenToken' was not sent, was "
                                           "empty/null, or malformed.")
            sub = hub.subscribe(session, token, wall_ms())
            return _ok(req_id, {"subscriptionId": sub.id, "expirationTime": sub.expires_ms})
        if method == "userDataStream.unsubscribe":
            sid = params.get("subscriptionId")
            hub.unsubscribe(session, sid if isinstance(sid, int) else None)
            return _ok(req_id, {})
        if method == "session.subscriptions":
            return _ok(req_id, [{"subscriptionId": s.id} for s in session.subs.values()])
        if method == "ping":
            return _ok(req_id, {})
        if method == "time":
            return _ok(req_id, {"serverTime": venue.server_ms()})
    except ApiError as exc:
        return _err(req_id, exc)
    return _err(req_id, ApiError(400, -1020, "This operation is not supported."))


async def serve_ws_api(request: web.Request, venue: VenueContext) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=PING_INTERVAL_S, autoping=True)
    await ws.prepare(request)
    conn = WsConn(ws=ws, request=request, route="ws-api", combined=False)
    stream_hub: StreamHub = venue.hub
    stream_hub.conns.add(conn)          # so the drop_ws fault reaches WS-API sessions too
    session = venue.ws_api.open(conn)
    writer = asyncio.create_task(ws_writer(conn))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                conn.push(orjson.dumps(answer(venue, session, msg.data)).decode())
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        venue.ws_api.close(session)
        stream_hub.remove(conn)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
    return ws


def ws_api_routes(venue: VenueContext) -> list[web.RouteDef]:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await serve_ws_api(request, venue)
    return [web.get(WS_API_PATH, handler)]


# -- REST: POST /sapi/v1/userListenToken -----------------------------------------------------------
def _listen_token_post(ctx: Ctx) -> dict[str, Any]:
    p = ctx.params
    if p.get("isIsolated", "false").lower() == "true":
        auth.mandatory(p, "symbol")
        raise ApiError(400, -11001, "Isolated margin account does not exist.")
    validity = auth.int_param(p, "validity", MAX_VALIDITY_MS)
    assert validity is not None
    if not 0 < validity <= MAX_VALIDITY_MS:
        raise ApiError(400, -1130, "Data sent for parameter 'validity' is not valid.")
    lt = ctx.venue.listen_tokens.create(str(ctx.account), validity, wall_ms())
    return {"token": lt.token, "expirationTime": lt.expires_ms}


def listen_token_endpoints() -> list[Endpoint]:
    return [Endpoint("POST", "/sapi/v1/userListenToken", "sapi", "KEY", 1, _listen_token_post)]


"""The shared transport against small real servers on 127.0.0.1 started by each test."""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

from connectors.transport.backoff import Backoff
from connectors.binance import errors as E
from connectors.binance.signing import hmac_sha256_hex
from connectors.binance.rest import BINANCE
from connectors.transport.rest import RestSession, WeightLimiter
from connectors.transport.ws import WsStream
from connectors.types import Health
from daemon.hub import HEALTH, Hub
from connectors.secrets import Secret

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[list[tuple[str, str, Handler]]], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(routes: list[tuple[str, str, Handler]]) -> str:
        app = web.Application()
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"127.0.0.1:{port}"

    yield start
    for r in runners:
        await r.cleanup()


def fast_backoff() -> Backoff:
    return Backoff(base_s=0.01, cap_s=0.05)


# -- websocket -----------------------------------------------------------------------------------
async def test_stale_stream_is_marked_and_reconnected(serve) -> None:
    conns: list[int] = []

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conns.append(1)
        n = len(conns)
        await ws.send_str(f'{{"conn":{n},"i":0}}')
        if n == 1:
            await asyncio.sleep(30)     # go silent: the client must notice and leave
        else:
            for i in range(1, 1000):
                await ws.send_str(f'{{"conn":{n},"i":{i}}}')
                await asyncio.sleep(0.02)
        return ws

    host = await serve([("GET", "/ws", ws_handler)])
    hub = Hub()
    health_events: list[tuple[str, Health]] = []
    hub.subscribe(lambda kind, item: health_events.append((item[1], item[2].health))
                  if kind == HEALTH else None)
    frames: list[bytes] = []
    downs: list[str] = []
    stream = WsStream("t", f"ws://{host}/ws", frames.append, hub=hub, venue="v",
                      stale_after_s=0.4, backoff=fast_backoff(), on_down=downs.append)
    stream.start()
    try:
        for _ in range(200):
            if any(b'"conn":2' in f for f in frames) and len(frames) > 5:
                break
            await asyncio.sleep(0.05)
    finally:
        await stream.stop()
    assert all(isinstance(f, bytes) for f in frames)
    assert frames[0] == b'{"conn":1,"i":0}'
    assert any(b'"conn":2' in f for f in frames)
    assert downs[0] == "stale"
    assert ("ws:t", Health.STALE) in health_events
    assert health_events[-1] == ("ws:t", Health.HEALTHY)
    assert stream.connects >= 2


async def test_server_close_reconnects_with_backoff_and_handler_errors_do_not_kill(serve) -> None:
    conns: list[int] = []

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conns.append(1)
        await ws.send_bytes(b"boom")
        await ws.send_bytes(b"ok")
        await ws.close()
        return ws

    host = await serve([("GET", "/ws", ws_handler)])
    got: list[bytes] = []

    def handler(data: bytes) -> None:
        if data == b"boom":
            raise ValueError("bad frame")
        got.append(data)

    opened: list[int] = []

    async def on_open(ws) -> None:
        opened.append(1)

    stream = WsStream("t", f"ws://{host}/ws", handler, backoff=fast_backoff(), on_open=on_open)
    stream.start()
    try:
        for _ in range(200):
            if len(got) >= 3:
                break
            await asyncio.sleep(0.02)
    finally:
        await stream.stop()
    assert got[:3] == [b"ok", b"ok", b"ok"]
    assert stream.handler_errors >= 3 and "bad frame" in stream.last_handler_error
    assert len(opened) >= 3 and len(conns) >= 3


async def test_planned_rotation(serve) -> None:
    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async def feed() -> None:
            while not ws.closed:
                await ws.send_str("x")
                await asyncio.sleep(0.02)

        feeder = asyncio.create_task(feed())
        async for _ in ws:      # reading lets the server answer the client's close handshake
            pass
        feeder.cancel()
        return ws

    host = await serve([("GET", "/ws", ws_handler)])
    downs: list[str] = []
    # a huge backoff proves rotation does not wait for it
    stream = WsStream("t", f"ws://{host}/ws", lambda b: None, rotate_after_s=0.3,
                      backoff=Backoff(base_s=60, cap_s=60, jitter=False), on_down=downs.append)
    stream.start()
    try:
        for _ in range(100):
            if stream.connects >= 3:
                break
            await asyncio.sleep(0.05)
    finally:
        await stream.stop()
    assert stream.connects >= 3
    assert downs[:2] == ["rotation", "rotation"]


# -- REST ----------------------------------------------------------------------------------------
async def test_429_retry_after_is_honoured_by_the_whole_session(serve) -> None:
    seen: list[tuple[float, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((time.monotonic(), request.path))
        if len(seen) == 1:
            return web.json_response({"code": -1003, "msg": "Too much request weight used"},
                                     status=429, headers={"Retry-After": "1"})
        return web.json_response({"ok": len(seen)}, headers={"X-MBX-USED-WEIGHT-1M": "10"})

    host = await serve([("GET", "/api/v3/a", handler), ("GET", "/api/v3/b", handler)])
    rest = RestSession(BINANCE, backoff=fast_backoff)
    await rest.open()
    try:
        first = asyncio.create_task(rest.request("GET", f"http://{host}", "/api/v3/a"))
        await asyncio.sleep(0.2)
        # sent while the session is paused: must wait too, not hit the venue
        second = await rest.request("GET", f"http://{host}", "/api/v3/b")
        assert b'"ok"' in second
        assert b'"ok"' in await first
    finally:
        await rest.close()
    assert len(seen) == 3
    assert seen[1][0] - seen[0][0] >= 0.9 and seen[2][0] - seen[0][0] >= 0.9
    assert rest.limiter.used["api"] >= 10


async def test_418_blocks_every_request_without_io(serve) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response({"code": -1003, "msg": "IP banned until 1."}, status=418,
                                 headers={"Retry-After": "120"})

    host = await serve([("GET", "/api/v3/x", handler), ("POST", "/fapi/v1/order", handler)])
    rest = RestSession(BINANCE, backoff=fast_backoff)
    await rest.open()
    try:
        with pytest.raises(E.IpBanned):
            await rest.request("GET", f"http://{host}", "/api/v3/x")
        for path, method in (("/api/v3/x", "GET"), ("/fapi/v1/order", "POST")):
            with pytest.raises(E.IpBanned) as info:
                await rest.request(method, f"http://{host}", path)
            assert info.value.retry_after_s is not None and info.value.retry_after_s > 100
    finally:
        await rest.close()
    assert seen == ["/api/v3/x"]


async def test_signed_request_uses_server_time_and_resyncs_on_1021(serve) -> None:
    secret = "s3cr3t-value-xyz"
    skew_ms = 7000
    calls: dict[str, int] = {"time": 0, "order": 0}
    bodies: list[dict[str, str]] = []

    async def time_handler(request: web.Request) -> web.Response:
        calls["time"] += 1
        return web.json_response({"serverTime": int(time.time() * 1000) + skew_ms})

    async def order_handler(request: web.Request) -> web.Response:
        calls["order"] += 1
        body = (await request.read()).decode()
        payload, sig = body.rsplit("&signature=", 1)
        assert request.headers["X-MBX-APIKEY"] == "key-abcdef"
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        if hmac_sha256_hex(secret, payload) != sig:
            return web.json_response({"code": -1022, "msg": "bad sig"}, status=400)
        params = dict(parse_qsl(payload))
        bodies.append(params)
        if calls["order"] == 1:
            return web.json_response({"code": -1021, "msg": "Timestamp outside recvWindow"},
                                     status=400)
        return web.json_response({"orderId": 1})

    host = await serve([("GET", "/fapi/v1/time", time_handler),
                        ("POST", "/fapi/v1/order", order_handler)])
    base = f"http://{host}"
    rest = RestSession(BINANCE, api_key=Secret("key-abcdef"), api_secret=Secret(secret),
                       backoff=fast_backoff)
    await rest.open()
    try:
        offset = await rest.sync_time(base, "/fapi/v1/time")
        assert abs(offset - skew_ms) < 1000
        raw = await rest.request("POST", base, "/fapi/v1/order",
                                 {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.01"},
                                 signed=True)
    finally:
        await rest.close()
    assert json.loads(raw) == {"orderId": 1}
    assert calls == {"time": 2, "order": 2}
    ts = int(bodies[-1]["timestamp"])
    assert abs(ts - (time.time() * 1000 + skew_ms)) < 2000
    assert bodies[-1]["recvWindow"] == "5000"


async def test_order_timeout_is_an_unknown_outcome_and_is_not_resent(serve) -> None:
    calls: list[str] = []

    async def slow(request: web.Request) -> web.Response:
        calls.append(request.method)
        await asyncio.sleep(5)
        return web.json_response({})

    host = await serve([("POST", "/fapi/v1/order", slow), ("GET", "/fapi/v1/order", slow)])
    rest = RestSession(BINANCE, api_key=Secret("key-abcdef"), api_secret=Secret("secret-abcdef"),
                       timeout_s=0.3, backoff=fast_backoff, max_retries=2)
    await rest.open()
    try:
        with pytest.raises(E.UnknownOutcome):
            await rest.request("POST", f"http://{host}", "/fapi/v1/order", {"a": 1}, signed=True)
        assert calls == ["POST"]
        with pytest.raises(E.RequestTimeout):   # a read is retried, then gives up
            await rest.request("GET", f"http://{host}", "/fapi/v1/order", {"a": 1}, signed=True)
        assert calls == ["POST", "GET", "GET", "GET"]
    finally:
        await rest.close()


async def test_secrets_never_in_errors(serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"code": -1022, "msg": "Signature for this request is not valid."},
                                 status=400)

    host = await serve([("GET", "/api/v3/account", handler)])
    rest = RestSession(BINANCE, api_key=Secret("key-very-secret"),
                       api_secret=Secret("sec-very-secret"))
    await rest.open()
    try:
        with pytest.raises(E.BadRequest) as info:
            await rest.request("GET", f"http://{host}", "/api/v3/account", signed=True)
    finally:
        await rest.close()
    text = repr(info.value) + str(info.value) + repr(rest.__dict__)
    assert "very-secret" not in text


def test_weight_limiter_waits_for_next_minute() -> None:
    lim = WeightLimiter(limits={"api": 100}, headroom=1.0)
    assert lim.delay_for("api", 10, 120.0) == 0.0
    lim.observe("api", 95, 125.0)
    delay = lim.delay_for("api", 10, 130.0)
    assert 49.9 < delay < 50.2
    assert lim.delay_for("api", 10, 180.0) == 0.0    # new window

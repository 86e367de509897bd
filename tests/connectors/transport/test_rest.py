"""The signed REST session, speaking Binance's dialect, against small real servers on 127.0.0.1
started by each test."""
from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

from connectors.transport.backoff import Backoff
from connectors.binance import errors as E
from connectors.binance.signing import hmac_sha256_hex
from connectors.binance.rest import BINANCE
from connectors.transport.rest import RestSession, WeightLimiter
from connectors.secrets import Secret


def fast_backoff() -> Backoff:
    return Backoff(base_s=0.01, cap_s=0.05)


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

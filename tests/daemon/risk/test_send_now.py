"""The synchronous-write path (connectors/http_fast.py, RestSession.send_now) on a loopback server:
bytes written before send_now returns, responses parsed (Content-Length and chunked), the same
error classifier and weight limiter as RestSession.send, and the fallback when no connection is
idle."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web

from connectors.binance import errors as E
from connectors.binance.rest import BINANCE
from connectors.transport.rest import RestSession
from connectors.secrets import Secret


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[str]]]:
    hits: list[str] = []

    async def ok(request: web.Request) -> web.Response:
        hits.append(request.path + "?" + request.query_string + "|" + (await request.text()))
        return web.json_response({"tranId": 42}, headers={"X-SAPI-USED-IP-WEIGHT-1M": "3000"})

    async def chunked(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b'{"tranId"')
        await resp.write(b':7}')
        await resp.write_eof()
        return resp

    async def bad(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=400, body=orjson.dumps({"code": -1102, "msg": "amount"}),
                            content_type="application/json")

    async def busy(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=429, body=orjson.dumps({"code": -1003, "msg": "slow down"}),
                            headers={"Retry-After": "7"}, content_type="application/json")

    app = web.Application()
    app.add_routes([web.post("/sapi/v1/asset/transfer", ok), web.get("/sapi/v1/chunked", chunked),
                    web.post("/sapi/v1/bad", bad), web.post("/sapi/v1/busy", busy)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", hits
    finally:
        await runner.cleanup()


async def session(base: str, *, fast: bool = True) -> RestSession:
    rest = RestSession(BINANCE, api_key=Secret("k"), api_secret=Secret("s"))
    await rest.open()
    if fast:
        await rest.open_fast(base)
    return rest


async def test_bytes_written_before_send_now_returns(server: tuple[str, list[str]]) -> None:
    base, hits = server
    rest = await session(base)
    try:
        prep = rest.prepare("POST", base, "/sapi/v1/asset/transfer",
                            [("type", "MARGIN_UMFUTURE"), ("asset", "USDT"), ("amount", "12.5")],
                            signed=True, weight=900, idempotent=False)
        used0 = rest.limiter.used.get("sapi", 0)
        fut = rest.send_now(prep)
        # no await yet: the request is on the socket and the weight is reserved
        assert fut.written_ns > 0 and rest.fast.writes == 1 and rest.fast.fallbacks == 0
        assert rest.limiter.used["sapi"] == used0 + 900
        assert orjson.loads(await fut) == {"tranId": 42}
        assert len(hits) == 1 and "amount=12.5" in hits[0] and "signature=" in hits[0]
        assert rest.limiter.used["sapi"] == 3000          # the venue's count wins
        # the connection is reused (keep-alive) for the next one
        fut2 = rest.send_now(rest.prepare("GET", base, "/sapi/v1/chunked"))
        assert fut2.written_ns > 0
        assert orjson.loads(await fut2) == {"tranId": 7}  # chunked body
        assert rest.fast.fallbacks == 0
    finally:
        await rest.close()


async def test_errors_are_classified_like_send(server: tuple[str, list[str]]) -> None:
    base, _hits = server
    rest = await session(base)
    try:
        with pytest.raises(E.BadRequest) as bad:
            await rest.send_now(rest.prepare("POST", base, "/sapi/v1/bad", [("a", "1")]))
        assert bad.value.code == -1102
        with pytest.raises(E.RateLimited):
            await rest.send_now(rest.prepare("POST", base, "/sapi/v1/busy", [("a", "1")]))
        assert rest.paused_until > 0
        # paused (429): nothing is written synchronously; the fallback path waits it out
        fut = rest.send_now(rest.prepare("POST", base, "/sapi/v1/asset/transfer", [("a", "1")]))
        assert fut.written_ns == 0
        fut.cancel()
    finally:
        await rest.close()


async def test_falls_back_to_the_coroutine_path_without_idle_connections(
        server: tuple[str, list[str]]) -> None:
    base, hits = server
    rest = await session(base, fast=False)
    try:
        fut = rest.send_now(rest.prepare("POST", base, "/sapi/v1/asset/transfer", [("a", "1")]))
        assert fut.written_ns == 0 and rest.fast.fallbacks == 1 and hits == []
        assert orjson.loads(await fut) == {"tranId": 42}
        assert len(hits) == 1
    finally:
        await rest.close()


async def test_a_lost_connection_is_replaced(server: tuple[str, list[str]]) -> None:
    base, _hits = server
    rest = await session(base)
    try:
        for conn in list(rest.fast._all):
            conn.close()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(rest.fast._all) >= 2:
                break
        fut = rest.send_now(rest.prepare("POST", base, "/sapi/v1/asset/transfer", [("a", "1")]))
        assert fut.written_ns > 0
        assert orjson.loads(await fut) == {"tranId": 42}
    finally:
        await rest.close()


async def test_staged_requests_leave_only_at_write_and_back_to_back(
        server: tuple[str, list[str]]) -> None:
    base, hits = server
    rest = await session(base)
    try:
        a = rest.stage_now(rest.prepare("POST", base, "/sapi/v1/asset/transfer", [("a", "1")]))
        b = rest.stage_now(rest.prepare("POST", base, "/sapi/v1/asset/transfer", [("a", "2")]))
        # staged: both connections taken and the bytes built, nothing written
        assert rest.fast.writes == 0 and rest.requests_sent == 0
        assert a.answer().written_ns == b.answer().written_ns == 0
        ta, tb = a.write(), b.write()
        assert 0 < ta <= tb and rest.fast.writes == 2 and rest.fast.fallbacks == 0
        assert a.write() == 0 and rest.fast.writes == 2        # written once
        assert [orjson.loads(await s.answer()) for s in (a, b)] == [{"tranId": 42}] * 2
        assert sorted(h.split("|")[1] for h in hits) == ["a=1", "a=2"]
    finally:
        await rest.close()


async def test_a_staged_connection_closed_before_the_write_falls_back_once(
        server: tuple[str, list[str]]) -> None:
    base, hits = server
    rest = await session(base)
    try:
        staged = rest.stage_now(rest.prepare("POST", base, "/sapi/v1/asset/transfer", [("a", "1")]))
        conn = staged._conn
        assert conn is not None
        conn.close()                      # e.g. the pool shut down between staging and writing
        assert staged.write() == 0 and rest.fast.fallbacks == 1 and rest.fast.writes == 0
        fut = staged.answer()
        assert fut.written_ns == 0
        assert orjson.loads(await fut) == {"tranId": 42}
        await asyncio.sleep(0.05)
        assert len(hits) == 1             # sent once, by the coroutine path
    finally:
        await rest.close()

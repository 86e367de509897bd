"""Transport and engine faults through POST /sim/control, observed as a client sees them."""
from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.connectors.sim.server_helpers import Client, control, manual_sim, sim_state
from .test_server_ws import check_futures_chain, drain, step


async def _far_bid(c: Client, symbol: str = "BTCUSDT") -> str:
    book = await c.ok("GET", "/fapi/v1/depth", {"symbol": symbol, "limit": 5}, signed=False)
    return f"{float(book['bids'][0][0]) * 0.8:.1f}"


async def test_drop_ws_closes_every_connection() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        a = await s.ws_connect(v.spot_ws_url + "/ws/btcusdt@bookTicker")
        b = await s.ws_connect(v.futures_ws_url + "/public/ws/btcusdt@depth@100ms")
        assert (await control(s, v.rest_url, "drop_ws"))["dropped"] == 2
        for ws in (a, b):
            msg = await ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                aiohttp.WSMsgType.ERROR)
        assert (await sim_state(s, v.rest_url))["ws_connections"] == 0


async def test_freeze_stream_then_gap() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        ws = await s.ws_connect(v.futures_ws_url + "/public/ws/btcusdt@depth@100ms")
        other = await s.ws_connect(v.futures_ws_url + "/public/ws/ethusdt@depth@100ms")
        await step(sim, 1.0)
        before = await drain(ws)
        await drain(other)
        assert before
        await control(s, v.rest_url, "freeze_stream", stream="btcusdt@depth@100ms",
                      market="fut", seconds=0.5)
        await step(sim, 1.0)
        assert await drain(ws, 0.1) == []                # frozen
        assert await drain(other, 0.1)                   # other streams keep flowing
        await asyncio.sleep(0.6)
        await step(sim, 1.0)
        after = await drain(ws)
        assert after and after[0]["pu"] != before[-1]["u"]   # the client must resync
        assert check_futures_chain(after[0]["U"], after) == len(after)


async def test_skip_diff_engine_fault_makes_a_gap() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        ws = await s.ws_connect(v.spot_ws_url + "/ws/btcusdt@depth@100ms")
        await step(sim, 0.5)
        await control(s, v.rest_url, "skip_diff", symbol="BTCUSDT", market="spot")
        await step(sim, 1.0)
        diffs = await drain(ws)
        gaps = [b for a, b in zip(diffs, diffs[1:]) if b["U"] != a["u"] + 1]
        assert len(gaps) == 1


async def test_rest_5xx_and_delay_acks() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, v.api_key, v.api_secret)
        await control(s, v.rest_url, "rest_5xx", n=1)
        status, err, _ = await c.call("GET", "/api/v3/time", signed=False)
        assert status == 503 and err["code"] == -1001
        assert (await c.call("GET", "/api/v3/time", signed=False))[0] == 200

        # executed=True: the order exists although the client got a 503
        await control(s, v.rest_url, "rest_5xx", n=1, market="futures", executed=True)
        price = await _far_bid(c)
        status, _, _ = await c.call("POST", "/fapi/v1/order", {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.01", "price": price, "newClientOrderId": "x5xx"})
        assert status == 503
        got = await c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT",
                                                   "origClientOrderId": "x5xx"})
        assert got["status"] == "NEW"

        await control(s, v.rest_url, "delay_acks", ms=400, market="futures")
        t0 = time.monotonic()
        await c.ok("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT",
                                                "origClientOrderId": "x5xx"})
        assert time.monotonic() - t0 >= 0.4
        await control(s, v.rest_url, "delay_acks", ms=0, market="futures")


async def test_rest_timeout_places_the_order_anyway() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, v.api_key, v.api_secret)
        await control(s, v.rest_url, "rest_timeout", n=1, market="margin", seconds=30)
        book = await c.ok("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5},
                          signed=False)
        price = f"{float(book['bids'][0][0]) * 0.8:.2f}"
        with pytest.raises(TimeoutError):
            await c.call("POST", "/sapi/v1/margin/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.01", "price": price, "newClientOrderId": "hang1"},
                in_body=True, timeout=0.5)
        opens = await c.ok("GET", "/sapi/v1/margin/openOrders", {"symbol": "BTCUSDT"})
        assert [o["clientOrderId"] for o in opens] == ["hang1"]
        # the next order is answered normally
        placed = await c.ok("POST", "/sapi/v1/margin/order", {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.01", "price": price, "newClientOrderId": "ok1"}, in_body=True)
        assert placed["clientOrderId"] == "ok1"


async def test_reject_next_engine_fault() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, v.api_key, v.api_secret)
        await control(s, v.rest_url, "reject_next", market="futures", n=1, code=-2019)
        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                 "quantity": "0.01", "price": await _far_bid(c)}
        status, err, _ = await c.call("POST", "/fapi/v1/order", order)
        assert status == 400 and err["code"] == -2019
        assert (await c.call("POST", "/fapi/v1/order", order))[0] == 200

"""Sim websockets over loopback: raw and combined spot streams, futures route split, live
SUBSCRIBE, and depth diffs that chain onto the REST snapshot (U/u spot, U/u/pu futures)."""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from connectors.sim import SimCluster
from tests.connectors.sim.server_helpers import Client, control, manual_sim

IDLE_S = 0.3


async def drain(ws: aiohttp.ClientWebSocketResponse, idle: float = IDLE_S) -> list[Any]:
    """Every message until the socket stays quiet for `idle` seconds."""
    out: list[Any] = []
    while True:
        try:
            msg = await ws.receive(timeout=idle)
        except TimeoutError:
            return out
        if msg.type != aiohttp.WSMsgType.TEXT:
            return out
        out.append(orjson.loads(msg.data))


async def step(sim: SimCluster, seconds: float) -> None:
    sim.advance(seconds)
    await asyncio.sleep(0)


def check_spot_chain(last_update_id: int, diffs: list[dict[str, Any]]) -> int:
    """Binance spot rules: drop u <= lastUpdateId; the first kept has U <= lastUpdateId+1 <= u;
    each next U == previous u + 1. Returns how many diffs were applied."""
    kept = [d for d in diffs if d["u"] > last_update_id]
    assert kept, "no diff after the snapshot"
    assert kept[0]["U"] <= last_update_id + 1 <= kept[0]["u"]
    for prev, cur in zip(kept, kept[1:]):
        assert cur["U"] == prev["u"] + 1, (prev, cur)
    return len(kept)


def check_futures_chain(last_update_id: int, diffs: list[dict[str, Any]]) -> int:
    """Binance USD-M rules: drop u < lastUpdateId; first kept has U <= lastUpdateId <= u; after
    that each pu == previous u."""
    kept = [d for d in diffs if d["u"] >= last_update_id]
    assert kept
    assert kept[0]["U"] <= last_update_id <= kept[0]["u"]
    for prev, cur in zip(kept, kept[1:]):
        assert cur["pu"] == prev["u"], (prev, cur)
    return len(kept)


async def test_spot_combined_and_raw_streams_chain_onto_snapshot() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, "", "")
        comb = await s.ws_connect(v.spot_ws_url
                                  + "/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker")
        raw = await s.ws_connect(v.spot_ws_url + "/ws/ethusdt@depth@100ms")
        await step(sim, 0.5)
        snap = await c.ok("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1000},
                          signed=False)
        eth_snap = await c.ok("GET", "/api/v3/depth", {"symbol": "ETHUSDT", "limit": 1000},
                              signed=False)
        await step(sim, 2.0)
        msgs = await drain(comb)
        streams = {m["stream"] for m in msgs}
        assert streams == {"btcusdt@depth@100ms", "btcusdt@bookTicker"}
        diffs = [m["data"] for m in msgs if m["stream"] == "btcusdt@depth@100ms"]
        assert all(d["e"] == "depthUpdate" and d["s"] == "BTCUSDT" for d in diffs)
        assert check_spot_chain(snap["lastUpdateId"], diffs) >= 10
        tickers = [m["data"] for m in msgs if m["stream"] == "btcusdt@bookTicker"]
        assert tickers and {"u", "s", "b", "B", "a", "A"} <= set(tickers[-1])
        eth = await drain(raw)
        assert eth and all("stream" not in m and m["s"] == "ETHUSDT" for m in eth)
        assert check_spot_chain(eth_snap["lastUpdateId"], eth) >= 10
        await comb.close()
        await raw.close()


async def test_live_subscribe_unsubscribe_and_list() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        ws = await s.ws_connect(v.spot_ws_url + "/ws")
        await ws.send_str('{"method":"SUBSCRIBE","params":["btcusdt@bookTicker"],"id":1}')
        assert orjson.loads((await ws.receive(timeout=5)).data) == {"result": None, "id": 1}
        await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":"x"}')
        assert orjson.loads((await ws.receive(timeout=5)).data) == {
            "result": ["btcusdt@bookTicker"], "id": "x"}
        await step(sim, 1.0)
        got = await drain(ws)
        assert got and all(m["s"] == "BTCUSDT" and "b" in m for m in got)
        await ws.send_str('{"method":"UNSUBSCRIBE","params":["btcusdt@bookTicker"],"id":2}')
        assert orjson.loads((await ws.receive(timeout=5)).data) == {"result": None, "id": 2}
        await step(sim, 1.0)
        assert await drain(ws) == []
        await ws.send_str('{"method":"SUBSCRIBEX","params":[],"id":3}')
        err = orjson.loads((await ws.receive(timeout=5)).data)
        assert err["code"] == 2 and err["id"] == 3
        await ws.send_str("not json")
        assert orjson.loads((await ws.receive(timeout=5)).data)["code"] == 3
        await ws.close()


async def test_futures_routes_split_public_market_legacy() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, "", "")
        both = "btcusdt@depth@100ms/btcusdt@markPrice@1s"
        public = await s.ws_connect(v.futures_ws_url + "/public/stream?streams=" + both)
        market = await s.ws_connect(v.futures_ws_url + "/market/stream?streams=" + both)
        legacy = await s.ws_connect(v.futures_ws_url + "/ws/btcusdt@depth@100ms")
        legacy_mark = await s.ws_connect(v.futures_ws_url + "/ws/btcusdt@markPrice@1s")
        market_raw = await s.ws_connect(v.futures_ws_url + "/market/ws/btcusdt@markPrice@1s")
        await step(sim, 0.5)
        snap = await c.ok("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 1000},
                          signed=False)
        await step(sim, 3.0)
        pub = await drain(public)
        assert {m["stream"] for m in pub} == {"btcusdt@depth@100ms"}
        assert check_futures_chain(snap["lastUpdateId"], [m["data"] for m in pub]) >= 10
        assert all({"E", "T", "U", "u", "pu"} <= set(m["data"]) for m in pub)
        mk = await drain(market)
        assert {m["stream"] for m in mk} == {"btcusdt@markPrice@1s"}
        marks = [m["data"] for m in mk]
        assert marks[-1]["e"] == "markPriceUpdate" and {"p", "i", "P", "r", "T"} <= set(marks[-1])
        leg = await drain(legacy)
        assert leg and check_futures_chain(snap["lastUpdateId"], leg) >= 10
        assert await drain(legacy_mark, 0.1) == []      # Binance: silent on the legacy route
        assert [m["e"] for m in await drain(market_raw, 0.1)] == ["markPriceUpdate"] * len(marks)
        for ws in (public, market, legacy, legacy_mark, market_raw):
            await ws.close()


async def test_user_streams_and_listen_key_expiry() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, v.api_key, v.api_secret)
        fkey = (await c.ok("POST", "/fapi/v1/listenKey", signed=False))["listenKey"]
        private = await s.ws_connect(f"{v.futures_ws_url}/private/stream?streams={fkey}")
        legacy = await s.ws_connect(f"{v.futures_ws_url}/ws/{fkey}")
        on_spot_port = await s.ws_connect(f"{v.spot_ws_url}/ws/{fkey}")  # wrong port: silent
        await c.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 3})
        book = await c.ok("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 5},
                          signed=False)
        await c.ok("POST", "/fapi/v1/order", {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.01", "price": f"{float(book['bids'][0][0]) * 0.8:.1f}",
            "newClientOrderId": "u1"})
        wrapped = await drain(private)
        assert wrapped and {m["stream"] for m in wrapped} == {fkey}
        news = [m["data"] for m in wrapped if m["data"]["e"] == "ORDER_TRADE_UPDATE"]
        assert news[0]["o"]["c"] == "u1" and news[0]["o"]["X"] == "NEW"
        assert [m["e"] for m in await drain(legacy)] == [m["data"]["e"] for m in wrapped]
        assert await drain(on_spot_port, 0.1) == []
        await control(s, v.rest_url, "expire_listen_keys")
        assert (await drain(legacy))[-1] == {"e": "listenKeyExpired", "E": v.server.server_ms(),
                                             "listenKey": fkey}
        await c.ok("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "u1"})
        assert [m["data"]["e"] for m in await drain(private)] == ["listenKeyExpired"]
        status, err, _ = await c.call("PUT", "/fapi/v1/listenKey", signed=False)
        assert (status, err["code"]) == (400, -1125)
        for ws in (private, legacy, on_spot_port):
            await ws.close()

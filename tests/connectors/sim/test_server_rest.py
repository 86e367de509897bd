"""Sim server REST over real loopback HTTP: public data, auth errors, weights, listenKeys."""
from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.connectors.sim.server_helpers import Client, control, manual_sim, sim_state


async def test_public_spot_and_futures_endpoints() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, "", "")
        assert await c.ok("GET", "/api/v3/ping", signed=False) == {}
        t = (await c.ok("GET", "/api/v3/time", signed=False))["serverTime"]
        assert t == v.server.exchange.now_ms()
        info = await c.ok("GET", "/api/v3/exchangeInfo", signed=False)
        assert {s["symbol"] for s in info["symbols"]} == {"BTCUSDT", "ETHUSDT"}
        depth = await c.ok("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5},
                           signed=False)
        assert len(depth["bids"]) == 5 and len(depth["asks"]) == 5
        assert float(depth["bids"][0][0]) < float(depth["asks"][0][0])
        bt = await c.ok("GET", "/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"}, signed=False)
        assert bt["bidPrice"] == depth["bids"][0][0] and bt["askPrice"] == depth["asks"][0][0]
        status, err, _ = await c.call("GET", "/api/v3/depth", signed=False)
        assert (status, err["code"]) == (400, -1102)

        assert await c.ok("GET", "/fapi/v1/ping", signed=False) == {}
        assert (await c.ok("GET", "/fapi/v1/time", signed=False))["serverTime"] == t
        finfo = await c.ok("GET", "/fapi/v1/exchangeInfo", signed=False)
        assert {s["symbol"] for s in finfo["symbols"]} == {"BTCUSDT", "ETHUSDT"}
        fdepth = await c.ok("GET", "/fapi/v1/depth", {"symbol": "ETHUSDT", "limit": 10},
                            signed=False)
        assert {"lastUpdateId", "E", "T", "bids", "asks"} <= set(fdepth)
        assert len(fdepth["bids"]) == 10
        status, err, _ = await c.call("GET", "/fapi/v1/depth", {"symbol": "ETHUSDT", "limit": 7},
                                      signed=False)
        assert status == 400 and err["code"] < 0
        pi = await c.ok("GET", "/fapi/v1/premiumIndex", {"symbol": "BTCUSDT"}, signed=False)
        assert pi["symbol"] == "BTCUSDT" and float(pi["markPrice"]) > 0
        assert "lastFundingRate" in pi and pi["nextFundingTime"] > t
        fi = await c.ok("GET", "/fapi/v1/fundingInfo", signed=False)
        assert {r["symbol"] for r in fi} >= {"BTCUSDT"}


async def test_signed_happy_path_query_and_body() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, v.api_key, v.api_secret)
        acct = await c.ok("GET", "/sapi/v1/margin/account")
        assert "marginLevel" in acct and any(a["asset"] == "USDT" for a in acct["userAssets"])
        # parameters in the body of a POST are signed too
        lk = await c.ok("POST", "/fapi/v1/listenKey", signed=False)
        assert len(lk["listenKey"]) == 64
        fut = await c.ok("GET", "/fapi/v2/account")
        assert "totalWalletBalance" in fut and "positions" in fut
        bal = await c.ok("GET", "/fapi/v2/balance")
        assert any(b["asset"] == "USDT" for b in bal)
        lev = await c.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 5},
                         in_body=True)
        assert lev["leverage"] == 5 and lev["symbol"] == "BTCUSDT"
        br = await c.ok("GET", "/fapi/v1/leverageBracket", {"symbol": "BTCUSDT"})
        assert br["symbol"] == "BTCUSDT" if isinstance(br, dict) else br[0]["symbol"] == "BTCUSDT"


async def test_auth_errors_are_binance_codes() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, v.api_key, v.api_secret)
        path = "/sapi/v1/margin/account"
        now = int(time.time() * 1000)

        status, err, _ = await c.call("GET", path, timestamp=now - 10_000)
        assert (status, err["code"]) == (400, -1021)
        status, err, _ = await c.call("GET", path, {"recvWindow": 20_000},
                                      timestamp=now - 10_000)
        assert status == 200, err
        status, err, _ = await c.call("GET", path, timestamp=now + 5_000)
        assert (status, err["code"]) == (400, -1021)
        status, err, _ = await c.call("GET", path, {"recvWindow": 70_000})
        assert (status, err["code"]) == (400, -1131)
        status, err, _ = await c.call("GET", path, signature="0" * 64)
        assert (status, err["code"]) == (400, -1022)
        status, err, _ = await c.call("GET", "/fapi/v2/account", key="nope" * 16)
        assert (status, err["code"]) == (401, -2015)
        status, err, _ = await c.call("GET", path, key="")
        assert status == 401 and err["code"] == -2014
        # signature missing / timestamp missing
        status, err, _ = await c.call("GET", "/fapi/v2/balance", signed=False)
        assert (status, err["code"]) == (400, -1102) and "signature" in err["msg"]
        sig = c.sign("recvWindow=5000")
        status, err, _ = await c.call("GET", "/fapi/v2/balance?recvWindow=5000&signature=" + sig,
                                      signed=False)
        assert (status, err["code"]) == (400, -1102) and "timestamp" in err["msg"]
        # a parameter tampered after signing
        qs = f"symbol=BTCUSDT&timestamp={now}"
        status, err, _ = await c.call(
            "GET", "/fapi/v1/openOrders?symbol=ETHUSDT&timestamp=" + str(now) + "&signature="
            + c.sign(qs), signed=False)
        assert (status, err["code"]) == (400, -1022)


async def test_clock_skew_fault_bites() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, v.api_key, v.api_secret)
        before = (await c.ok("GET", "/api/v3/time", signed=False))["serverTime"]
        await control(s, v.rest_url, "clock_skew", ms=-30_000)
        after = (await c.ok("GET", "/api/v3/time", signed=False))["serverTime"]
        assert after == before - 30_000
        status, err, _ = await c.call("GET", "/fapi/v2/balance")
        assert (status, err["code"]) == (400, -1021)
        await control(s, v.rest_url, "clock_skew", ms=0)
        assert (await c.call("GET", "/fapi/v2/balance"))[0] == 200


async def test_weight_headers_429_then_418() -> None:
    async with manual_sim(spot_weight_limit=30, fapi_weight_limit=12, violations_before_ban=2,
                          ban_seconds=120) as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, v.api_key, v.api_secret)
        if time.time() % 60 > 55:  # keep the whole sequence inside one weight window
            await asyncio.sleep(61 - time.time() % 60)
        status, _, h = await c.call("GET", "/api/v3/exchangeInfo", signed=False)  # weight 20
        assert status == 200 and h["X-MBX-USED-WEIGHT-1M"] == "20"
        status, err, h = await c.call("GET", "/api/v3/exchangeInfo", signed=False)
        assert (status, err["code"]) == (429, -1003) and 1 <= int(h["Retry-After"]) <= 60
        status, _, h = await c.call("GET", "/api/v3/ping", signed=False)     # still fits
        assert status == 200 and h["X-MBX-USED-WEIGHT-1M"] == "21"
        statuses = [(await c.call("GET", "/api/v3/exchangeInfo", signed=False))[0]
                    for _ in range(2)]
        assert statuses == [429, 418]                   # the third violation bans the IP
        status, err, h = await c.call("GET", "/api/v3/ping", signed=False)
        assert status == 418 and int(h["Retry-After"]) > 60 and "banned until" in err["msg"]
        # fapi is counted separately and has its own header
        status, _, h = await c.call("GET", "/fapi/v1/ping", signed=False)
        assert status == 200 and h["X-MBX-USED-WEIGHT-1M"] == "1"
        # sapi: own counter and header
        _, _, h = await c.call("GET", "/sapi/v1/margin/account")
        assert h["X-SAPI-USED-IP-WEIGHT-1M"] == "10"
        state = await sim_state(s, v.rest_url)
        assert state["venue"] == "sim-a"


async def test_listen_keys_post_put_delete() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, v.api_key, v.api_secret)
        k1 = (await c.ok("POST", "/fapi/v1/listenKey", signed=False))["listenKey"]
        k2 = (await c.ok("POST", "/fapi/v1/listenKey", signed=False))["listenKey"]
        assert k1 == k2
        assert (await c.ok("PUT", "/fapi/v1/listenKey", signed=False))["listenKey"] == k1
        assert await c.ok("DELETE", "/fapi/v1/listenKey", signed=False) == {}
        status, err, _ = await c.call("PUT", "/fapi/v1/listenKey", signed=False)
        assert (status, err["code"]) == (400, -1125)
        m = (await c.ok("POST", "/sapi/v1/userDataStream", signed=False))["listenKey"]
        assert m != k1
        assert await c.ok("PUT", "/sapi/v1/userDataStream", {"listenKey": m}, signed=False) == {}
        assert await c.ok("DELETE", "/sapi/v1/userDataStream", {"listenKey": m},
                          signed=False) == {}
        status, err, _ = await c.call("PUT", "/sapi/v1/userDataStream", {"listenKey": m},
                                      signed=False)
        assert (status, err["code"]) == (400, -1125)
        status, err, _ = await c.call("POST", "/sapi/v1/userDataStream", signed=False, key="x")
        assert (status, err["code"]) == (401, -2015)


async def test_control_rejects_bad_input() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        url = sim.venues[0].rest_url + "/sim/control"
        async with s.post(url, json={"action": "nope"}) as r:
            assert r.status == 400 and (await r.json())["field"] == "action"
        async with s.post(url, json={"action": "delay_acks", "ms": 5, "market": "moon"}) as r:
            assert r.status == 400 and (await r.json())["field"] == "market"
        async with s.post(url, data=b"{") as r:
            assert r.status == 400

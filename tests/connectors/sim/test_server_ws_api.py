"""Sim, Binance's current cross-margin flow over loopback: POST /sapi/v1/userListenToken, the spot
WS-API `userDataStream.subscribe.listenToken` (envelope, renewal, expiry), and the margin risk
stream (POST /sapi/v1/margin/listen-key; USER_LIABILITY_CHANGE, MARGIN_LEVEL_STATUS_CHANGE)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import orjson

from connectors.sim.server.margin_risk import margin_status
from tests.connectors.sim.server_helpers import Client, control, manual_sim
from .test_server_ws import drain


async def request(ws: aiohttp.ClientWebSocketResponse, req_id: Any, method: str,
                  **params: Any) -> dict[str, Any]:
    await ws.send_str(orjson.dumps({"id": req_id, "method": method, "params": params}).decode())
    while True:
        msg = orjson.loads((await ws.receive(timeout=5.0)).data)
        if "event" not in msg:
            return msg


async def sell_margin_buy(c: Client, cid: str, qty: str = "0.01") -> dict[str, Any]:
    return await c.ok("POST", "/sapi/v1/margin/order", {
        "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": qty,
        "sideEffectType": "MARGIN_BUY", "newClientOrderId": cid})


async def test_listen_token_subscription_envelope_renewal_and_expiry() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        assert v.ws_api_url == f"{v.spot_ws_url}/ws-api/v3"
        c = Client(s, v.rest_url, v.api_key, v.api_secret)
        status, err, _ = await c.call("POST", "/sapi/v1/userListenToken", {"validity": 86400001})
        assert (status, err["code"]) == (400, -1130)
        tok = await c.ok("POST", "/sapi/v1/userListenToken", signed=False)
        assert set(tok) == {"token", "expirationTime"} and tok["token"]
        ws = await s.ws_connect(v.ws_api_url)
        bad = await request(ws, "a", "userDataStream.subscribe.listenToken", listenToken="nope")
        assert bad["status"] == 400 and bad["error"]["code"] == -1209 and bad["id"] == "a"
        ok = await request(ws, 7, "userDataStream.subscribe.listenToken",
                           listenToken=tok["token"])
        assert ok == {"id": 7, "status": 200,
                      "result": {"subscriptionId": 0, "expirationTime": tok["expirationTime"]}}

        await sell_margin_buy(c, "lt-1")
        frames = await drain(ws)
        assert frames and all(set(f) == {"subscriptionId", "event"} for f in frames)
        assert {f["subscriptionId"] for f in frames} == {0}
        kinds = [f["event"]["e"] for f in frames]
        assert "executionReport" in kinds and "outboundAccountPosition" in kinds
        assert "USER_LIABILITY_CHANGE" not in kinds       # risk stream only
        fill = [f["event"] for f in frames if f["event"]["e"] == "executionReport"][-1]
        assert fill["c"] == "lt-1" and fill["X"] == "FILLED"

        # renewal: a fresh token on the same connection keeps the subscription id
        tok2 = await c.ok("POST", "/sapi/v1/userListenToken", {"validity": 3_600_000})
        again = await request(ws, 8, "userDataStream.subscribe.listenToken",
                              listenToken=tok2["token"])
        assert again["result"] == {"subscriptionId": 0, "expirationTime": tok2["expirationTime"]}
        assert (await request(ws, 9, "session.subscriptions"))["result"] == [{"subscriptionId": 0}]

        # left to expire, the subscription ends with eventStreamTerminated and goes silent
        await control(s, v.rest_url, "expire_listen_tokens")
        term = await drain(ws)
        assert [f["event"]["e"] for f in term] == ["eventStreamTerminated"]
        await sell_margin_buy(c, "lt-2")
        assert await drain(ws, 0.2) == []
        expired = await request(ws, 10, "userDataStream.subscribe.listenToken",
                                listenToken=tok2["token"])
        assert expired["error"]["code"] == -1209
        await ws.close()


async def test_risk_stream_liabilities_and_classic_flow_unchanged() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, v.api_key, v.api_secret)
        rkey = (await c.ok("POST", "/sapi/v1/margin/listen-key", signed=False))["listenKey"]
        assert (await c.ok("POST", "/sapi/v1/margin/listen-key",
                           signed=False))["listenKey"] == rkey
        risk = await s.ws_connect(f"{v.margin_risk_ws_url}/ws/{rkey}")
        wrong_port = await s.ws_connect(f"{v.spot_ws_url}/ws/{rkey}")   # not a margin key there
        mkey = (await c.ok("POST", "/sapi/v1/userDataStream", signed=False))["listenKey"]
        classic = await s.ws_connect(f"{v.spot_ws_url}/ws/{mkey}")

        await sell_margin_buy(c, "r-1")
        evs = await drain(risk)
        borrow = [e for e in evs if e["e"] == "USER_LIABILITY_CHANGE"]
        assert len(borrow) == 1 and set(borrow[0]) == {"e", "E", "a", "t", "p", "i"}
        assert borrow[0]["a"] == "BTC" and borrow[0]["t"] == "BORROW"
        assert Decimal(borrow[0]["p"]) == Decimal("0.01") and Decimal(borrow[0]["i"]) > 0
        assert all(e["e"] in ("USER_LIABILITY_CHANGE", "MARGIN_LEVEL_STATUS_CHANGE") for e in evs)
        assert await drain(wrong_port, 0.1) == []
        # the classic listenKey stream still carries everything, with the total "l"
        classic_kinds = [e["e"] for e in await drain(classic)]
        assert "executionReport" in classic_kinds and "USER_LIABILITY_CHANGE" in classic_kinds

        # an hour of venue time (7.5 s of scenario time at 480x): hourly interest accrual
        sim.advance(8.0, step=0.5)
        interest = [e for e in await drain(risk) if e["e"] == "USER_LIABILITY_CHANGE"]
        assert interest and interest[0]["t"] == "INTEREST" and Decimal(interest[0]["i"]) > 0

        await c.ok("POST", "/sapi/v1/margin/borrow-repay",
                   {"asset": "BTC", "type": "BORROW", "amount": "0.002", "isIsolated": "FALSE"})
        assert [e["t"] for e in await drain(risk) if e["e"] == "USER_LIABILITY_CHANGE"] == \
            ["BORROW"]
        await c.ok("POST", "/sapi/v1/margin/borrow-repay",
                   {"asset": "BTC", "type": "REPAY", "amount": "0.001", "isIsolated": "FALSE"})
        repay = [e for e in await drain(risk) if e["e"] == "USER_LIABILITY_CHANGE"]
        assert [e["t"] for e in repay] == ["REPAY"]
        assert Decimal(repay[0]["p"]) + Decimal(repay[0]["i"]) == Decimal("0.001")

        await c.ok("PUT", "/sapi/v1/margin/listen-key", {"listenKey": rkey}, signed=False)
        await c.ok("DELETE", "/sapi/v1/margin/listen-key", {"listenKey": rkey}, signed=False)
        assert [e["e"] for e in await drain(risk)] == ["listenKeyExpired"]
        status, err, _ = await c.call("PUT", "/sapi/v1/margin/listen-key", {"listenKey": rkey},
                                      signed=False)
        assert (status, err["code"]) == (400, -1125)
        for ws in (risk, wrong_port, classic):
            await ws.close()


async def test_margin_level_status_change_on_a_pump() -> None:
    # +40 % in 60 s after 20 s; borrowing 1.5x the equity puts ML at 1.67, the pump at ~1.2
    async with manual_sim(scenario="pump") as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, v.api_key, v.api_secret)
        acct = await c.ok("GET", "/sapi/v1/margin/account")
        equity = sum(Decimal(a["netAsset"]) * v.server.exchange.asset_price(a["asset"])
                     for a in acct["userAssets"])
        px = v.server.exchange.asset_price("BTC")
        qty = (equity * Decimal("1.5") / px).quantize(Decimal("0.001"))
        rkey = (await c.ok("POST", "/sapi/v1/margin/listen-key", signed=False))["listenKey"]
        risk = await s.ws_connect(f"{v.margin_risk_ws_url}/stream?streams={rkey}")
        await sell_margin_buy(c, "p-1", str(qty))
        assert not [m for m in await drain(risk) if m["data"]["e"] == "MARGIN_LEVEL_STATUS_CHANGE"]
        sim.advance(80.0, step=0.5)
        changes = [m["data"] for m in await drain(risk)
                   if m["data"]["e"] == "MARGIN_LEVEL_STATUS_CHANGE"]
        assert changes and changes[0]["s"] == "MARGIN_CALL", changes
        assert Decimal("1.1") < Decimal(changes[0]["l"]) <= Decimal("1.3")
        await risk.close()


def test_margin_status_bands() -> None:
    mc, fl = Decimal("1.3"), Decimal("1.1")
    assert margin_status(Decimal(999), mc, fl) == "NORMAL"
    assert margin_status(Decimal("1.31"), mc, fl) == "NORMAL"
    assert margin_status(Decimal("1.3"), mc, fl) == "MARGIN_CALL"
    assert margin_status(Decimal("1.1"), mc, fl) == "FORCE_LIQUIDATION"

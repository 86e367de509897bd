"""Done-when #2 through the server with plain signed requests: a reverse-basis pair (margin SELL
with MARGIN_BUY + USD-M BUY) in a negative-funding scenario collects funding at every settlement
(user stream FUNDING_FEE = qty x mark x |rate|), and the margin account accrues interest in BTC."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import aiohttp

from tests.connectors.sim.server_helpers import Client, control, manual_sim
from .test_server_ws import drain

NEGATIVE_FUNDING = """
name = "negative-funding-test"
[[regimes]]
kind = "negative_funding"
start_s = 0
basis = -0.003
theta = 2.0
"""
QTY = Decimal("0.1")


async def test_reverse_basis_collects_funding_and_pays_interest_in_coin(tmp_path: Path) -> None:
    scenario = tmp_path / "neg.toml"
    scenario.write_text(NEGATIVE_FUNDING)
    async with manual_sim(scenario=str(scenario), symbols=("BTCUSDT",)) as sim, \
            aiohttp.ClientSession() as s:
        v = sim.venues[0]
        c = Client(s, v.rest_url, v.api_key, v.api_secret)
        fkey = (await c.ok("POST", "/fapi/v1/listenKey", signed=False))["listenKey"]
        mkey = (await c.ok("POST", "/sapi/v1/userDataStream", signed=False))["listenKey"]
        fut_ws = await s.ws_connect(f"{v.futures_ws_url}/private/ws?listenKey={fkey}")
        mar_ws = await s.ws_connect(f"{v.spot_ws_url}/ws/{mkey}")
        await control(s, v.rest_url, "advance", seconds=5)   # let the basis sink

        sell = await c.ok("POST", "/sapi/v1/margin/order", {
            "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": str(QTY),
            "sideEffectType": "MARGIN_BUY", "newOrderRespType": "FULL",
            "newClientOrderId": "rb-spot-1"}, in_body=True)
        assert sell["status"] == "FILLED" and Decimal(sell["executedQty"]) == QTY
        buy = await c.ok("POST", "/fapi/v1/order", {
            "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": str(QTY),
            "newClientOrderId": "rb-perp-1", "newOrderRespType": "RESULT"}, in_body=True)
        assert buy["status"] == "FILLED"
        acct0 = await c.ok("GET", "/sapi/v1/margin/account")
        btc0 = next(a for a in acct0["userAssets"] if a["asset"] == "BTC")
        assert Decimal(btc0["borrowed"]) == QTY and Decimal(btc0["netAsset"]) < 0

        order_events = await drain(fut_ws)
        assert any(e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["c"] == "rb-perp-1"
                   and e["o"]["X"] == "FILLED" for e in order_events)
        margin_events = await drain(mar_ws)
        assert any(e["e"] == "executionReport" and e["c"] == "rb-spot-1" for e in margin_events)

        # three 8 h settlements = 3 x 60 s of scenario time at speed-up 480
        await control(s, v.rest_url, "advance", seconds=185, step=1.0)
        events = await drain(fut_ws)
        fees = [e for e in events if e["e"] == "ACCOUNT_UPDATE" and e["a"]["m"] == "FUNDING_FEE"]
        history = await c.ok("GET", "/fapi/v1/fundingRate", {"symbol": "BTCUSDT"}, signed=False)
        assert len(fees) == 3 and len(history) >= 3
        for fee, settled in zip(fees, history[-3:]):
            rate, mark = Decimal(settled["fundingRate"]), Decimal(settled["markPrice"])
            assert rate < 0
            bc = Decimal(next(b["bc"] for b in fee["a"]["B"] if b["a"] == "USDT"))
            expected = QTY * mark * abs(rate)
            assert bc > 0 and abs(bc - expected) <= Decimal("1e-8"), (bc, expected)
        # the income also reached the wallet
        bal = await c.ok("GET", "/fapi/v2/balance")
        assert any(b["asset"] == "USDT" for b in bal)

        acct = await c.ok("GET", "/sapi/v1/margin/account")
        btc = next(a for a in acct["userAssets"] if a["asset"] == "BTC")
        interest = Decimal(btc["interest"])
        assert interest > 0 and Decimal(btc["borrowed"]) == QTY
        assert Decimal(btc["netAsset"]) == Decimal(btc["free"]) + Decimal(btc["locked"]) \
            - QTY - interest
        hist = await c.ok("GET", "/sapi/v1/margin/interestHistory",
                          {"asset": "BTC", "size": 100})
        rows = hist["rows"] if isinstance(hist, dict) else hist
        # 185 s x 480 = 24.7 venue hours of hourly accruals (plus the one charged on borrowing)
        assert len(rows) >= 24 and all(r["asset"] == "BTC" for r in rows)
        assert sum(Decimal(r["interest"]) for r in rows) == interest
        for ws in (fut_ws, mar_ws):
            await ws.close()

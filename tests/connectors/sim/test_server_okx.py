"""The embedded exchange's OKX dialect: the cluster announces it with its passphrase, signed
requests need the right passphrase and signature, and engine errors come back as OKX codes."""
from __future__ import annotations

import json
import time

import aiohttp

from connectors.okx.rest import OkxDialect
from connectors.okx.signing import iso_timestamp, prehash, sign
from connectors.secrets import Secret
from connectors.sim import SimCluster, SimConfig, SimVenueConfig
from connectors.transport.rest import RestSession


async def test_okx_dialect_auth_errors_and_announcement() -> None:
    cfg = SimConfig(venues=(SimVenueConfig(name="okx-a", dialect="okx", symbols=("BTCUSDT",)),
                            SimVenueConfig(name="bin-a", symbols=("BTCUSDT",))))
    async with SimCluster(cfg) as sim:
        okx, binance = sim.venue("okx-a"), sim.venue("bin-a")
        line = json.loads(okx.json_line())
        assert line["dialect"] == "okx" and line["passphrase"] == okx.passphrase
        plain = json.loads(binance.json_line())
        assert plain["dialect"] == "binance" and "passphrase" not in plain
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{okx.rest_url}/api/v5/public/instruments?instType=SWAP") as r:
                rows = (await r.json())["data"]
            assert rows[0]["instId"] == "BTC-USDT-SWAP" and rows[0]["ctType"] == "linear"
            ts = iso_timestamp(int(time.time() * 1000))
            headers = {"OK-ACCESS-KEY": okx.api_key, "OK-ACCESS-TIMESTAMP": ts,
                       "OK-ACCESS-PASSPHRASE": "wrong",
                       "OK-ACCESS-SIGN": sign(okx.api_secret,
                                              prehash(ts, "GET", "/api/v5/account/balance"))}
            async with s.get(f"{okx.rest_url}/api/v5/account/balance", headers=headers) as r:
                assert r.status == 401 and (await r.json())["code"] == "50105"
            headers["OK-ACCESS-PASSPHRASE"] = okx.passphrase
            headers["OK-ACCESS-SIGN"] = "bad"
            async with s.get(f"{okx.rest_url}/api/v5/account/balance", headers=headers) as r:
                assert r.status == 401 and (await r.json())["code"] == "50113"
        rest = RestSession(OkxDialect(Secret(okx.passphrase)), api_key=Secret(okx.api_key),
                           api_secret=Secret(okx.api_secret))
        await rest.open()
        try:
            raw = await rest.request("GET", okx.rest_url, "/api/v5/account/balance", signed=True)
            details = {d["ccy"]: d for d in json.loads(raw)["data"][0]["details"]}
            assert float(details["USDT"]["cashBal"]) > 0
            body = [("instId", "BTC-USDT"), ("tdMode", "cross"), ("side", "sell"),
                    ("ordType", "market"), ("sz", "100000"), ("clOrdId", "x1")]
            raw = await rest.request("POST", okx.rest_url, "/api/v5/trade/order", body,
                                     signed=True, idempotent=False)
            answer = json.loads(raw)
            assert answer["code"] == "1" and answer["data"][0]["sCode"] in ("51008", "59311",
                                                                             "51121")
        finally:
            await rest.close()

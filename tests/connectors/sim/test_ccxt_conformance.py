"""Done-when #1: a third-party Binance client (ccxt) trades against the sim through its standard
methods, every URL pointed at loopback (nothing may reach the internet)."""
from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
import ccxt.async_support as ccxt

from tests.connectors.sim.server_helpers import Client, manual_sim


def _point_at(exchange: ccxt.binance, rest_url: str) -> None:
    """Rewrite every REST base URL ccxt knows (api, sapi*, fapi*, dapi*, eapi*, papi*, v1...)
    to the sim, keeping its path; a URL left pointing elsewhere fails the test."""
    api = exchange.urls["api"]
    for name, url in list(api.items()):
        if isinstance(url, str) and url.startswith("http"):
            api[name] = rest_url + urlsplit(url).path
    leftovers = [u for u in api.values() if isinstance(u, str) and u.startswith("http")
                 and not u.startswith(rest_url)]
    assert not leftovers, leftovers


async def test_ccxt_loads_markets_reads_book_places_and_cancels_orders() -> None:
    async with manual_sim() as sim, aiohttp.ClientSession() as s:
        v = sim.venues[0]
        ex = ccxt.binance({
            "apiKey": v.api_key, "secret": v.api_secret, "enableRateLimit": False,
            "timeout": 10_000,
            "options": {"fetchMarkets": {"types": ["spot", "linear"]},
                        "adjustForTimeDifference": False},
        })
        _point_at(ex, v.rest_url)
        try:
            markets = await ex.load_markets()
            assert markets["BTC/USDT"]["spot"] and markets["BTC/USDT"]["margin"]
            perp = markets["BTC/USDT:USDT"]
            assert perp["swap"] and perp["linear"] and perp["settle"] == "USDT"
            assert "ETH/USDT:USDT" in markets

            book = await ex.fetch_order_book("BTC/USDT", limit=10)
            assert book["bids"] and book["asks"] and book["bids"][0][0] < book["asks"][0][0]
            fbook = await ex.fetch_order_book("BTC/USDT:USDT", limit=10)
            assert fbook["bids"][0][0] < fbook["asks"][0][0]

            # cross-margin order, resting well below the market, then cancelled
            bid = book["bids"][0][0]
            price = float(ex.price_to_precision("BTC/USDT", bid * 0.9))
            order = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, price,
                                          params={"marginMode": "cross"})
            assert order["status"] == "open" and order["id"]
            client = Client(s, v.rest_url, v.api_key, v.api_secret)
            opens = await client.ok("GET", "/sapi/v1/margin/openOrders", {"symbol": "BTCUSDT"})
            assert [str(o["orderId"]) for o in opens] == [order["id"]]
            cancelled = await ex.cancel_order(order["id"], "BTC/USDT",
                                              params={"marginMode": "cross"})
            assert cancelled["status"] == "canceled"
            assert await client.ok("GET", "/sapi/v1/margin/openOrders",
                                   {"symbol": "BTCUSDT"}) == []

            # USD-M order, resting, then cancelled
            fbid = fbook["bids"][0][0]
            fprice = float(ex.price_to_precision("BTC/USDT:USDT", fbid * 0.9))
            forder = await ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, fprice)
            assert forder["status"] == "open" and forder["id"]
            fopen = await client.ok("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"})
            assert [str(o["orderId"]) for o in fopen] == [forder["id"]]
            fcancel = await ex.cancel_order(forder["id"], "BTC/USDT:USDT")
            assert fcancel["status"] == "canceled"
            assert await client.ok("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"}) == []

            # and a marketable USD-M order fills against the book
            filled = await ex.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
            assert filled["id"]
            pos = await client.ok("GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"})
            assert float(pos[0]["positionAmt"]) == 0.01
        finally:
            await ex.close()

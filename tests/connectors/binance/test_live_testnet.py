"""Smoke tests against the real Binance testnets. Marked `live`: deselected by default
(pyproject addopts); run with `pytest -m live tests/binance/test_live_testnet.py` and
BASISD_TESTNET_API_KEY / BASISD_TESTNET_API_SECRET set (USD-M futures testnet keys).
Binance's spot testnet has no cross margin, so margin trading is not covered here."""
from __future__ import annotations

import asyncio
import os
import time

import pytest

from connectors.binance import schemas
from connectors.binance.market_data import BinanceMarketData
from connectors.binance.reference import load_reference
from connectors.binance.trading import BinanceTrading
from connectors.binance.config import BinanceUrls
from connectors.binance.constants import (TESTNET_FUTURES_REST, TESTNET_FUTURES_WS, TESTNET_REST,
                                         TESTNET_SPOT_WS)
from connectors.binance.rest import BINANCE
from connectors.transport.rest import RestSession
from connectors.types import InstrumentKey
from daemon.hub import Hub
from connectors.secrets import Secret

KEY = os.environ.get("BASISD_TESTNET_API_KEY", "")
SECRET = os.environ.get("BASISD_TESTNET_API_SECRET", "")
NO_KEYS = "BASISD_TESTNET_API_KEY / BASISD_TESTNET_API_SECRET not set: live testnet smoke skipped"

# Selected only with `-m live`; even then it needs testnet keys, and says so when they are missing.
pytestmark = [pytest.mark.live, pytest.mark.skipif(not (KEY and SECRET), reason=NO_KEYS)]
URLS = BinanceUrls(rest=TESTNET_REST, futures_rest=TESTNET_FUTURES_REST, spot_ws=TESTNET_SPOT_WS,
                   futures_ws=TESTNET_FUTURES_WS, ws_api=None, margin_risk_ws=None,
                   futures_routes=False)


@pytest.fixture
def keys() -> tuple[Secret, Secret]:
    return Secret(KEY), Secret(SECRET)


async def test_testnet_reference_books_and_account(keys: tuple[Secret, Secret]) -> None:
    hub = Hub()
    rest = RestSession(BINANCE, api_key=keys[0], api_secret=keys[1])
    await rest.open()
    md = None
    try:
        await rest.sync_time(URLS.futures_rest, "/fapi/v1/time")
        insts, ref = await load_reference(rest, URLS.rest, URLS.futures_rest, venue="testnet",
                                          symbols=["BTCUSDT"], signed_brackets=True)
        for i in insts:
            hub.set_instrument(i)
        assert {i.market for i in insts} == {"spot", "perp"}
        assert ref.tiers["BTCUSDT"][0].maint_margin_ratio > 0
        md = BinanceMarketData(hub, "testnet", rest, URLS, ["BTCUSDT"])
        md.start()
        deadline = time.monotonic() + 15
        keys_ = [InstrumentKey("testnet", m, "BTCUSDT") for m in ("spot", "perp")]
        while time.monotonic() < deadline and not all(hub.book_ready(k)[0] for k in keys_):
            await asyncio.sleep(0.1)
        assert all(hub.book_ready(k)[0] for k in keys_), hub.stream_summary()
        trading = BinanceTrading(hub, "testnet", rest, URLS)
        acct = await trading.futures_account()
        assert isinstance(acct, schemas.FuturesAccount)
        await trading.position_risk("BTCUSDT")
        assert ("testnet", "BTCUSDT") in hub.positions
        raw = await rest.request("POST", URLS.futures_rest, "/fapi/v1/listenKey", api_key=True)
        assert schemas.LISTEN_KEY.decode(raw).listenKey
    finally:
        if md is not None:
            await md.stop()
        await rest.close()

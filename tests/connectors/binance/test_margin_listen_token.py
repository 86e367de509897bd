"""The connector's production cross-margin flow (Binance since 2026-02-20) against the embedded
exchange: `POST /sapi/v1/userListenToken` + `userDataStream.subscribe.listenToken` on the spot
WS-API for order/balance events, the margin risk stream (`/sapi/v1/margin/listen-key`) for
liabilities, interest and margin-level status; reconnection and resubscription after drops,
token expiry and listenKey expiry. Trading goes through the connector only; the sim's control
endpoint moves time and injects faults."""
from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from connectors.binance import BinanceVenue
from connectors.binance.config import BinanceUrls
from connectors.sim import SimCluster, SimConfig, SimVenueConfig
from connectors.sim.server.cluster import VenueInfo
from connectors.types import InstrumentKey, OrderUpdate
from daemon.hub import Hub
from connectors.secrets import Secret
from .test_against_sim import SYMBOLS, ceil_step, venue_config, wait_for


def prod_urls(info: VenueInfo) -> BinanceUrls:
    return BinanceUrls.for_sim(info.rest_url, info.spot_ws_url, info.futures_ws_url,
                               margin_flow="listen_token", ws_api=info.ws_api_url,
                               margin_risk_ws=info.margin_risk_ws_url)


async def control(info: VenueInfo, **body: Any) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.post(f"{info.rest_url}/sim/control",
                                                     json=body) as r:
        data = await r.json()
        assert r.status == 200, data
        return data


class Rig:
    def __init__(self, sim: SimCluster, v: BinanceVenue, hub: Hub) -> None:
        self.sim, self.v, self.hub = sim, v, hub
        self.info = sim.venues[0]
        self.engine = self.info.server.exchange
        self.account = self.engine.account_for_key(self.info.api_key)
        self.updates: list[OrderUpdate] = []
        hub.subscribe(lambda kind, item: self.updates.append(item)
                      if isinstance(item, OrderUpdate) else None)

    def stream_fills(self, cid: str) -> list[OrderUpdate]:
        """Order updates that can only have come from the user stream (REST acks carry no
        trade id and no last fill)."""
        return [u for u in self.updates if u.client_id == cid and u.trade_id is not None
                and u.last_fill_qty > 0]

    def venue_liability(self, asset: str) -> tuple[float, float]:
        row = next(r for r in self.engine.margin_account(self.account)["userAssets"]
                   if r["asset"] == asset)
        return float(row["borrowed"]), float(row["interest"])

    def hub_liability(self, asset: str) -> tuple[float, float]:
        b = self.hub.balances.get((self.v.name, "margin", asset))
        return (b.borrowed, b.interest) if b is not None else (0.0, 0.0)

    def liabilities_agree(self, asset: str) -> bool:
        return all(abs(x - y) < 1e-12 for x, y in zip(self.hub_liability(asset),
                                                       self.venue_liability(asset)))

    async def sell_borrowed(self, cid: str, qty: float) -> None:
        prep = self.v.prepare_spot_order("BTCUSDT", "SELL", qty, side_effect="MARGIN_BUY",
                                         client_id=cid)
        ack = await self.v.send(prep)
        assert ack.status == "FILLED", ack
        await wait_for(lambda: any(u.status == "FILLED" for u in self.stream_fills(cid)), 5.0,
                       f"stream fill of {cid}")


def manual_cluster(scenario: str = "") -> SimCluster:
    return SimCluster(SimConfig(seed=3, clock="manual", venues=(
        SimVenueConfig(name="sim-a", symbols=tuple(SYMBOLS), scenario=scenario),)))


async def rig_for(sim: SimCluster) -> AsyncIterator[Rig]:
    info = sim.venues[0]
    hub = Hub()
    # no periodic REST refresh: liabilities in the hub must come from the risk stream alone
    v = BinanceVenue(venue_config(info), hub, api_key=Secret(info.api_key),
                     api_secret=Secret(info.api_secret), urls=prod_urls(info),
                     account_refresh_s=3600.0)
    await v.start()
    try:
        assert v.user is not None
        await v.user.wait_connected(5.0)
        yield Rig(sim, v, hub)
    finally:
        await v.stop()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with manual_cluster() as sim:
        async for r in rig_for(sim):
            yield r


@pytest.fixture
async def pump_rig() -> AsyncIterator[Rig]:
    async with manual_cluster("pump") as sim:
        async for r in rig_for(sim):
            yield r


def qty_for(r: Rig, base: float) -> float:
    step = r.hub.instruments[InstrumentKey(r.v.name, "spot", "BTCUSDT")].step_size
    return ceil_step(base, step)


async def test_for_sim_keeps_the_classic_flow_by_default_and_checks_its_arguments() -> None:
    u = BinanceUrls.for_sim("http://r", "ws://s", "ws://f")
    assert u.margin_flow == "listen_key" and u.ws_api is None and u.margin_risk_ws is None
    with pytest.raises(ValueError):
        BinanceUrls.for_sim("http://r", "ws://s", "ws://f", margin_flow="listen_token")
    p = BinanceUrls.for_sim("http://r", "ws://s", "ws://f", margin_flow="listen_token",
                            ws_api="ws://s/ws-api/v3", margin_risk_ws="ws://s/margin-risk")
    assert p.margin_risk_url("k") == "ws://s/margin-risk/ws/k"


async def test_margin_sell_borrow_interest_and_repay_through_token_and_risk_streams(
        rig: Rig) -> None:
    r, v, hub = rig, rig.v, rig.hub
    user = v.user
    assert user is not None and user.margin is None          # no classic margin listenKey
    assert user.margin_ws_api is not None and user.margin_risk is not None
    lk = r.info.server.listen_keys
    assert lk.active_for(str(r.account), "margin", time.time()) is None
    assert lk.active_for(str(r.account), "risk", time.time()) == user.margin_risk.key
    assert [s.subs.keys() for s in r.info.server.ws_api.sessions] == [{str(r.account)}]

    qty = qty_for(r, 0.01)
    await r.sell_borrowed("lt-open", qty)
    fill = [u for u in r.stream_fills("lt-open") if u.status == "FILLED"][-1]
    assert fill.market == "spot" and fill.side == "SELL" and fill.filled_qty == qty
    assert fill.fee > 0 and fill.fee_asset == "USDT" and fill.avg_price > 0
    # outboundAccountPosition through the WS-API: free BTC is back to zero after the sale
    await wait_for(lambda: user.margin_ws_api.frames >= 3, 5.0, "WS-API event frames")
    # the borrow (with its first hour of interest) through the risk stream
    await wait_for(lambda: r.hub_liability("BTC")[0] >= qty - 1e-12, 5.0, "BORROW liability")
    assert any(c.asset == "BTC" and c.amount > 0 for c in hub.interest_charges)
    assert user.interest_events_seen == 1 and r.liabilities_agree("BTC")

    # an hour of venue time: the hourly accrual arrives as USER_LIABILITY_CHANGE t=INTEREST
    r.sim.advance(8.0, step=0.5)
    await wait_for(lambda: user.interest_events_seen >= 2, 5.0, "INTEREST event")
    charges = [c for c in hub.interest_charges if c.asset == "BTC"]
    assert len(charges) >= 2 and sum(c.amount for c in charges) == pytest.approx(
        r.venue_liability("BTC")[1], abs=1e-12)
    await wait_for(lambda: r.liabilities_agree("BTC"), 5.0, "hub liability == venue")

    # borrow then repay part: interest is repaid first, as the venue does
    await v.borrow("BTC", 0.002)
    await wait_for(lambda: r.liabilities_agree("BTC") and r.hub_liability("BTC")[0] > qty,
                   5.0, "explicit BORROW")
    await v.repay("BTC", 0.001)
    await wait_for(lambda: r.liabilities_agree("BTC")
                   and r.hub_liability("BTC")[1] == 0.0, 5.0, "REPAY (interest first)")
    assert user.unknown_events == 0 and user.margin_ws_api.handler_errors == 0


async def test_ws_drop_token_expiry_and_listen_key_expiry_all_resubscribe(rig: Rig) -> None:
    r, v = rig, rig.v
    user = v.user
    assert user is not None and user.margin_ws_api is not None and user.margin_risk is not None
    api, risk = user.margin_ws_api, user.margin_risk.ws
    qty = qty_for(r, 0.002)

    await control(r.info, action="drop_ws")
    await wait_for(lambda: api.connects >= 2 and risk.connects >= 2 and api.connected.is_set()
                   and risk.connected.is_set(), 10.0, "WS-API and risk stream reconnected")
    await r.sell_borrowed("after-drop", qty)
    await wait_for(lambda: r.liabilities_agree("BTC") and r.hub_liability("BTC")[0] > 0, 5.0,
                   "risk events after the drop")

    # the subscription lapses (eventStreamTerminated): a new socket, a new token
    before = api.connects
    assert (await control(r.info, action="expire_listen_tokens"))["terminated"] == 1
    await wait_for(lambda: api.connects > before and api.connected.is_set(), 10.0,
                   "resubscribed after eventStreamTerminated")
    assert api.last_down_reason == "eventStreamTerminated"
    await r.sell_borrowed("after-expiry", qty)

    # the risk listenKey expires (listenKeyExpired): a new key on a new socket
    old_key, before = user.margin_risk.key, risk.connects
    await control(r.info, action="expire_listen_keys")
    await wait_for(lambda: risk.connects > before and risk.connected.is_set(), 10.0,
                   "risk stream back with a new listenKey")
    assert user.margin_risk.key != old_key
    await r.sell_borrowed("after-key-expiry", qty)
    await wait_for(lambda: r.liabilities_agree("BTC")
                   and r.hub_liability("BTC")[0] >= 3 * qty - 1e-12, 5.0,
                   "liabilities from the new risk listenKey")
    assert [len(s.subs) for s in r.info.server.ws_api.sessions] == [1]


async def test_margin_level_status_change_reaches_the_hub(pump_rig: Rig) -> None:
    r, hub = pump_rig, pump_rig.hub
    acct = r.engine.margin_account(r.account)
    equity = float(acct["TotalCollateralValueInUSDT"])
    px = float(r.engine.asset_price("BTC"))
    await r.sell_borrowed("pump-open", qty_for(r, equity * 1.5 / px))
    before = hub.margin_accounts[r.v.name]
    r.sim.advance(80.0, step=0.5)                      # +40 % BTC: ML 1.67 -> ~1.2
    await wait_for(lambda: hub.margin_accounts[r.v.name].margin_level <= 1.3, 5.0,
                   "MARGIN_LEVEL_STATUS_CHANGE into the hub")
    after = hub.margin_accounts[r.v.name]
    assert before.margin_level > 1.3      # the REST snapshot's level before the pump
    assert 1.1 < after.margin_level <= 1.3 and after.ts_ms >= before.ts_ms
    assert after.margin_call_bar == before.margin_call_bar

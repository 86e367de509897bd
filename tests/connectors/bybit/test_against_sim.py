"""The Bybit connector against the embedded exchange's Bybit dialect on loopback: books sync and
stay healthy, tickers give mark and funding with the symbol's interval, a spot-margin sell
borrows and a perp buy fills (the hub shows the liability and the position), cancel works, the
private stream delivers fills, and errors classify."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from connectors.bybit import BybitVenue
from connectors.bybit.config import BybitUrls
from connectors.bybit.errors import error_kind
from connectors.config import VenueConfig
from connectors.secrets import Secret
from connectors.sim import SimCluster, SimConfig, SimVenueConfig
from connectors.types import Health, InstrumentKey, OrderRequest, book_stream
from daemon.hub import Hub
from tests.connectors.binance.test_against_sim import wait_for

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


@pytest.fixture
async def sim() -> AsyncIterator[SimCluster]:
    cluster = SimCluster(SimConfig(venues=(SimVenueConfig(
        name="by", dialect="bybit", symbols=tuple(SYMBOLS)),)))
    await cluster.start()
    try:
        yield cluster
    finally:
        await cluster.stop()


@pytest.fixture
async def venue(sim: SimCluster) -> AsyncIterator[tuple[BybitVenue, Hub]]:
    info = sim.venues[0]
    hub = Hub()
    cfg = VenueConfig(name=info.name, kind="bybit", sim=True, symbols=SYMBOLS)
    v = BybitVenue(cfg, hub, api_key=Secret(info.api_key), api_secret=Secret(info.api_secret),
                   urls=BybitUrls.for_sim(info.rest_url, info.spot_ws_url))
    await v.start()
    try:
        yield v, hub
    finally:
        await v.stop()


def _healthy(hub: Hub, venue: str, market: str, sym: str) -> bool:
    return hub.health(venue, book_stream(InstrumentKey(venue, market, sym))) is Health.HEALTHY


async def test_books_sync_stay_healthy_and_tickers_carry_funding(sim, venue) -> None:
    v, hub = venue
    for market in ("spot", "perp"):
        for sym in SYMBOLS:
            await wait_for(lambda m=market, s=sym: _healthy(hub, v.name, m, s), 10,
                           f"{market} {sym} book healthy")
    book = hub.book(InstrumentKey(v.name, "perp", "BTCUSDT"))
    await asyncio.sleep(1.5)                       # deltas keep coming, no gap, never crossed
    assert v.market.gaps_detected == 0 and v.market.crossed_books == 0
    assert not book.is_crossed() and book.best_bid() is not None
    await wait_for(lambda: (v.name, "BTCUSDT") in hub.marks, 10, "a mark")
    mark = hub.marks[(v.name, "BTCUSDT")]
    spec = sim.venues[0].server.exchange.specs["BTCUSDT"]
    assert mark.interval_h == float(spec.funding_interval_h)
    assert mark.mark_price > 0 and mark.next_funding_ms > 0
    inst = hub.instruments[InstrumentKey(v.name, "perp", "BTCUSDT")]
    assert inst.funding_interval_h == float(spec.funding_interval_h) and inst.tick_size > 0


async def test_margin_sell_borrows_perp_buy_fills_and_cancel(sim, venue) -> None:
    v, hub = venue
    legs = v.leg_venue()
    sell = OrderRequest(venue=v.name, market="spot_margin", symbol="BTCUSDT", side="SELL",
                        order_type="MARKET", qty=0.01, client_id="t-sell-1",
                        side_effect="MARGIN_BUY")
    buy = OrderRequest(venue=v.name, market="perp", symbol="BTCUSDT", side="BUY",
                       order_type="MARKET", qty=0.01, client_id="t-buy-1")
    acks = await asyncio.gather(legs.send(legs.prepare(sell)), legs.send(legs.prepare(buy)))
    assert all(a.status == "NEW" and a.filled_qty == 0 for a in acks)    # an ack is not a fill
    await wait_for(lambda: all(hub.orders.get((v.name, c)) is not None
                               and hub.orders[(v.name, c)].status == "FILLED"
                               for c in ("t-sell-1", "t-buy-1")), 10, "both fills streamed")
    assert hub.orders[(v.name, "t-sell-1")].filled_qty == pytest.approx(0.01)
    await wait_for(lambda: (b := hub.balances.get((v.name, "margin", "BTC"))) is not None
                   and b.borrowed >= 0.01, 10, "the BTC liability")
    assert hub.balances[(v.name, "margin", "BTC")].liability >= 0.01
    await wait_for(lambda: (p := hub.positions.get((v.name, "BTCUSDT"))) is not None
                   and p.qty == pytest.approx(0.01), 10, "the perp position")
    ex = sim.venues[0].server.exchange
    acct = ex.account_for_key(sim.venues[0].api_key)
    (risk,) = ex.futures_position_risk(acct, {"symbol": "BTCUSDT"})
    # the venue's own liquidation figure, as Bybit's liqPrice (0 when the wallet cannot be
    # liquidated by this position)
    assert hub.positions[(v.name, "BTCUSDT")].liquidation_price == \
        pytest.approx(float(risk["liquidationPrice"]))
    assert v.name in hub.margin_accounts and hub.margin_accounts[v.name].margin_level > 1
    # a resting order far from the touch, then its cancel
    bid = hub.book(InstrumentKey(v.name, "perp", "BTCUSDT")).best_bid()
    assert bid is not None
    rest = OrderRequest(venue=v.name, market="perp", symbol="BTCUSDT", side="BUY",
                        order_type="LIMIT", qty=0.01, price=round(bid[0] * 0.9, 1),
                        time_in_force="GTC", client_id="t-rest-1")
    await legs.send(legs.prepare(rest))
    done = await legs.cancel("perp", "BTCUSDT", "t-rest-1")
    assert done is not None and done.status == "CANCELED"
    assert await legs.query("perp", "BTCUSDT", "no-such-order") is None
    assert await legs.max_borrowable("BTC") > 0
    assert (v.name, "BTC") in hub.borrow and hub.borrow[(v.name, "BTC")].hourly_rate > 0


async def test_insufficient_balance_classifies_as_block(sim, venue) -> None:
    v, _hub = venue
    legs = v.leg_venue()
    huge = OrderRequest(venue=v.name, market="spot_margin", symbol="BTCUSDT", side="BUY",
                        order_type="MARKET", qty=1000.0, client_id="t-huge-1",
                        side_effect="NO_SIDE_EFFECT")
    with pytest.raises(Exception) as info:
        await legs.send(legs.prepare(huge))
    assert legs.error_kind(info.value) == "block" == error_kind(info.value)

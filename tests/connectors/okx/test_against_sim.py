"""The OKX connector against the embedded exchange's OKX dialect on loopback: books stay healthy
with valid checksums, funding and marks arrive, a cross spot-margin sell borrows, a swap buy
fills in coins, cancel works, the private stream delivers fills, errors classify."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest

from connectors.config import VenueConfig
from connectors.okx.config import OkxUrls
from connectors.okx.errors import OkxError, error_kind
from connectors.okx.legs import OkxLegVenue
from connectors.okx.venue import OkxVenue
from connectors.secrets import Secret
from connectors.sim import SimCluster, SimConfig, SimVenueConfig
from connectors.types import Health, InstrumentKey, OrderRequest, book_stream
from daemon.hub import Hub
from tests.sim_time import wait_until

SYMBOL = "BTCUSDT"


@pytest.fixture
async def okx() -> AsyncIterator[tuple[OkxVenue, Hub, SimCluster]]:
    cluster = SimCluster(SimConfig(venues=(SimVenueConfig(name="okx-sim", dialect="okx",
                                                          symbols=(SYMBOL,)),)))
    await cluster.start()
    info = cluster.venues[0]
    hub = Hub()
    cfg = VenueConfig(name=info.name, kind="okx", sim=True, symbols=[SYMBOL])
    venue = OkxVenue(cfg, hub, api_key=Secret(info.api_key), api_secret=Secret(info.api_secret),
                     passphrase=Secret(info.passphrase),
                     urls=OkxUrls.for_sim(info.rest_url, info.spot_ws_url))
    try:
        await venue.start()
        yield venue, hub, cluster
    finally:
        await venue.stop()
        await cluster.stop()


async def test_books_sync_with_checksums_and_funding_arrives(okx) -> None:
    venue, hub, cluster = okx
    keys = [InstrumentKey(venue.name, m, SYMBOL) for m in ("spot", "perp")]
    await wait_until(lambda: all(hub.health(venue.name, book_stream(k)) is Health.HEALTHY
                               for k in keys), 10, "both books healthy")
    syncs = venue.market.syncs
    await wait_until(lambda: all(s.updates >= 5 for s in syncs.values()), 15, "book updates")
    assert all(s.checksum_errors == 0 and s.gaps == 0 for s in syncs.values())
    assert all(hub.health(venue.name, book_stream(k)) is Health.HEALTHY for k in keys)
    perp = hub.instruments[keys[1]]
    assert perp.contract_size > 0 and perp.step_size == pytest.approx(perp.contract_size)
    await wait_until(lambda: (venue.name, SYMBOL) in hub.marks, 10, "a mark with funding")
    mark = hub.marks[(venue.name, SYMBOL)]
    assert mark.next_funding_ms > 0 and mark.mark_price > 0 and mark.interval_h > 0
    assert isinstance(mark.funding_rate, float)
    # a frame whose checksum disagrees with our book marks it unhealthy and resubscribes; the
    # fresh snapshot restores it
    sync = syncs["BTC-USDT"]
    seq = sync.book.last_update_id
    bad = orjson.dumps({"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": "update",
                        "data": [{"asks": [], "bids": [], "ts": "0", "checksum": 12345,
                                  "seqId": seq, "prevSeqId": seq}]})
    venue.market.on_frame(bad)
    assert sync.checksum_errors == 1 and not sync.synced
    assert hub.health(venue.name, book_stream(keys[0])) is Health.RESYNCING
    await wait_until(lambda: hub.health(venue.name, book_stream(keys[0])) is Health.HEALTHY
                   and sync.snapshots >= 2, 15, "resubscribed snapshot")


async def test_spot_margin_sell_borrows_swap_buy_fills_in_coins_cancel_and_errors(okx) -> None:
    venue, hub, cluster = okx
    legs = OkxLegVenue(venue)
    await wait_until(lambda: venue.user is not None and venue.user.logins >= 1, 10, "login")
    # reverse basis entry: borrow-and-sell 0.01 BTC on cross margin, buy 0.01 BTC of swap
    sell = legs.prepare(OrderRequest(venue=venue.name, market="spot_margin", symbol=SYMBOL,
                                     side="SELL", order_type="MARKET", qty=0.01,
                                     client_id="bd-okx1-0o-ae0"))
    buy = legs.prepare(OrderRequest(venue=venue.name, market="perp", symbol=SYMBOL, side="BUY",
                                    order_type="MARKET", qty=0.01, client_id="bd-okx1-0o-be0"))
    acks = await asyncio.gather(legs.send(sell), legs.send(buy))
    assert all(a.client_id.startswith("bd-okx1") for a in acks)
    await wait_until(lambda: all(hub.orders.get((venue.name, c)) is not None
                               and hub.orders[(venue.name, c)].status == "FILLED"
                               for c in ("bd-okx1-0o-ae0", "bd-okx1-0o-be0")), 10, "fills")
    spot_fill = hub.orders[(venue.name, "bd-okx1-0o-ae0")]
    perp_fill = hub.orders[(venue.name, "bd-okx1-0o-be0")]
    assert spot_fill.filled_qty == pytest.approx(0.01)
    assert perp_fill.filled_qty == pytest.approx(0.01)     # coins, not contracts
    assert venue.user is not None and venue.user.fills >= 2
    await wait_until(lambda: (venue.name, SYMBOL) in hub.positions
                   and hub.positions[(venue.name, SYMBOL)].qty > 0, 10, "position")
    assert hub.positions[(venue.name, SYMBOL)].qty == pytest.approx(0.01)
    await wait_until(lambda: hub.balances.get((venue.name, "margin", "BTC")) is not None
                   and hub.balances[(venue.name, "margin", "BTC")].liability > 0, 10,
                   "BTC liability")
    assert hub.balances[(venue.name, "margin", "BTC")].liability == pytest.approx(0.01, rel=1e-3)
    assert await legs.max_borrowable("BTC") is not None
    assert (await legs.borrow_rate("BTC")) is not None
    # the query by client id agrees
    q = await legs.query("perp", SYMBOL, "bd-okx1-0o-be0")
    assert q is not None and q.status == "FILLED" and q.filled_qty == pytest.approx(0.01)
    assert await legs.query("perp", SYMBOL, "bd-never-0o-ae0") is None
    # a resting limit far from the touch, then cancel
    book = hub.book(InstrumentKey(venue.name, "perp", SYMBOL))
    far = round(book.best_bid()[0] * 0.8, 1)
    rest = legs.prepare(OrderRequest(venue=venue.name, market="perp", symbol=SYMBOL, side="BUY",
                                     order_type="LIMIT", qty=0.01, price=far,
                                     time_in_force="GTC", client_id="bd-okx1-1c-be0"))
    ack = await legs.send(rest)
    assert ack.status == "NEW" and ack.filled_qty == 0
    canceled = await legs.cancel("perp", SYMBOL, "bd-okx1-1c-be0")
    assert canceled is not None and canceled.status == "CANCELED"
    assert await legs.cancel("perp", SYMBOL, "bd-nope-1c-be0") is None
    # errors classify: far too much to borrow is blocked; a post-only that would take re-quotes
    huge = legs.prepare(OrderRequest(venue=venue.name, market="spot_margin", symbol=SYMBOL,
                                     side="SELL", order_type="MARKET", qty=10_000.0,
                                     client_id="bd-okx1-2o-ae0"))
    with pytest.raises(OkxError) as info:
        await legs.send(huge)
    assert legs.error_kind(info.value) == "block"
    ask = book.best_ask()[0]
    maker = legs.prepare(OrderRequest(venue=venue.name, market="spot_margin", symbol=SYMBOL,
                                      side="BUY", order_type="LIMIT_MAKER", qty=0.01,
                                      price=round(ask * 1.01, 1), client_id="bd-okx1-3o-ae0"))
    with pytest.raises(OkxError) as info:
        await legs.send(maker)
    assert legs.error_kind(info.value) == "postonly"
    assert error_kind(OkxError(0, "timeout", "t", idempotent=False, unknown_outcome=True)) \
        == "unknown"
    assert error_kind(OkxError(429, "50011", "slow down")) == "retry"

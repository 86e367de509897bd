"""Done-when #3 and #4: the connector against the embedded exchange, through the connector only
(the sim's control endpoint is used to inject faults and move time, never to trade)."""
from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from connectors.binance import BinanceVenue
from connectors.binance.errors import UnknownOrder
from connectors.binance.trading import OrderNotPlaced
from connectors.sim import SimCluster, SimConfig, SimVenueConfig
from connectors.config import VenueConfig
from connectors.types import Health, InstrumentKey
from daemon.hub import HEALTH, Hub
from connectors.secrets import Secret
from tests.sim_time import lag_aware_wait

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


async def wait_for(pred: Callable[[], object], timeout: float, what: str) -> None:
    if not await lag_aware_wait(pred, timeout, every=0.02):
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def venue_config(info, **kw) -> VenueConfig:
    return VenueConfig(name=info.name, sim=True, symbols=SYMBOLS, rest_url=info.rest_url,
                       futures_rest_url=info.rest_url, spot_ws_url=info.spot_ws_url,
                       futures_ws_url=info.futures_ws_url, **kw)


async def control(info, **body) -> dict:
    async with aiohttp.ClientSession() as s, s.post(f"{info.rest_url}/sim/control",
                                                     json=body) as r:
        data = await r.json()
        assert r.status == 200, data
        return data


@pytest.fixture
async def sim() -> AsyncIterator[SimCluster]:
    cluster = SimCluster(SimConfig(venues=(SimVenueConfig(name="sim-a", symbols=tuple(SYMBOLS)),)))
    await cluster.start()
    try:
        yield cluster
    finally:
        await cluster.stop()


@pytest.fixture
async def venue(sim: SimCluster) -> AsyncIterator[tuple[BinanceVenue, Hub]]:
    info = sim.venues[0]
    hub = Hub()
    v = BinanceVenue(venue_config(info), hub, api_key=Secret(info.api_key),
                     api_secret=Secret(info.api_secret))
    await v.start()
    try:
        yield v, hub
    finally:
        await v.stop()


def keys(v: BinanceVenue) -> list[InstrumentKey]:
    return [InstrumentKey(v.name, m, s) for m in ("spot", "perp") for s in SYMBOLS]


def all_ready(v: BinanceVenue, hub: Hub) -> bool:
    return all(hub.book_ready(k)[0] for k in keys(v))


async def test_books_healthy_and_marks_within_5s(sim: SimCluster) -> None:
    info = sim.venues[0]
    hub = Hub()
    v = BinanceVenue(venue_config(info), hub, api_key=Secret(info.api_key),
                     api_secret=Secret(info.api_secret))
    t0 = time.monotonic()
    await v.start()
    try:
        await wait_for(lambda: all_ready(v, hub), 5.0 - (time.monotonic() - t0), "healthy books")
        await wait_for(lambda: all((v.name, s) in hub.marks for s in SYMBOLS), 5.0, "marks")
        for k in keys(v):
            book = hub.books[k]
            inst = hub.instruments[k]
            assert book.best_bid()[0] < book.best_ask()[0]
            assert inst.tick_size > 0 and inst.step_size > 0
        m = hub.marks[(v.name, "BTCUSDT")]
        assert m.mark_price > 0 and m.index_price > 0 and m.next_funding_ms > 0
        assert m.interval_h == hub.instruments[InstrumentKey(v.name, "perp", "BTCUSDT")].funding_interval_h
        # the user streams are up and the account snapshot reached the hub
        await v.user.wait_connected(5.0)
        assert hub.balances[(v.name, "margin", "USDT")].free > 0
        assert hub.margin_accounts[v.name].margin_level > 0
    finally:
        await v.stop()


def ceil_step(x: float, step: float) -> float:
    return round(math.ceil(x / step - 1e-9) * step, 10)


async def test_reverse_basis_open_and_close_with_funding_and_interest(
        sim: SimCluster, venue: tuple[BinanceVenue, Hub]) -> None:
    v, hub = venue
    await wait_for(lambda: all_ready(v, hub), 5.0, "healthy books")
    await v.user.wait_connected(5.0)
    spot = hub.instruments[InstrumentKey(v.name, "spot", "BTCUSDT")]
    qty = ceil_step(0.01, spot.step_size)
    assert await v.max_borrowable("BTC") >= qty
    rates = await v.next_hourly_interest_rates(["BTC"])
    assert rates["BTC"] > 0 and hub.borrow[(v.name, "BTC")].hourly_rate == rates["BTC"]
    assert await v.set_leverage("BTCUSDT", 3) == 3

    # open: borrow-and-sell spot + buy perp, both built and signed first, then sent together
    a = v.prepare_spot_order("BTCUSDT", "SELL", qty, side_effect="MARGIN_BUY",
                             client_id="bd-test-open-a")
    b = v.prepare_perp_order("BTCUSDT", "BUY", qty, client_id="bd-test-open-b")
    ra, rb = await v.send_pair(a, b)
    assert ra.status == "FILLED" and rb.status == "FILLED", (ra, rb)
    await wait_for(lambda: hub.balances.get((v.name, "margin", "BTC")) is not None
                   and hub.balances[(v.name, "margin", "BTC")].borrowed >= qty - 1e-12,
                   5.0, "borrowed BTC from the user stream")
    await wait_for(lambda: (v.name, "BTCUSDT") in hub.positions
                   and abs(hub.positions[(v.name, "BTCUSDT")].qty - qty) < 1e-12, 5.0, "position")
    fills = hub.orders[(v.name, "bd-test-open-a")], hub.orders[(v.name, "bd-test-open-b")]
    assert all(o.is_final and o.filled_qty == qty for o in fills)

    # hold across a funding settlement (8 h of venue time = 60 s of scenario time at 480x)
    sim.advance(61.0, step=0.5)
    await wait_for(lambda: any(f.symbol in ("BTCUSDT", "") for f in hub.funding_fees), 10.0,
                   "funding fee from the futures user stream")
    await wait_for(lambda: any(c.asset == "BTC" and c.amount > 0 for c in hub.interest_charges),
                   10.0, "interest charge from the margin user stream")
    fee = hub.funding_fees[-1]
    assert fee.asset == "USDT" and fee.amount != 0 and fee.symbol == "BTCUSDT"

    # close: sell perp (reduce-only) + buy-and-repay the whole liability (principal + interest)
    liability = hub.balances[(v.name, "margin", "BTC")].liability
    assert liability > qty      # interest accrued in coin units
    buy = ceil_step(liability, spot.step_size) + spot.step_size
    c = v.prepare_perp_order("BTCUSDT", "SELL", qty, reduce_only=True, client_id="bd-test-close-b")
    d = v.prepare_spot_order("BTCUSDT", "BUY", buy, side_effect="AUTO_REPAY",
                             client_id="bd-test-close-a")
    rc, rd = await v.send_pair(c, d)
    assert rc.status == "FILLED" and rd.status == "FILLED", (rc, rd)
    await v.refresh_account()
    left = hub.balances[(v.name, "margin", "BTC")]
    if left.liability > 0:     # interest charged between our read and the fill: repay explicitly
        await v.repay("BTC", ceil_step(left.liability, 1e-8))
        await v.refresh_account()
        left = hub.balances[(v.name, "margin", "BTC")]
    assert left.borrowed == 0 and left.interest == 0
    assert hub.positions[(v.name, "BTCUSDT")].qty == 0


async def test_ws_drop_reconnects_and_resnapshots_with_books_unhealthy_meanwhile(
        sim: SimCluster, venue: tuple[BinanceVenue, Hub]) -> None:
    v, hub = venue
    await wait_for(lambda: all_ready(v, hub), 5.0, "healthy books")
    seen: dict[str, list[Health]] = {}
    hub.subscribe(lambda kind, item: seen.setdefault(item[1], []).append(item[2].health)
                  if kind == HEALTH else None)
    snaps = v.market.snapshots
    await control(sim.venues[0], action="drop_ws")
    await wait_for(lambda: all(any(h is not Health.HEALTHY for h in seen.get(f"{k.market}:"
                                                                          f"{k.symbol}:book", []))
                               for k in keys(v)), 5.0, "books marked unhealthy")
    await wait_for(lambda: all_ready(v, hub), 10.0, "books healthy again")
    assert v.market.snapshots >= snaps + 4
    for k in keys(v):
        hist = seen[f"{k.market}:{k.symbol}:book"]
        assert hist[-1] is Health.HEALTHY
        assert Health.DOWN in hist or Health.STALE in hist
        assert Health.RESYNCING in hist         # after reconnect: snapshot pending


async def test_skipped_diff_is_detected_and_resynced(
        sim: SimCluster, venue: tuple[BinanceVenue, Hub]) -> None:
    v, hub = venue
    await wait_for(lambda: all_ready(v, hub), 5.0, "healthy books")
    reasons: list[tuple[str, str]] = []
    hub.subscribe(lambda kind, item: reasons.append((item[1], item[2].reason))
                  if kind == HEALTH and item[2].health is Health.RESYNCING else None)
    for market, name in (("futures", "perp"), ("spot", "spot")):
        gaps = v.market.gaps_detected
        await control(sim.venues[0], action="skip_diff", symbol="BTCUSDT", market=market)
        await wait_for(lambda: v.market.gaps_detected > gaps, 5.0, f"{market} gap detected")
        assert any(s == f"{name}:BTCUSDT:book" and "gap" in r for s, r in reasons)
        await wait_for(lambda: all_ready(v, hub), 5.0, "resynced")


async def test_crossed_diff_marks_the_stream_resyncing_and_a_snapshot_recovers(
        sim: SimCluster, venue: tuple[BinanceVenue, Hub]) -> None:
    """Issue 12: a crossed book blocked opens but the stream stayed "healthy" and was never resynced.
    The sim's `cross_book` fault publishes one diff with a phantom bid above the best ask (the
    engine's own book, and so the next REST snapshot, never holds it)."""
    v, hub = venue
    await wait_for(lambda: all_ready(v, hub), 5.0, "healthy books")
    seen: list[tuple[str, Health, str]] = []
    hub.subscribe(lambda kind, item: seen.append((item[1], item[2].health, item[2].reason))
                  if kind == HEALTH else None)
    for market, name in (("futures", "perp"), ("spot", "spot")):
        stream = f"{name}:BTCUSDT:book"
        crossed, snapshots, gaps = v.market.crossed_books, v.market.snapshots, v.market.gaps_detected
        del seen[:]
        await control(sim.venues[0], action="cross_book", symbol="BTCUSDT", market=market)
        await wait_for(lambda: v.market.crossed_books > crossed, 5.0, f"{market} crossing seen")
        unhealthy = [(h, r) for s, h, r in seen if s == stream and h is not Health.HEALTHY]
        assert unhealthy and unhealthy[0][0] is Health.RESYNCING and "crossed" in unhealthy[0][1]
        await wait_for(lambda: all_ready(v, hub), 5.0, f"{market} resynced")
        assert v.market.snapshots > snapshots           # recovered through a fresh snapshot
        assert v.market.gaps_detected == gaps           # not a sequence gap: the ids were fine
        assert (stream, Health.HEALTHY, "") in seen
        book = hub.book(InstrumentKey(v.name, name, "BTCUSDT"))
        assert not book.is_crossed() and book.is_two_sided()


async def test_order_timeout_is_resolved_by_client_id_without_duplicate(sim: SimCluster) -> None:
    info = sim.venues[0]
    hub = Hub()
    v = BinanceVenue(venue_config(info, request_timeout_s=0.5, recv_window_ms=1000), hub,
                     api_key=Secret(info.api_key), api_secret=Secret(info.api_secret))
    await v.start()
    try:
        await v.trading.position_risk("ETHUSDT")
        before = hub.positions[(v.name, "ETHUSDT")].qty
        await control(info, action="rest_timeout", n=1, market="futures", seconds=30)
        p = v.prepare_perp_order("ETHUSDT", "BUY", 0.01, client_id="bd-test-timeout")
        update = await v.send(p)
        assert update.client_id == "bd-test-timeout" and update.status == "FILLED"
        assert v.trading.unknown_resolved == 1
        await v.trading.position_risk("ETHUSDT")
        assert abs(hub.positions[(v.name, "ETHUSDT")].qty - before - 0.01) < 1e-12  # no duplicate

        # a 5xx that did NOT execute resolves to "never placed" once recvWindow has passed
        await control(info, action="rest_5xx", n=1, market="futures", executed=False)
        p = v.prepare_perp_order("ETHUSDT", "BUY", 0.01, client_id="bd-test-5xx")
        with pytest.raises(OrderNotPlaced):
            await v.send(p)
        with pytest.raises(UnknownOrder):
            await v.get_order("ETHUSDT", market="perp", client_id="bd-test-5xx")
        await v.trading.position_risk("ETHUSDT")
        assert abs(hub.positions[(v.name, "ETHUSDT")].qty - before - 0.01) < 1e-12
    finally:
        await v.stop()


async def test_429_backs_off_and_never_earns_a_418() -> None:
    cfg = SimConfig(venues=(SimVenueConfig(name="sim-w", symbols=tuple(SYMBOLS),
                                           spot_weight_limit=300),))
    async with SimCluster(cfg) as sim:
        info = sim.venues[0]
        hub = Hub()
        v = BinanceVenue(venue_config(info), hub, api_key=None, api_secret=None)
        await v.rest.open()
        try:
            async def poll() -> None:
                while True:   # a careless poller: the session must protect the IP
                    await v.rest.request("GET", info.rest_url, "/api/v3/depth",
                                         {"symbol": "BTCUSDT", "limit": 1000}, weight=50)

            task = asyncio.create_task(poll())
            await wait_for(lambda: v.rest.status_counts.get(429, 0) >= 1, 5.0, "a 429")
            sent = v.rest.requests_sent
            paused = v.rest.paused_until - time.time()
            await asyncio.sleep(min(2.0, max(0.0, paused - 0.2)))
            if paused > 0.5:
                assert v.rest.requests_sent == sent      # nothing sent while Retry-After runs
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        finally:
            await v.rest.close()
        assert 418 not in v.rest.status_counts
        assert v.rest.status_counts[429] <= 2
        assert v.rest.banned_until == 0.0

"""Funding history: store, normalisation to the grid, live extension, OU fit; Binance
/fapi/v1/fundingRate through a real aiohttp server on loopback serving the real BTC history."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

from daemon.core.economics import fit_ou
from connectors.binance.funding_history import binance_fetcher, decode_funding_rows
from daemon.opportunity.funding_feed import FundingFeed, FundingStore, evenly_spaced_tail
from daemon.core.funding_history import parse_funding_csv
from connectors.types import Mark
from daemon.hub import Hub

from tests.conftest import ROOT
REALDATA = Path(os.environ.get("BASISD_REALDATA", ROOT.parent / "shared" / "realdata"))
H = 3_600_000
SLOT = 1_700_006_400_000


def _real_btc() -> list[tuple[int, float]]:
    name = "BTC-USDT_binance_2020-01-01_2024-01-01_funding_history.csv"
    text = (REALDATA / "funding_history" / name).read_text()
    series = parse_funding_csv(text, tz_offset_hours=3)
    assert series.rows == 4383 and series.evenly_spaced
    return list(zip(series.slot_ms, series.rate))


def _mark(rate: float, next_ms: int, interval_h: float = 8.0,
          settled: float | None = None) -> Mark:
    return Mark(venue="a", symbol="BTCUSDT", mark_price=50_000.0, index_price=50_000.0,
                funding_rate=rate, next_funding_ms=next_ms, interval_h=interval_h,
                ts_ms=next_ms - H, last_settled_rate=settled)


def test_store_snaps_jitter_and_fits_the_whole_real_series() -> None:
    pts = _real_btc()
    jittered = [(ts + (i % 48), r) for i, (ts, r) in enumerate(pts)]     # Binance-like +0..47 ms
    store = FundingStore(min_history=30)
    key = ("a", "BTCUSDT")
    store.set_interval(key, 8.0)
    store.add_points(key, jittered)
    series = store.series(key)
    assert series is not None and series.evenly_spaced and len(series.slot_ms) == 4383
    assert series.slot_ms == [ts for ts, _ in pts]
    st = store.stats(key)
    assert st is not None and st.samples == 4383 and st.fit is not None
    assert st.fit == fit_ou([r for _, r in pts], 8.0)
    assert st.last_settled_ms == pts[-1][0] and st.last_settled_rate == pts[-1][1]


def test_settlement_detected_from_the_mark_stream_and_venue_row_wins() -> None:
    store = FundingStore(min_history=3)
    key = ("a", "BTCUSDT")
    hist = [(SLOT - k * 8 * H + 7, 0.0001 * (1 + (k % 3))) for k in range(10, 0, -1)]
    store.add_points(key, hist)
    assert store.on_mark(_mark(-0.0002, SLOT)) is None             # first sight: nothing settled
    assert store.on_mark(_mark(-0.0003, SLOT)) is None             # same slot: predicted moves
    got = store.on_mark(_mark(-0.0001, SLOT + 8 * H))               # next_funding_ms moved on
    assert got == (SLOT, -0.0003)                                   # last predicted for the slot
    series = store.series(key)
    assert series is not None and series.slot_ms[-1] == SLOT and series.rate[-1] == -0.0003
    assert series.evenly_spaced and store.settlements_seen == 1
    # The venue publishes the settled row, stamped 5 ms late with the exact value: it replaces
    # the inferred one (no duplicate slot, no stale value).
    store.add_points(key, [(SLOT + 5, -0.00031)])
    series = store.series(key)
    assert series is not None and series.rate[-1] == -0.00031 and not series.duplicates
    # An inferred point arriving after the venue row does not overwrite it.
    store.add_points(key, [(SLOT, -0.5)], inferred=True)
    assert store.series(key).rate[-1] == -0.00031
    # The venue's own last settled rate on the mark beats the last prediction.
    got = store.on_mark(_mark(0.0, SLOT + 16 * H, settled=-0.00012))
    assert got == (SLOT + 8 * H, -0.00012)


def test_interval_change_fits_only_the_tail_on_the_new_grid() -> None:
    store = FundingStore(min_history=3)
    key = ("a", "ETHUSDT")
    eight = [(SLOT - k * 8 * H, 0.0001) for k in range(20, 0, -1)]
    store.add_points(key, eight)
    store.set_interval(key, 4.0)                    # the venue moved ETH to 4 h settlements
    four = [(SLOT + k * 4 * H, 0.0001 * (k % 3)) for k in range(0, 6)]
    store.add_points(key, four)
    series = store.series(key)
    assert series is not None and series.interval_ms == 4 * H
    tail = evenly_spaced_tail(series)
    assert tail == [r for _, r in four]
    st = store.stats(key)
    assert st is not None and st.interval_h == 4.0 and st.samples == 6


def test_short_history_has_no_fit_and_says_why() -> None:
    store = FundingStore(min_history=30)
    key = ("a", "BTCUSDT")
    store.add_points(key, [(SLOT + k * 8 * H, 0.0001 * k) for k in range(5)])
    st = store.stats(key)
    assert st is not None and st.fit is None and "5 evenly spaced samples < 30" in st.fit_error


def test_decode_binance_rows() -> None:
    body = (b'[{"symbol":"BTCUSDT","fundingTime":1698796800000,"fundingRate":"-0.00010000",'
            b'"markPrice":"34600.1"},{"symbol":"BTCUSDT","fundingRate":"0.00010000",'
            b'"fundingTime":1698825600001,"markPrice":""}]')
    assert decode_funding_rows(body) == [(1698796800000, -0.0001), (1698825600001, 0.0001)]


async def _serve_history(rows: list[tuple[int, float]]) -> tuple[web.AppRunner, str, list[dict]]:
    calls: list[dict] = []

    async def funding_rate(request: web.Request) -> web.Response:
        q = dict(request.query)
        calls.append(q)
        limit = int(q.get("limit", "100"))
        sel = [(t, r) for t, r in rows if t >= int(q["startTime"])] if "startTime" in q else rows
        sel = sel[:limit] if "startTime" in q else sel[-limit:]
        body = [{"symbol": q["symbol"], "fundingTime": t + 3, "fundingRate": f"{r:.8f}",
                 "markPrice": "50000.0"} for t, r in sel]
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_get("/fapi/v1/fundingRate", funding_rate)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]   # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}", calls


async def test_feed_fetches_at_start_and_refetches_after_a_settlement() -> None:
    rows = _real_btc()
    runner, url, calls = await _serve_history(rows)
    hub = Hub()
    try:
        async with aiohttp.ClientSession() as session:
            feed = FundingFeed(hub, {"a": binance_fetcher(session, url)}, {"a": ["BTCUSDT"]},
                               min_history=30, refetch_delay_s=0.0)
            await feed.start()
            st = feed.stats()[("a", "BTCUSDT")]
            # Binance returns at most 1000 rows: the latest 1000 settlements.
            assert calls[0] == {"symbol": "BTCUSDT", "limit": "1000"}
            assert st.samples == 1000 and st.fit == fit_ou([r for _, r in rows[-1000:]], 8.0)
            assert st.last_settled_ms == rows[-1][0]
            # Live: the mark stream crosses the next settlement; the inferred value is used at
            # once, then the refetch (startTime one interval back) brings the venue's row.
            nxt = rows[-1][0] + 8 * H
            rows.append((nxt, -0.00077))
            hub.set_mark(_mark(-0.0007, nxt))
            hub.set_mark(_mark(-0.0001, nxt + 8 * H))
            assert feed.stats()[("a", "BTCUSDT")].last_settled_rate == -0.0007
            for _ in range(200):
                if len(calls) >= 2 and feed.stats()[("a", "BTCUSDT")].last_settled_rate != -0.0007:
                    break
                await asyncio.sleep(0.01)
            assert calls[1]["startTime"] == str(nxt - 8 * H)
            st = feed.stats()[("a", "BTCUSDT")]
            assert st.last_settled_rate == pytest.approx(-0.00077) and st.last_settled_ms == nxt
            assert st.samples == 1001
            await feed.stop()
    finally:
        await runner.cleanup()


async def test_feed_survives_a_failing_fetch() -> None:
    async def broken(symbol: str, start_ms: int | None, limit: int) -> list[tuple[int, float]]:
        raise RuntimeError("HTTP 503")
    feed = FundingFeed(Hub(), {"a": broken}, {"a": ["BTCUSDT"]})
    await feed.start()
    assert feed.stats() == {} and "503" in feed.errors[("a", "BTCUSDT")]
    await feed.stop()

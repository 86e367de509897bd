"""Issue 11 through a real admin-API request: a long/short with both legs on one venue account is
a 400 naming `venues.short`; a pair that offsets an open one is a 409 naming it. Nothing is sent."""
from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from connectors.types import Balance, Borrow, Health, Instrument, InstrumentKey, book_stream
from daemon.legging.config import LeggingConfig
from daemon.legging.engine import LeggingEngine

from tests.daemon.legging.legging_fakes import PRICE, FakeVenue, make_hub
from tests.daemon.legging.test_legging_api import serving


def _add_venue(hub: Any, venue: str, symbol: str = "BTCUSDT") -> None:
    """A second venue on the same hub, set up as make_hub sets up the first."""
    for market, tick, step in (("spot", 0.01, 0.00001), ("perp", 0.1, 0.001)):
        hub.set_instrument(Instrument(venue=venue, market=market, symbol=symbol, base="BTC",
                                      quote="USDT", tick_size=tick, step_size=step, min_qty=step))
        key = InstrumentKey(venue, market, symbol)
        hub.book(key).load_snapshot([(PRICE - tick * i, 5.0) for i in range(1, 30)],
                                    [(PRICE + tick * i, 5.0) for i in range(0, 29)], last_update_id=1)
        hub.set_health(venue, book_stream(key), Health.HEALTHY)
        hub.touch(venue, book_stream(key), int(time.time() * 1000))
    hub.set_borrow(Borrow(venue=venue, asset="BTC", hourly_rate=1e-6, max_borrowable=50.0))
    for wallet in ("margin", "futures"):
        hub.set_balance(Balance(venue=venue, wallet=wallet, asset="USDT", free=100_000.0))


@pytest.fixture
async def api() -> AsyncIterator[tuple[aiohttp.ClientSession, LeggingEngine, dict[str, FakeVenue]]]:
    hub = make_hub("sim-a")
    _add_venue(hub, "sim-b")
    venues = {"sim-a": FakeVenue(hub, "sim-a"), "sim-b": FakeVenue(hub, "sim-b")}
    eng = LeggingEngine(hub, venues, LeggingConfig())  # type: ignore[arg-type]
    async with serving(eng) as s:
        yield s, eng, venues


def _open(pair_type: str, venues: dict[str, str]) -> dict[str, Any]:
    return {"type": pair_type, "symbol": "BTCUSDT", "notional_usd": 3000, "execution": "taker",
            "venues": venues}


async def test_a_long_short_on_one_venue_account_is_a_400_naming_the_field(api: Any) -> None:
    s, eng, venues = api
    r = await s.post("/v1/positions", json=_open("long_short", {"long": "sim-a", "short": "sim-a"}))
    body = await r.json()
    assert r.status == 400, body
    assert body["field"] == "venues.short" and "two venue accounts" in body["error"]
    assert not venues["sim-a"].sent and not eng.pairs


async def test_the_opposite_of_an_open_pair_is_a_409_naming_it(api: Any) -> None:
    s, eng, venues = api
    r = await s.post("/v1/positions", json=_open("long_short", {"long": "sim-b", "short": "sim-a"}))
    assert r.status == 202, await r.json()
    pid = (await r.json())["id"]
    await eng.wait_idle(pid)
    sent = len(venues["sim-a"].sent) + len(venues["sim-b"].sent)
    r = await s.post("/v1/positions", json=_open("long_short", {"long": "sim-a", "short": "sim-b"}))
    body = await r.json()
    assert r.status == 409, body
    assert body["field"] == "venues" and pid in body["error"] and "net to zero" in body["error"]
    assert len(venues["sim-a"].sent) + len(venues["sim-b"].sent) == sent
    assert list(eng.pairs) == [pid]
    # the same direction again is no offset: it opens (a bigger position, not a net-zero one)
    r = await s.post("/v1/positions", json=_open("long_short", {"long": "sim-b", "short": "sim-a"}))
    assert r.status == 202, await r.json()


async def test_a_basis_against_an_open_reverse_basis_is_refused(api: Any) -> None:
    s, eng, _venues = api
    r = await s.post("/v1/positions", json=_open("reverse_basis", {"spot": "sim-a", "perp": "sim-a"}))
    assert r.status == 202, await r.json()
    await eng.wait_idle((await r.json())["id"])
    r = await s.post("/v1/positions", json=_open("basis", {"spot": "sim-a", "perp": "sim-a"}))
    assert r.status == 409 and (await r.json())["field"] == "venues"


async def test_a_watchdog_operation_keeps_its_reason_on_the_pair(api: Any) -> None:
    s, eng, _venues = api
    r = await s.post("/v1/positions", json=_open("reverse_basis", {"spot": "sim-a", "perp": "sim-a"}))
    pid = (await r.json())["id"]
    await eng.wait_idle(pid)
    await eng.decrease_now(pid, 0.5, reason="perp leg on sim-a 12.00% from liquidation: trim 50.0%")
    view = (await (await s.get(f"/v1/positions/{pid}")).json())
    assert view["state"] == "open" and view["reason"].startswith("perp leg on sim-a 12.00%")
    await eng.liquidate_now(pid, reason="halt: flatten")
    view = (await (await s.get(f"/v1/positions/{pid}")).json())
    assert view["state"] == "closed" and view["reason"] == "halt: flatten"

"""/v1/positions over the lead's AdminServer on a real unix socket."""
from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from daemon.ops.admin import AdminServer
from daemon.legging.engine import LeggingEngine
from daemon.legging.config import LeggingConfig
from daemon.legging.api import position_routes

from tests.daemon.legging.legging_fakes import FakeVenue, make_hub


class _Log:
    def error(self, *a: Any, **k: Any) -> None:
        logging.getLogger("test").error("%s %s", a, k)

    def info(self, *a: Any, **k: Any) -> None:
        logging.getLogger("test").info("%s %s", a, k)


@asynccontextmanager
async def serving(eng: LeggingEngine) -> AsyncIterator[aiohttp.ClientSession]:
    """The engine's /v1/positions routes on a real unix socket, and a client session on it."""
    d = Path(tempfile.mkdtemp(prefix="bdl", dir="/tmp"))
    server = AdminServer(str(d / "a.sock"), group=None, max_body=65536, status=dict, log=_Log())
    server.add_routes(position_routes(eng))
    await server.start()
    conn = aiohttp.UnixConnector(path=str(d / "a.sock"))
    try:
        async with aiohttp.ClientSession(connector=conn, base_url="http://basisd") as s:
            yield s
    finally:
        await server.stop()
        await eng.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
async def client() -> AsyncIterator[tuple[aiohttp.ClientSession, LeggingEngine, FakeVenue]]:
    hub = make_hub()
    venue = FakeVenue(hub)
    eng = LeggingEngine(hub, {"sim-a": venue}, LeggingConfig())
    async with serving(eng) as s:
        yield s, eng, venue


async def test_open_get_close_flow(client: Any) -> None:
    s, eng, venue = client
    r = await s.post("/v1/positions", json={"type": "reverse_basis", "symbol": "BTCUSDT",
                                            "notional_usd": 10000, "execution": "taker",
                                            "venues": {"spot": "sim-a", "perp": "sim-a"}})
    assert r.status == 202
    pid = (await r.json())["id"]
    await eng.wait_idle(pid)
    r = await s.get(f"/v1/positions/{pid}")
    body = await r.json()
    assert r.status == 200
    for k in ("id", "type", "symbol", "state", "legs", "residual_base", "pnl"):
        assert k in body
    assert body["state"] == "open"
    for leg in body["legs"]:
        assert {"venue", "market", "side", "qty", "avg_price", "liq_distance_pct"} <= set(leg)
        assert leg["liq_distance_pct"] > 0
    assert set(body["pnl"]) >= {"funding", "interest", "fees", "basis", "net"}
    r = await s.get("/v1/positions")
    assert [p["id"] for p in (await r.json())["positions"]] == [pid]
    r = await s.post(f"/v1/positions/{pid}/close", json={})
    assert r.status == 400 and (await r.json())["field"] == "confirm"
    assert "confirm" in (await r.json())["error"]
    r = await s.post(f"/v1/positions/{pid}/decrease", json={"fraction": 0.75})
    assert r.status == 400 and (await r.json())["field"] == "confirm"
    r = await s.post(f"/v1/positions/{pid}/decrease", json={"fraction": 0.25})
    assert r.status == 202
    await eng.wait_idle(pid)
    r = await s.post(f"/v1/positions/{pid}/close", json={"confirm": True})
    assert r.status == 202
    await eng.wait_idle(pid)
    assert (await (await s.get(f"/v1/positions/{pid}")).json())["state"] == "closed"


@pytest.mark.parametrize("body,field", [
    ({"type": "x", "symbol": "BTCUSDT", "notional_usd": 1}, "type"),
    ({"type": "basis", "symbol": "btc", "notional_usd": 1}, "symbol"),
    ({"type": "basis", "symbol": "BTCUSDT", "notional_usd": -1}, "notional_usd"),
    ({"type": "basis", "symbol": "BTCUSDT", "notional_usd": True}, "notional_usd"),
    ({"type": "basis", "symbol": "BTCUSDT"}, "notional_usd"),
    ({"type": "basis", "symbol": "BTCUSDT", "notional_usd": 5, "execution": "yolo"}, "execution"),
    ({"type": "basis", "symbol": "BTCUSDT", "notional_usd": 5, "venues": {"long": "a"}},
     "venues.long"),
    ({"type": "basis", "symbol": "BTCUSDT", "notional_usd": 5, "venues": {"spot": "zz"}},
     "venues.spot"),
    ({"type": "basis", "symbol": "BTCUSDT", "notional_usd": 5, "extra": 1}, "extra"),
])
async def test_bad_input_names_the_field(client: Any, body: dict[str, Any], field: str) -> None:
    s, _, venue = client
    r = await s.post("/v1/positions", json=body)
    assert 400 <= r.status < 500
    assert (await r.json())["field"] == field
    assert not venue.sent


async def test_unknown_position_and_op(client: Any) -> None:
    s, _, _ = client
    r = await s.get("/v1/positions/nope1234")
    assert r.status == 404
    r = await s.post("/v1/positions/nope1234/close", json={"confirm": True})
    assert r.status == 404
    r = await s.post("/v1/positions/nope1234/explode", json={})
    assert r.status == 404
    r = await s.post("/v1/positions", data=b"{not json")
    assert r.status == 400

"""SimCluster / run_sim: two seeded venues on their own loopback ports, one JSON line each on
stdout, realtime clock driving the engine, clean exit on SIGTERM."""
from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from connectors.sim import SimCluster, SimConfig, load_sim_config, run_sim

from tests.conftest import ROOT
CONFIG = """
seed = 5
clock = "realtime"
[[venues]]
name = "sim-a"
scenario = ""
[[venues]]
name = "sim-b"
scenario = ""
symbols = ["ETHUSDT"]
"""
KEYS = {"venue", "dialect", "rest", "spot_ws", "futures_ws", "ws_api", "margin_risk_ws", "api_key",
        "api_secret"}


def test_config_rejects_unknown_fields_and_duplicates(tmp_path: Path) -> None:
    p = tmp_path / "sim.toml"
    p.write_text(CONFIG)
    cfg = load_sim_config(str(p), seed=9)
    assert cfg.seed == 9 and [v.name for v in cfg.venues] == ["sim-a", "sim-b"]
    assert cfg.venues[1].symbols == ("ETHUSDT",)
    p.write_text(CONFIG + "bogus = 1\n")
    with pytest.raises(Exception, match="bogus"):
        load_sim_config(str(p))
    p.write_text(CONFIG.replace('"sim-b"', '"sim-a"'))
    with pytest.raises(Exception, match="duplicate"):
        load_sim_config(str(p))


async def test_run_sim_prints_one_line_per_venue_and_stops(tmp_path: Path) -> None:
    p = tmp_path / "sim.toml"
    p.write_text(CONFIG)
    out, stop = io.StringIO(), asyncio.Event()
    task = asyncio.create_task(run_sim(str(p), 5, out=out, stop=stop))
    for _ in range(200):
        if out.getvalue().count("\n") == 2:
            break
        await asyncio.sleep(0.05)
    lines = [orjson.loads(x) for x in out.getvalue().splitlines()]
    assert [x["venue"] for x in lines] == ["sim-a", "sim-b"] and all(set(x) == KEYS for x in lines)
    assert len({x["rest"] for x in lines}) == 2 and lines[0]["api_key"] != lines[1]["api_key"]
    async with aiohttp.ClientSession() as s:
        async with s.get(lines[1]["rest"] + "/fapi/v1/exchangeInfo") as r:
            assert {x["symbol"] for x in (await r.json())["symbols"]} == {"ETHUSDT"}
        # realtime: the venue clock moves on its own
        async with s.get(lines[0]["rest"] + "/api/v3/time") as r:
            t0 = (await r.json())["serverTime"]
        assert abs(t0 - time.time() * 1000) < 3_600_000   # realtime: venue clock starts at wall
        await asyncio.sleep(0.5)
        async with s.get(lines[0]["rest"] + "/api/v3/time") as r:
            assert (await r.json())["serverTime"] > t0
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_same_seed_same_credentials_and_market() -> None:
    cfg = SimConfig(seed=3, clock="manual")
    cfg = SimConfig(seed=3, clock="manual", venues=tuple(
        v.__class__(name=v.name, scenario="") for v in cfg.venues))
    async with SimCluster(cfg) as a, SimCluster(cfg) as b:
        assert [v.api_key for v in a.venues] == [v.api_key for v in b.venues]
        a.advance(2.0)
        b.advance(2.0)
        async with aiohttp.ClientSession() as s:
            books = []
            for sim in (a, b):
                async with s.get(sim.venues[0].rest_url + "/fapi/v1/depth?symbol=BTCUSDT") as r:
                    books.append(await r.json())
        assert books[0] == books[1]


def test_run_sim_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    p = tmp_path / "sim.toml"
    p.write_text(CONFIG)
    code = ("import asyncio, sys; from connectors.sim import run_sim; "
            "asyncio.run(run_sim(sys.argv[1], 1))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(p)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None
        lines = [orjson.loads(proc.stdout.readline()) for _ in range(2)]
        assert [x["venue"] for x in lines] == ["sim-a", "sim-b"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

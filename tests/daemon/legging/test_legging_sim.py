"""The engine through the real Binance connector against the embedded exchange."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connectors.binance import BinanceVenue
from connectors.sim import SimCluster, SimConfig, SimVenueConfig
from connectors.config import VenueConfig
from connectors.types import InstrumentKey
from daemon.hub import Hub
from daemon.journal import Journal
from daemon.legging.engine import LeggingEngine
from connectors.binance.legs import BinanceLegVenue
from daemon.legging.config import LeggingConfig
from connectors.secrets import Secret
from tests.sim_time import wait_until

SYMBOLS = ["BTCUSDT"]
CFG = LeggingConfig(chase_escalate_after_s=3.0, complete_budget_s=0.5, backoff_base_s=0.02,
                    backoff_cap_s=0.2)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[LeggingEngine, BinanceVenue, SimCluster]]:
    cluster = SimCluster(SimConfig(venues=(SimVenueConfig(name="sim-a", symbols=tuple(SYMBOLS)),)))
    await cluster.start()
    info = cluster.venues[0]
    hub = Hub()
    cfg = VenueConfig(name=info.name, sim=True, symbols=SYMBOLS, rest_url=info.rest_url,
                      futures_rest_url=info.rest_url, spot_ws_url=info.spot_ws_url,
                      futures_ws_url=info.futures_ws_url)
    v = BinanceVenue(cfg, hub, api_key=Secret(info.api_key), api_secret=Secret(info.api_secret))
    await v.start()
    keys = [InstrumentKey("sim-a", m, "BTCUSDT") for m in ("spot", "perp")]
    await wait_until(lambda: all(hub.book_ready(k)[0] for k in keys), 10, "books")
    eng = LeggingEngine(hub, {"sim-a": BinanceLegVenue(v)}, CFG, Journal(tmp_path))
    await eng.start()
    try:
        yield eng, v, cluster
    finally:
        await eng.stop()
        await v.stop()
        await cluster.stop()


@pytest.mark.parametrize("execution", ["taker", "chase"])
async def test_reverse_basis_open_close_on_sim(rig: Any, execution: str) -> None:
    eng, v, cluster = rig
    pid = await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, execution)
    await eng.wait_idle(pid, 30)
    view = eng.view(pid)
    assert view["state"] == "open", (view["reason"], eng.pairs[pid].meta, [(o.client_id, o.status, o.error, o.price) for o in eng.pairs[pid].orders.values() if o.error])
    assert abs(view["residual_base"]) <= view["residual_tolerance"]
    assert view["legs"][1]["qty"] > 0
    await eng.close(pid, "taker")
    await eng.wait_idle(pid, 30)
    view = eng.view(pid)
    assert view["state"] == "closed", (view["reason"], view["legs"], [(o.client_id, o.status, o.error, o.qty, o.filled, o.price) for o in eng.pairs[pid].orders.values()])
    await v.refresh_account()
    bal = eng.hub.balances.get(("sim-a", "margin", "BTC"))
    assert bal is None or bal.liability == pytest.approx(0, abs=1e-9)
    pos = eng.hub.positions.get(("sim-a", "BTCUSDT"))
    assert pos is None or pos.qty == pytest.approx(0, abs=1e-9)

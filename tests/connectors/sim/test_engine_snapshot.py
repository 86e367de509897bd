"""The exchange's snapshot (engine/snapshot.py) and its persistence in the cluster."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.sim.config import SimConfig, SimVenueConfig
from connectors.sim.engine import Exchange
from connectors.sim.engine.snapshot import SnapshotMismatch, restore, to_dict
from connectors.sim.server.cluster import SimCluster

CFG = SimVenueConfig(name="sim-a", symbols=("BTCUSDT",), scenario="")


def _durable(ex: Exchange) -> bytes:
    # book update ids only move forward on a restore (a client never sees a sequence go back)
    return orjson.dumps({k: v for k, v in to_dict(ex).items() if k != "book_ids"})


def _trade(ex: Exchange) -> str:
    acct = ex.account_for_key(ex.default_account()[0])
    assert acct is not None
    ex.advance(5)
    ex.margin_borrow_repay(acct, {"asset": "BTC", "amount": "0.1", "type": "BORROW"})
    ex.futures_new_order(acct, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                "quantity": "0.01"})
    ex.margin_new_order(acct, {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                               "quantity": "0.01", "price": "1000", "timeInForce": "GTC"})
    ex.advance(3)
    return acct


def test_a_restored_exchange_is_the_same_venue_and_goes_on_identically() -> None:
    a = Exchange(CFG, 7)
    acct = _trade(a)
    b = Exchange(CFG, 7)
    restore(b, orjson.loads(orjson.dumps(to_dict(a))))
    assert _durable(b) == _durable(a)
    assert b.futures_position_risk(acct)[0]["positionAmt"] == "0.010"
    assert len(b.margin_open_orders(acct)) == 1 and b.now_ms() == a.now_ms()
    a.advance(20)
    b.advance(20)
    assert _durable(a) == _durable(b)
    assert b.totals_by_asset() == a.genesis_totals


def test_a_snapshot_of_another_venue_is_refused() -> None:
    doc: dict[str, Any] = to_dict(Exchange(CFG, 7))
    with pytest.raises(SnapshotMismatch):
        restore(Exchange(CFG, 8), doc)


def test_the_cluster_saves_on_stop_resumes_on_start_and_fresh_starts_new(tmp_path: Path) -> None:
    cfg = SimConfig(seed=7, clock="manual", venues=(CFG,))

    async def run(fresh: bool) -> tuple[str, list[str]]:
        async with SimCluster(cfg, state_dir=tmp_path, fresh=fresh) as sim:
            ex = sim.venue("sim-a").server.exchange
            acct = ex.account_for_key(ex.default_account()[0])
            amt = ex.futures_position_risk(acct)[0]["positionAmt"]
            if float(amt) == 0:
                _trade(ex)
            return str(float(amt)), sim.resumed

    assert asyncio.run(run(False)) == ("0.0", [])
    assert (tmp_path / "sim-sim-a.json").exists()
    assert asyncio.run(run(False)) == ("0.01", ["sim-a"])
    assert asyncio.run(run(True)) == ("0.0", [])

"""The engine against an in-process venue: modes, partial fills, rejected legs, ops, recovery."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from daemon.journal import Journal
from daemon.legging.engine import EngineError, LeggingEngine
from daemon.legging.config import LeggingConfig
from connectors.types import FundingFee, InterestCharge

from tests.daemon.legging.legging_fakes import NO_BORROW, NO_MARGIN, FakeVenue, make_hub

CFG = LeggingConfig(chase_requote_min_interval_s=0.02, chase_escalate_after_s=1.0,
                    backoff_base_s=0.01, backoff_cap_s=0.05, batch_pause_s=0.01,
                    complete_budget_s=0.3)


def _engine(tmp: Path | None = None, cfg: LeggingConfig = CFG) -> tuple[LeggingEngine, FakeVenue]:
    hub = make_hub()
    venue = FakeVenue(hub)
    journal = Journal(tmp) if tmp is not None else None
    return LeggingEngine(hub, {"sim-a": venue}, cfg, journal), venue


@pytest.mark.parametrize("execution", ["taker", "chase", "batches"])
async def test_open_reverse_basis_each_mode(execution: str, tmp_path: Path) -> None:
    eng, venue = _engine(tmp_path)
    await eng.start()
    pid = await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, execution)
    await eng.wait_idle(pid, 10)
    v = eng.view(pid)
    assert v["state"] == "open", v
    assert abs(v["residual_base"]) <= v["residual_tolerance"]
    spot, perp = v["legs"]
    assert spot["side"] == "SELL" and spot["market"] == "spot_margin"
    assert perp["qty"] == pytest.approx(0.166, abs=1e-9) and spot["qty"] == pytest.approx(0.166)
    assert v["pnl"]["fees"] > 0
    sides = {(r.market, r.side, r.side_effect) for r in venue.sent}
    assert ("spot_margin", "SELL", "MARGIN_BUY") in sides and ("perp", "BUY", None) in sides
    if execution == "chase":
        assert all(r.order_type in ("LIMIT_MAKER", "LIMIT") for r in venue.sent)
        assert any(r.time_in_force == "GTX" for r in venue.sent)
    if execution == "batches":
        assert len(venue.sent) == 2 * CFG.batch_clips
    await eng.stop()


async def test_partial_fill_residual_restored() -> None:
    eng, venue = _engine()
    venue.fill_ratio["spot_margin"] = 0.5       # the spot IOC only half fills
    pid = await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, "taker")
    await eng.wait_idle(pid, 5)
    v = eng.view(pid)
    assert abs(v["residual_base"]) <= v["residual_tolerance"]
    assert v["state"] in ("open", "failed") and v["hedged"]


@pytest.mark.parametrize("pair_type", ["reverse_basis", "basis"])
@pytest.mark.parametrize("bad_leg", ["spot_margin", "perp"])
@pytest.mark.parametrize("execution", ["taker", "chase"])
async def test_one_leg_rejected_ends_flat_fast_bounded(pair_type: str, bad_leg: str,
                                                       execution: str) -> None:
    eng, venue = _engine()
    venue.reject[bad_leg] = NO_BORROW if bad_leg == "spot_margin" else NO_MARGIN
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    pid = await eng.open_pair(pair_type, "BTCUSDT", 10_000, execution)
    await eng.wait_idle(pid, 5)
    elapsed = loop.time() - t0
    v = eng.view(pid)
    assert v["hedged"] and abs(v["legs"][0]["signed_qty"]) < 1e-9 and \
        abs(v["legs"][1]["signed_qty"]) < 1e-9, v
    assert v["state"] == "failed" and "open abandoned" in v["reason"]
    assert elapsed < 2.0
    assert len(venue.sent) <= 4, [r.client_id for r in venue.sent]


async def test_long_short_two_venues() -> None:
    hub = make_hub("sim-a")
    hub_b = make_hub("sim-b")
    for k, inst in hub_b.instruments.items():
        hub.set_instrument(inst)
        hub.books[k] = hub_b.books[k]
        hub.streams.update(hub_b.streams)
    hub.set_balance(hub_b.balances[("sim-b", "futures", "USDT")])
    a, b = FakeVenue(hub, "sim-a"), FakeVenue(hub, "sim-b")
    eng = LeggingEngine(hub, {"sim-a": a, "sim-b": b}, CFG)
    pid = await eng.open_pair("long_short", "BTCUSDT", 5_000, "taker",
                              {"long": "sim-a", "short": "sim-b"})
    await eng.wait_idle(pid)
    v = eng.view(pid)
    assert v["state"] == "open" and [leg["venue"] for leg in v["legs"]] == ["sim-a", "sim-b"]
    assert a.sent[0].side == "BUY" and b.sent[0].side == "SELL"


async def test_operations_increase_decrease_close_and_accounting() -> None:
    eng, venue = _engine()
    pid = await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, "taker")
    await eng.wait_idle(pid)
    await eng.increase(pid, 5_000)
    await eng.wait_idle(pid)
    assert eng.view(pid)["legs"][1]["qty"] == pytest.approx(0.249)
    await eng.decrease(pid, 0.5)
    await eng.wait_idle(pid)
    v = eng.view(pid)
    assert v["state"] == "open" and v["legs"][1]["qty"] == pytest.approx(0.124, abs=0.0011)
    # funding and interest from venue events (via the hub)
    eng.hub.funding_fee(FundingFee(venue="sim-a", symbol="BTCUSDT", asset="USDT", amount=2.5,
                                   ts_ms=1))
    eng.hub.interest_charge(InterestCharge(venue="sim-a", asset="BTC", amount=0.00001, ts_ms=2))
    v = eng.view(pid)
    assert v["pnl"]["funding"] == pytest.approx(2.5)
    assert v["pnl"]["interest"] == pytest.approx(0.00001 * 60_000, rel=1e-3)
    await eng.close(pid)
    await eng.wait_idle(pid)
    v = eng.view(pid)
    assert v["state"] == "closed", v
    assert v["legs"][0]["signed_qty"] == pytest.approx(0, abs=1e-12)
    assert v["legs"][1]["signed_qty"] == pytest.approx(0, abs=1e-12)
    # the buy-back includes the interest: more bought than sold on the spot leg
    book = eng.pairs[pid].books[0]
    assert book.bought_qty == pytest.approx(book.sold_qty + 0.00001)
    ids = [r.client_id for r in venue.sent]
    assert len(ids) == len(set(ids))


async def test_input_errors_and_conflicts() -> None:
    eng, _ = _engine()
    with pytest.raises(EngineError) as e:
        await eng.open_pair("nope", "BTCUSDT", 1000)
    assert e.value.field == "type"
    with pytest.raises(EngineError) as e:
        await eng.open_pair("basis", "BTCUSDT", -5)
    assert e.value.field == "notional_usd"
    with pytest.raises(EngineError) as e:
        await eng.open_pair("basis", "BTCUSDT", 1000, venues={"spot": "nowhere"})
    assert e.value.field == "venues.spot"
    with pytest.raises(EngineError) as e:
        await eng.open_pair("basis", "DOGEUSDT", 1000)
    assert e.value.status == 422
    with pytest.raises(EngineError) as e:   # 15 BTC short on 100k USDT collateral
        await eng.open_pair("reverse_basis", "BTCUSDT", 900_000)
    assert "liquidation" in e.value.message and e.value.field == "notional_usd"
    from connectors.types import InstrumentKey
    thin = eng.hub.books[InstrumentKey("sim-a", "spot", "BTCUSDT")].copy()
    eng.hub.books[InstrumentKey("sim-a", "spot", "BTCUSDT")].load_snapshot(
        [(60_000 - 50 * i, 0.01) for i in range(1, 40)],
        [(60_000 + 50 * i, 0.01) for i in range(40)], last_update_id=2)
    with pytest.raises(EngineError) as e:
        await eng.open_pair("reverse_basis", "BTCUSDT", 10_000)
    assert "slippage" in e.value.message
    eng.hub.books[InstrumentKey("sim-a", "spot", "BTCUSDT")] = thin
    pid = await eng.open_pair("reverse_basis", "BTCUSDT", 1000, "taker")
    with pytest.raises(EngineError) as e:
        await eng.close(pid)            # still opening / busy
    assert e.value.status == 409
    await eng.wait_idle(pid)
    await eng.detach(pid)
    assert eng.view(pid)["state"] == "detached"
    with pytest.raises(EngineError):
        await eng.close(pid)


async def test_preflight_refuses_without_borrow() -> None:
    eng, venue = _engine()
    from connectors.types import Borrow
    eng.hub.set_borrow(Borrow(venue="sim-a", asset="BTC", hourly_rate=1e-6, max_borrowable=0.01))
    with pytest.raises(EngineError) as e:
        await eng.open_pair("reverse_basis", "BTCUSDT", 10_000)
    assert "max borrowable" in e.value.message and not venue.sent


async def test_liquidate_flattens_with_market_orders() -> None:
    eng, venue = _engine()
    pid = await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, "taker")
    await eng.wait_idle(pid)
    await eng.liquidate(pid)
    await eng.wait_idle(pid)
    v = eng.view(pid)
    assert v["state"] == "closed"
    assert [r.order_type for r in venue.sent[-2:]] == ["MARKET", "MARKET"]


async def test_restart_recovers_pair_and_unjournaled_order(tmp_path: Path) -> None:
    eng, venue = _engine(tmp_path)
    await eng.start()
    pid = await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, "taker")
    await eng.wait_idle(pid)
    await eng.stop()
    # A crash after sending: the venue holds an order of ours the journal never saw.
    from daemon.core import client_ids
    rt_cid = client_ids.make(pid, 0, "open", 1, "complete", 7)
    from connectors.types import OrderRequest
    await venue.send(OrderRequest(venue="sim-a", market="perp", symbol="BTCUSDT", side="BUY",
                                  order_type="LIMIT", qty=0.01, client_id=rt_cid, price=61_000.0,
                                  time_in_force="IOC"))
    eng2 = LeggingEngine(venue.hub, {"sim-a": venue}, CFG, Journal(tmp_path))
    await eng2.start()
    assert rt_cid in eng2.recovery_report["adopted"]
    assert eng2.pairs[pid].orders[rt_cid].filled == pytest.approx(0.01)
    assert eng2.pairs[pid].attempts["0:1"] >= 8           # never reuses attempt 7
    # the pair is open but 0.01 long: a repair happens on the next operation; residual is known
    assert eng2.view(pid)["residual_base"] == pytest.approx(0.01)
    await eng2.close(pid)
    await eng2.wait_idle(pid)
    assert eng2.view(pid)["state"] == "closed"
    ids = [r.client_id for r in venue.sent]
    assert len(ids) == len(set(ids))
    await eng2.stop()

"""Done-when 3: on the embedded exchange, during a scripted negative-funding regime on one
symbol, that symbol ranks first for reverse basis and the net APR shown equals a hand
computation from what the venue published."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from daemon.ctl import request
from connectors.types import InstrumentKey

from .simkit import rig, settle
from daemon.opportunity.config import ScannerConfig

SCENARIO = """
name = "eth_negative"
description = "ETH perp 0.2 % below spot from the start; BTC calm"
[[regimes]]
kind = "negative_funding"
start_s = 0
basis = -0.002
theta = 0.5
symbols = ["ETHUSDT"]
"""


def _walk_bps(levels: list[tuple[float, float]], qty: float, mid: float) -> float:
    """Average distance from the mid, in bps of the mid, to take `qty` (by hand)."""
    left, cost = qty, 0.0
    for price, q in levels:
        take = min(q, left)
        cost += take * abs(price - mid)
        left -= take
        if left <= 0:
            break
    assert left <= 1e-12, "book too thin for the hand computation"
    return cost / qty / mid * 1e4


async def test_negative_funding_symbol_ranks_first_with_hand_net_apr(short_dir: Path) -> None:
    scen = short_dir / "eth_negative.toml"
    scen.write_text(SCENARIO)
    cfg = ScannerConfig(quote_size_usd=150_000.0, holding_hours=168.0, tick_s=60.0,
                        book_max_age_ms=60_000)
    async with rig(short_dir, str(scen), cfg) as r:
        await r.advance(40.0)                 # 40 scenario s = 320 venue minutes at 480x
        await r.borrow.poll_once()
        await settle(r.hub)
        r.scanner.refresh()
        status, body = await asyncio.to_thread(
            request, r.socket, "GET", "/v1/opportunities?type=reverse_basis")
        assert status == 200
        opps = body["opportunities"]
        assert [o["symbol"] for o in opps] == ["ETHUSDT", "BTCUSDT"]
        eth = opps[0]
        assert eth["venues"] == {"spot": "sim-a", "perp": "sim-a"}

        # -- the hand computation, from the hub (what the venue published) --------------------
        mark = r.hub.marks[("sim-a", "ETHUSDT")]
        assert mark.interval_h == 4.0 and mark.funding_rate < 0      # ETH funds every 4 h here
        funding_apr = -mark.funding_rate * (24 / 4) * 365
        borrow_hourly = r.hub.borrow[("sim-a", "ETH")].hourly_rate
        borrow_apr = borrow_hourly * 24 * 365 * 1.5               # stressed by the default x1.5
        # taker fees (defaults): spot 0.10 %, perp 0.05 %, each paid on entry and on exit
        fee_apr = 2 * (0.0010 + 0.0005) * 8760 / 168
        qty = 150_000.0 / mark.mark_price
        spot = r.hub.books[InstrumentKey("sim-a", "spot", "ETHUSDT")]
        perp = r.hub.books[InstrumentKey("sim-a", "perp", "ETHUSDT")]
        # Walked from the mid: every taker fill pays half the spread too.
        spot_mid = (spot.levels(0, 1)[0][0] + spot.levels(1, 1)[0][0]) / 2
        perp_mid = (perp.levels(0, 1)[0][0] + perp.levels(1, 1)[0][0]) / 2
        slip_bps = (_walk_bps(spot.levels(0, 1000), qty, spot_mid)
                    + _walk_bps(spot.levels(1, 1000), qty, spot_mid)
                    + _walk_bps(perp.levels(0, 1000), qty, perp_mid)
                    + _walk_bps(perp.levels(1, 1000), qty, perp_mid))
        slippage_apr = slip_bps / 1e4 * 8760 / 168
        net = funding_apr - borrow_apr - fee_apr - slippage_apr
        assert slip_bps > 0                  # 150 000 USD walks past the touch somewhere
        assert eth["funding_rate"] == mark.funding_rate and eth["interval_h"] == 4.0
        assert eth["model"] == "apr_only"          # history too short for a fit: today's rate
        assert eth["funding_apr_pct"] == pytest.approx(funding_apr * 100, abs=1e-5)
        assert eth["borrow_apr_pct"] == pytest.approx(borrow_apr * 100, abs=1e-5)
        assert eth["fee_apr_pct"] == pytest.approx(fee_apr * 100, abs=1e-5)
        assert eth["slippage_apr_pct"] == pytest.approx(slippage_apr * 100, abs=1e-5)
        assert eth["net_apr_pct"] == pytest.approx(net * 100, abs=1e-5)
        assert eth["basis_bps"] == pytest.approx(
            (mark.mark_price - mark.index_price) / mark.index_price * 1e4)
        assert eth["basis_bps"] < 0                           # backwardation goes with it
        assert eth["borrow_available"] is True and eth["ok"] is True
        assert eth["next_funding_ms"] == mark.next_funding_ms
        # BTC is calm: positive funding, a reverse basis there pays.
        assert opps[1]["net_apr_pct"] < 0 < eth["net_apr_pct"]
        # The settled history came from the venue's /fapi/v1/fundingRate and the live stream.
        st = r.feed.stats()[("sim-a", "ETHUSDT")]
        assert st.interval_h == 4.0 and st.samples >= 1 and st.last_settled_rate < 0

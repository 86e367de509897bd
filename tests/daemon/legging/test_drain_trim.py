"""Drain on stop, the branch the SIGTERM test never reached: an open interrupted while its legs
differ is trimmed to hedged (the longer leg back to the shorter), not left unhedged.

Real stack on the manual-clock sim (tests/daemon/risk/stack_rig.py), no watchdog. The margin
leg fills half (the sim's fill_fraction) and its acknowledgement is held back 500 ms; the drain
starts while the engine still waits for it, so the books hold a full perp and half a spot leg.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

from tests.daemon.risk.stack_rig import SYM, stack, wait_for

NOTIONAL = 4_000.0


async def test_a_drain_trims_an_interrupted_open_to_hedged(tmp_path: Path) -> None:
    async with stack(tmp_path, 17, "", notional=NOTIONAL, watchdog=False, open_pair=False,
                     margin_usdt=NOTIONAL, futures_usdt=NOTIONAL) as rig:
        await rig.venue.set_leverage(SYM, 3)
        ex = rig.exchange
        ex.inject_fault("fill_fraction", market="margin", fraction=0.5)
        rig.sim.venues[0].server.faults.ack_delay_ms["margin"] = 500
        pid = await rig.engine.open_pair("reverse_basis", SYM, NOTIONAL, "taker")
        rig.pid = pid
        rt = rig.engine.pairs[pid]
        # both legs are on the venue: the perp filled in full, the spot sale by half
        await wait_for(lambda: abs(rt.exposure(1)) > 0 and rt.task is not None
                       and not rt.task.done(), 10.0, "the perp leg filled, the open running")
        ex.faults._fraction.clear()
        full = rt.pair.target_qty
        report = await rig.engine.drain(5.0)
        assert [t["id"] for t in report["trimmed"]] == [pid], report
        size = report["trimmed"][0]["size"]
        target = rt.pair.legs[1].sign * size
        assert 0 < size < full, (size, full)         # the spot leg's half, not flat, not full
        assert report["unfinished"] == [] and report["left_resting"] == [], report
        await asyncio.sleep(0)
        # hedged on the venue: the perp is back to the spot leg's size
        await wait_for(lambda: (r := rig.residual()) is not None and abs(r) <= 1e-3 + 1e-9,
                       10.0, "the venue hedged")
        assert abs(rt.exposure(1) - target) < 1e-9, (rt.exposure(1), target)
        # the spot leg owes its interest too (a few 1e-8 BTC by now)
        assert abs(abs(rt.exposure(0)) - size) < 1e-6, (rt.exposure(0), size)
        assert rig.liquidations() == []

"""Drain on stop (SIGTERM): every pair ends hedged or flat, nothing rests on a venue.

Within the budget: every running operation is interrupted and its working orders cancelled (so
the books hold every fill the venue made); then closes and liquidations go on to flat, and a
pair left unhedged by an interrupted open, increase, decrease or repair is trimmed to hedged
(the longer leg back to the shorter: flat if one leg is empty), at taker. A pair interrupted
while hedged keeps its journaled operation for the restart to resume. What the budget does not
cover is cancelled, and the journal keeps every pair's state for recovery.
"""
from __future__ import annotations

import asyncio
from typing import Any

from daemon.legging import hedge
from daemon.legging.operations import Operations, log
from daemon.legging.orders import OrderExecutor
from daemon.legging.runtime import PairRuntime

_TO_FLAT = ("close", "liquidate")


def _running(rt: PairRuntime) -> bool:
    return rt.task is not None and not rt.task.done()


def hedged_size(rt: PairRuntime) -> float:
    """The size both legs can be at without adding to either: the shorter leg's."""
    step = max(rt.meta[0].step, rt.meta[1].step)
    held = min(abs(rt.exposure(0)), abs(rt.exposure(1)))
    return max(0.0, hedge.round_step(min(held, rt.pair.target_qty), step, "down"))


async def _interrupt(executor: OrderExecutor, rt: PairRuntime) -> None:
    if _running(rt):
        assert rt.task is not None
        rt.task.cancel()
        await asyncio.gather(rt.task, return_exceptions=True)
    await executor.cancel_live(rt)


async def drain(executor: OrderExecutor, operations: Operations, pairs: dict[str, PairRuntime],
                budget_s: float) -> dict[str, Any]:
    """Bring every busy pair to hedged or flat within `budget_s`; returns what it did."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, budget_s)
    busy = [rt for rt in pairs.values()
            if rt.pair.managed and (_running(rt) or rt.live_orders())]
    report: dict[str, Any] = {"busy": [rt.pair.id for rt in busy], "trimmed": [], "resumed": [],
                              "unfinished": [], "left_resting": []}
    if not busy:
        return report
    try:
        async with asyncio.timeout(max(0.0, deadline - loop.time())):
            await asyncio.gather(*(_interrupt(executor, rt) for rt in busy))
    except TimeoutError:
        pass
    finishing = []
    for rt in busy:
        p = rt.pair
        if _running(rt) or rt.live_orders():
            continue
        tol = executor.tolerance(rt)
        if p.op_kind in _TO_FLAT:
            report["resumed"].append(p.id)
        elif abs(rt.residual()) > tol:
            size = hedged_size(rt)
            p.targets = (p.legs[0].sign * size, p.legs[1].sign * size)
            p.target_qty = size
            report["trimmed"].append({"id": p.id, "op": p.op_kind, "size": size})
            operations.alert(rt, f"{p.op_kind} interrupted by stop: trimmed to hedged at {size:g}")
        else:
            continue         # hedged: the journaled operation resumes after the restart
        executor.persist(rt)
        operations.resume_op(rt)
        finishing.append(rt)
    pending = [rt.task for rt in finishing if rt.task is not None]
    if pending:
        await asyncio.wait(pending, timeout=max(0.0, deadline - loop.time()))
    for rt in busy:
        if _running(rt) or rt.live_orders():
            report["unfinished"].append(rt.pair.id)
            try:   # last resort: nothing of ours keeps resting; recovery takes it from here
                async with asyncio.timeout(1.0):
                    await _interrupt(executor, rt)
            except TimeoutError:
                report["left_resting"].extend(t.client_id for t in rt.live_orders())
        executor.persist(rt)
    log.warning("drained %s", report)
    return report

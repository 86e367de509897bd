"""Issue 6, Done-when 4 for trims: the deleverage's orders, both legs, leave in the event-loop
pass of the crossing mark (LeggingEngine.decrease_now through EngineRiskActions.deleverage), on
the real stack of stack_rig.py (SimCluster in manual clock <-> BinanceVenue <-> Hub <-> Watchdog
<-> LeggingEngine), and the trim then completes as an ordinary decrease: hedged and smaller at the
venue.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from connectors.types import Mark
from tests.daemon.risk.stack_rig import LEG_CFG, NOTIONAL, SYM, V, stack, wait_for

# The futures wallet holds the perp's initial margin and fees, and less than min_transfer (10
# USDT) besides: no collateral to move, the ladder's answer to the pump is a trim alone.
TIGHT_FUTURES_USDT = NOTIONAL / 3 + 20


async def test_trim_orders_written_before_set_mark_returns(tmp_path: Path) -> None:
    async with stack(tmp_path, 7, "", futures_usdt=TIGHT_FUTURES_USDT) as rig:
        wd, eng, hub = rig.watchdog, rig.engine, rig.hub
        assert wd is not None
        pool = rig.venue.rest.fast
        origin_url = rig.venue.trading.prepare_transfer("USDT", 1, to_futures=True).url
        await wait_for(lambda: sum(1 for c in pool._idle.get(
            (origin_url.scheme, origin_url.host or "", origin_url.port or 80), []) if not c.closed) >= 2,
            5, "two idle fast connections")
        written: list[bytes] = []
        for conn in list(pool._all):
            assert conn.transport is not None
            real = conn.transport.write

            def spy(data: Any, _real: Any = real) -> None:
                written.append(bytes(data))
                _real(data)
            conn.transport.write = spy  # type: ignore[method-assign]
        received: list[str] = []
        ex = rig.exchange
        orig_margin, orig_fut = ex.margin_new_order, ex.futures_new_order

        def margin_order(acct: str, params: dict[str, str]) -> Any:
            received.append("margin:" + params["side"] + ":" + params.get("sideEffectType", ""))
            return orig_margin(acct, params)

        def futures_order(acct: str, params: dict[str, str]) -> Any:
            received.append("perp:" + params["side"] + ":" + params.get("reduceOnly", "false"))
            return orig_fut(acct, params)
        ex.margin_new_order, ex.futures_new_order = margin_order, futures_order
        liab0 = hub.balances[(V, "margin", "BTC")].liability
        perp0 = hub.positions[(V, SYM)].qty
        assert perp0 > 0 and liab0 > 0

        m = hub.marks[(V, SYM)]
        # +22 %: the margin short's margin level 1.5 -> 1.23, inside the deleverage step (15 %
        # from the 1.1 bar) and outside the unwind step
        pump = Mark(venue=V, symbol=SYM, mark_price=m.mark_price * 1.22,
                    index_price=m.index_price * 1.22, funding_rate=m.funding_rate,
                    next_funding_ms=m.next_funding_ms, interval_h=m.interval_h, ts_ms=m.ts_ms + 1)
        writes0, fallbacks0, count0 = pool.writes, pool.fallbacks, wd.reaction.count
        t0 = time.perf_counter_ns()
        hub.set_mark(pump)
        # no await since set_mark: what follows is what was written inside it
        t1 = time.perf_counter_ns()
        writes_inside = pool.writes - writes0
        bytes_inside = list(written)
        # The rest of the trim is the engine's, with the watchdog still listening: the venue's
        # reports of the buy-back (USDT spent, liability repaid) must not read as a collapse.
        steps = [s["step"] for s in wd.steps]
        assert "deleverage" in steps and "transfer" not in steps, steps
        assert writes_inside == 2 and pool.fallbacks == fallbacks0, (writes_inside, steps)
        margin_req = [b for b in bytes_inside if b.startswith(b"POST /sapi/v1/margin/order")]
        perp_req = [b for b in bytes_inside if b.startswith(b"POST /fapi/v1/order")]
        assert len(margin_req) == 1 and len(perp_req) == 1, bytes_inside
        assert b"side=BUY" in margin_req[0] and b"sideEffectType=AUTO_REPAY" in margin_req[0]
        assert b"side=SELL" in perp_req[0] and b"reduceOnly=true" in perp_req[0]
        # the journal's write-ahead intents hold both client ids (written before the bytes)
        rt = eng.pairs[rig.pid]
        sent_ids = [t.client_id for t in rt.orders.values() if t.op == rt.pair.op_seq]
        assert len(sent_ids) == 2 and all(cid.encode() in b"".join(bytes_inside) for cid in sent_ids)
        assert eng.journal is not None
        intents = eng.journal.intent_log.read_bytes()
        assert all(cid.encode() in intents for cid in sent_ids)
        # the reaction histogram: frame -> first write, inside the set_mark call
        assert wd.reaction.count == count0 + 1
        assert 0 < wd.reaction.sum <= (t1 - t0) / 1e9 + 1e-6

        await eng.wait_idle(rig.pid, 30)
        v = eng.view(rig.pid)
        assert v["state"] == "open" and v["hedged"], v
        assert v["target_qty"] < rig.qty0 * 0.8, v
        tol = LEG_CFG.tolerance(v["target_qty"], 0.001)
        await wait_for(lambda: abs(hub.positions[(V, SYM)].qty - v["target_qty"]) <= tol
                       and abs(hub.balances[(V, "margin", "BTC")].liability - v["target_qty"]) <= tol,
                       10, "the venue's legs at the reduced size")
        r = rig.residual()
        assert r is not None and abs(r) <= tol, r
        steps = [s["step"] for s in wd.steps]
        assert "unwind" not in steps and steps.count("deleverage") == 1, list(wd.steps)
        assert eng.view(rig.pid)["state"] == "open"
        assert received[:2] == ["margin:BUY:AUTO_REPAY", "perp:SELL:true"] or \
            received[:2] == ["perp:SELL:true", "margin:BUY:AUTO_REPAY"], received

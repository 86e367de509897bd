"""A trim of a reverse basis buys back with AUTO_REPAY; the venue reports the USDT spent and the
liability repaid in separate events (classic flow: the REPAY may be dropped as ambiguous until a
re-read; production flow: it comes on another socket, the margin risk stream). The watchdog keeps
running through the whole trim on the real stack (stack_rig.py), in both margin flows, and the
pair must end OPEN, hedged and reduced, never unwound.

Two layers each hold the line on their own, so each is also run without the other:
- the connector counts the repay from the fill's executionReport (user_stream.py,
  liability_sync.ProvisionalRepays): the hub never reads "USDT spent, liability untouched";
- the watchdog holds the margin account as settling after its trim (risk_ladder.MarginHold):
  with the connector's part switched off the hub does pass through that state, and the ladder
  does not act on it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from daemon import hub as hubmod
from connectors.types import Mark
from tests.daemon.risk.stack_rig import LEG_CFG, NOTIONAL, SYM, V, stack, wait_for

TIGHT_FUTURES_USDT = NOTIONAL / 3 + 20      # no collateral to move: the answer is a trim alone


@pytest.mark.parametrize("listen_token", [False, True], ids=["listen_key", "listen_token"])
@pytest.mark.parametrize("connector_counts", [True, False], ids=["connector", "watchdog_only"])
async def test_trim_through_settlement_leaves_the_pair_open_reduced_and_hedged(
        tmp_path: Path, listen_token: bool, connector_counts: bool) -> None:
    async with stack(tmp_path, 7, "", futures_usdt=TIGHT_FUTURES_USDT,
                     listen_token=listen_token) as rig:
        wd, eng, hub = rig.watchdog, rig.engine, rig.hub
        assert wd is not None and rig.venue.user is not None
        if listen_token:
            assert rig.venue.user.margin is None and rig.venue.user.margin_risk is not None
        if not connector_counts:
            rig.venue.user.expect_auto_repay = lambda cid: None  # type: ignore[method-assign]
        liab0 = hub.balances[(V, "margin", "BTC")].liability
        usdt0 = hub.balances[(V, "margin", "USDT")].free
        # every margin balance the hub held during the trim: (USDT free, BTC liability)
        seen: list[tuple[float, float]] = []

        def on_event(kind: str, item: Any) -> None:
            if kind == hubmod.BALANCE and item.venue == V and item.wallet == "margin":
                u, b = hub.balances.get((V, "margin", "USDT")), hub.balances.get((V, "margin", "BTC"))
                if u is not None and b is not None:
                    seen.append((u.free, b.liability))
        hub.subscribe(on_event, 50)

        m = hub.marks[(V, SYM)]
        # +22 %: margin level 1.5 -> 1.23, inside the deleverage step, outside the unwind step
        hub.set_mark(Mark(venue=V, symbol=SYM, mark_price=m.mark_price * 1.22,
                          index_price=m.index_price * 1.22, funding_rate=m.funding_rate,
                          next_funding_ms=m.next_funding_ms, interval_h=m.interval_h,
                          ts_ms=m.ts_ms + 1))
        trigger = wd.steps[-1]
        assert trigger["step"] == "deleverage", list(wd.steps)
        trigger_margin = trigger["distances"][f"margin:{V}"]

        await eng.wait_idle(rig.pid, 30)
        v = eng.view(rig.pid)
        tol = LEG_CFG.tolerance(v["target_qty"], 0.001)
        await wait_for(lambda: abs(hub.positions[(V, SYM)].qty - v["target_qty"]) <= tol
                       and abs(hub.balances[(V, "margin", "BTC")].liability - v["target_qty"]) <= tol,
                       10, "the venue's legs at the reduced size")
        await wait_for(lambda: not wd.status()["pairs"][rig.pid]["margin_settling"], 10,
                       "the margin account settled")
        wd.evaluate_all()

        v = eng.view(rig.pid)
        assert v["state"] == "open" and v["hedged"], v
        assert v["target_qty"] < rig.qty0 * 0.8, v
        r = rig.residual()
        assert r is not None and abs(r) <= tol, r
        steps = [s["step"] for s in wd.steps]
        assert "unwind" not in steps and steps.count("deleverage") == 1, list(wd.steps)
        # no journaled margin distance below the one the trim was sent on
        worst = min(s["distances"][f"margin:{V}"] for s in wd.steps if s.get("distances"))
        assert worst >= trigger_margin, list(wd.steps)
        assert wd.status()["pairs"][rig.pid]["legs"][0]["level"] == "ok"

        # "USDT spent (more than a tenth of the trim), liability untouched" in the hub
        spent_unrepaid = [(u, b) for u, b in seen if u < usdt0 - 1000 and b >= liab0 - 1e-9]
        if connector_counts:
            assert not spent_unrepaid, seen
        else:
            assert spent_unrepaid, seen        # the watchdog's hold was what held the pair

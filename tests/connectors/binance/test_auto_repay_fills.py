"""AUTO_REPAY fills: the connector lowers the liability from the executionReport (the venue repays
out of the fill, interest first) and matches the venue's REPAY event against it, so the hub never
reads "quote spent, nothing repaid" and nothing is counted twice (user_stream.py,
liability_sync.ProvisionalRepays). Raw frames, a model venue under random delivery orders
(hypothesis), and the production flow against the embedded exchange with the risk stream late."""
from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.binance.liability_sync import ProvisionalRepays
from connectors.types import Balance
from .test_against_sim import wait_for
from .test_liability_reconcile import RiskHold, rig  # noqa: F401  (fixture)
from .test_margin_listen_token import Rig, qty_for
from .test_user_events import streams


def trade(cid: str, qty: float, price: float, *, t: int, status: str = "FILLED", side: str = "BUY",
          fee: float = 0.0, fee_asset: str = "USDT") -> bytes:
    return orjson.dumps({
        "e": "executionReport", "E": t, "s": "BTCUSDT", "c": cid, "S": side, "o": "MARKET",
        "f": "GTC", "q": f"{qty:.8f}", "p": "0", "X": status, "x": "TRADE", "i": 1,
        "l": f"{qty:.8f}", "z": f"{qty:.8f}", "L": f"{price:.2f}", "n": f"{fee:.8f}",
        "N": fee_asset, "T": t, "t": t, "Z": f"{qty * price:.8f}"})


def repay(p: float, i: float, *, t: int, asset: str = "BTC") -> bytes:
    return orjson.dumps({"e": "USER_LIABILITY_CHANGE", "E": t, "a": asset, "t": "REPAY",
                         "p": f"{p:.8f}", "i": f"{i:.8f}"})


def test_fill_repays_interest_first_and_the_repay_event_is_not_counted_twice() -> None:
    us, hub = streams()
    hub.set_balance(Balance(venue="b", wallet="margin", asset="BTC", borrowed=0.5, interest=0.001))
    us.expect_auto_repay("trim-1")
    us._on_margin(trade("trim-1", 0.2, 30000.0, t=10, status="PARTIALLY_FILLED"))
    bal = hub.balances[("b", "margin", "BTC")]
    assert (bal.borrowed, bal.interest) == (pytest.approx(0.301), 0.0)
    us._on_margin(trade("trim-1", 0.2, 30000.0, t=10, status="PARTIALLY_FILLED"))  # replayed
    assert hub.balances[("b", "margin", "BTC")].borrowed == pytest.approx(0.301)
    us._on_margin(repay(0.199, 0.001, t=11))
    bal = hub.balances[("b", "margin", "BTC")]
    assert (bal.borrowed, bal.interest) == (pytest.approx(0.301), 0.0)
    # a fee in the coin bought is not repaid with; the venue repaid more than the fill alone
    us._on_margin(trade("trim-1", 0.1, 30000.0, t=12, fee=0.0001, fee_asset="BTC"))
    assert hub.balances[("b", "margin", "BTC")].borrowed == pytest.approx(0.2011)
    us._on_margin(repay(0.1005, 0.0, t=13))        # 0.0999 was counted: 0.0006 more
    assert hub.balances[("b", "margin", "BTC")].borrowed == pytest.approx(0.2005)
    assert not us.repays.outstanding() and "trim-1" not in us._auto_repay


def test_orders_not_announced_and_snapshots_leave_the_old_rules() -> None:
    us, hub = streams()
    hub.set_balance(Balance(venue="b", wallet="margin", asset="BTC", borrowed=0.5))
    us._on_margin(trade("plain", 0.2, 30000.0, t=10))
    assert hub.balances[("b", "margin", "BTC")].borrowed == 0.5
    us._on_margin(repay(0.2, 0.0, t=11))
    assert hub.balances[("b", "margin", "BTC")].borrowed == pytest.approx(0.3)
    # a snapshot replaces what a fill was counted for: its REPAY (after it) applies in full
    us.expect_auto_repay("trim-2")
    us._on_margin(trade("trim-2", 0.1, 30000.0, t=20))
    assert hub.balances[("b", "margin", "BTC")].borrowed == pytest.approx(0.2)
    us.snapshot_begin()
    hub.set_balance(Balance(venue="b", wallet="margin", asset="BTC", borrowed=0.3))  # before it
    us.snapshot_end(0, 0)
    us._on_margin(repay(0.1, 0.0, t=5_000))
    assert hub.balances[("b", "margin", "BTC")].borrowed == pytest.approx(0.2)
    assert not us.repays.outstanding()


@settings(max_examples=150, deadline=None)
@given(fills=st.lists(st.tuples(st.integers(1, 50), st.integers(0, 3)), min_size=1, max_size=8),
       delays=st.lists(st.integers(0, 8), min_size=8, max_size=8),
       interest=st.integers(0, 20))
def test_model_venue_any_delivery_order(fills: list[tuple[int, int]], delays: list[int],
                                        interest: int) -> None:
    """Venue: each fill receives `q` coins and repays min(liability, q + dust held) interest
    first. The REPAY events are late by any number of later fills. After each fill the hub owes
    no more than the venue does plus what late REPAYs repaid beyond their fills' proceeds (the
    dust: unknowable from the fill), and it ends exact."""
    unit = 0.001
    venue_b, venue_i, held = 300 * unit, interest * unit, 0.0
    us, hub = streams()
    hub.set_balance(Balance(venue="b", wallet="margin", asset="BTC", borrowed=venue_b,
                            interest=venue_i))
    us.expect_auto_repay("x")
    events: list[tuple[int, bytes]] = []         # (deliver after fill index, frame)
    after: list[float] = []
    extra: list[float] = []                      # repaid beyond the fill's own proceeds
    paid_at: list[float] = []
    for k, (q, dust) in enumerate(fills):
        held += dust * unit
        got = q * unit + held
        before = venue_b + venue_i
        paid = min(venue_b + venue_i, got)
        extra.append(paid - min(q * unit, before))
        paid_at.append(paid)
        pi = min(paid, venue_i)
        venue_i -= pi
        venue_b -= paid - pi
        held = got - paid
        after.append(venue_b + venue_i)
        status = "FILLED" if k == len(fills) - 1 else "PARTIALLY_FILLED"
        events.append((k, trade("x", q * unit, 100.0, t=k + 1, status=status)))
        if paid > 0:
            events.append((k + delays[k], repay(paid - pi, pi, t=k + 1)))
    events.sort(key=lambda e: e[0])             # stable: a fill before its own late REPAY
    repaid: set[int] = set()
    for _, frame in events:
        us._on_margin(frame)
        k = int(orjson.loads(frame)["E"]) - 1
        if b"executionReport" in frame:
            # a REPAY names no fill: while one is late, another's dust may be matched to it
            pending = any(j not in repaid and paid_at[j] > 0 for j in range(k + 1))
            late = sum(extra[: k + 1]) if pending else 0.0
            assert hub.balances[("b", "margin", "BTC")].liability <= after[k] + late + 1e-9
        else:
            repaid.add(k)
    bal = hub.balances[("b", "margin", "BTC")]
    assert bal.liability == pytest.approx(venue_b + venue_i, abs=1e-9)
    assert not us.repays.outstanding()


def test_pending_is_matched_per_asset() -> None:
    p = ProvisionalRepays()
    assert p.on_fill("BTC", 0.2, 0.1) == 0.1 and p.on_fill("ETH", 1.0, 0.0) == 0.0
    assert p.on_repay("ETH", 1.0) == 0.0 and p.on_repay("BTC", 0.3) == pytest.approx(0.1)
    assert not p.outstanding()


async def test_production_flow_liability_falls_with_the_fill_before_the_risk_stream(
        rig: Rig) -> None:  # noqa: F811
    """listenToken flow on the embedded exchange: the risk stream's REPAY is held back; the hub
    has the lower liability as soon as the WS-API fill arrives, and the venue's exact figures
    once the REPAY (or the re-read it asks for) is in."""
    r, v = rig, rig.v
    assert v.user is not None and v.user.margin is None
    qty = qty_for(r, 0.01)
    await r.sell_borrowed("ar-open", qty)
    await wait_for(lambda: r.liabilities_agree("BTC"), 5.0, "the borrow in the hub")
    owed = sum(r.hub_liability("BTC"))
    hold = RiskHold(r)
    back = qty_for(r, qty / 2)
    prep = v.prepare_spot_order("BTCUSDT", "BUY", back, side_effect="AUTO_REPAY",
                                client_id="ar-trim")
    ack = await v.send(prep)
    assert ack.status == "FILLED", ack
    await wait_for(lambda: any(u.status == "FILLED" for u in r.stream_fills("ar-trim")), 5.0,
                   "the WS-API fill")
    assert hold.liability_frames() >= 1              # the REPAY exists, and is still held
    assert sum(r.hub_liability("BTC")) == pytest.approx(owed - back, abs=1e-9)
    hold.release()
    await wait_for(lambda: r.liabilities_agree("BTC") and not v.user.repays.outstanding(), 5.0,
                   "the venue's exact liability")
    assert sum(r.venue_liability("BTC")) == pytest.approx(owed - back, abs=1e-9)

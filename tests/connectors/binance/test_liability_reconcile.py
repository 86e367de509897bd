"""Liability events (margin risk stream, change only) vs REST account snapshots (absolute).

Against the embedded exchange (production `listen_token` flow): the risk stream's frames are held
at the client (a slow network) while a borrow happens and the account is refreshed, then
delivered; the hub must hold the venue's liability exactly, not the borrow twice. The pure gate is
also checked on a model venue under random interleavings (hypothesis)."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.binance.liability_sync import LiabilityGate, Verdict
from .test_against_sim import wait_for
from .test_margin_listen_token import Rig, manual_cluster, rig_for

ADVANCE_S = 0.02          # scenario seconds: x480 = 9.6 s of venue time, beyond the 2 s margin


class RiskHold:
    """Holds the risk stream's frames at the client until released (the event is late)."""

    def __init__(self, r: Rig) -> None:
        user = r.v.user
        assert user is not None and user.margin_risk is not None
        self.user = user
        self.frames: list[tuple[bytes, Any]] = []
        self._orig: Callable[[bytes, Any], None] = user._on_listen_key_frame
        self.holding = True
        user._on_listen_key_frame = self._frame  # type: ignore[method-assign]

    def _frame(self, data: bytes, stream: Any) -> None:
        if self.holding and stream is self.user.margin_risk:
            self.frames.append((data, stream))
        else:
            self._orig(data, stream)

    def liability_frames(self) -> int:
        return sum(b"USER_LIABILITY_CHANGE" in d for d, _ in self.frames)

    def release(self) -> None:
        self.holding = False
        frames, self.frames = self.frames, []
        for data, stream in frames:
            self._orig(data, stream)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with manual_cluster() as sim:
        async for r in rig_for(sim):
            yield r


def exact(r: Rig, asset: str) -> bool:
    return r.hub_liability(asset) == r.venue_liability(asset)


async def borrow_held(r: Rig, hold: RiskHold, amount: float) -> None:
    before = hold.liability_frames()
    await r.v.borrow("BTC", amount)
    await wait_for(lambda: hold.liability_frames() > before, 5.0, "BORROW event (held)")


async def test_refresh_between_borrow_and_its_late_event_counts_it_once_ambiguous(
        rig: Rig) -> None:
    """Same venue millisecond (manual clock): the event cannot be placed relative to the
    snapshot, so it is dropped and the account re-read."""
    r, v = rig, rig.v
    assert v.user is not None
    gate = v.user.liabilities
    hold = RiskHold(r)
    await borrow_held(r, hold, 0.002)
    await v.refresh_account()
    assert exact(r, "BTC") and r.hub_liability("BTC")[0] == pytest.approx(0.002)
    rereads = v.rereads
    hold.release()
    await wait_for(lambda: v.rereads > rereads, 5.0, "margin re-read")
    assert gate.ambiguous == 1 and not gate.reread_wanted
    assert exact(r, "BTC"), (r.hub_liability("BTC"), r.venue_liability("BTC"))
    # the first hour's interest was still recorded as a charge, once
    assert [c.asset for c in r.hub.interest_charges if c.amount > 0] == ["BTC"]


async def test_refresh_after_borrow_skips_the_late_event_without_rereading(rig: Rig) -> None:
    r, v = rig, rig.v
    assert v.user is not None
    gate = v.user.liabilities
    hold = RiskHold(r)
    await borrow_held(r, hold, 0.003)
    r.sim.advance(ADVANCE_S, step=0.01)        # the snapshot is clearly later than the borrow
    await v.refresh_account()
    hold.release()
    await asyncio.sleep(0.2)                   # let any (wrong) re-read or apply happen
    assert gate.skipped == 1 and gate.ambiguous == 0 and v.rereads == 0
    assert exact(r, "BTC"), (r.hub_liability("BTC"), r.venue_liability("BTC"))
    assert r.hub_liability("BTC")[0] == pytest.approx(0.003)


async def test_borrow_after_a_refresh_is_applied_and_a_refresh_in_flight_holds_events(
        rig: Rig) -> None:
    r, v = rig, rig.v
    assert v.user is not None
    gate = v.user.liabilities
    await v.refresh_account()
    r.sim.advance(ADVANCE_S, step=0.01)
    await v.borrow("BTC", 0.002)               # later than the snapshot: applied incrementally
    await wait_for(lambda: r.liabilities_agree("BTC") and r.hub_liability("BTC")[0] > 0, 5.0,
                   "BORROW applied")
    assert gate.skipped == 0 and gate.ambiguous == 0 and v.rereads == 0

    # an event delivered while a snapshot is in flight: held, then decided against its bracket
    hold = RiskHold(r)
    r.sim.advance(ADVANCE_S, step=0.01)
    await borrow_held(r, hold, 0.001)
    real = v.trading.margin_account

    async def deliver_then_read(coeff: Any = None) -> Any:
        hold.release()                         # arrives between the request and its answer
        assert gate.in_flight and len(gate.held) == 1
        return await real(coeff)
    v.trading.margin_account = deliver_then_read  # type: ignore[method-assign]
    r.sim.advance(ADVANCE_S, step=0.01)
    await v.refresh_account()
    assert not gate.in_flight and gate.skipped == 1 and v.rereads == 0
    assert exact(r, "BTC") and r.hub_liability("BTC")[0] == pytest.approx(0.003)


# -- the pure gate ----------------------------------------------------------------------------------
def test_gate_classifies_by_bracket() -> None:
    g: LiabilityGate[str] = LiabilityGate(margin_ms=100)
    assert g.on_event(5, "x") is Verdict.APPLY           # no snapshot yet
    g.begin()
    assert g.on_event(1000, "held") is Verdict.HELD
    assert g.end(1000, 1010) == []                       # ambiguous: dropped, re-read wanted
    assert g.reread_wanted and g.ambiguous == 1
    assert g.classify(899) is Verdict.SKIP and g.classify(900) is Verdict.AMBIGUOUS
    assert g.classify(1110) is Verdict.AMBIGUOUS and g.classify(1111) is Verdict.APPLY
    g.begin()
    g.on_event(5000, "late")
    assert g.abort() == ["late"]                         # the old bracket still holds
    g.begin()
    assert g.end(2000, None) == [] and g.classify(10 ** 12) is Verdict.AMBIGUOUS


_OPS = st.lists(st.one_of(
    st.tuples(st.just("change"), st.integers(-5, 9), st.integers(0, 3)),
    st.tuples(st.just("deliver"), st.integers(1, 3), st.just(0)),
    st.tuples(st.just("tick"), st.integers(0, 4), st.just(0)),
    st.tuples(st.just("snapshot"), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("reread"), st.just(0), st.just(0)),
), max_size=60)


@settings(max_examples=300, deadline=None)
@given(ops=_OPS, margin=st.integers(0, 3))
def test_gate_model_venue_ends_exact(ops: list[tuple[str, int, int]], margin: int) -> None:
    """A model venue (integer liabilities, ms clock, FIFO delivery with arbitrary delay) and a
    model connector: after every event is delivered and every re-read the gate asked for is
    done, the connector's figure equals the venue's. Events may arrive before, during or after
    snapshots; snapshots read the venue at some instant inside their clock bracket."""
    venue = {"clock": 0, "total": 0}
    pending: list[tuple[int, int]] = []
    hub = [0]
    gate: LiabilityGate[int] = LiabilityGate(margin_ms=margin)

    def change(delta: int, adv: int) -> None:
        venue["clock"] += adv
        venue["total"] += delta
        pending.append((venue["clock"], delta))

    def deliver(n: int) -> None:
        for _ in range(min(n, len(pending))):
            e, delta = pending.pop(0)
            if gate.on_event(e, delta) is Verdict.APPLY:
                hub[0] += delta

    def snapshot(before: int, after: int) -> None:
        gate.begin()
        t0 = venue["clock"]
        for k in range(before):              # changes and deliveries while the request travels
            change(k + 1, k % 2)
            deliver(1)
        read = venue["total"]
        for k in range(after):
            change(-(k + 1), 1)
            deliver(1)
        t1 = venue["clock"]
        hub[0] = read
        for delta in gate.end(t0, t1):
            hub[0] += delta

    for op, a, b in ops:
        if op == "change":
            change(a, b)
        elif op == "deliver":
            deliver(a)
        elif op == "tick":
            venue["clock"] += a
        elif op == "snapshot":
            snapshot(a, b)
        elif gate.reread_wanted:
            gate.reread_wanted = False
            snapshot(0, 0)
    deliver(len(pending))
    while gate.reread_wanted:
        gate.reread_wanted = False
        snapshot(0, 0)
    assert hub[0] == venue["total"]

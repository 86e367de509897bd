"""Pure cores: pair state machine, client ids, hedge decisions, accounting."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from daemon.core import accounting as acc
from daemon.core import client_ids as cid
from daemon.legging import hedge
from daemon.core.pairs import (Event, IllegalTransition, Pair, State, TERMINAL, can, make_legs,
                          open_targets, transition)

# ---------------------------------------------------------------- state machine


def test_happy_path_open_adjust_close() -> None:
    s = State.OPENING
    s = transition(s, Event.HEDGED)
    assert s is State.OPEN
    s = transition(s, Event.ADJUST)
    assert s is State.ADJUSTING
    s = transition(s, Event.HEDGED)
    assert s is State.OPEN
    s = transition(s, Event.CLOSE)
    assert s is State.CLOSING
    assert transition(s, Event.FLAT) is State.CLOSED


def test_illegal_transitions_raise_with_reason() -> None:
    with pytest.raises(IllegalTransition, match="cannot adjust a pair that is opening"):
        transition(State.OPENING, Event.ADJUST)
    with pytest.raises(IllegalTransition):
        transition(State.CLOSED, Event.CLOSE)
    with pytest.raises(IllegalTransition):
        transition(State.DETACHED, Event.DETACH)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(Event)), max_size=30))
def test_terminal_states_absorb_and_detach_always_possible(events: list[Event]) -> None:
    s = State.OPENING
    for e in events:
        if s in TERMINAL:
            assert not any(can(s, ev) for ev in Event)
            break
        assert can(s, Event.DETACH)
        if can(s, e):
            s = transition(s, e)
    assert s in set(State)


def test_pair_apply_records_history() -> None:
    legs = make_legs("reverse_basis", "BTCUSDT", {"spot": "sim-a", "perp": "sim-a"})
    p = Pair(id="abcd1234", type="reverse_basis", symbol="BTCUSDT", legs=legs, target_qty=0.1,
             notional_usd=6000, execution="taker")
    assert legs[0].borrows and legs[0].sign == -1 and legs[1].sign == 1
    assert open_targets(p, 0.1) == (-0.1, 0.1)
    p.apply(Event.HEDGED, 5)
    assert p.state is State.OPEN and p.updated_ms == 5 and "opening->open" in p.history[-1]


def test_make_legs_long_short_and_basis() -> None:
    ls = make_legs("long_short", "ETHUSDT", {"long": "a", "short": "b"})
    assert (ls[0].venue, ls[0].side, ls[1].venue, ls[1].side) == ("a", "BUY", "b", "SELL")
    b = make_legs("basis", "ETHUSDT", {"spot": "a", "perp": "a"})
    assert b[0].side == "BUY" and not b[0].borrows and b[1].side == "SELL"

# ---------------------------------------------------------------- client ids


@settings(max_examples=500, deadline=None)
@given(pair=st.from_regex(r"[a-z0-9]{4,12}", fullmatch=True),
       op=st.integers(0, cid.MAX_OP), action=st.sampled_from(list(cid.ACTIONS)),
       leg=st.integers(0, 1), kind=st.sampled_from(list(cid.KINDS)),
       attempt=st.integers(0, cid.MAX_ATTEMPT))
def test_client_id_pattern_roundtrip_and_deterministic(pair: str, op: int, action: str, leg: int,
                                                       kind: str, attempt: int) -> None:
    a = cid.make(pair, op, action, leg, kind, attempt)
    assert a == cid.make(pair, op, action, leg, kind, attempt)
    assert cid.BINANCE_PATTERN.match(a) and len(a) <= 36
    assert a.startswith(cid.pair_prefix(pair))
    assert cid.parse(a) == (pair, op, action, leg, kind, attempt)


@settings(max_examples=200, deadline=None)
@given(st.tuples(st.integers(0, 50), st.integers(0, 1), st.integers(0, 300)),
       st.tuples(st.integers(0, 50), st.integers(0, 1), st.integers(0, 300)))
def test_client_ids_distinct_for_distinct_inputs(x: tuple[int, int, int],
                                                 y: tuple[int, int, int]) -> None:
    a = cid.make("pair01", x[0], "open", x[1], "entry", x[2])
    b = cid.make("pair01", y[0], "open", y[1], "entry", y[2])
    assert (a == b) == (x == y)


def test_client_id_foreign_and_bad_inputs() -> None:
    assert cid.parse("web_abc123") is None
    assert cid.parse("bd-abcd-1o-ax0") is None   # unknown kind letter
    assert not cid.is_ours("x-bd-abcd-1o-ae0")
    with pytest.raises(ValueError):
        cid.make("UPPER", 0, "open", 0, "entry", 0)
    with pytest.raises(ValueError):
        cid.make("abcd", -1, "open", 0, "entry", 0)
    pid = cid.new_pair_id(1_700_000_000_000, 5)
    assert cid.PAIR_ID_PATTERN.match(pid) and len(pid) == 10

# ---------------------------------------------------------------- hedge decisions


def _v(e0: float, e1: float, t: float = 1.0, **kw: object) -> hedge.HedgeInput:
    legs = (hedge.LegView(e0, -t, False, bool(kw.pop("b0", False)), 0.001, 0.001),
            hedge.LegView(e1, t, False, bool(kw.pop("b1", False)), 0.001, 0.001))
    base = dict(legs=legs, tolerance=0.005, now=10.0, out_since=None)
    base.update(kw)
    return hedge.HedgeInput(**base)  # type: ignore[arg-type]


def test_hedge_done_when_both_at_target() -> None:
    assert hedge.decide(_v(-1.0, 1.0)).action == hedge.DONE


def test_hedge_waits_for_inflight_and_backoff() -> None:
    v = _v(-0.5, 1.0)
    legs = (v.legs[0]._replace(inflight=True), v.legs[1])
    assert hedge.decide(v._replace(legs=legs)).action == hedge.WAIT
    d = hedge.decide(v._replace(backoff_until=10.5))
    assert d.action == hedge.WAIT and d.wait_s == pytest.approx(0.5)


def test_hedge_completes_lagging_spot_leg() -> None:
    d = hedge.decide(_v(-0.5, 1.0))          # perp full, spot half sold
    assert d.action == hedge.COMPLETE and d.leg == 0 and d.delta == pytest.approx(-0.5)


def test_hedge_trims_leading_when_lagging_blocked_or_budget_spent() -> None:
    d = hedge.decide(_v(0.0, 1.0, b0=True))  # spot: no borrow
    assert d.action == hedge.TRIM and d.leg == 1 and d.delta == pytest.approx(-1.0)
    d = hedge.decide(_v(0.0, 1.0, out_since=8.0, complete_budget_s=1.0))
    assert d.action == hedge.TRIM and d.leg == 1
    d = hedge.decide(_v(0.0, 1.0, complete_attempts=3))
    assert d.action == hedge.TRIM


def test_hedge_fails_after_bounded_attempts() -> None:
    d = hedge.decide(_v(0.0, 1.0, b0=True, trim_attempts=3))
    assert d.action == hedge.FAIL and "outside" in d.reason


def test_hedge_interest_drift_completes_toward_liability() -> None:
    # spot liability grew by interest: exposure -1.01 vs perp 1.0 -> buy back 0.01 of spot
    d = hedge.decide(_v(-1.01, 1.0))
    assert d.action == hedge.COMPLETE and d.leg == 0 and d.delta == pytest.approx(0.01)


def test_hedge_topup_both_when_partially_filled_but_hedged() -> None:
    d = hedge.decide(_v(-0.6, 0.6))
    assert d.action == hedge.TOPUP and d.deltas == (pytest.approx(-0.4), pytest.approx(0.4))
    assert hedge.decide(_v(-0.6, 0.6, topup_attempts=2)).action == hedge.DONE


def test_hedge_close_toward_zero() -> None:
    d = hedge.decide(_v(0.0, 1.0, t=0.0))     # spot bought back, perp sell failed
    assert d.action == hedge.COMPLETE and d.leg == 1 and d.delta == pytest.approx(-1.0)


def test_hedge_dust_below_lot_is_done() -> None:
    legs = (hedge.LegView(-1.0, -1.0, False, False, 0.01, 0.01),
            hedge.LegView(1.004, 1.0, False, False, 0.01, 0.01))
    d = hedge.decide(hedge.HedgeInput(legs=legs, tolerance=0.001, now=0, out_since=None))
    assert d.action == hedge.DONE


@settings(max_examples=400, deadline=None)
@given(e0=st.floats(-2, 0), e1=st.floats(0, 2), blocked0=st.booleans(), blocked1=st.booleans(),
       ca=st.integers(0, 4), ta=st.integers(0, 4))
def test_hedge_decisions_always_reduce_residual(e0: float, e1: float, blocked0: bool,
                                                blocked1: bool, ca: int, ta: int) -> None:
    e0, e1 = hedge.round_step(e0, 0.001), hedge.round_step(e1, 0.001)
    v = _v(e0, e1, b0=blocked0, b1=blocked1, complete_attempts=ca, trim_attempts=ta)
    d = hedge.decide(v)
    r = e0 + e1
    if d.action in (hedge.COMPLETE, hedge.TRIM):
        assert not v.legs[d.leg].blocked
        assert abs(r + d.delta) < abs(r)             # strictly better, never churn
        assert abs(r + d.delta) <= 0.0005 + 1e-9 or d.action == hedge.COMPLETE
    elif d.action == hedge.DONE:
        assert abs(r) <= v.tolerance + 0.0005 + 1e-9
    elif d.action == hedge.FAIL:
        assert abs(r) > v.tolerance and (ta >= 3 or blocked0 or blocked1)
    elif d.action == hedge.TOPUP:
        assert abs(r) <= v.tolerance and d.deltas[0] == -d.deltas[1]


def test_round_step() -> None:
    assert hedge.round_step(0.12345, 0.001) == pytest.approx(0.123)
    assert hedge.round_step(-0.1236, 0.001) == pytest.approx(-0.124)
    assert hedge.round_step(0.1239, 0.001, "down") == pytest.approx(0.123)

# ---------------------------------------------------------------- accounting


def test_accounting_reverse_basis_roundtrip_reconciles_with_cash() -> None:
    spot, perp = acc.LegBook(), acc.LegBook()
    acc.apply_fill(spot, "SELL", 0.1, 60_000.0, fee=6.0, fee_asset="USDT", base="BTC", quote="USDT")
    acc.apply_fill(perp, "BUY", 0.1, 59_900.0, fee=2.4, fee_asset="USDT", base="BTC", quote="USDT")
    acc.apply_interest(spot, 0.0001, 60_500.0)
    acc.apply_funding(perp, 1.5)
    assert spot.qty == pytest.approx(-0.1001)
    acc.apply_fill(spot, "BUY", 0.1001, 61_000.0, fee=6.1, fee_asset="USDT", base="BTC",
                   quote="USDT")
    acc.apply_fill(perp, "SELL", 0.1, 60_950.0, fee=2.4, fee_asset="USDT", base="BTC",
                   quote="USDT")
    assert spot.qty == pytest.approx(0.0, abs=1e-12) and perp.qty == 0.0
    p = acc.pair_pnl((spot, perp), (61_000.0, 60_950.0), 6000.0, 86_400_000)
    cash = acc.cash_flow(spot) + acc.cash_flow(perp)
    assert p.net == pytest.approx(cash, abs=1e-9)
    assert p.interest == pytest.approx(6.05) and p.funding == 1.5
    assert p.fees == pytest.approx(16.9)
    assert p.unrealised == 0.0 and p.realised_net == pytest.approx(p.net)
    assert p.realised_net_apr == pytest.approx(p.net / 6000.0 * 365)


def test_accounting_base_fee_shrinks_position() -> None:
    b = acc.LegBook()
    acc.apply_fill(b, "BUY", 1.0, 100.0, fee=0.001, fee_asset="BTC", base="BTC", quote="USDT")
    assert b.qty == pytest.approx(0.999) and b.fees == pytest.approx(0.1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["BUY", "SELL"]), st.floats(0.001, 5),
                          st.floats(10, 1000), st.floats(0, 1)), min_size=1, max_size=20),
       st.floats(10, 1000))
def test_accounting_net_equals_cash_plus_mark_value(trades: list[tuple[str, float, float, float]],
                                                    mark: float) -> None:
    b = acc.LegBook()
    for side, q, px, fee in trades:
        acc.apply_fill(b, side, q, px, fee=fee, fee_asset="USDT", base="BTC", quote="USDT")
    p = acc.pair_pnl((b, acc.LegBook()), (mark, None), 1000.0, 1000.0)
    # mark-to-market value of the position + cash moved == net PnL
    assert p.net == pytest.approx(acc.cash_flow(b) + b.qty * mark, rel=1e-9, abs=1e-6)
    assert not math.isnan(p.basis)

"""daemon.core.book: unit tests, a hypothesis state machine against a naive reference model, and
replays of real Binance USD-M / OKX recordings (see ../shared/realdata/SOURCES.md)."""
from __future__ import annotations

import math
import os
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from daemon.core.book import ASK, BID, OrderBook

from tests.conftest import ROOT
REALDATA = Path(os.environ.get("BASISD_REALDATA", ROOT.parent / "shared" / "realdata"))
CF = REALDATA / "cryptofeed_master"

TICKS = ["0.1", "0.01", "0.001", "0.0010", "0.00001", "0.00000001", "0.5", "0.25", "1", "5", "10"]


def px(ticks: int, tick: str) -> str:
    """Decimal string of a price, as a venue would send it."""
    return format(Decimal(ticks) * Decimal(tick), "f")


# ============================================================== tick rounding
@pytest.mark.parametrize(
    ("tick", "price", "ticks"),
    [
        (0.1, 30236.1, 302361),
        (0.1, "30236.1", 302361),
        (0.1, 0.3, 3),  # 0.3 / 0.1 == 2.9999999999999996
        (0.01, 0.29, 29),  # 0.29 / 0.01 == 28.999999999999996
        (0.01, 1.15, 115),
        (0.01, 4.35, 435),
        (1e-8, 0.00012345, 12345),
        (1e-8, "0.00000001", 1),
        (1e-8, 123456.78901234, 12345678901234),
        (0.0010, "7.6110", 7611),
        (0.00001, "0.01737", 1737),
        (0.5, 100.5, 201),
        (5.0, 30235.0, 6047),
    ],
)
def test_to_ticks_edge_cases(tick: float, price: float | str, ticks: int) -> None:
    book = OrderBook(tick)
    assert book.to_ticks(price) == ticks
    assert book.to_price(ticks) == float(price)


def test_to_price_has_no_float_drift() -> None:
    # The naive ticks * tick gives 30236.100000000002 and 0.30000000000000004.
    assert 302361 * 0.1 != 30236.1
    assert OrderBook(0.1).to_price(302361) == 30236.1
    assert OrderBook(0.1).to_price(3) == 0.3
    assert OrderBook(0.01).to_price(115) == 1.15
    assert OrderBook(1e-8).to_price(7) == 7e-8
    assert OrderBook("0.0010").to_price(7611) == 7.611


@settings(max_examples=300, deadline=None)
@given(tick=st.sampled_from(TICKS), n=st.integers(min_value=1, max_value=10**13))
def test_on_grid_prices_round_trip_exactly(tick: str, n: int) -> None:
    s = px(n, tick)
    assume(float(s) < 1e7)  # realistic prices; also keeps ticks far from 2**53
    for book in (OrderBook(tick), OrderBook(float(tick))):
        assert book.to_ticks(s) == n
        assert book.to_ticks(float(s)) == n
        assert book.to_price(n) == float(s)


@settings(max_examples=200, deadline=None)
@given(
    tick=st.sampled_from(TICKS),
    n=st.integers(min_value=1, max_value=10**9),
    off=st.floats(-0.49, 0.49),
)
def test_off_grid_prices_round_to_nearest_tick(tick: str, n: int, off: float) -> None:
    book = OrderBook(tick)
    assert book.to_ticks((n + off) * float(tick)) == n


@pytest.mark.parametrize("bad", [0.0, -0.1, math.nan, math.inf])
def test_rejects_bad_tick(bad: float) -> None:
    with pytest.raises(ValueError):
        OrderBook(bad)


def test_tick_size_is_read_only() -> None:
    book = OrderBook("0.0010")
    assert book.tick_size == 0.001
    with pytest.raises(AttributeError):
        book.tick_size = 0.01  # type: ignore[misc]


# ============================================================== basic behaviour
def make_book() -> OrderBook:
    book = OrderBook(0.1, symbol="BTCUSDT")
    book.load_snapshot(
        bids=[["100.0", "1"], ["99.9", "2"], ["99.5", "4"]],
        asks=[["100.1", "1.5"], ["100.3", "0.5"], ["101.0", "10"]],
    )
    return book


def test_empty_book() -> None:
    book = OrderBook(0.1)
    assert book.is_empty() and not book.is_two_sided() and len(book) == 0
    assert book.best_bid() is None and book.best_ask() is None
    assert book.best_bid_ticks() is None and book.best_ask_ticks() is None
    assert book.mid() is None and book.spread_bps() is None
    assert not book.is_crossed()
    assert book.levels(BID, 5) == [] and book.levels(ASK, 5) == []
    assert book.depth_within_bps(BID, 100) == 0.0
    assert book.vwap("buy", 1) is None and book.vwap("sell", 1) is None
    assert book.slippage_bps("buy", 1) is None
    assert book.qty_within_slippage("sell", 10) == 0.0
    assert book.last_update_id == 0 and book.ts_ms == 0


def test_touch_levels_and_counts() -> None:
    book = make_book()
    assert book.best_bid() == (100.0, 1.0) and book.best_ask() == (100.1, 1.5)
    assert book.best_bid_ticks() == 1000 and book.best_ask_ticks() == 1001
    assert book.mid() == 100.05
    assert book.spread_bps() == pytest.approx(0.1 / 100.05 * 1e4)
    assert book.levels(BID, 2) == [(100.0, 1.0), (99.9, 2.0)]
    assert book.levels(ASK, 10) == [(100.1, 1.5), (100.3, 0.5), (101.0, 10.0)]
    assert book.levels_ticks(ASK, 1) == [(1001, 1.5)]
    assert len(book) == 6 and book.count(BID) == 3 and book.ask_count == 3 and book.bid_count == 3
    assert book.qty_at(BID, "99.9") == 2.0 and book.qty_at(ASK, 99.9) == 0.0
    assert book.total_qty(BID) == 7.0
    assert not book.is_crossed() and not book.is_empty() and book.is_two_sided()


def test_diff_semantics() -> None:
    book = make_book()
    book.apply_levels(BID, [["100.0", "0"], ["100.05", "3"]])  # off-grid: kept exactly, not merged
    book.apply_levels(ASK, [("100.2", "2"), ("100.1", "0.00000000"), ("105.0", "0")])
    assert book.levels(BID, 3) == [(100.05, 3.0), (99.9, 2.0), (99.5, 4.0)]
    assert book.levels(ASK, 3) == [(100.2, 2.0), (100.3, 0.5), (101.0, 10.0)]
    # qty <= 0 removes, removing a missing level is a no-op, later entries win.
    book.set_level(BID, 99.5, -1.0)
    book.set_level(BID, 42.0, 0.0)
    book.set_level_ticks(ASK, 1003, 7.0)
    book.apply_diff(bids=[["99.9", "5"], ["99.9", "6"]], asks=[])
    assert book.levels(BID, 5) == [(100.05, 3.0), (99.9, 6.0)]
    assert book.best_ask() == (100.2, 2.0) and book.qty_at(ASK, 100.3) == 7.0
    book.set_level(ASK, 100.2, math.nan)  # NaN never becomes a resting level
    assert book.best_ask() == (100.3, 7.0)


def test_okx_style_levels_with_extra_fields() -> None:
    book = OrderBook("0.1")
    book.load_snapshot([["30236.1", "0.5", "0", "3"]], [["30236.2", "1.25", "0", "1"]])
    book.apply_levels(ASK, [["30236.2", "0", "0", "0"], ["30236.3", "2", "0", "1"]])
    assert book.best_bid() == (30236.1, 0.5) and book.best_ask() == (30236.3, 2.0)


def test_price_memo_overflow_keeps_results_exact() -> None:
    book = OrderBook("0.01")
    prices = [px(t, "0.01") for t in range(1, 20_001)]  # more distinct prices than the memo holds
    book.apply_levels(BID, [[p, "1"] for p in prices])
    book.apply_levels(ASK, [[p, "2"] for p in reversed(prices)])
    assert book.best_bid() == (200.0, 1.0) and book.best_ask() == (0.01, 2.0)
    assert len(book) == 40_000
    book.apply_levels(BID, [[p, "0"] for p in prices[1:]])
    book.apply_levels(ASK, [[p, 0.0] for p in prices[:-1]])
    assert book.levels(BID, 5) == [(0.01, 1.0)] and book.levels(ASK, 5) == [(200.0, 2.0)]
    assert book.to_ticks("123.45") == 12345


def test_snapshot_replaces_everything_and_keeps_metadata() -> None:
    book = make_book()
    book.last_update_id, book.ts_ms = 7, 1_700_000_000_000
    book.load_snapshot([["50.0", "1"], ["50.1", "2"], ["50.1", "0"]], [["51", "1"]])
    assert book.levels(BID, 5) == [(50.0, 1.0)] and book.levels(ASK, 5) == [(51.0, 1.0)]
    assert book.last_update_id == 7 and book.ts_ms == 1_700_000_000_000
    book.load_snapshot([], [], last_update_id=9, ts_ms=5)
    assert book.is_empty() and book.last_update_id == 9 and book.ts_ms == 5
    book.set_level(BID, 1.0, 1.0)
    book.clear()
    assert book.is_empty() and book.last_update_id == 9


def test_trim_and_copy() -> None:
    book = make_book()
    snap = book.copy()
    assert book.trim(BID, 1) == 2 and book.trim(ASK, 5) == 0
    assert book.levels(BID, 5) == [(100.0, 1.0)]
    book.set_level(ASK, 100.1, 0)
    assert snap.levels(BID, 5) == [(100.0, 1.0), (99.9, 2.0), (99.5, 4.0)]
    assert snap.best_ask() == (100.1, 1.5) and snap.symbol == "BTCUSDT"


def test_crossed_and_locked_detection() -> None:
    book = make_book()
    book.set_level(BID, 100.1, 1.0)  # locked: bid == ask
    assert book.is_crossed()
    assert book.spread_bps() == 0.0
    book.set_level(BID, 100.1, 0)
    assert not book.is_crossed()
    book.set_level(BID, 100.5, 1.0)  # crossed through two ask levels
    assert book.is_crossed()
    assert book.spread_bps() is not None and book.spread_bps() < 0
    book.apply_levels(ASK, [["100.1", "0"], ["100.3", "0"]])  # stale asks deleted
    assert not book.is_crossed() and book.best_ask() == (101.0, 10.0)
    book.clear()
    book.set_level(BID, 100.0, 1)
    assert not book.is_crossed()  # one-sided is not crossed


def test_vwap_across_levels() -> None:
    book = make_book()
    # buy 2.5 = 1.5 @ 100.1 + 0.5 @ 100.3 + 0.5 @ 101.0
    exp = (1.5 * 100.1 + 0.5 * 100.3 + 0.5 * 101.0) / 2.5
    assert book.vwap("buy", 2.5) == pytest.approx(exp, rel=1e-14)
    assert book.slippage_bps("buy", 2.5) == pytest.approx((exp - 100.1) / 100.1 * 1e4, rel=1e-12)
    # sell 3 = 1 @ 100.0 + 2 @ 99.9
    exp = (100.0 + 2 * 99.9) / 3
    assert book.vwap("sell", 3) == pytest.approx(exp, rel=1e-14)
    assert book.vwap("SELL", 3) == book.vwap("sell", 3)
    assert book.slippage_bps("sell", 3) == pytest.approx((100.0 - exp) / 100.0 * 1e4, rel=1e-12)
    assert book.slippage_bps("sell", 3) > 0  # positive = cost, on both sides
    # Inside the touch level: exactly the touch, zero slippage; qty <= 0 gives the touch.
    assert book.vwap("buy", 1.5) == 100.1 and book.slippage_bps("buy", 1.5) == 0.0
    assert book.vwap("sell", 0) == 100.0 and book.slippage_bps("sell", 0) == 0.0
    # Whole side.
    assert book.vwap("buy", 12) == pytest.approx((1.5 * 100.1 + 0.5 * 100.3 + 10 * 101.0) / 12)


def test_vwap_none_when_too_thin() -> None:
    book = make_book()
    assert book.vwap("buy", 12.000001) is None
    assert book.slippage_bps("buy", 12.5) is None
    assert book.vwap("sell", 7.1) is None
    assert book.vwap("sell", 7.0) is not None
    # A size obtained by summing level sizes in another order must still count as fillable.
    b = OrderBook(0.01)
    b.load_snapshot([], [["1.00", "0.1"], ["1.01", "0.2"], ["1.02", "0.01"]])
    size = 0.01 + 0.2 + 0.1  # 0.31000000000000005: a hair above the walk's running total
    assert b.vwap("buy", size) == pytest.approx((0.1 * 1.00 + 0.2 * 1.01 + 0.01 * 1.02) / 0.31)


def test_taker_side_validation() -> None:
    with pytest.raises(ValueError):
        make_book().vwap("long", 1)


def test_depth_within_bps() -> None:
    book = make_book()
    # bids: 100.0 touch; 99.9 is 10 bps away; 99.5 is 50 bps away.
    assert book.depth_within_bps(BID, 0) == 1.0
    assert book.depth_within_bps(BID, 9.99) == 1.0
    assert book.depth_within_bps(BID, 10) == 3.0  # boundary is inclusive
    assert book.depth_within_bps(BID, 50) == 7.0
    assert book.depth_within_bps(BID, -1) == 0.0
    assert book.depth_within_bps(ASK, 20) == 2.0  # 100.3 is 19.98 bps above 100.1
    assert book.depth_within_bps(ASK, math.inf) == 12.0
    assert book.notional_within_bps(BID, 10) == pytest.approx(100.0 + 2 * 99.9)


def test_qty_within_slippage() -> None:
    book = OrderBook(1.0)
    book.load_snapshot([["100", "1"], ["99", "1"]], [["100", "2"], ["101", "2"], ["110", "5"]])
    # asks: 2 @100 (0 bps); adding x @101: slip = x*1/(2+x)/100*1e4 = 25 bps -> x = 2/3
    assert book.qty_within_slippage("buy", 0) == 2.0
    assert book.qty_within_slippage("buy", 25) == pytest.approx(2 + 2 / 3, rel=1e-12)
    assert book.slippage_bps("buy", book.qty_within_slippage("buy", 25)) == pytest.approx(25)
    assert book.qty_within_slippage("buy", 1e9) == 9.0
    assert book.qty_within_slippage("buy", -1) == 0.0
    # bids: 1 @100, x @99: slip = x/(1+x)/100*1e4 = 50 bps -> x = 1 (the whole level)
    assert book.qty_within_slippage("sell", 50) == pytest.approx(2.0)
    assert book.qty_within_slippage("sell", 49.99) < 2.0


# ============================================================== state machine vs reference
class RefBook:
    """Naive model: two dicts ticks -> qty, everything by sorting."""

    def __init__(self, tick: str) -> None:
        self.tick = tick
        self.side: tuple[dict[int, float], dict[int, float]] = ({}, {})

    def set(self, side: int, ticks: int, qty: float) -> None:
        if qty > 0:
            self.side[side][ticks] = qty
        else:
            self.side[side].pop(ticks, None)

    def sorted(self, side: int) -> list[tuple[int, float]]:
        return sorted(self.side[side].items(), reverse=(side == BID))

    def price(self, ticks: int) -> Fraction:
        return ticks * Fraction(Decimal(self.tick))

    def depth(self, side: int, bps: float) -> float:
        lv = self.sorted(side)
        if not lv or not bps >= 0:
            return 0.0
        t0 = lv[0][0]
        return math.fsum(q for t, q in lv if abs(t - t0) * 1e4 <= bps * t0)

    def fill(self, taker: str, qty: float) -> tuple[Fraction, Fraction] | None:
        """Exact (vwap, touch) via rationals; None if too thin (1e-9 relative tolerance)."""
        side = ASK if taker == "buy" else BID
        lv = self.sorted(side)
        if not lv:
            return None
        touch = self.price(lv[0][0])
        if qty <= 0:
            return touch, touch
        total = sum(Fraction(q) for _, q in lv)
        want = Fraction(qty)
        if want > total * (1 + Fraction(1, 10**9)):
            return None
        want = min(want, total)
        left, notional = want, Fraction(0)
        for t, q in lv:
            take = min(left, Fraction(q))
            notional += take * self.price(t)
            left -= take
            if left == 0:
                break
        return notional / want, touch

    def slippage(self, taker: str, qty: float) -> Fraction | None:
        f = self.fill(taker, qty)
        if f is None:
            return None
        vwap, touch = f
        return (vwap - touch) / touch * 10_000 * (1 if taker == "buy" else -1)

    def qty_within(self, taker: str, max_bps: float) -> Fraction:
        """Exact sup{q : slippage(q) <= max_bps}: whole levels while the exact slippage of the
        prefix stays within the cap, then the exact root of the linear equation in the last."""
        side = ASK if taker == "buy" else BID
        lv = self.sorted(side)
        if not lv or max_bps < 0:
            return Fraction(0)
        sgn = 1 if taker == "buy" else -1
        touch = self.price(lv[0][0])
        limit = touch * (1 + sgn * Fraction(max_bps) / 10_000)  # the vwap may not pass this
        filled, notional = Fraction(0), Fraction(0)
        for t, q in lv:
            p, fq = self.price(t), Fraction(q)
            if sgn * ((notional + p * fq) / (filled + fq)) <= sgn * limit:
                filled += fq
                notional += p * fq
                continue
            # (notional + p x) / (filled + x) = limit
            return filled + (limit * filled - notional) / (p - limit)
        return filled


QTYS = st.one_of(
    st.sampled_from([0.0, -1.0, 0.001, 0.5, 1.0, 2.25, 3.0, 1e-8, 123456.0]),
    st.floats(min_value=1e-6, max_value=1e4, allow_nan=False),
)
SIDES = st.sampled_from([BID, ASK])
OFFSETS = st.integers(min_value=0, max_value=40)


class BookMachine(RuleBasedStateMachine):
    book: OrderBook
    ref: RefBook
    base: int

    @initialize(
        tick=st.sampled_from(["0.1", "0.01", "0.00000001", "0.0010", "0.5", "1"]),
        base=st.sampled_from([1, 20, 1000, 302_361, 10**9]),
        as_str=st.booleans(),
    )
    def setup(self, tick: str, base: int, as_str: bool) -> None:
        self.book = OrderBook(tick if as_str else float(tick), symbol="X")
        self.ref = RefBook(tick)
        self.base = base

    # Bids and asks share one price range so that crossings, locks and uncrossings happen.
    @rule(side=SIDES, off=OFFSETS, qty=QTYS)
    def set_level(self, side: int, off: int, qty: float) -> None:
        t = self.base + off
        self.book.set_level(side, float(px(t, self.ref.tick)), qty)
        self.ref.set(side, t, qty)

    @rule(side=SIDES, off=OFFSETS, qty=QTYS)
    def set_level_ticks(self, side: int, off: int, qty: float) -> None:
        self.book.set_level_ticks(side, self.base + off, qty)
        self.ref.set(side, self.base + off, qty)

    @rule(side=SIDES, updates=st.lists(st.tuples(OFFSETS, QTYS), max_size=12))
    def apply_levels(self, side: int, updates: list[tuple[int, float]]) -> None:
        tick = self.ref.tick
        self.book.apply_levels(side, [[px(self.base + o, tick), repr(q)] for o, q in updates])
        for o, q in updates:
            self.ref.set(side, self.base + o, q)

    @rule(
        bids=st.lists(st.tuples(OFFSETS, QTYS), max_size=25),
        asks=st.lists(st.tuples(OFFSETS, QTYS), max_size=25),
    )
    def load_snapshot(self, bids: list[tuple[int, float]], asks: list[tuple[int, float]]) -> None:
        t = self.ref.tick
        self.book.load_snapshot(
            [[px(self.base + o, t), repr(q)] for o, q in bids],
            [[px(self.base + o, t), repr(q)] for o, q in asks],
        )
        self.ref.side = ({}, {})
        for side, lv in ((BID, bids), (ASK, asks)):
            for o, q in lv:
                self.ref.set(side, self.base + o, q)

    @precondition(lambda self: len(self.book) > 30)
    @rule()
    def clear(self) -> None:
        self.book.clear()
        self.ref.side = ({}, {})

    @rule(side=SIDES, n=st.integers(min_value=0, max_value=30))
    def trim(self, side: int, n: int) -> None:
        lv = self.ref.sorted(side)
        assert self.book.trim(side, n) == max(0, len(lv) - n)
        self.ref.side[side].clear()
        self.ref.side[side].update(lv[:n])

    @invariant()
    def touch_and_levels_match(self) -> None:
        book, ref = self.book, self.ref
        bids, asks = ref.sorted(BID), ref.sorted(ASK)
        assert book.levels_ticks(BID, 100) == bids
        assert book.levels_ticks(ASK, 100) == asks
        assert book.levels(ASK, 3) == [(float(ref.price(t)), q) for t, q in asks[:3]]
        assert len(book) == len(bids) + len(asks)
        assert (book.count(BID), book.count(ASK)) == (len(bids), len(asks))
        assert book.is_empty() == (not bids and not asks)
        assert book.best_bid_ticks() == (bids[0][0] if bids else None)
        assert book.best_ask_ticks() == (asks[0][0] if asks else None)
        assert book.best_bid() == ((float(ref.price(bids[0][0])), bids[0][1]) if bids else None)
        assert book.best_ask() == ((float(ref.price(asks[0][0])), asks[0][1]) if asks else None)
        assert book.is_crossed() == bool(bids and asks and bids[0][0] >= asks[0][0])
        if bids and asks:
            assert book.mid() == float((ref.price(bids[0][0]) + ref.price(asks[0][0])) / 2)
            mid = (bids[0][0] + asks[0][0]) / 2
            spread = (asks[0][0] - bids[0][0]) / mid * 1e4
            assert book.spread_bps() == pytest.approx(spread, abs=1e-9)
        else:
            assert book.mid() is None and book.spread_bps() is None

    @rule(
        side=SIDES,
        bps=st.one_of(
            st.sampled_from([0.0, 1.0, 5.0, 10.0, 50.0, 100.0, 2500.0, -1.0, math.inf]),
            st.floats(min_value=0, max_value=5e4),
        ),
    )
    def depth_matches(self, side: int, bps: float) -> None:
        assert self.book.depth_within_bps(side, bps) == self.ref.depth(side, bps)

    @rule(
        taker=st.sampled_from(["buy", "sell"]),
        frac=st.one_of(
            st.sampled_from([0.0, 1e-6, 0.25, 0.5, 0.999, 1.0, 1.001, 1.5, 3.0]),
            st.floats(min_value=0.0, max_value=2.0),
        ),
    )
    def vwap_and_slippage_match(self, taker: str, frac: float) -> None:
        assume(not 1.0 < frac < 1.0 + 1e-6)  # the documented 1e-9 fill tolerance band
        side = ASK if taker == "buy" else BID
        qty = self.book.total_qty(side) * frac
        got, exp = self.book.vwap(taker, qty), self.ref.fill(taker, qty)
        if exp is None:
            assert got is None
            assert self.book.slippage_bps(taker, qty) is None
            return
        assert got is not None
        assert got == pytest.approx(float(exp[0]), rel=1e-12)
        slip = self.book.slippage_bps(taker, qty)
        ref_slip = self.ref.slippage(taker, qty)
        assert slip is not None and ref_slip is not None
        assert slip >= 0.0
        assert slip == pytest.approx(float(ref_slip), rel=1e-9, abs=1e-9)

    @rule(
        taker=st.sampled_from(["buy", "sell"]),
        max_bps=st.one_of(
            st.sampled_from([0.0, 0.5, 1.0, 3.0, 10.0, 100.0, 1e6, -1.0]),
            st.floats(min_value=0.0, max_value=5e3),
        ),
    )
    def qty_within_slippage_matches(self, taker: str, max_bps: float) -> None:
        got = self.book.qty_within_slippage(taker, max_bps)
        exp = self.ref.qty_within(taker, max_bps)
        assert got == pytest.approx(float(exp), rel=1e-9, abs=1e-12)
        if got > 0:
            slip = self.ref.slippage(taker, got)
            assert slip is not None and float(slip) <= max_bps + 1e-6


BookMachine.TestCase.settings = settings(max_examples=250, stateful_step_count=50, deadline=None)
TestBookMachine = BookMachine.TestCase


# ============================================================== real recordings
def _frames(path: Path) -> list[dict]:
    out = []
    with path.open("rb") as f:
        next(f)  # connection header
        for line in f:
            if line.startswith(b"wss://"):  # OKX: our own subscribe requests
                continue
            out.append(orjson.loads(line.split(b": ", 1)[1]))
    return out


def test_binance_futures_replay_matches_every_determinable_book_ticker() -> None:
    """Snapshot + depth diffs by Binance's USD-M rules; every bookTicker whose update id falls
    between two applied diffs must equal the rebuilt touch (SOURCES.md: 50 of them)."""
    info = orjson.loads((CF / "BINANCE_FUTURES.0").read_bytes().splitlines()[0].split(b": ", 1)[1])
    tick = {
        s["symbol"]: f["tickSize"]
        for s in info["symbols"]
        for f in s["filters"]
        if f["filterType"] == "PRICE_FILTER"
    }
    snaps = {}
    for line in (CF / "BINANCE_FUTURES.http.0.0").read_bytes().splitlines():
        if not line.strip():
            continue
        url, body = line.split(b" -> ", 1)
        sym = url.split(b"symbol=")[1].split(b"&")[0].decode()
        snaps[sym] = orjson.loads(body.split(b": ", 1)[1])
    frames = [f["data"] for f in _frames(CF / "BINANCE_FUTURES.ws.1.0")]

    checked = 0
    for sym, snap in snaps.items():
        book = OrderBook(tick[sym], symbol=sym)
        book.load_snapshot(snap["bids"], snap["asks"], last_update_id=snap["lastUpdateId"])
        diffs = [f for f in frames if f["e"] == "depthUpdate" and f["s"] == sym]
        diffs = [d for d in diffs if d["u"] >= snap["lastUpdateId"]]
        tickers = [f for f in frames if f["e"] == "bookTicker" and f["s"] == sym]
        assert diffs[0]["U"] <= snap["lastUpdateId"] <= diffs[0]["u"]
        for i, diff in enumerate(diffs):
            if i:
                assert diff["pu"] == diffs[i - 1]["u"]  # no gap
            book.apply_diff(diff["b"], diff["a"])
            book.last_update_id, book.ts_ms = diff["u"], diff["E"]
            assert not book.is_crossed()
            if i + 1 == len(diffs):
                break
            for bt in tickers:
                if diff["u"] <= bt["u"] < diffs[i + 1]["U"]:
                    assert book.best_bid() == (float(bt["b"]), float(bt["B"])), (sym, bt)
                    assert book.best_ask() == (float(bt["a"]), float(bt["A"])), (sym, bt)
                    assert book.best_bid_ticks() == book.to_ticks(bt["b"])
                    checked += 1
    assert checked == 50


def test_okx_books_replay_matches_naive_rebuild_and_final_tops() -> None:
    instruments = {}
    for line in (CF / "OKX.0").read_bytes().splitlines():
        for d in orjson.loads(line.split(b": ", 1)[1]).get("data", []):
            instruments[d["instId"]] = d["tickSz"]
    books: dict[str, OrderBook] = {}
    naive: dict[str, tuple[dict[Decimal, float], dict[Decimal, float]]] = {}
    n = 0
    for msg in _frames(CF / "OKX.ws.1.0"):
        if msg.get("arg", {}).get("channel") != "books" or "data" not in msg:
            continue
        inst = msg["arg"]["instId"]
        data = msg["data"][0]
        if msg["action"] == "snapshot":
            books[inst] = OrderBook(instruments[inst], symbol=inst)
            books[inst].load_snapshot(data["bids"], data["asks"])
            naive[inst] = ({}, {})
        else:
            books[inst].apply_diff(data["bids"], data["asks"])
        for side, key in ((BID, "bids"), (ASK, "asks")):
            ref = naive[inst][side]
            for p, q, *_ in data[key]:
                if float(q) > 0:
                    ref[Decimal(p)] = float(q)
                else:
                    ref.pop(Decimal(p), None)
            want = sorted(ref.items(), reverse=(side == BID))[:25]
            assert books[inst].levels(side, 25) == [(float(p), q) for p, q in want]
        assert not books[inst].is_crossed()
        n += 1
    assert n == 290
    tops = {i: (b.best_bid()[0], b.best_ask()[0]) for i, b in books.items()}  # type: ignore[index]
    assert tops == {
        "BTC-USDT": (30236.1, 30236.2),
        "UNI-USD-SWAP": (5.137, 5.145),
        "BTC-USD-220527": (30229.4, 30238.8),
    }

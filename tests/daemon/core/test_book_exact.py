"""daemon.core.book keeps every price exactly: an off-grid price from the venue is neither rounded
into a neighbouring tick nor able to delete one (issue 12)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core.book import ASK, BID, OrderBook


def test_off_grid_snapshot_levels_are_kept_exactly() -> None:
    book = OrderBook("5")
    book.load_snapshot([["240", "1"], ["232", "2"], ["230", "3"]], [["245", "4"], ["250", "5"]])
    # Rounded to ticks, 232 used to land on 230 and overwrite its 3 with 2.
    assert book.levels(BID, 5) == [(240.0, 1.0), (232.0, 2.0), (230.0, 3.0)]
    assert book.qty_at(BID, "232") == 2.0 and book.qty_at(BID, 230) == 3.0
    assert book.qty_at(BID, "235") == 0.0 and book.qty_at(BID, "232.5") == 0.0
    assert book.levels(ASK, 5) == [(245.0, 4.0), (250.0, 5.0)]
    assert book.best_bid() == (240.0, 1.0) and book.mid() == 242.5
    assert not book.on_grid
    assert book.qty_at_ticks(BID, 46) == 3.0 and book.qty_at_ticks(ASK, 49) == 4.0
    # A snapshot keeps the finer unit (the venue will send the same prices again); clearing the
    # book (a resync) puts keys back on ticks.
    book.load_snapshot([["230", "1"]], [["235", "1"]])
    assert not book.on_grid and book.levels_ticks(BID, 5) == [(46, 1.0)]
    book.clear()
    book.load_snapshot([["230", "1"]], [["235", "1"]])
    assert book.on_grid and book.levels_ticks(BID, 5) == [(46, 1.0)]
    assert type(book) is OrderBook


def test_off_grid_diff_level_is_its_own_level() -> None:
    book = OrderBook("0.1")
    book.load_snapshot([["30236.1", "1"], ["30236.0", "2"]], [["30236.3", "1"]])
    book.apply_levels(ASK, [["30236.25", "0.5"]])
    book.apply_levels(BID, [["30236.15", "0.7"]])
    assert book.best_ask() == (30236.25, 0.5) and book.best_bid() == (30236.15, 0.7)
    assert book.levels(BID, 3) == [(30236.15, 0.7), (30236.1, 1.0), (30236.0, 2.0)]
    assert book.levels(ASK, 3) == [(30236.25, 0.5), (30236.3, 1.0)]
    # The *_ticks reads round an off-grid level to the tick a taker could surely get.
    assert book.best_bid_ticks() == 302361 and book.best_ask_ticks() == 302363
    assert book.mid() == 30236.2
    book.set_level_ticks(BID, 302359, 9.0)  # the tick API still addresses ticks after refining
    assert book.qty_at(BID, "30235.9") == 9.0
    book.apply_levels(ASK, [["30236.25", "0"]])
    assert book.levels(ASK, 3) == [(30236.3, 1.0)]
    assert not book.is_crossed()


def test_zero_qty_off_grid_update_deletes_nothing_else() -> None:
    book = OrderBook("0.1")
    book.load_snapshot([["100.0", "1"], ["99.9", "2"]], [["100.1", "3"], ["100.2", "4"]])
    book.apply_levels(BID, [["100.04", "0"], ["99.95", "0.0"]])
    book.apply_levels(ASK, [["100.1000001", "0"]])
    book.set_level(ASK, "100.16", 0)
    assert book.levels(BID, 5) == [(100.0, 1.0), (99.9, 2.0)]
    assert book.levels(ASK, 5) == [(100.1, 3.0), (100.2, 4.0)]
    assert book.on_grid  # deleting a price the book cannot hold refines nothing


def test_tick_that_is_not_a_power_of_ten_divisor() -> None:
    book = OrderBook("3")  # 232 / 3 is not a terminating decimal: the unit becomes 1
    book.load_snapshot([["231", "1"], ["232", "2"]], [["234", "1"], ["233.5", "7"]])
    assert book.levels(BID, 3) == [(232.0, 2.0), (231.0, 1.0)]
    assert book.levels(ASK, 3) == [(233.5, 7.0), (234.0, 1.0)]
    assert book.to_price(78) == 234.0 and book.qty_at_ticks(ASK, 78) == 1.0
    copy = book.copy()
    book.clear()
    assert book.on_grid and copy.levels(BID, 1) == [(232.0, 2.0)]


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity", "abc", ""])
def test_non_numeric_price_is_a_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        OrderBook("0.1").apply_levels(BID, [[bad, "1"]])


def test_crossed_snapshot_and_diff_are_detected() -> None:
    book = OrderBook("0.01")
    book.load_snapshot([["10.05", "1"]], [["10.04", "1"]])
    assert book.is_crossed()
    book.load_snapshot([["10.03", "1"]], [["10.05", "1"]])
    assert not book.is_crossed()
    book.apply_levels(BID, [["10.045", "1"]])  # off-grid, still inside the spread
    assert not book.is_crossed()
    book.apply_levels(BID, [["10.0401", "1"]])
    assert not book.is_crossed()
    book.apply_levels(ASK, [["10.0401", "1"]])  # locked on an off-grid price
    assert book.is_crossed()


# Sub-tick offsets: a tenth, a hundredth and a quarter of a tick, mixed with on-grid prices.
_TICKS = ["0.1", "0.01", "0.5", "5", "0.00000001"]
_FRACTIONS = [Decimal(0), Decimal(0), Decimal("0.1"), Decimal("0.25"), Decimal("0.01")]


@settings(max_examples=200, deadline=None)
@given(
    tick=st.sampled_from(_TICKS),
    ops=st.lists(
        st.tuples(st.sampled_from([BID, ASK]), st.integers(0, 30), st.sampled_from(_FRACTIONS),
                  st.sampled_from(["0", "1", "2.5", "0.001"])),
        max_size=60,
    ),
    snapshot_at=st.integers(0, 60),
)
def test_mixed_grid_updates_match_an_exact_model(
    tick: str, ops: list[tuple[int, int, Decimal, str]], snapshot_at: int
) -> None:
    book = OrderBook(tick)
    model: tuple[dict[Decimal, float], dict[Decimal, float]] = ({}, {})
    step = Decimal(tick)
    for i, (side, n, frac, qty) in enumerate(ops):
        price = (1000 + n + frac) * step
        text = format(price, "f")
        if i == snapshot_at:  # a snapshot from the current model, then carry on
            book.load_snapshot(*(
                [[format(p, "f"), repr(q)] for p, q in model[s].items()] for s in (BID, ASK)))
        book.apply_levels(side, [[text, qty]])
        if float(qty) > 0:
            model[side][price] = float(qty)
        else:
            model[side].pop(price, None)
    for side in (BID, ASK):
        want = sorted(model[side].items(), reverse=side == BID)
        assert book.levels(side, 100) == [(float(p), q) for p, q in want]
    bids, asks = model
    if bids and asks:
        assert book.is_crossed() == (max(bids) >= min(asks))
        assert book.mid() == float((max(bids) + min(asks)) / 2)

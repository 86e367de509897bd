"""The compiled book core (daemon/core/_book.c) and the pure-Python one (daemon/core/book_core.py)
build identical books: the same recorded venue streams (../shared/realdata: Binance USD-M, Bybit
ob500, OKX books) and generated random streams go through both, and every read is compared after
every message - levels, ticks, touch, mid, crossed, grid - as are the errors. Off-grid, exponent,
signed, overly long and non-text prices, and JSON levels the C parser does not take, are handed
back to the one exact Python path; so both agree on them too."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.binance import reference
from connectors.binance import schemas as binance_schemas
from connectors.binance.sync import BookSync, Rule
from connectors.bybit.sync import BookSync as BybitBookSync
from connectors.bybit import schemas as bybit_schemas
from connectors.okx.sync import OkxBookSync
from daemon.core import book as book_module
from daemon.core.book import ASK, BID, NativeOrderBook, PyOrderBook
from tests.conftest import ROOT
from tests.connectors.binance.realdata import futures_exchange_info_body, load_futures_recording
from tests.connectors.bybit.test_book_sync import _lines as bybit_lines
from tests.connectors.okx.test_book_checksum import TICKS as OKX_TICKS
from tests.connectors.okx.test_book_checksum import book_messages as okx_messages

if NativeOrderBook is None:  # pragma: no cover - make/.ci/run build it where a compiler exists
    pytest.skip("the compiled book core is not built (no C compiler at install): "
                "`make test` builds it; only the Python core is in use", allow_module_level=True)

ALL = 10**6


def state(book: Any) -> tuple[Any, ...]:
    return (book.levels(BID, ALL), book.levels(ASK, ALL), book.levels_ticks(BID, ALL),
            book.levels_ticks(ASK, ALL), book.best_bid(), book.best_ask(), book.best_bid_ticks(),
            book.best_ask_ticks(), book.mid(), book.spread_bps(), book.is_crossed(), len(book),
            book.on_grid, book._units, book._scale, book._per_tick, book.last_update_id,
            book.ts_ms)


def queries(book: Any) -> tuple[Any, ...]:
    def ask(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except ArithmeticError as exc:   # a generated price of 0: the same error from both
            return type(exc).__name__
    return tuple((ask(book.vwap, s, q), ask(book.slippage_bps, s, q),
                  ask(book.qty_within_slippage, s, q * 10), ask(book.depth_within_bps, side, q * 10),
                  ask(book.notional_within_bps, side, q * 10), book.total_qty(side))
                 for s, side in (("buy", ASK), ("sell", BID)) for q in (0.5, 5.0, 1e9))


def pair(tick: str, symbol: str = "") -> tuple[Any, Any]:
    return PyOrderBook(tick, symbol=symbol), NativeOrderBook(tick, symbol=symbol)


def test_the_default_book_is_the_compiled_one_unless_python_is_forced() -> None:
    assert book_module.OrderBook is NativeOrderBook and book_module.IMPLEMENTATION == "native"
    code = "from daemon.core import book; print(book.IMPLEMENTATION, book.OrderBook.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "BASISD_PURE_BOOK": "1"}, check=True, timeout=60)
    assert out.stdout.split() == ["python", "PyOrderBook"]


def test_binance_recording_builds_identical_books_from_raw_and_decoded_levels() -> None:
    rec = load_futures_recording()
    info = binance_schemas.EXCHANGE_INFO.decode(futures_exchange_info_body())
    ticks = {i.symbol: i.tick_size for i in reference.instruments(
        info, venue="binance", market="perp", symbols=rec.snapshots)}
    for sym, (_, snap) in rec.snapshots.items():
        py, nat, nat_lists = (BookSync(cls(ticks[sym]), Rule.FUTURES)
                              for cls in (PyOrderBook, NativeOrderBook, NativeOrderBook))
        for sync in (py, nat, nat_lists):
            sync.on_snapshot(snap.lastUpdateId, snap.bids, snap.asks, snap.E)
        assert state(py.book) == state(nat.book) and py.book.count(BID) >= 400
        applied = 0
        for _, s, kind, ev in rec.frames:
            if kind != "depth" or s != sym:
                continue
            assert isinstance(ev.b, msgspec.Raw)
            results = {py.apply_event(ev), nat.apply_event(ev)}
            decoded = (msgspec.json.decode(ev.b), msgspec.json.decode(ev.a))
            results.add(nat_lists.on_diff(ev.U, ev.u, ev.pu, *decoded, ev.E))
            assert len(results) == 1, (sym, ev.u, results)
            assert state(py.book) == state(nat.book) == state(nat_lists.book), (sym, ev.u)
            applied += 1
        assert applied > 50 and queries(py.book) == queries(nat.book)


def test_bybit_and_okx_recordings_build_identical_books() -> None:
    books = pair("0.0001")
    syncs = [BybitBookSync(b) for b in books]
    for raw in bybit_lines():
        msg = bybit_schemas.BOOK_MESSAGE.decode(raw)
        assert len({s.apply_message(msg) for s in syncs}) == 1
        assert state(books[0]) == state(books[1])
    assert books[0].count(BID) == 500 and queries(books[0]) == queries(books[1])

    okx: dict[str, list[OkxBookSync]] = {}
    for msg in okx_messages():
        inst = msg.arg.instId
        pair_syncs = okx.setdefault(inst, [OkxBookSync(b) for b in pair(OKX_TICKS[inst])])
        for d in msg.data:   # levels are [px, sz, liquidated, orders]: the extra fields ignored
            results = {s.on_message(msg.action, d.bids, d.asks, checksum=d.checksum,
                                    seq_id=d.seqId, prev_seq_id=d.prevSeqId, ts_ms=int(d.ts))
                       for s in pair_syncs}
            assert len(results) == 1
            assert state(pair_syncs[0].book) == state(pair_syncs[1].book)
    assert len(okx) == 3


# -- generated streams -------------------------------------------------------------------------
TICKS = ["0.1", "0.01", "5", "3", "0.5", "0.00000001"]
FRACTIONS = [Decimal(0), Decimal(0), Decimal(0), Decimal("0.1"), Decimal("0.25"), Decimal("0.01")]


@st.composite
def price(draw: st.DrawFn, tick: str) -> Any:
    value = (1000 + draw(st.integers(-5, 40)) + draw(st.sampled_from(FRACTIONS))) * Decimal(tick)
    text = format(value, "f")
    style = draw(st.sampled_from(["plain", "plain", "plain", "padded", "exp", "zeros", "long",
                                  "float", "signed", "huge", "bad"]))
    if style == "padded":   # fewer decimals round it; a venue never sends a price of 0
        padded = format(value, f".{draw(st.integers(0, 12))}f")
        return padded if Decimal(padded) > 0 else text
    if style == "exp":
        return format(value, "E")
    if style == "zeros":
        return "00" + text
    if style == "long":   # more digits than the C parser takes: the exact Python path
        return text + ("" if "." in text else ".") + "0" * 25
    if style == "float":
        return float(value)
    if style == "signed":
        return "+" + text
    if style == "huge":   # beyond a 64-bit key: a ValueError in both
        return "9" * 25
    return draw(st.sampled_from(["nan", "abc", "", "1e999"])) if style == "bad" else text


QTYS = ["0", "0.000", "1", "2.5", "0.001", "1e-3", "1E2", " 3 ", "nan", "-1", "1_0", "inf",
        "123456789012345678901", 1.5, 0, 2]


@st.composite
def stream(draw: st.DrawFn) -> tuple[str, list[tuple[Any, ...]]]:
    tick = draw(st.sampled_from(TICKS))
    level = st.tuples(price(tick), st.sampled_from(QTYS))
    op = st.one_of(
        st.tuples(st.just("levels"), st.sampled_from([BID, ASK]), st.lists(level, max_size=6),
                  st.booleans()),
        st.tuples(st.just("snapshot"), st.lists(level, max_size=12), st.lists(level, max_size=12)),
        st.tuples(st.just("ticks"), st.sampled_from([BID, ASK]), st.integers(990, 1050),
                  st.sampled_from([0.0, 1.0, 7.5])),
        st.tuples(st.just("trim"), st.sampled_from([BID, ASK]), st.integers(0, 5)),
        st.tuples(st.just("clear")),
    )
    return tick, draw(st.lists(op, max_size=40))


def as_json(levels: list[tuple[Any, Any]]) -> msgspec.Raw:
    """Levels as the venue's JSON text; numbers stay numbers (the C parser hands those back)."""
    return msgspec.Raw(json.dumps([list(lv) for lv in levels]).encode())


def run(book: Any, op: tuple[Any, ...]) -> str:
    try:
        kind = op[0]
        if kind == "levels":
            _, side, levels, raw = op
            book.apply_levels(side, as_json(levels) if raw else levels)
        elif kind == "snapshot":
            book.load_snapshot(op[1], op[2], last_update_id=len(op[1]), ts_ms=len(op[2]))
        elif kind == "ticks":
            book.set_level_ticks(op[1], op[2], op[3])
        elif kind == "trim":
            book.trim(op[1], op[2])
        else:
            book.clear()
    except (ValueError, msgspec.DecodeError) as exc:
        return type(exc).__name__
    return "ok"


@settings(max_examples=400, deadline=None)
@given(stream())
def test_random_streams_build_identical_books(case: tuple[str, list[tuple[Any, ...]]]) -> None:
    tick, ops = case
    py, nat = pair(tick)
    for op in ops:
        assert run(py, op) == run(nat, op), op
        assert state(py) == state(nat), op
    assert repr(queries(py)) == repr(queries(nat))   # repr: a NaN (inf qty x 0) equals itself
    assert state(py.copy()) == state(nat.copy()) == state(nat)


@pytest.mark.parametrize("raw", [
    b'[["1000.1","1"],["1000.2","2","extra"]]',       # an extra field
    b'[[1000.3,"1"]]',                                 # a number, not text
    b'[["1000\\u002e4","1"]]',                         # an escape
    b' [ [ "1000.5" , "1" ] ]\n',                      # whitespace is fine for both
])
def test_json_the_c_parser_does_not_take_goes_the_python_way(raw: bytes) -> None:
    py, nat = pair("0.1")
    for book in (py, nat):
        book.apply_levels(BID, [["999.9", "5"]])
        book.apply_levels(BID, msgspec.Raw(raw))
    assert state(py) == state(nat) and len(nat) >= 2


def test_off_grid_exponent_and_long_prices_take_the_exact_path() -> None:
    py, nat = pair("0.1")
    for book in (py, nat):
        book.load_snapshot([["100.0", "1"], ["99.9", "2"]], [["100.2", "3"]])
        book.apply_levels(BID, msgspec.Raw(b'[["100.05","4"],["1.0015E+2","5"]]'))
        book.apply_levels(ASK, [["100.1500000000000000000000000", "6"]])
    assert state(py) == state(nat)
    assert nat.levels(BID, 2) == [(100.15, 5.0), (100.05, 4.0)] and not nat.on_grid
    assert nat.best_ask() == (100.15, 6.0) and nat.is_crossed()
    for book in (py, nat):
        with pytest.raises(ValueError):
            book.apply_levels(BID, [["9" * 25, "1"]])
        book.clear()
    assert state(py) == state(nat) and nat.on_grid


def test_computed_float_prices_keep_to_their_tick_and_off_grid_floats_still_fit() -> None:
    py, nat = pair("0.0001")
    mark = 0.123456789012345   # off the grid, as a computed mark is
    bids = [(0.1234 - 0.0001 * k, 1.0) for k in range(50)] + [(mark, 2.0)]
    asks = [(0.1236 + 0.0001 * k, 1.0) for k in range(50)] + [(mark + 0.0002, 2.0)]
    for book in (py, nat):
        book.load_snapshot(bids, asks)
    assert state(py) == state(nat) and len(nat) == 102
    assert nat.qty_at_ticks(BID, 1234 - 49) == 1.0   # 0.1234 - 0.0049: float noise, same tick
    assert nat.best_bid() == (mark, 2.0) and not nat.on_grid

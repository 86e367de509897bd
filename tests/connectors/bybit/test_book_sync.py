"""Bybit `orderbook.{depth}.{symbol}` sequencing, pure: the real ob500 recording replays gap-free
with 500 levels a side and never crosses; snapshots (incl. u == 1) overwrite; a gap unsyncs."""
from __future__ import annotations

import zipfile

import pytest

from connectors.bybit import schemas
from connectors.bybit.sync import ASK, BID, BookSync, Sync
from daemon.core.book import OrderBook
from tests.conftest import REALDATA

OB500 = REALDATA / "nautilus" / "xrpusdt-ob500.data.zip"


def _lines() -> list[bytes]:
    # The recording is part of ../shared/realdata (tests/conftest.py REALDATA): missing is a
    # broken checkout, not a reason to pass.
    assert OB500.exists(), f"realdata not found: {OB500} (set $BASISD_REALDATA)"
    with zipfile.ZipFile(OB500) as z:
        (name,) = z.namelist()
        return [line for line in z.read(name).splitlines() if line.strip()]


def test_ob500_recording_replays_gap_free_500_a_side_never_crossed() -> None:
    lines = _lines()
    book = OrderBook("0.0001", symbol="XRPUSDT")
    sync = BookSync(book)
    results = []
    for raw in lines:
        msg = schemas.BOOK_MESSAGE.decode(raw)
        results.append(sync.apply_message(msg))
        assert not book.is_crossed()
        assert book.count(BID) == 500 and book.count(ASK) == 500
    assert len(lines) == 50
    assert results[0] is Sync.SYNCED
    assert results[1:] == [Sync.APPLIED] * 49
    assert (sync.gaps, sync.crossings, sync.dropped) == (0, 0, 0)
    assert sync.last_u == 20254918 and book.last_update_id == 20254918
    assert book.best_bid() is not None and book.best_ask() is not None
    assert book.best_bid()[0] == pytest.approx(1.9537) and book.best_ask()[0] == pytest.approx(1.9538)


def test_a_gap_unsyncs_and_a_snapshot_with_u_1_overwrites() -> None:
    lines = _lines()
    book = OrderBook("0.0001")
    sync = BookSync(book)
    msgs = [schemas.BOOK_MESSAGE.decode(raw) for raw in lines]
    sync.apply_message(msgs[0])
    sync.apply_message(msgs[1])
    assert sync.apply_message(msgs[1]) is Sync.DROPPED          # a replayed frame
    assert sync.apply_message(msgs[3]) is Sync.GAP              # msgs[2] lost
    assert not sync.synced and book.count(BID) == 0
    assert sync.apply_message(msgs[4]) is Sync.WAITING
    # the venue restarted: a snapshot with u == 1 replaces everything, whatever came before
    assert sync.on_snapshot(1, 5, [["1.0000", "3"]], [["1.0002", "4"]]) is Sync.SYNCED
    assert sync.restarts == 1 and book.count(BID) == 1 and book.best_ask() == (1.0002, 4.0)
    assert sync.on_delta(2, 6, [["1.0001", "2"]], [["1.0002", "0"]]) is Sync.APPLIED
    assert book.best_bid() == (1.0001, 2.0) and book.count(ASK) == 0


def test_a_delta_that_crosses_the_book_clears_it() -> None:
    book = OrderBook("0.01")
    sync = BookSync(book)
    sync.on_snapshot(10, 1, [["100.00", "1"]], [["100.02", "1"]])
    assert sync.on_delta(11, 2, [["100.03", "1"]], []) is Sync.CROSSED
    assert not sync.synced and sync.crossings == 1 and book.count(BID) == 0

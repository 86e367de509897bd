"""Done-when #2: the recorded USD-M depth stream rebuilds books that agree with Binance's own
bookTicker, with no gaps; dropping any one diff is detected and a resnapshot recovers."""
from __future__ import annotations

import csv
from dataclasses import dataclass

import pytest

from connectors.binance import reference, schemas
from connectors.binance.sync import BookSync, Rule, Sync
from daemon.core.book import ASK, BID, OrderBook

from .realdata import REALDATA, FuturesRecording, futures_exchange_info_body, load_futures_recording


@pytest.fixture(scope="module")
def rec() -> FuturesRecording:
    return load_futures_recording()


@pytest.fixture(scope="module")
def ticks(rec: FuturesRecording) -> dict[str, float]:
    info = schemas.EXCHANGE_INFO.decode(futures_exchange_info_body())
    insts = reference.instruments(info, venue="binance", market="perp", symbols=rec.snapshots)
    return {i.symbol: i.tick_size for i in insts}


@dataclass
class Replay:
    syncs: dict[str, BookSync]
    results: dict[str, list[tuple[object, Sync]]]   # per symbol: (diff, result) in order
    tops: dict[str, list[tuple[int, tuple, tuple]]]  # per symbol: (u, best_bid, best_ask) after apply
    gap_at: list[tuple[str, int]]


def replay(rec: FuturesRecording, ticks: dict[str, float], *, skip: object = None,
           only: str | None = None) -> Replay:
    """Merge snapshots into the frame stream at their receive time, as a live connector would."""
    syncs = {s: BookSync(OrderBook(ticks[s], symbol=s), Rule.FUTURES) for s in rec.snapshots}
    results: dict[str, list] = {s: [] for s in rec.snapshots}
    tops: dict[str, list] = {s: [] for s in rec.snapshots}
    gap_at: list[tuple[str, int]] = []
    pending = sorted((ts, sym) for sym, (ts, _) in rec.snapshots.items())
    for ts, sym, kind, ev in rec.frames:
        while pending and pending[0][0] <= ts:
            _, psym = pending.pop(0)
            if only is None or psym == only:
                snap = rec.snapshots[psym][1]
                r = syncs[psym].on_snapshot(snap.lastUpdateId, snap.bids, snap.asks, snap.E)
                assert r is Sync.SYNCED, (psym, r)
        if kind != "depth" or ev is skip or (only is not None and sym != only):
            continue
        sync = syncs[sym]
        r = sync.apply_event(ev)
        results[sym].append((ev, r))
        if r is Sync.APPLIED:
            tops[sym].append((ev.u, sync.book.best_bid(), sync.book.best_ask()))
        elif r in (Sync.GAP, Sync.SNAPSHOT_NEEDED):
            gap_at.append((sym, ev.u))
    return Replay(syncs, results, tops, gap_at)


def test_recording_shape(rec: FuturesRecording) -> None:
    assert len(rec.snapshots) == 4
    assert sum(1 for f in rec.frames if f[2] == "depth") == 764
    assert sum(1 for f in rec.frames if f[2] == "ticker") == 613


def test_exchange_info_gives_tick_sizes(ticks: dict[str, float]) -> None:
    assert ticks["SUSHIUSDT"] == 0.001
    assert set(ticks) == {"SUSHIUSDT", "AKROUSDT", "KEEPUSDT", "CTKUSDT"}


def test_full_replay_has_no_gaps_and_matches_every_determinable_book_ticker(
        rec: FuturesRecording, ticks: dict[str, float]) -> None:
    rp = replay(rec, ticks)
    assert rp.gap_at == []
    assert all(s.gaps == 0 and s.synced for s in rp.syncs.values())
    applied = sum(len(t) for t in rp.tops.values())
    assert applied > 700   # a few early diffs are older than the snapshot and rightly dropped
    for sym, res in rp.results.items():
        assert {r for _, r in res} <= {Sync.BUFFERED, Sync.APPLIED, Sync.DROPPED}, sym

    checked = 0
    for _, sym, kind, bt in rec.frames:
        if kind != "ticker":
            continue
        tops = rp.tops[sym]
        applied_diffs = [ev for ev, r in rp.results[sym] if r is Sync.APPLIED]
        for k, ev in enumerate(applied_diffs[:-1]):
            nxt = applied_diffs[k + 1]
            if ev.u <= bt.u < nxt.U:
                _, bid, ask = tops[k]
                assert bid == (float(bt.b), float(bt.B)), (sym, bt.u)
                assert ask == (float(bt.a), float(bt.A)), (sym, bt.u)
                checked += 1
                break
    assert checked == 50


def test_dropping_any_one_diff_is_detected_and_a_resnapshot_recovers(
        rec: FuturesRecording, ticks: dict[str, float]) -> None:
    full = replay(rec, ticks)
    tested = 0
    for sym, res in full.results.items():
        applied = [ev for ev, r in res if r is Sync.APPLIED]
        final_top = full.tops[sym][-1][1:]
        # The last diff of a stream cannot be missed by anyone: no later diff refers to it.
        for victim in applied[:-1]:
            rp = replay(rec, ticks, skip=victim, only=sym)
            assert rp.gap_at, (sym, victim.u)
            gap_sym, gap_u = rp.gap_at[0]
            assert gap_sym == sym and gap_u > victim.u
            sync = rp.syncs[sym]
            assert not sync.synced or sync.gaps >= 1
            tested += 1
        # Recovery: after a gap, a fresh snapshot (the true book at some later diff) resyncs and
        # the remaining diffs rebuild the same final book as the uninterrupted replay.
        if len(applied) >= 4:
            mid = len(applied) // 2
            truth = BookSync(OrderBook(ticks[sym], symbol=sym), Rule.FUTURES)
            snap = rec.snapshots[sym][1]
            truth.on_snapshot(snap.lastUpdateId, snap.bids, snap.asks)
            for ev in applied[:mid + 1]:
                assert truth.apply_event(ev) is Sync.APPLIED
            book = truth.book
            levels = {side: book.levels(side, 10_000) for side in (BID, ASK)}
            victim = applied[mid - 1]
            sync = BookSync(OrderBook(ticks[sym], symbol=sym), Rule.FUTURES)
            sync.on_snapshot(snap.lastUpdateId, snap.bids, snap.asks)
            results = [sync.apply_event(ev) for ev in applied if ev is not victim]
            assert Sync.GAP in results and sync.gaps == 1
            assert not sync.synced and sync.book.best_bid() is None   # cleared: fail closed
            resnap = sync.on_snapshot(applied[mid].u, levels[BID], levels[ASK])
            assert resnap is Sync.SYNCED
            # buffered diffs up to the snapshot were dropped; later ones replayed and chained
            assert sync.book.last_update_id == applied[-1].u
            assert (sync.book.best_bid(), sync.book.best_ask()) == final_top
    assert tested == 764 - 4 - sum(1 for res in full.results.values()
                                   for _, r in res if r is not Sync.APPLIED)


# -- spot rules (synthetic: no spot recording) -----------------------------------------------
def _spot_book() -> BookSync:
    return BookSync(OrderBook(0.01, symbol="BTCUSDT"), Rule.SPOT)


def test_spot_first_event_and_chain_rules() -> None:
    s = _spot_book()
    assert s.on_diff(90, 100, -1, [["10.00", "1"]], []) is Sync.BUFFERED      # u <= lastUpdateId
    assert s.on_diff(101, 105, -1, [["10.01", "2"]], [["10.05", "1"]]) is Sync.BUFFERED
    assert s.on_snapshot(100, [["9.99", "3"]], [["10.06", "1"]]) is Sync.SYNCED
    assert s.book.best_bid() == (10.01, 2.0)
    assert s.book.last_update_id == 105
    assert s.on_diff(106, 108, -1, [], [["10.05", "0"]]) is Sync.APPLIED
    assert s.book.best_ask() == (10.06, 1.0)
    assert s.on_diff(110, 111, -1, [], []) is Sync.GAP                        # 109 missing
    assert not s.synced and s.gaps == 1


def test_spot_snapshot_older_than_buffer_asks_for_another() -> None:
    s = _spot_book()
    s.on_diff(205, 210, -1, [["10.00", "1"]], [])
    assert s.on_snapshot(200, [["9.00", "1"]], [["11.00", "1"]]) is Sync.SNAPSHOT_NEEDED
    assert not s.synced
    # the buffered diff survives for the next snapshot
    assert s.on_snapshot(207, [["9.50", "1"]], [["11.00", "1"]]) is Sync.SYNCED
    assert s.book.best_bid() == (10.0, 1.0) and s.book.last_update_id == 210


def test_spot_rule_differs_from_futures_at_the_boundary() -> None:
    # A diff ending exactly at lastUpdateId is stale for spot, but is the valid first event for
    # futures (U <= lastUpdateId <= u).
    spot, fut = _spot_book(), BookSync(OrderBook(0.01), Rule.FUTURES)
    for s in (spot, fut):
        s.on_snapshot(100, [["9.99", "1"]], [["10.01", "1"]])
    assert spot.on_diff(95, 100, -1, [["9.98", "5"]], []) is Sync.DROPPED
    assert fut.on_diff(95, 100, 90, [["9.98", "5"]], []) is Sync.APPLIED
    assert fut.on_diff(101, 102, 99, [], []) is Sync.GAP                      # pu != previous u


def test_nautilus_archive_depth_csv_parses() -> None:
    base = REALDATA / "nautilus"
    for name, kind in (("btcusdt-depth-snap.csv", "snap"), ("btcusdt-depth-update.csv", "set")):
        with (base / name).open() as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 100
        assert {r["update_type"] for r in rows} == {kind}
        assert {r["side"] for r in rows} <= {"a", "b"}
        book = OrderBook(0.1, symbol="BTCUSDT")
        for side, code in ((BID, "b"), (ASK, "a")):
            book.apply_levels(side, [[r["price"], r["qty"]] for r in rows if r["side"] == code])
        if kind == "snap":
            assert not book.is_crossed() and book.best_bid() == (20377.0, 1.77)


# -- crossed books (issue 12: blocked opens, but the stream stayed "healthy") ---------------------
def test_a_diff_that_crosses_the_book_clears_it_and_asks_for_a_snapshot() -> None:
    for rule, pu in ((Rule.SPOT, -1), (Rule.FUTURES, 100)):
        s = BookSync(OrderBook(0.01), rule)
        assert s.on_snapshot(100, [["9.99", "1"]], [["10.01", "1"]]) is Sync.SYNCED
        assert s.on_diff(100, 101, pu, [["10.02", "1"]], []) is Sync.CROSSED  # bid above the ask
        assert not s.synced and s.crossings == 1 and s.gaps == 0 and s.book.is_empty()
        assert s.on_diff(102, 103, 101, [], [["10.03", "2"]]) is Sync.BUFFERED
        # A snapshot newer than the crossing diff drops it and replays only what follows.
        assert s.on_snapshot(102, [["9.98", "1"]], [["10.01", "1"]]) is Sync.SYNCED
        assert s.book.best_bid() == (9.98, 1.0) and s.book.levels(ASK, 2) == [
            (10.01, 1.0), (10.03, 2.0)]
        assert not s.book.is_crossed()


def test_a_locked_diff_counts_as_crossed() -> None:
    s = BookSync(OrderBook(0.01), Rule.FUTURES)
    s.on_snapshot(100, [["9.99", "1"]], [["10.01", "1"]])
    assert s.on_diff(100, 101, 99, [], [["9.99", "1"], ["10.01", "0"]]) is Sync.CROSSED


def test_a_crossed_snapshot_is_not_synced_and_keeps_newer_diffs() -> None:
    s = BookSync(OrderBook(0.01), Rule.SPOT)
    s.on_diff(101, 103, -1, [["9.97", "4"]], [])
    s.on_diff(104, 105, -1, [], [["10.04", "1"]])
    assert s.on_snapshot(102, [["10.05", "1"]], [["10.02", "1"]]) is Sync.CROSSED
    assert not s.synced and s.crossings == 1 and s.book.is_empty()
    # The next, sane snapshot chains onto the diffs that were buffered after the crossed one.
    assert s.on_snapshot(103, [["9.99", "1"]], [["10.02", "1"]]) is Sync.SYNCED
    assert s.book.best_ask() == (10.02, 1.0) and s.book.qty_at(ASK, "10.04") == 1.0
    assert s.book.last_update_id == 105


def test_a_crossed_off_grid_diff_is_detected() -> None:
    s = BookSync(OrderBook(0.1), Rule.FUTURES)
    s.on_snapshot(100, [["100.0", "1"]], [["100.1", "1"]])
    # Rounded to ticks this was 100.0 < 100.1; kept exactly it is 100.12 > 100.1.
    assert s.on_diff(100, 101, 99, [["100.12", "1"]], []) is Sync.CROSSED

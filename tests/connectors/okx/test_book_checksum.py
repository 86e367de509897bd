"""Done-when #2 (OKX): the recorded `books` stream verifies every checksum through our book,
the documented checksum vectors pass, the final tops equal the known answers, and a corrupted
size is caught. Instruments from the recorded /public/instruments decode with ctVal."""
from __future__ import annotations

import json

import pytest

from connectors.okx import schemas
from connectors.okx.reference import instruments
from connectors.okx.sync import OkxBookSync, Sync, checksum_of_levels
from daemon.core.book import OrderBook
from tests.conftest import REALDATA

CRYPTOFEED = REALDATA / "cryptofeed_master"
TICKS = {"BTC-USDT": "0.1", "UNI-USD-SWAP": "0.001", "BTC-USD-220527": "0.1"}
TOPS = {"BTC-USDT": (30236.1, 30236.2), "UNI-USD-SWAP": (5.137, 5.145),
        "BTC-USD-220527": (30229.4, 30238.8)}


def book_messages() -> list[schemas.BookMessage]:
    lines = (CRYPTOFEED / "OKX.ws.1.0").read_text().splitlines()
    out = []
    for line in lines[1:]:
        if '"channel":"books"' not in line or '"data"' not in line or " <- " in line:
            continue
        out.append(schemas.BOOK_MESSAGE.decode(line.split(": ", 1)[1]))
    return out


def replay(messages: list[schemas.BookMessage]) -> tuple[dict[str, OkxBookSync], list[Sync]]:
    syncs: dict[str, OkxBookSync] = {}
    results = []
    for msg in messages:
        inst = msg.arg.instId
        sync = syncs.get(inst)
        if sync is None:
            sync = syncs[inst] = OkxBookSync(OrderBook(TICKS[inst], symbol=inst))
        for d in msg.data:
            results.append(sync.on_message(msg.action, d.bids, d.asks, checksum=d.checksum,
                                           seq_id=d.seqId, prev_seq_id=d.prevSeqId,
                                           ts_ms=int(d.ts)))
    return syncs, results


def test_all_290_recorded_books_messages_verify_and_end_on_the_known_tops() -> None:
    messages = book_messages()
    assert len(messages) == 290
    syncs, results = replay(messages)
    assert results.count(Sync.SYNCED) == 3
    assert results.count(Sync.APPLIED) == 287
    for inst, (bid, ask) in TOPS.items():
        book = syncs[inst].book
        assert book.best_bid()[0] == bid and book.best_ask()[0] == ask, inst
        assert syncs[inst].checksum_errors == 0 and syncs[inst].synced


def test_a_corrupted_size_is_caught_and_clears_the_book() -> None:
    messages = book_messages()
    # corrupt the first update of BTC-USDT that changes a level inside the checksum's 25
    target = next(i for i, m in enumerate(messages)
                  if m.action == "update" and m.arg.instId == "BTC-USDT" and m.data[0].bids)
    level = messages[target].data[0].bids[0]
    level[1] = "7.77" if level[1] != "7.77" else "8.88"
    syncs, results = replay(messages)
    sync = syncs["BTC-USDT"]
    assert results[target] is Sync.CHECKSUM
    assert sync.checksum_errors == 1 and not sync.synced and sync.book.is_empty()


def test_the_two_documented_checksum_vectors() -> None:
    vectors = json.loads((REALDATA / "vectors" / "doc_vectors.json").read_text())
    cases = vectors["okx_orderbook_checksum_crc32_signed"]
    assert len(cases) == 2
    for case in cases:
        assert checksum_of_levels(case["bids"], case["asks"]) == case["checksum"], case["id"]
        book = OkxBookSync(OrderBook("0.1"))
        assert book.on_message("snapshot", case["bids"], case["asks"],
                               checksum=case["checksum"]) is Sync.SYNCED


def test_seq_id_gap_clears_the_book_and_a_snapshot_restores_it() -> None:
    sync = OkxBookSync(OrderBook("0.1"))
    bids, asks = [["100.1", "2", "0", "1"]], [["100.3", "1", "0", "1"]]
    assert sync.on_message("snapshot", bids, asks, checksum=None, seq_id=10,
                           prev_seq_id=-1) is Sync.SYNCED
    assert sync.on_message("update", [["100.0", "1", "0", "1"]], [], checksum=None, seq_id=12,
                           prev_seq_id=10) is Sync.APPLIED
    assert sync.on_message("update", [], [], checksum=None, seq_id=12,
                           prev_seq_id=12) is Sync.APPLIED     # no change: seqId repeats
    assert sync.on_message("update", [], [["100.4", "1", "0", "1"]], checksum=None, seq_id=20,
                           prev_seq_id=15) is Sync.GAP
    assert not sync.synced and sync.book.is_empty()
    assert sync.on_message("update", [], [], checksum=None, seq_id=21,
                           prev_seq_id=20) is Sync.WAITING
    assert sync.on_message("snapshot", bids, asks, checksum=None, seq_id=30,
                           prev_seq_id=-1) is Sync.SYNCED


def test_swap_sizes_become_coins_but_the_checksum_uses_the_contract_text() -> None:
    bids, asks = [["30000.1", "12", "0", "1"]], [["30000.2", "3", "0", "1"]]
    sync = OkxBookSync(OrderBook("0.1"), contract_size=0.01)
    assert sync.on_message("snapshot", bids, asks,
                           checksum=checksum_of_levels(bids, asks)) is Sync.SYNCED
    assert sync.book.best_bid() == (30000.1, 0.12)
    assert sync.book.best_ask() == (30000.2, 0.03)


def test_recorded_instruments_decode_with_ct_val() -> None:
    rows: dict[str, schemas.InstrumentRow] = {}
    for line in (CRYPTOFEED / "OKX.0").read_text().splitlines():
        if " -> " not in line:
            continue
        body = line.split(" -> ", 1)[1].split(": ", 1)[1]
        env = schemas.REST_ENVELOPE.decode(body)
        for row in schemas.INSTRUMENTS.decode(env.data):
            rows[row.instId] = row
    assert rows["BTC-USD-SWAP"].ctVal == "100" and rows["BTC-USD-SWAP"].ctType == "inverse"
    insts = {(i.market, i.symbol): i for i in instruments(rows.values(), venue="okx",
                                                        symbols=["BTCUSDT", "ETHUSDT"])}
    spot, perp = insts[("spot", "BTCUSDT")], insts[("perp", "BTCUSDT")]
    assert (spot.base, spot.quote, spot.tick_size, spot.step_size) == ("BTC", "USDT", 0.1, 1e-8)
    ct = float(rows["BTC-USDT-SWAP"].ctVal)
    assert perp.contract_size == ct == 0.01
    assert perp.step_size == pytest.approx(float(rows["BTC-USDT-SWAP"].lotSz) * ct)
    assert (perp.base, perp.quote) == ("BTC", "USDT")
    # inverse swaps (ctVal in USD) are not hedgeable in coins: left out
    assert ("perp", "BTCUSD") not in insts

"""Durable or fail closed: a real SQLite failure (the file may not grow: `PRAGMA max_page_count`)
is never reported durable, is retried from memory, refuses orders that add risk, and lets the
orders that reduce it go out (their intents reach SQLite once the file can grow again)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from daemon.journal import Journal, JournalError
from daemon.legging.config import LeggingConfig
from daemon.legging.engine import EngineError, LeggingEngine

from tests.daemon.legging.legging_fakes import FakeVenue, make_hub

CFG = LeggingConfig(backoff_base_s=0.01, backoff_cap_s=0.05, complete_budget_s=0.3)


def _fill(i: int) -> dict[str, object]:
    return {"venue": "v", "client_id": "c", "trade_id": str(i), "pair_id": "p" * 400, "qty": 1.0,
            "price": 1.0, "fee": 0.0, "fee_asset": "USDT", "ts_ms": i}


def _intent(cid: str) -> dict[str, object]:
    return {"client_id": cid, "pair_id": "pair01", "venue": "sim-a", "market": "perp",
            "symbol": "BTCUSDT", "side": "SELL", "qty": 0.1, "price": None,
            "order_type": "MARKET", "ts_ms": 1, "doc": None}


def _disk_full(j: Journal) -> None:
    """The file may not grow past what it has now: every commit that needs a page fails with
    SQLITE_FULL ("database or disk is full"), as on a full disk."""
    assert j._conn is not None
    pages = j._conn.execute("PRAGMA page_count").fetchone()[0]
    j._conn.execute(f"PRAGMA max_page_count = {pages}")
    for i in range(300):            # more than the free space inside the file's pages
        j.put("fill", _fill(i))


def _disk_freed(j: Journal) -> None:
    assert j._conn is not None
    j._conn.execute("PRAGMA max_page_count = 1073741823")


async def _until(pred: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not pred():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_a_failed_commit_raises_is_logged_and_is_retried_from_memory(tmp_path: Path) -> None:
    j = Journal(tmp_path, retry_s=0.02)
    j.open()
    seen: list[tuple[bool, str]] = []
    j.watch(lambda healthy, error: seen.append((healthy, error)))
    with capture_logs() as logs:
        _disk_full(j)
        with pytest.raises(JournalError, match="database or disk is full"):
            await j.barrier()
    assert not j.healthy and j.errors >= 1 and "disk is full" in j.last_error
    assert j.pending_rows == 300
    failed = [e for e in logs if e["event"] == "journal_write_failed"]
    assert failed and failed[0]["log_level"] == "error" and "disk is full" in failed[0]["error"]
    await _until(lambda: seen and seen[-1][0] is False)
    # an order that adds risk has no durable intent now: refused, and nothing recorded
    with pytest.raises(JournalError):
        j.intent(_intent("bd-open-1"), durable=True)
    # one that reduces risk is kept (intent log + the retried batch)
    j.intent(_intent("bd-close-1"), durable=False)
    errors = j.errors
    await _until(lambda: j.errors > errors)       # retried on its own, still failing
    assert j.query("SELECT count(*) FROM fills")[0][0] == 0

    _disk_freed(j)
    await _until(lambda: j.healthy)
    await j.barrier()
    assert seen[-1] == (True, "")
    assert j.pending_rows == 0
    assert j.query("SELECT count(*) FROM fills")[0][0] == 300
    cids = {r[0] for r in j.query("SELECT client_id FROM intents")}
    assert cids == {"bd-close-1"}
    assert j.flush_sync()
    j.close()


async def test_intent_log_failure_refuses_durable_intents(tmp_path: Path) -> None:
    """The write-ahead line itself cannot be written (here: the log's descriptor is read-only,
    so os.write fails with EBADF): an order adding risk is refused, one reducing it is not."""
    import os

    j = Journal(tmp_path, retry_s=0.02)
    j.open()
    fd = j._intent_fd
    j._intent_fd = os.open(j.intent_log, os.O_RDONLY)
    try:
        with pytest.raises(JournalError, match="intent not written ahead"):
            j.intent(_intent("bd-a"), durable=True)
        assert not j.healthy
        j.intent(_intent("bd-b"), durable=False)
        await j.barrier()            # SQLite itself is fine: the reducing intent is there
        assert {r[0] for r in j.query("SELECT client_id FROM intents")} == {"bd-b"}
        with pytest.raises(JournalError):
            j.intent(_intent("bd-c"), durable=True)
    finally:
        os.close(j._intent_fd)
        j._intent_fd = fd
    await _until(lambda: j.healthy)      # the writer's probe finds the log writable again
    j.intent(_intent("bd-d"), durable=True)
    await j.barrier()
    j.close()


async def test_engine_on_a_full_journal_sends_no_new_risk_and_still_closes(tmp_path: Path) -> None:
    hub = make_hub()
    venue = FakeVenue(hub)
    journal = Journal(tmp_path, retry_s=0.02)
    eng = LeggingEngine(hub, {"sim-a": venue}, CFG, journal)
    await eng.start()
    pid = await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, "taker")
    await eng.wait_idle(pid, 10)
    assert eng.view(pid)["state"] == "open"
    sent_before = len(venue.sent)

    _disk_full(journal)
    # The open's pair row cannot be made durable: refused before any order, the pair ends.
    with pytest.raises(EngineError) as err:
        await eng.open_pair("reverse_basis", "BTCUSDT", 5_000, "taker")
    assert err.value.status == 503 and "journal" in err.value.message
    assert len(venue.sent) == sent_before
    refused = [rt.pair for rt in eng.pairs.values() if rt.pair.id != pid]
    assert [p.state.value for p in refused] == ["failed"] and "not opened" in refused[0].reason
    # Now the journal is known to fail: no increase, no open even gets that far.
    for attempt in (eng.increase(pid, 1_000), eng.open_pair("basis", "BTCUSDT", 1_000)):
        with pytest.raises(EngineError) as err:
            await attempt
        assert err.value.status == 503 and "journal failing" in err.value.message
    assert len(venue.sent) == sent_before
    assert eng.view(pid)["state"] == "open"

    # Closing reduces risk: it goes out, journaled in memory until the file can grow again.
    await eng.close(pid, "taker")
    await eng.wait_idle(pid, 10)
    view = eng.view(pid)
    assert view["state"] == "closed", view
    assert all(abs(leg["signed_qty"]) < 1e-9 for leg in view["legs"])
    close_ids = {r.client_id for r in venue.sent[sent_before:]}
    assert close_ids
    assert not journal.healthy

    _disk_freed(journal)
    await _until(lambda: journal.healthy)
    await journal.barrier()
    journaled = {r[0] for r in journal.query("SELECT client_id FROM intents")}
    assert {r.client_id for r in venue.sent} <= journaled      # every order the venue saw
    state = {r[0]: r[1] for r in journal.query("SELECT id, state FROM pairs")}
    assert state[pid] == "closed" and state[refused[0].id] == "failed"
    await eng.stop()

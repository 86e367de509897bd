"""Journal: schema + migrations, group commit off the loop, write-ahead intents survive SIGKILL."""
from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson

from daemon import journal as jr

from tests.conftest import ROOT


def _intent(cid: str, pair: str = "pair01") -> dict[str, object]:
    return {"client_id": cid, "pair_id": pair, "venue": "sim-a", "market": "perp",
            "symbol": "BTCUSDT", "side": "BUY", "qty": 0.1, "price": None,
            "order_type": "MARKET", "ts_ms": 1, "doc": None}


def test_fresh_file_is_latest_schema_and_wal(tmp_path: Path) -> None:
    j = jr.Journal(tmp_path)
    state = j.open()
    j.close()
    assert state["pairs"] == {} and state["replayed_intents"] == 0
    conn = sqlite3.connect(tmp_path / "journal.sqlite")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == jr.SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"pairs", "ops", "intents", "orders", "fills", "funding", "interest",
            "transfers"} <= tables


def test_migrates_v1_file_keeping_rows(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "journal.sqlite", isolation_level=None)
    conn.executescript(f"BEGIN; {jr.MIGRATIONS[1]} PRAGMA user_version = 1; COMMIT;")
    conn.execute("INSERT INTO pairs VALUES ('p1', 'basis', 'BTCUSDT', 'open', 1, 2, ?)",
                 (orjson.dumps({"id": "p1"}),))
    conn.close()
    j = jr.Journal(tmp_path)
    state = j.open()
    j.close()
    assert state["pairs"] == {"p1": {"id": "p1"}}
    conn = sqlite3.connect(tmp_path / "journal.sqlite")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == jr.SCHEMA_VERSION == 4
    assert conn.execute("SELECT count(*) FROM transfers").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM risk_steps").fetchone()[0] == 0


def test_risk_steps_recorded_through_the_writer(tmp_path: Path) -> None:
    from enum import Enum

    class Mode(str, Enum):
        X = "reduce_only"

    j = jr.Journal(tmp_path)
    j.open()
    j.record_risk_step({"ts_ms": 5, "pair_id": "p1", "step": "transfer",
                        "detail": {"amount": 12.5}, "distances": {"perp:sim-a": 0.2}})
    j.record_risk_step({"ts_ms": 6, "pair_id": "", "step": "halt",
                        "detail": {"mode": Mode.X, "reason": "manual"}})
    assert j.flush_sync()
    rows = j.query("SELECT pair_id, ts_ms, step, detail FROM risk_steps ORDER BY id")
    j.close()
    assert [(r[0], r[1], r[2]) for r in rows] == [("p1", 5, "transfer"), ("", 6, "halt")]
    assert orjson.loads(rows[0][3]) == {"amount": 12.5, "distances": {"perp:sim-a": 0.2}}
    assert orjson.loads(rows[1][3]) == {"mode": "reduce_only", "reason": "manual"}


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "journal.sqlite")
    conn.execute(f"PRAGMA user_version = {jr.SCHEMA_VERSION + 1}")
    conn.close()
    try:
        jr.Journal(tmp_path).open()
    except RuntimeError as exc:
        assert "newer" in str(exc)
    else:
        raise AssertionError("expected RuntimeError")


async def test_group_commit_and_barrier(tmp_path: Path) -> None:
    j = jr.Journal(tmp_path, sync="normal")
    j.open()
    for i in range(2000):
        j.put("fill", {"venue": "v", "client_id": f"c{i % 7}", "trade_id": str(i),
                       "pair_id": "p", "qty": 1.0, "price": 2.0, "fee": 0.0, "fee_asset": "USDT",
                       "ts_ms": i})
    for i in range(50):    # 50 snapshots of the same pair collapse into the newest
        j.put("pair", {"id": "p", "type": "basis", "symbol": "X", "state": f"s{i}",
                       "created_ms": 0, "updated_ms": i, "doc": orjson.dumps({"n": i})})
    await j.barrier()
    assert j.commits < 2000 / 2        # grouped, not one transaction per row
    rows = j.query("SELECT count(*) FROM fills")
    assert rows[0][0] == 2000
    assert j.query("SELECT state FROM pairs WHERE id='p'")[0][0] == "s49"
    # duplicates (same trade seen on REST and websocket) are ignored
    j.put("fill", {"venue": "v", "client_id": "c0", "trade_id": "0", "pair_id": "p", "qty": 1.0,
                   "price": 2.0, "fee": 0.0, "fee_asset": "USDT", "ts_ms": 0})
    await j.barrier()
    assert j.query("SELECT count(*) FROM fills")[0][0] == 2000
    assert j.errors == 0
    j.close()


async def test_barrier_does_not_block_the_loop(tmp_path: Path) -> None:
    j = jr.Journal(tmp_path)
    j.open()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)
    t = asyncio.create_task(ticker())
    for i in range(200):
        j.intent(_intent(f"c{i}"))
    await j.barrier()
    t.cancel()
    assert ticks > 0
    assert j.query("SELECT count(*) FROM intents")[0][0] == 200
    j.close()


def test_intent_written_ahead_survives_sigkill(tmp_path: Path) -> None:
    """A child writes intents and is SIGKILLed before the writer could commit them all."""
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from daemon import journal as jr
        j = jr.Journal({str(tmp_path)!r})
        j.open()
        # stall the writer so SQLite has nothing when we die
        import threading
        j._q.put(("barrier", lambda: time.sleep(30)))
        time.sleep(0.05)
        for i in range(100):
            j.intent({{"client_id": "bd-k" + str(i), "pair_id": "pairx", "venue": "v",
                      "market": "perp", "symbol": "S", "side": "BUY", "qty": 1.0, "price": None,
                      "order_type": "MARKET", "ts_ms": i, "doc": None}})
        print("sent", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert proc.returncode == -signal.SIGKILL and b"sent" in proc.stdout
    j = jr.Journal(tmp_path)
    state = j.open()
    j.close()
    assert state["replayed_intents"] == 100
    assert len(state["intents"]["pairx"]) == 100
    assert os.path.getsize(j.intent_log) == 0       # replayed and truncated


def test_torn_intent_line_is_skipped(tmp_path: Path) -> None:
    j = jr.Journal(tmp_path)
    j.open()
    j.intent(_intent("c1"))
    j.close()
    with open(j.intent_log, "ab") as f:
        f.write(orjson.dumps(_intent("c2")) + b"\n" + b'{"client_id": "c3", "pa')
    j2 = jr.Journal(tmp_path)
    state = j2.open()
    j2.close()
    assert {r["client_id"] for r in state["intents"]["pair01"]} == {"c1", "c2"}

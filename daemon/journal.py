"""Crash-safe journal: SQLite in WAL mode, written by one background thread (queue + group commit).

Tables: pairs (the latest snapshot of each pair: model, books, order table, counters), ops, intents,
orders, fills, funding, interest, transfers, risk_steps, daily_loss and kv (the watchdog's state
that must survive a restart: the day's equity baseline and the halt); `PRAGMA user_version` is the
schema version and MIGRATIONS upgrades an older file in place.

How recovery sees every client id that might have reached a venue
-----------------------------------------------------------------
The send path must not wait for SQLite, yet a crash between "sent" and "committed" must not leave
an order the journal has never heard of. Three layers:

1. The pair row is committed durably (`await journal.barrier()`) before the first order of the pair
   is built. So recovery always knows the pair and its id prefix.
2. Every intent is appended to `intents.log` with one `os.write` on an O_APPEND descriptor BEFORE the
   request is written to the socket (a few microseconds, no fsync). A SIGKILL cannot lose it: the
   bytes are in the kernel's page cache once `write` returns. The same intent is then queued for
   SQLite. On start, `load()` replays the log into SQLite (fsync'd) and truncates it.
3. Client ids are deterministic (client_ids.py) and carry the pair prefix, so recovery also lists
   each leg's venue orders since the pair was created and adopts any with the prefix that the
   journal lacks (the only window left is a power loss of the machine between `write` and the
   page-cache flush; the venue listing covers it).

Attempt counters resume above the highest attempt seen in any of the three, so no id is reused:
nothing is sent twice.
"""
from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

SCHEMA_VERSION = 4

MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE pairs (id TEXT PRIMARY KEY, type TEXT NOT NULL, symbol TEXT NOT NULL,
                    state TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
                    doc BLOB NOT NULL);
CREATE TABLE ops (pair_id TEXT NOT NULL, op INTEGER NOT NULL, action TEXT NOT NULL,
                  started_ms INTEGER NOT NULL, ended_ms INTEGER, result TEXT, doc BLOB,
                  PRIMARY KEY (pair_id, op));
CREATE TABLE intents (client_id TEXT PRIMARY KEY, pair_id TEXT NOT NULL, venue TEXT NOT NULL,
                      market TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL,
                      qty REAL NOT NULL, price REAL, order_type TEXT NOT NULL, ts_ms INTEGER NOT NULL,
                      doc BLOB);
CREATE TABLE orders (client_id TEXT PRIMARY KEY, pair_id TEXT NOT NULL, venue TEXT NOT NULL,
                     order_id TEXT, status TEXT NOT NULL, filled_qty REAL NOT NULL DEFAULT 0,
                     avg_price REAL NOT NULL DEFAULT 0, ts_ms INTEGER NOT NULL);
CREATE TABLE fills (venue TEXT NOT NULL, client_id TEXT NOT NULL, trade_id TEXT NOT NULL,
                    pair_id TEXT NOT NULL, qty REAL NOT NULL, price REAL NOT NULL,
                    fee REAL NOT NULL DEFAULT 0, fee_asset TEXT, ts_ms INTEGER NOT NULL,
                    PRIMARY KEY (venue, client_id, trade_id));
CREATE TABLE funding (id INTEGER PRIMARY KEY AUTOINCREMENT, pair_id TEXT NOT NULL,
                      venue TEXT NOT NULL, symbol TEXT NOT NULL, amount REAL NOT NULL,
                      ts_ms INTEGER NOT NULL);
CREATE TABLE interest (id INTEGER PRIMARY KEY AUTOINCREMENT, pair_id TEXT NOT NULL,
                       venue TEXT NOT NULL, asset TEXT NOT NULL, coin REAL NOT NULL,
                       mark REAL NOT NULL, ts_ms INTEGER NOT NULL);
""",
    2: """
CREATE TABLE transfers (id INTEGER PRIMARY KEY AUTOINCREMENT, pair_id TEXT, venue TEXT NOT NULL,
                        asset TEXT NOT NULL, amount REAL NOT NULL, from_wallet TEXT NOT NULL,
                        to_wallet TEXT NOT NULL, ts_ms INTEGER NOT NULL);
CREATE INDEX orders_by_pair ON orders (pair_id);
CREATE INDEX fills_by_pair ON fills (pair_id);
CREATE INDEX intents_by_pair ON intents (pair_id);
""",
    3: """
CREATE TABLE risk_steps (id INTEGER PRIMARY KEY AUTOINCREMENT, pair_id TEXT NOT NULL,
                         ts_ms INTEGER NOT NULL, step TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX risk_steps_by_pair ON risk_steps (pair_id, ts_ms);
""",
    4: """
CREATE TABLE daily_loss (day INTEGER PRIMARY KEY, start_equity REAL NOT NULL,
                         ts_ms INTEGER NOT NULL);
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, ts_ms INTEGER NOT NULL);
""",
}

_SQL: dict[str, str] = {
    "pair": "INSERT INTO pairs (id, type, symbol, state, created_ms, updated_ms, doc) "
            "VALUES (:id, :type, :symbol, :state, :created_ms, :updated_ms, :doc) "
            "ON CONFLICT(id) DO UPDATE SET state=excluded.state, updated_ms=excluded.updated_ms, "
            "doc=excluded.doc",
    "op": "INSERT INTO ops (pair_id, op, action, started_ms, ended_ms, result, doc) "
          "VALUES (:pair_id, :op, :action, :started_ms, :ended_ms, :result, :doc) "
          "ON CONFLICT(pair_id, op) DO UPDATE SET ended_ms=excluded.ended_ms, "
          "result=excluded.result, doc=excluded.doc",
    "intent": "INSERT OR IGNORE INTO intents (client_id, pair_id, venue, market, symbol, side, qty, "
              "price, order_type, ts_ms, doc) VALUES (:client_id, :pair_id, :venue, :market, "
              ":symbol, :side, :qty, :price, :order_type, :ts_ms, :doc)",
    "order": "INSERT INTO orders (client_id, pair_id, venue, order_id, status, filled_qty, avg_price,"
             " ts_ms) VALUES (:client_id, :pair_id, :venue, :order_id, :status, :filled_qty, "
             ":avg_price, :ts_ms) ON CONFLICT(client_id) DO UPDATE SET "
             "order_id=COALESCE(excluded.order_id, orders.order_id), status=excluded.status, "
             "filled_qty=MAX(orders.filled_qty, excluded.filled_qty), avg_price=excluded.avg_price,"
             " ts_ms=excluded.ts_ms",
    "fill": "INSERT OR IGNORE INTO fills (venue, client_id, trade_id, pair_id, qty, price, fee, "
            "fee_asset, ts_ms) VALUES (:venue, :client_id, :trade_id, :pair_id, :qty, :price, :fee,"
            " :fee_asset, :ts_ms)",
    "funding": "INSERT INTO funding (pair_id, venue, symbol, amount, ts_ms) "
               "VALUES (:pair_id, :venue, :symbol, :amount, :ts_ms)",
    "interest": "INSERT INTO interest (pair_id, venue, asset, coin, mark, ts_ms) "
                "VALUES (:pair_id, :venue, :asset, :coin, :mark, :ts_ms)",
    "risk_step": "INSERT INTO risk_steps (pair_id, ts_ms, step, detail) "
                 "VALUES (:pair_id, :ts_ms, :step, :detail)",
    # The first baseline of a UTC day is the day's start: a later one (a restart before the
    # stored one was restored) must not replace it.
    "daily_loss": "INSERT OR IGNORE INTO daily_loss (day, start_equity, ts_ms) "
                  "VALUES (:day, :start_equity, :ts_ms)",
    "kv": "INSERT INTO kv (key, value, ts_ms) VALUES (:key, :value, :ts_ms) "
          "ON CONFLICT(key) DO UPDATE SET value=excluded.value, ts_ms=excluded.ts_ms",
    "transfer": "INSERT INTO transfers (pair_id, venue, asset, amount, from_wallet, to_wallet, "
                "ts_ms) VALUES (:pair_id, :venue, :asset, :amount, :from_wallet, :to_wallet, "
                ":ts_ms)",
}

_STOP = object()


def _json_default(obj: Any) -> Any:
    """Watchdog details may hold enums, Decimals or Structs: store their plain form."""
    value = getattr(obj, "value", None)
    if value is not None:
        return value
    try:
        import msgspec
        return msgspec.to_builtins(obj)
    except Exception:
        return str(obj)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file to SCHEMA_VERSION, one transaction per step. Returns the version found."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise RuntimeError(f"journal schema {found} is newer than this build ({SCHEMA_VERSION})")
    for version in range(found + 1, SCHEMA_VERSION + 1):
        with conn:
            conn.executescript(f"BEGIN; {MIGRATIONS[version]} PRAGMA user_version = {version}; "
                               "COMMIT;")
    return found


def connect(path: Path | str, sync: str = "full") -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class Journal:
    """Owned by one event loop; SQLite work happens in the writer thread only (after `load`)."""

    def __init__(self, state_dir: Path | str, file: str = "journal.sqlite",
                 sync: str = "full") -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / file
        self.intent_log = self.dir / (file + ".intents.log")
        self.sync = sync
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._intent_fd = -1
        self.commits = 0
        self.rows_written = 0
        self.errors = 0
        self.last_error = ""
        # What open() found of the watchdog's state: {"daily_loss": {"day", "start_equity",
        # "ts_ms"} | None, "halt": {...HaltState fields} | None}; empty before open().
        self.risk_state: dict[str, Any] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    def open(self) -> dict[str, Any]:
        """Migrate, replay the intent log, start the writer. Returns what recovery needs."""
        conn = connect(self.path, self.sync)
        migrate(conn)
        replayed = self._replay_intent_log(conn)
        state = self._load(conn)
        state["replayed_intents"] = replayed
        self.risk_state = state["risk_state"]
        self._conn = conn
        self._intent_fd = os.open(self.intent_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)
        self._thread.start()
        return state

    def close(self) -> None:
        """Flush everything queued, stop the writer, close the files."""
        if self._thread is not None:
            self._q.put(_STOP)
            self._thread.join()
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._intent_fd >= 0:
            os.close(self._intent_fd)
            self._intent_fd = -1

    # -- writes (event loop side: never blocks on SQLite) -----------------------------------------
    def put(self, kind: str, row: dict[str, Any]) -> None:
        self._q.put((kind, row))

    def record_risk_step(self, row: dict[str, Any]) -> None:
        """One watchdog step (non-blocking: queued for the writer thread).

        `row` is the watchdog's: pair_id ("" for daemon-wide steps such as a halt), ts_ms, step,
        detail (a dict); any other keys (e.g. "distances") are kept inside the stored detail."""
        detail = dict(row.get("detail") or {})
        for k, v in row.items():
            if k not in ("pair_id", "ts_ms", "step", "detail"):
                detail[k] = v
        self._q.put(("risk_step", {
            "pair_id": str(row.get("pair_id") or ""), "ts_ms": int(row.get("ts_ms") or 0),
            "step": str(row["step"]),
            "detail": orjson.dumps(detail, option=orjson.OPT_NON_STR_KEYS,
                                   default=_json_default).decode()}))

    def record_daily_loss(self, day: int, start_equity: float, ts_ms: int) -> None:
        """The equity baseline of UTC day `day` (non-blocking; the first one of a day is kept)."""
        self._q.put(("daily_loss", {"day": int(day), "start_equity": float(start_equity),
                                    "ts_ms": int(ts_ms)}))

    def record_halt(self, doc: dict[str, Any], ts_ms: int) -> None:
        """The watchdog's current halt state (non-blocking; the latest one is kept)."""
        self.record_state("halt", doc, ts_ms)

    def record_state(self, key: str, doc: dict[str, Any], ts_ms: int) -> None:
        """Upsert one JSON document under `key` in kv (non-blocking: queued for the writer)."""
        self._q.put(("kv", {"key": key, "ts_ms": int(ts_ms),
                            "value": orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS,
                                                  default=_json_default).decode()}))

    def intent(self, row: dict[str, Any]) -> None:
        """Write-ahead: one os.write before the order may be sent, then queued for SQLite."""
        line = orjson.dumps(row) + b"\n"
        if self._intent_fd >= 0:
            os.write(self._intent_fd, line)
        self._q.put(("intent", row))

    async def barrier(self) -> None:
        """Resolve once everything queued before this call is committed (and fsync'd on FULL)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def done() -> None:
            if not fut.done():
                fut.set_result(None)
        self._q.put(("barrier", lambda: loop.call_soon_threadsafe(done)))
        await fut

    def flush_sync(self, timeout: float = 10.0) -> bool:
        """Blocking flush for shutdown paths and tests outside a loop."""
        ev = threading.Event()
        self._q.put(("barrier", ev.set))
        return ev.wait(timeout)

    # -- writer thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        assert self._conn is not None
        conn = self._conn
        stop = False
        while not stop:
            batch = [self._q.get()]
            while True:     # group commit: everything already queued goes in one transaction
                try:
                    batch.append(self._q.get_nowait())
                except queue.Empty:
                    break
                if len(batch) >= 5000:
                    break
            callbacks: list[Callable[[], None]] = []
            pairs: dict[str, dict[str, Any]] = {}
            try:
                conn.execute("BEGIN")
                for item in batch:
                    if item is _STOP:
                        stop = True
                        continue
                    kind, row = item
                    if kind == "barrier":
                        callbacks.append(row)
                    elif kind == "pair":
                        pairs[row["id"]] = row       # only the newest snapshot matters
                    else:
                        conn.execute(_SQL[kind], row)
                        self.rows_written += 1
                for row in pairs.values():
                    conn.execute(_SQL["pair"], row)
                    self.rows_written += 1
                conn.execute("COMMIT")
                self.commits += 1
            except Exception as exc:  # keep the writer alive; the error is visible in status
                self.errors += 1
                self.last_error = repr(exc)
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            for cb in callbacks:
                cb()

    # -- recovery (called before the writer starts) -------------------------------------------------
    def _replay_intent_log(self, conn: sqlite3.Connection) -> int:
        if not self.intent_log.exists():
            return 0
        n = 0
        data = self.intent_log.read_bytes()
        with conn:
            for line in data.splitlines():
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue        # a torn last line: that order was never sent
                conn.execute(_SQL["intent"], row)
                n += 1
        # Committed (and fsync'd on FULL) above: the log can start over.
        os.truncate(self.intent_log, 0)
        return n

    @staticmethod
    def _load(conn: sqlite3.Connection) -> dict[str, Any]:
        pairs = {r[0]: orjson.loads(r[1]) for r in conn.execute("SELECT id, doc FROM pairs")}
        intents = _rows_by_pair(conn, "SELECT client_id, pair_id, venue, market, symbol, side, qty, "
                                      "price, order_type, ts_ms, doc FROM intents")
        orders = _rows_by_pair(conn, "SELECT client_id, pair_id, venue, order_id, status, "
                                     "filled_qty, avg_price, ts_ms FROM orders")
        return {"pairs": pairs, "intents": intents, "orders": orders,
                "risk_state": _load_risk_state(conn)}

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read-only query on a separate connection (WAL readers never block the writer)."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


def _load_risk_state(conn: sqlite3.Connection) -> dict[str, Any]:
    row = conn.execute("SELECT day, start_equity, ts_ms FROM daily_loss ORDER BY day DESC LIMIT 1"
                       ).fetchone()
    loss = None if row is None else {"day": row[0], "start_equity": row[1], "ts_ms": row[2]}
    halt = None
    got = conn.execute("SELECT value FROM kv WHERE key = 'halt'").fetchone()
    if got is not None:
        try:
            halt = orjson.loads(got[0])
        except orjson.JSONDecodeError:
            halt = None       # unreadable: the watchdog starts unhalted, as before this table
    return {"daily_loss": loss, "halt": halt}


def _rows_by_pair(conn: sqlite3.Connection, query: str) -> dict[str, list[dict[str, Any]]]:
    """Rows of `query` as dicts, grouped by their pair_id."""
    cur = conn.execute(query)
    cols = [d[0] for d in cur.description]
    out: dict[str, list[dict[str, Any]]] = {}
    for r in cur:
        row = dict(zip(cols, r))
        out.setdefault(row["pair_id"], []).append(row)
    return out

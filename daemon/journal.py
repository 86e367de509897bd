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

When a write fails (disk full, I/O error): durable or fail closed
-----------------------------------------------------------------
A failed commit is never reported as durable. The writer logs it (`journal_write_failed`, with
the error), counts it (`errors`, `last_error`), marks the journal unhealthy and tells its watchers
(the daemon halts `no_new` on it), and keeps the batch's rows in memory, retrying them with
everything queued after, every `retry_s`, until a commit succeeds (`journal_recovered`). A
barrier whose batch failed raises `JournalError` instead of resolving, so whoever awaits
durability (the open path, recovery) learns it. An intent that adds risk (`intent(...,
durable=True)`) is refused with `JournalError` while the journal is unhealthy or when its
write-ahead line could not be written: that order is not sent. An intent that reduces risk (a
close, trim, unwind: `durable=False`) is never refused: it goes to the intent log if the log takes
it, and in any case into the retried batch, and the order goes out. If the daemon dies before the
disk has room again, recovery still finds such an order on the venue by its pair prefix (layer 3;
the pair row itself was durable before the pair's first order). A row SQLite rejects for its
content (not for storage) is dropped and logged rather than retried forever.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from daemon.ops.logs import get_logger

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

# A watcher of the journal's health: (healthy, error), called on the owning loop.
HealthWatcher = Callable[[bool, str], None]
Item = tuple[str, Any]


class JournalError(RuntimeError):
    """A journal write did not become durable: whatever needed it (an order adding risk, an open)
    must not go ahead."""


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
                 sync: str = "full", *, retry_s: float = 1.0, max_retained: int = 200_000) -> None:
        """`retry_s`: how often a failed batch is tried again. `max_retained`: rows kept in memory
        while commits fail; past it the oldest are dropped (counted and logged)."""
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / file
        self.intent_log = self.dir / (file + ".intents.log")
        self.sync = sync
        self.retry_s = retry_s
        self.max_retained = max_retained
        self.log = get_logger("basisd.journal")
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._intent_fd = -1
        self._intent_torn = False      # a short write left a partial line: start the next on a new one
        self._retained: list[Item] = []     # rows of failed batches, retried first (writer thread)
        self._db_error = ""            # the last commit's failure ("" = it succeeded)
        self._log_error = ""           # the intent log's last failure ("" = it took the last line)
        self._watchers: list[tuple[asyncio.AbstractEventLoop, HealthWatcher]] = []
        self.commits = 0
        self.rows_written = 0
        self.rows_dropped = 0
        self.errors = 0
        self.last_error = ""
        # What open() found of the watchdog's state: {"daily_loss": {"day", "start_equity",
        # "ts_ms"} | None, "halt": {...HaltState fields} | None}; empty before open().
        self.risk_state: dict[str, Any] = {}

    # -- health ----------------------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        """False from a failed commit or intent-log write until the next one succeeds."""
        return not self._db_error and not self._log_error

    @property
    def pending_rows(self) -> int:
        """Rows waiting for a commit that failed (held in memory, retried)."""
        return len(self._retained)

    def health(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "errors": self.errors, "last_error": self.last_error,
                "pending_rows": self.pending_rows, "rows_dropped": self.rows_dropped,
                "commits": self.commits}

    def watch(self, callback: HealthWatcher) -> None:
        """Call `callback(healthy, error)` on the calling loop after every failed write and once
        when writes succeed again. Call it from the loop that owns the journal."""
        self._watchers.append((asyncio.get_running_loop(), callback))

    def _failed(self, where: str, error: str) -> None:
        """Any thread: count, log (once per distinct error), tell the watchers."""
        self.errors += 1
        first = error != self.last_error or self.healthy
        self.last_error = error
        if where == "commit":
            self._db_error = error
        else:
            self._log_error = error
        if first:
            self.log.error("journal_write_failed", where=where, error=error,
                           pending_rows=self.pending_rows, path=str(self.path))
        self._notify(False, error)

    def _recovered(self, where: str) -> None:
        was = self.healthy
        if where == "commit":
            self._db_error = ""
        else:
            self._log_error = ""
        if self.healthy and not was:
            self.log.warning("journal_recovered", errors=self.errors, rows_dropped=self.rows_dropped)
            self._notify(True, "")

    def _notify(self, healthy: bool, error: str) -> None:
        for loop, callback in self._watchers:
            with contextlib.suppress(RuntimeError):      # the loop is closed: nobody to tell
                loop.call_soon_threadsafe(callback, healthy, error)

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
        if self._retained:
            self.log.error("journal_closed_with_unwritten_rows", rows=len(self._retained),
                           error=self._db_error)
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

    def intent(self, row: dict[str, Any], *, durable: bool = True) -> None:
        """Write-ahead: one os.write before the order may be sent, then queued for SQLite.

        `durable=True` (an order that adds risk): raises JournalError, and records nothing, while
        the journal is unhealthy, or when the line could not be written whole: the caller must not
        send. `durable=False` (an order that reduces risk): never raises; a line the log cannot
        take is logged and the intent still goes into the writer's (retried) batch."""
        self.intents([row], durable=durable)

    def intents(self, rows: list[dict[str, Any]], *, durable: bool = True) -> None:
        """`intent` for several orders sent together (a pair's legs): their lines in one
        os.write, so all or none are written ahead (a short write fails them all)."""
        if not rows:
            return
        if durable and not self.healthy:
            raise JournalError(f"journal is failing: {self.last_error}")
        line = b"".join([orjson.dumps(row) + b"\n" for row in rows])
        if self._intent_fd >= 0:
            try:
                self._append(line)
            except OSError as exc:
                self._failed("intent_log", f"intent log: {exc.strerror or exc}")
                if durable:
                    raise JournalError(f"intent not written ahead: {exc.strerror or exc}") from exc
            else:
                if self._log_error:
                    self._recovered("intent_log")
        for row in rows:
            self._q.put(("intent", row))

    def _append(self, line: bytes) -> None:
        """One os.write of a whole line; a short write is an error (ENOSPC, EFBIG)."""
        if self._intent_torn:
            line = b"\n" + line     # ends the partial line: replay skips it, not the next one too
        written = os.write(self._intent_fd, line)
        self._intent_torn = written != len(line)
        if self._intent_torn:
            raise OSError(28, f"short write ({written} of {len(line)} bytes)")

    async def barrier(self) -> None:
        """Resolve once everything queued before this call is committed (and fsync'd on FULL);
        raise JournalError if that commit failed (the rows are kept and retried)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def settle(error: str | None) -> None:
            if fut.done():
                return
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(JournalError(f"journal commit failed: {error}"))

        def done(error: str | None = None) -> None:
            loop.call_soon_threadsafe(settle, error)
        self._q.put(("barrier", done))
        await fut

    def flush_sync(self, timeout: float = 10.0) -> bool:
        """Blocking flush for shutdown paths and tests outside a loop: True once everything
        queued before it is committed (False on a timeout or a failed commit)."""
        ev = threading.Event()
        failed: list[str] = []

        def done(error: str | None = None) -> None:
            if error is not None:
                failed.append(error)
            ev.set()
        self._q.put(("barrier", done))
        return ev.wait(timeout) and not failed

    # -- writer thread ------------------------------------------------------------------------------
    def _next_batch(self) -> list[Any]:
        """Everything queued (group commit), waiting for the first item; [] on a retry tick."""
        try:
            if self._retained or self._log_error:
                batch = [self._q.get(timeout=self.retry_s)]
            else:
                batch = [self._q.get()]
        except queue.Empty:
            return []
        while len(batch) < 5000:
            try:
                batch.append(self._q.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        assert self._conn is not None
        conn = self._conn
        stop = False
        while not stop:
            batch = self._next_batch()
            if not batch and self._log_error:
                self._probe_intent_log()
            barriers: list[Callable[..., None]] = []
            rows = self._retained
            for item in batch:
                if item is _STOP:
                    stop = True
                elif item[0] == "barrier":
                    barriers.append(item[1])
                else:
                    rows.append(item)
            error = self._commit(conn, rows) if rows else None
            if error is None:
                self._retained = []
                if self._db_error:
                    self._recovered("commit")
            else:
                self._retained = self._compact(rows)
                self._failed("commit", error)
            for cb in barriers:
                try:
                    cb() if error is None else cb(error)
                except Exception:   # a waiter's bug must not stop the writer
                    pass

    def _commit(self, conn: sqlite3.Connection, rows: list[Item]) -> str | None:
        """One transaction for `rows` (pair snapshots: only the newest of each). Returns None, or
        the storage error that rolled it back."""
        pairs: dict[str, dict[str, Any]] = {}
        written = 0
        try:
            conn.execute("BEGIN")
            for kind, row in rows:
                if kind == "pair":
                    pairs[row["id"]] = row       # only the newest snapshot matters
                else:
                    written += self._execute(conn, kind, row)
            for row in pairs.values():
                written += self._execute(conn, "pair", row)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            return f"{type(exc).__name__}: {exc}"
        self.commits += 1
        self.rows_written += written
        return None

    def _execute(self, conn: sqlite3.Connection, kind: str, row: dict[str, Any]) -> int:
        """1 if written; 0 for a row SQLite refuses for its content (dropped: retrying it could
        never succeed and would hold every row behind it). Storage errors propagate."""
        try:
            conn.execute(_SQL[kind], row)
        except Exception as exc:
            if _storage_error(exc):
                raise
            self.rows_dropped += 1
            self.errors += 1
            self.last_error = f"row dropped ({kind}): {type(exc).__name__}: {exc}"
            self.log.error("journal_row_dropped", kind=kind, error=f"{type(exc).__name__}: {exc}")
            return 0
        return 1

    def _compact(self, rows: list[Item]) -> list[Item]:
        """What a failed batch keeps for the retry: the newest snapshot of each pair, every other
        row in order, at most `max_retained` (the oldest go first, counted and logged)."""
        newest: dict[str, Item] = {}
        others: list[Item] = []
        for item in rows:
            if item[0] == "pair":
                newest[item[1]["id"]] = item
            else:
                others.append(item)
        excess = len(others) + len(newest) - self.max_retained
        if excess > 0:
            del others[:excess]
            self.rows_dropped += excess
            self.log.error("journal_rows_dropped", rows=excess, why="too many rows waiting for a "
                           "commit that keeps failing", error=self._db_error)
        return others + list(newest.values())

    def _probe_intent_log(self) -> None:
        """While the intent log is failing: does it take bytes again? (An empty line: replay
        skips it.)"""
        try:
            self._append(b"\n")
        except OSError:
            return
        self._recovered("intent_log")

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


def _storage_error(exc: BaseException) -> bool:
    """The disk or the file failed (full, I/O, read-only, corrupt), not the row."""
    return isinstance(exc, sqlite3.OperationalError) or type(exc) in (sqlite3.DatabaseError,
                                                                      sqlite3.InternalError)


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

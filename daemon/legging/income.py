"""Funding and interest attributed from the venue's own settlement history.

A stream event says that something settled; on a venue with a history (`ReportsIncome`) the
event only wakes this reconciler, which reads every row since its cursor and shares each one
among the pairs' legs on that (venue, symbol) for funding, or (venue, coin) for interest, by
the legs' quantities at the settlement time (`QtyLog`). The shares add up to the row exactly
(`split_units`), so the pairs' totals equal the venue's ledger; a row no leg held is kept in
`unattributed` (and journaled) rather than dropped.

Each leg book keeps the venue time of the last settlement booked to it (`settled_ms`, and the rows
booked at that time): after a restart, every row up to the latest one booked on that venue is
done (rows are booked in time order), so none is shared out a second time. A row whose history entry lags its
stream event is caught by a short retry, and any row missed entirely by the next wake-up (the
cursor only moves past rows it has read).
"""
from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import msgspec

from connectors.types import IncomeRow
from daemon.core.accounting import apply_funding, apply_interest
from daemon.core.attribution import from_units, split_units, to_units
from daemon.journal import Journal
from daemon.legging.orders import OrderExecutor
from daemon.legging.runtime import PairRuntime

LOOKBACK_MS = 3_600_000          # a first wake-up reads this far back before its event
OVERLAP_MS = 600_000             # each read re-reads this much before the cursor (late rows)
RETRY_S = (0.2, 1.0, 3.0)        # the history may lag the stream event


def reports_income(venue: Any) -> bool:
    return callable(getattr(venue, "income_since", None))


class IncomeReconciler:
    def __init__(self, pairs: Mapping[str, PairRuntime], executor: OrderExecutor,
                 journal: Journal | None) -> None:
        self.pairs = pairs
        self.executor = executor
        self.journal = journal
        self.unattributed: list[IncomeRow] = []
        self.last_error = ""
        self.attributed_units: dict[tuple[str, str, str], int] = {}
        self._seen: set[tuple[str, str, str]] = set()
        self._cursor: dict[tuple[str, str], int] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._again: set[tuple[str, str]] = set()
        self._done: dict[tuple[str, str], tuple[int, set[str]]] = {}

    def supports(self, venue: str) -> bool:
        return reports_income(self.executor.venues.get(venue))

    def close(self) -> None:
        for t in self._tasks.values():
            t.cancel()
        self._tasks.clear()

    # -- wake-ups ----------------------------------------------------------------------------
    def poke(self, venue: str, kind: str, event_ms: int) -> None:
        key = (venue, kind)
        if key not in self._cursor:
            self._cursor[key] = self._first_cursor(venue, kind, event_ms)
        task = self._tasks.get(key)
        if task is not None and not task.done():
            self._again.add(key)
            return
        try:
            self._tasks[key] = asyncio.get_running_loop().create_task(self._run(venue, kind))
        except RuntimeError:      # no loop (a synchronous caller in a test): nothing to read
            pass

    async def _run(self, venue: str, kind: str) -> None:
        key = (venue, kind)
        while True:
            self._again.discard(key)
            for delay in (0.0, *RETRY_S):
                if delay:
                    await asyncio.sleep(delay)
                try:
                    if await self.read_once(venue, kind):
                        break
                except Exception as exc:    # a failed read: retried, and again next wake-up
                    self.last_error = f"{venue} {kind} history: {exc!r}"
            if key not in self._again:
                return

    async def read_once(self, venue: str, kind: str) -> int:
        """Read the history since the cursor and book the new rows; returns how many."""
        key = (venue, kind)
        start = self._cursor.get(key)
        if start is None:
            start = self._cursor[key] = self._first_cursor(venue, kind, None)
        venue_ = self.executor.venues[venue]
        rows = await venue_.income_since(kind, max(0, start - OVERLAP_MS))  # type: ignore[attr-defined]
        fresh = self.book(sorted(rows, key=lambda r: r.ts_ms))
        if rows:
            self._cursor[key] = max(start, max(r.ts_ms for r in rows))
        return fresh

    def _first_cursor(self, venue: str, kind: str, event_ms: int | None) -> int:
        """From the earliest change of any leg the venue's rows could concern, or a lookback."""
        starts = [rt.qty_logs[i].first_ms() or rt.books[i].settled_ms
                  for rt, i in self._legs(venue, kind, None)]
        starts = [s for s in starts if s]
        if event_ms:
            starts.append(event_ms - LOOKBACK_MS)
        return max(0, min(starts)) if starts else 0

    # -- booking (synchronous: one row at a time, in venue-time order) ----------------------
    def book(self, rows: list[IncomeRow]) -> int:
        n = 0
        for row in rows:
            ident = (row.venue, row.kind, row.tx_id)
            if ident in self._seen:
                continue
            self._seen.add(ident)
            n += 1
            self._book_row(row)
        return n

    def _legs(self, venue: str, kind: str, match: str | None) -> list[tuple[PairRuntime, int]]:
        out = []
        for rt in self.pairs.values():
            for i, leg in enumerate(rt.pair.legs):
                if leg.venue != venue:
                    continue
                if kind == "funding" and leg.market == "perp" \
                        and (match is None or leg.symbol == match):
                    out.append((rt, i))
                elif kind == "interest" and leg.borrows \
                        and (match is None or rt.meta[i].base == match):
                    out.append((rt, i))
        return out

    def _booked_before(self, row: IncomeRow) -> bool:
        """Booked before a restart: rows are booked in venue-time order, so every row up to
        the latest one any leg on that venue holds (the journaled books) is done."""
        key = (row.venue, row.kind)
        done = self._done.get(key)
        if done is None:
            books = [rt.books[i] for rt, i in self._legs(row.venue, row.kind, None)]
            last = max((b.settled_ms for b in books), default=0)
            done = self._done[key] = (last, {t for b in books if b.settled_ms == last
                                             for t in b.settled_tx})
        return row.ts_ms < done[0] or (row.ts_ms == done[0] and row.tx_id in done[1])

    def _book_row(self, row: IncomeRow) -> None:
        if self._booked_before(row):
            return
        legs = self._legs(row.venue, row.kind,
                          row.symbol if row.kind == "funding" else row.asset)
        weights = [abs(rt.qty_logs[i].at(row.ts_ms)) for rt, i in legs]
        if not any(weights):
            # A MARGIN_BUY borrows (and is charged its first hour) just before its fill is
            # stamped, and a fill may be stamped after a settlement it took part in: weigh the
            # legs of running operations by their targets.
            weights = [abs(rt.pair.targets[i]) if rt.pair.managed else 0.0 for rt, i in legs]
        if not any(weights):      # no history for the time (restored without orders): now
            weights = [abs(rt.exposure(i)) if rt.pair.managed else 0.0 for rt, i in legs]
        units = to_units(row.amount)
        parts = split_units(units, weights)
        if not parts:
            self.unattributed.append(row)
            if self.journal is not None:
                self.journal.record_state(f"unattributed:{row.venue}:{row.kind}:{row.tx_id}",
                                          msgspec.structs.asdict(row), row.ts_ms)
            return
        key = (row.venue, row.kind, row.asset)
        self.attributed_units[key] = self.attributed_units.get(key, 0) + units
        for (rt, i), part in zip(legs, parts):
            if part == 0:
                continue
            amount = from_units(part)
            book = rt.books[i]
            book.settled(row.ts_ms, row.tx_id)
            if row.kind == "funding":
                apply_funding(book, amount)
                self._journal("funding", {"pair_id": rt.pair.id, "venue": row.venue,
                                          "symbol": row.symbol, "amount": amount,
                                          "ts_ms": row.ts_ms, "tx_id": row.tx_id})
            else:
                mark = self.executor.mark(rt, i) or book.avg_price
                apply_interest(book, amount, mark)
                self._journal("interest", {"pair_id": rt.pair.id, "venue": row.venue,
                                           "asset": row.asset, "coin": amount, "mark": mark,
                                           "ts_ms": row.ts_ms, "tx_id": row.tx_id})
            self.executor.persist(rt)
            if row.kind == "interest":
                self.executor.notify(rt)

    def _journal(self, kind: str, row: dict[str, Any]) -> None:
        if self.journal is not None:
            self.journal.put(kind, row)

"""Pure L2 book sequencing by Binance's documented procedures (no I/O, no clock).

Feed it parsed diffs and snapshots; it applies them to the book and says what happened. The I/O shell
fetches a snapshot when told `SNAPSHOT_NEEDED` / `GAP` / `CROSSED`, marks the book RESYNCING
meanwhile and HEALTHY on `SYNCED`.

USD-M futures (`pu` chain):
  drop a diff with u < lastUpdateId; the first applied diff has U <= lastUpdateId <= u;
  every later diff has pu == previous diff's u.
Spot (`U` chain):
  drop a diff with u <= lastUpdateId; the first applied diff has U <= lastUpdateId + 1 <= u;
  every later diff has U == previous diff's u + 1.
Diffs that arrive while a snapshot is pending are buffered (bounded) and replayed onto it.
A book whose best bid reaches its best ask cannot be a real L2 state: after a diff, or after a
snapshot and its replay, it is cleared like a gap and a fresh snapshot is asked for.
"""
from __future__ import annotations

from collections import deque
from enum import IntEnum
from typing import Any, Protocol
from connectors.base import ASK, BID, BookLike, Levels  # noqa: F401  (callers import them here)


class Rule(IntEnum):
    FUTURES = 0
    SPOT = 1


class Sync(IntEnum):
    APPLIED = 0          # diff applied, book in sync
    DROPPED = 1          # diff older than the book: ignored
    BUFFERED = 2         # waiting for a snapshot; diff kept for replay
    SNAPSHOT_NEEDED = 3  # the snapshot is too old for the buffered diffs: fetch another
    GAP = 4              # continuity broken: book cleared, fetch a snapshot
    SYNCED = 5           # snapshot loaded and buffered diffs replayed: book usable
    CROSSED = 6          # the venue's data crossed the book: cleared, fetch a snapshot


class DiffEvent(Protocol):
    U: int
    u: int
    b: Any
    a: Any


class BookSync:
    """Sequencer for one symbol's book. States: waiting for snapshot / synced (first diff pending
    or chained)."""

    __slots__ = ("book", "rule", "_futures", "_buffer", "_synced", "_last_u", "_snap_id", "gaps",
                 "snapshots", "dropped", "crossings")

    def __init__(self, book: BookLike, rule: Rule, max_buffer: int = 10_000) -> None:
        self.book = book
        self.rule = rule
        self._futures = rule is Rule.FUTURES
        self._buffer: deque[tuple[int, int, int, Any, Any, int]] = deque(maxlen=max_buffer)
        self._synced = False
        self._last_u: int | None = None   # None: the next applied diff must pass the first-event rule
        self._snap_id = 0
        self.gaps = 0
        self.snapshots = 0
        self.dropped = 0
        self.crossings = 0

    @property
    def synced(self) -> bool:
        return self._synced

    def reset(self) -> None:
        """Forget everything (e.g. the websocket reconnected): a snapshot is needed."""
        self._synced = False
        self._last_u = None
        self._buffer.clear()
        self.book.clear()

    def on_diff(self, U: int, u: int, pu: int, bids: Levels, asks: Levels, ts_ms: int = 0) -> Sync:
        """One depthUpdate. `pu` is ignored for spot (pass -1)."""
        if not self._synced:
            self._buffer.append((U, u, pu, bids, asks, ts_ms))
            return Sync.BUFFERED
        result = self._step(U, u, pu, bids, asks, ts_ms)
        if result is Sync.APPLIED and self.book.is_crossed():
            # Kept for the replay: a snapshot older than this diff needs it for continuity.
            self.crossings += 1
            self.reset()
            self._buffer.append((U, u, pu, bids, asks, ts_ms))
            return Sync.CROSSED
        if result is Sync.GAP:
            self.gaps += 1
            self.reset()
            self._buffer.append((U, u, pu, bids, asks, ts_ms))
        return result

    def on_snapshot(self, last_update_id: int, bids: Levels, asks: Levels, ts_ms: int = 0) -> Sync:
        """Load a REST snapshot and replay the buffer onto it."""
        book = self.book
        book.load_snapshot(bids, asks)
        book.last_update_id = last_update_id
        book.ts_ms = ts_ms
        self.snapshots += 1
        self._snap_id = last_update_id
        self._last_u = None
        self._synced = True
        buffered = list(self._buffer)
        self._buffer.clear()
        for U, u, pu, b, a, ts in buffered:
            result = self._step(U, u, pu, b, a, ts)
            if result is Sync.GAP:
                # The snapshot predates the oldest buffered diff we still have (or the buffer has a
                # hole): keep diffs from here on and ask for a newer snapshot.
                self.gaps += 1
                self.reset()
                self._buffer.extend(x for x in buffered if x[1] >= u)
                return Sync.SNAPSHOT_NEEDED
        if book.is_crossed():
            # Keep the diffs newer than this snapshot: a next snapshot that is only a little
            # newer still chains onto them.
            self.crossings += 1
            self.reset()
            self._buffer.extend(x for x in buffered if x[1] > last_update_id)
            return Sync.CROSSED
        return Sync.SYNCED

    # -- core ----------------------------------------------------------------------------------
    def _step(self, U: int, u: int, pu: int, bids: Levels, asks: Levels, ts_ms: int) -> Sync:
        futures = self._futures
        last = self._last_u
        if last is None:
            snap = self._snap_id
            if (u < snap) if futures else (u <= snap):
                self.dropped += 1
                return Sync.DROPPED
            target = snap if futures else snap + 1
            if not (U <= target <= u):
                return Sync.GAP
        else:
            if u <= last:           # a duplicate/replayed frame; harmless
                self.dropped += 1
                return Sync.DROPPED
            if (pu != last) if futures else (U != last + 1):
                return Sync.GAP
        self.book.apply_update(bids, asks, u, ts_ms)
        self._last_u = u
        return Sync.APPLIED

    def apply_event(self, ev: Any) -> Sync:
        """A decoded `DepthUpdate` (futures carry `pu`, spot do not). The steady state - synced,
        chained onto the previous diff, book not crossed - is decided and applied here in one
        step (this is the per-frame hot path); everything else goes through `on_diff`."""
        last = self._last_u   # not None only while synced with the first diff applied
        u = ev.u
        if last is not None and u > last and (
                ev.pu == last if self._futures else ev.U == last + 1):
            self._last_u = u
            if not self.book.apply_update(ev.b, ev.a, u, ev.E):
                return Sync.APPLIED
            # crossed: as in on_diff (kept for the replay onto the next snapshot)
            self.crossings += 1
            self.reset()
            self._buffer.append((ev.U, u, ev.pu if ev.pu is not None else -1, ev.b, ev.a, ev.E))
            return Sync.CROSSED
        pu = ev.pu if ev.pu is not None else -1
        return self.on_diff(ev.U, u, pu, ev.b, ev.a, ev.E)

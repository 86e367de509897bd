"""Pure L2 book sequencing for Bybit v5 `orderbook.{depth}.{symbol}` (no I/O, no clock).

Bybit's rules (v5 websocket docs, "Process snapshot/delta"):
- after a subscribe the first message is a `snapshot`; every later one is a `delta` whose levels
  are absolute (size "0" deletes the price);
- `u` is the update id, consecutive per topic: a delta must carry the previous `u` + 1;
- a `snapshot` at any time (the venue re-sends one after trouble on its side, and one with
  `u == 1` after a service restart) overwrites the local book whatever `u` it carries;
- `seq` is the cross sequence, kept for comparing books across depths, not for continuity.
A gap or a book whose best bid reaches its best ask clears the book and leaves it unsynced: the
shell resubscribes, which makes the venue send a fresh snapshot.
"""
from __future__ import annotations

from enum import IntEnum
from typing import Any
from connectors.base import ASK, BID, BookLike, Levels  # noqa: F401  (callers import them here)


class Sync(IntEnum):
    APPLIED = 0      # delta applied, book in sync
    DROPPED = 1      # a delta older than the book (a replayed frame): ignored
    WAITING = 2      # a delta while no snapshot has been loaded: ignored, snapshot pending
    GAP = 3          # continuity broken: book cleared, resubscribe for a snapshot
    SYNCED = 4       # a snapshot overwrote the book: usable
    CROSSED = 5      # the data crossed the book: cleared, resubscribe for a snapshot


class BookSync:
    """Sequencer of one topic's book."""

    __slots__ = ("book", "_synced", "_last_u", "last_seq", "gaps", "snapshots", "dropped",
                 "crossings", "restarts")

    def __init__(self, book: BookLike) -> None:
        self.book = book
        self._synced = False
        self._last_u = 0
        self.last_seq = 0
        self.gaps = 0
        self.snapshots = 0
        self.dropped = 0
        self.crossings = 0
        self.restarts = 0        # snapshots with u == 1 (the venue's service restarted)

    @property
    def synced(self) -> bool:
        return self._synced

    @property
    def last_u(self) -> int:
        return self._last_u

    def reset(self) -> None:
        """Forget the book (the websocket dropped): the next snapshot restores it."""
        self._synced = False
        self._last_u = 0
        self.book.clear()

    def on_snapshot(self, u: int, seq: int, bids: Levels, asks: Levels, ts_ms: int = 0) -> Sync:
        book = self.book
        book.load_snapshot(bids, asks)
        book.last_update_id = u
        book.ts_ms = ts_ms
        self.snapshots += 1
        if u == 1:
            self.restarts += 1
        self._last_u = u
        self.last_seq = seq
        if book.is_crossed():
            self.crossings += 1
            self.reset()
            return Sync.CROSSED
        self._synced = True
        return Sync.SYNCED

    def on_delta(self, u: int, seq: int, bids: Levels, asks: Levels, ts_ms: int = 0) -> Sync:
        if not self._synced:
            return Sync.WAITING
        last = self._last_u
        if u <= last:
            self.dropped += 1
            return Sync.DROPPED
        if u != last + 1:
            self.gaps += 1
            self.reset()
            return Sync.GAP
        book = self.book
        if bids:
            book.apply_levels(BID, bids)
        if asks:
            book.apply_levels(ASK, asks)
        book.last_update_id = u
        book.ts_ms = ts_ms
        self._last_u = u
        self.last_seq = seq
        if book.is_crossed():
            self.crossings += 1
            self.reset()
            return Sync.CROSSED
        return Sync.APPLIED

    def apply_message(self, msg: Any) -> Sync:
        """A decoded `schemas.BookMessage`."""
        d = msg.data
        if msg.type == "snapshot":
            return self.on_snapshot(d.u, d.seq, d.b, d.a, msg.cts or msg.ts)
        return self.on_delta(d.u, d.seq, d.b, d.a, msg.cts or msg.ts)

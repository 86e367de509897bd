"""Pure `books` sequencing and checksum validation for OKX v5 (no I/O, no clock).

OKX's `books` channel sends one "snapshot" after a subscribe, then "update"s:
- Continuity: every message carries `seqId` and `prevSeqId`; a snapshot has prevSeqId -1, an
  update's prevSeqId equals the previous message's seqId (a message with no change repeats its
  seqId as prevSeqId; after a venue-side reset seqId may be smaller, which is still in order as
  long as prevSeqId chains). Recordings from before seqId existed (2022) carry neither: then only
  the checksum guards the book.
- Checksum: signed CRC32 of "bid1px:bid1sz:ask1px:ask1sz:..." over the best 25 levels of each
  side, interleaved, the longer side's remainder appended, each price and size the string exactly
  as OKX sent it.

A size of "0" deletes a level. A gap, a checksum mismatch or a crossed book clears the book and
says so; the shell marks it unhealthy and resubscribes, which brings a fresh snapshot.

The hub's book stores float quantities in coins; a swap's sizes are contracts, converted here with
the instrument's `ctVal`. The exact strings for the checksum live beside the book, keyed by the
float price (a price's float is the same whether parsed from OKX's text or rebuilt by the book,
see daemon/core/book.py `_decimal_grid`), so the checksum costs 50 dict reads and one CRC per
message, and the book's hot path is unchanged.
"""
from __future__ import annotations

import zlib
from collections.abc import Sequence
from enum import IntEnum

from connectors.okx.constants import CHECKSUM_DEPTH
from connectors.base import ASK, BID, BookLike, Levels  # noqa: F401  (callers import them here)


class Sync(IntEnum):
    APPLIED = 0       # update applied, checksum good
    SYNCED = 1        # snapshot loaded, checksum good: the book is usable
    WAITING = 2       # an update before any snapshot: ignored
    GAP = 3           # prevSeqId does not chain: cleared, resubscribe
    CHECKSUM = 4      # our top 25 disagree with the venue's: cleared, resubscribe
    CROSSED = 5       # best bid >= best ask: cleared, resubscribe


def signed_crc32(text: str) -> int:
    value = zlib.crc32(text.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def check_string(bids: Sequence[str], asks: Sequence[str]) -> str:
    """Interleave "px:sz" entries of both sides (best first), the longer side's rest appended."""
    out: list[str] = []
    nb, na = len(bids), len(asks)
    for i in range(max(nb, na)):
        if i < nb:
            out.append(bids[i])
        if i < na:
            out.append(asks[i])
    return ":".join(out)


def checksum_of_levels(bids: Levels, asks: Levels, depth: int = CHECKSUM_DEPTH) -> int:
    """The documented checksum of raw levels (best first), as OKX computes it."""
    return signed_crc32(check_string([f"{b[0]}:{b[1]}" for b in bids[:depth]],
                                     [f"{a[0]}:{a[1]}" for a in asks[:depth]]))


class OkxBookSync:
    """Sequencer and checksum guard for one instrument's book."""

    __slots__ = ("book", "contract_size", "depth", "_text", "_last_seq", "_synced", "gaps",
                 "checksum_errors", "crossings", "snapshots", "updates")

    def __init__(self, book: BookLike, *, contract_size: float = 1.0,
                 depth: int = CHECKSUM_DEPTH) -> None:
        self.book = book
        self.contract_size = contract_size
        self.depth = depth
        # per side: float price -> "px:sz" exactly as sent
        self._text: tuple[dict[float, str], dict[float, str]] = ({}, {})
        self._last_seq: int | None = None
        self._synced = False
        self.gaps = 0
        self.checksum_errors = 0
        self.crossings = 0
        self.snapshots = 0
        self.updates = 0

    @property
    def synced(self) -> bool:
        return self._synced

    def reset(self) -> None:
        """Forget the book (reconnect, resubscribe): the next snapshot restores it."""
        self._synced = False
        self._last_seq = None
        self._text[BID].clear()
        self._text[ASK].clear()
        self.book.clear()

    def on_message(self, action: str, bids: Levels, asks: Levels, *, checksum: int | None,
                   seq_id: int | None = None, prev_seq_id: int | None = None,
                   ts_ms: int = 0) -> Sync:
        if action == "snapshot":
            self.reset()
            self._load(bids, asks)
            self.snapshots += 1
            result = Sync.SYNCED
        else:
            if not self._synced:
                return Sync.WAITING
            if prev_seq_id is not None and self._last_seq is not None \
                    and prev_seq_id != self._last_seq:
                self.gaps += 1
                self.reset()
                return Sync.GAP
            self._apply(bids, asks)
            self.updates += 1
            result = Sync.APPLIED
        if checksum is not None and checksum != self.checksum():
            self.checksum_errors += 1
            self.reset()
            return Sync.CHECKSUM
        if self.book.is_crossed():
            self.crossings += 1
            self.reset()
            return Sync.CROSSED
        self._synced = True
        if seq_id is not None:
            self._last_seq = seq_id
        book = self.book
        if seq_id is not None:
            book.last_update_id = seq_id
        book.ts_ms = ts_ms
        return result

    def checksum(self) -> int:
        """Our book's checksum: its best levels, by the book's own order, in OKX's text."""
        book, text, depth = self.book, self._text, self.depth
        try:
            bids = [text[BID][p] for p, _ in book.levels(BID, depth)]
            asks = [text[ASK][p] for p, _ in book.levels(ASK, depth)]
        except KeyError:        # a level the book holds that no message sent: cannot match
            return 0
        return signed_crc32(check_string(bids, asks))

    # -- internals --------------------------------------------------------------------------------
    def _record(self, side: int, levels: Levels) -> list[tuple[str, float]]:
        text = self._text[side]
        ct = self.contract_size
        out: list[tuple[str, float]] = []
        for lv in levels:
            px, sz = lv[0], lv[1]
            qty = float(sz)
            key = float(px)
            if qty > 0.0:
                text[key] = f"{px}:{sz}"
            else:
                text.pop(key, None)
            out.append((px, qty * ct if ct != 1.0 else qty))
        return out

    def _load(self, bids: Levels, asks: Levels) -> None:
        self.book.load_snapshot(self._record(BID, bids), self._record(ASK, asks))

    def _apply(self, bids: Levels, asks: Levels) -> None:
        book = self.book
        if bids:
            book.apply_levels(BID, self._record(BID, bids))
        if asks:
            book.apply_levels(ASK, self._record(ASK, asks))

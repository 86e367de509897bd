"""Reconciling incremental liability events with absolute REST snapshots (pure, no I/O).

The margin risk stream's USER_LIABILITY_CHANGE carries only the change (`t`, `p`, `i`, event
time `E`), so the connector adds it to what it holds; `GET /sapi/v1/margin/account` sets absolute
figures. A snapshot taken after a change but before its event is delivered already contains the
change: adding the event on top counts it twice. The account response carries no time, so the
connector brackets it with two reads of the venue's clock (`GET /api/v3/time` before and after):
the snapshot reflects the venue at some instant in [t0, t1] of the venue's own clock, the clock
that stamps E.

Rule, for an event delivered after the snapshot has been applied (`margin_ms` covers the skew
between the venue's API clock and the one that stamps E):
- E < t0 - margin: the change happened before the snapshot was read -> already counted, skip.
- E > t1 + margin: it happened after -> apply incrementally.
- otherwise ambiguous: do not guess. Drop it and re-read the account: once we hold the event the
  change is committed, so a snapshot requested now certainly contains it.
Events delivered while a snapshot is in flight are held and classified when it lands (the REST
figures overwrite whatever they had done). If the snapshot fails before the account was read,
held events are classified against the previous snapshot. If the account was read but the
closing clock read failed, the window is open-ended: anything at or after t0 - margin is
ambiguous until the next complete snapshot.
"""
from __future__ import annotations

from enum import Enum
from typing import Generic, TypeVar

E = TypeVar("E")

MARGIN_MS = 2_000


class Verdict(str, Enum):
    APPLY = "apply"
    SKIP = "skip"             # already contained in the latest snapshot
    AMBIGUOUS = "ambiguous"   # dropped; a re-read settles it
    HELD = "held"             # a snapshot is in flight: decided when it lands


class LiabilityGate(Generic[E]):
    """Decides, per event time, whether an incremental liability change still has to be applied."""

    def __init__(self, margin_ms: int = MARGIN_MS) -> None:
        self.margin_ms = margin_ms
        self.t0: int | None = None       # venue-clock bracket of the latest snapshot
        self.t1: int | None = None       # None with t0 set: open-ended (closing read failed)
        self.in_flight = False
        self.held: list[tuple[int, E]] = []
        self.reread_wanted = False
        self.skipped = 0
        self.ambiguous = 0

    def classify(self, e_ms: int) -> Verdict:
        t0 = self.t0
        if t0 is None:
            return Verdict.APPLY
        if e_ms < t0 - self.margin_ms:
            return Verdict.SKIP
        t1 = self.t1
        if t1 is not None and e_ms > t1 + self.margin_ms:
            return Verdict.APPLY
        return Verdict.AMBIGUOUS

    def on_event(self, e_ms: int, ev: E) -> Verdict:
        if self.in_flight:
            self.held.append((e_ms, ev))
            return Verdict.HELD
        return self._count(self.classify(e_ms))

    def begin(self) -> None:
        """A snapshot request is about to be sent (before the opening clock read)."""
        self.in_flight = True

    def end(self, t0: int, t1: int | None) -> list[E]:
        """The snapshot was applied; its bracket is [t0, t1] (t1 None: unknown). Returns the held
        events that must still be applied, in arrival order."""
        self.t0, self.t1 = t0, t1
        return self._release()

    def abort(self) -> list[E]:
        """The snapshot failed before the account was read: the previous bracket still holds."""
        return self._release()

    def _release(self) -> list[E]:
        self.in_flight = False
        held, self.held = self.held, []
        return [ev for e_ms, ev in held if self._count(self.classify(e_ms)) is Verdict.APPLY]

    def _count(self, v: Verdict) -> Verdict:
        if v is Verdict.SKIP:
            self.skipped += 1
        elif v is Verdict.AMBIGUOUS:
            self.ambiguous += 1
            self.reread_wanted = True
        return v


class ProvisionalRepays:
    """Repays an AUTO_REPAY (or AUTO_BORROW_REPAY) fill makes, counted from the fill itself.

    The venue repays the liability of the coin a fill receives out of what it received (interest
    first, then principal) as part of the fill, but says so in a USER_LIABILITY_CHANGE that can
    reach us after the balance it paid with (on Binance today it comes on another socket, the
    risk stream), or not be applicable at all (an ambiguous one waits for a re-read). In between
    the account would read as if the quote were spent and nothing repaid. So the connector
    lowers the liability at the executionReport by what the fill certainly repays (its net
    proceeds, capped by the liability) and records it here; the REPAY event that follows is
    first matched against what is pending, and only the rest of it is applied. An absolute
    snapshot replaces everything: `clear` (the snapshot holds the repays, or its events follow).
    """

    def __init__(self) -> None:
        self.pending: dict[str, float] = {}
        self.generation = 0        # bumped by clear(): a timer started before it is moot

    def on_fill(self, asset: str, received: float, liability: float) -> float:
        """A fill of an AUTO_REPAY order received `received` of `asset` (net of a fee in it),
        whose liability (as the hub holds it) is `liability`: the amount to take off now."""
        amount = min(received, liability)
        if amount <= 0:
            return 0.0
        self.pending[asset] = self.pending.get(asset, 0.0) + amount
        return amount

    def on_repay(self, asset: str, amount: float) -> float:
        """A REPAY of `amount` (principal + interest) from the venue: how much of it the hub
        already holds from fills (not to be taken off again)."""
        held = self.pending.get(asset, 0.0)
        if held <= 0:
            return 0.0
        covered = min(held, amount)
        left = held - covered
        if left <= 1e-12:
            del self.pending[asset]
        else:
            self.pending[asset] = left
        return covered

    def outstanding(self) -> bool:
        return bool(self.pending)

    def clear(self) -> None:
        self.pending.clear()
        self.generation += 1

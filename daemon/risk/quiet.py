"""Which book frames can change a watched pair's risk (pure bookkeeping of the watchdog).

A depth frame moves no figure the watchdog reads but one: the mid of a spot book that prices a
coin of a cross-margin account (a coin with no perp mark on its venue, `inputs.price_books`).
Everything else a pair's risk rests on arrives as another hub event (a mark, a balance, a
position, a borrow rate, a health change), and each of those re-evaluates every pair on its
venue. So right after such a *full pass* over a venue, a book frame there changes nothing for a
*quiet* pair (open; every leg at ok or warn; no action in flight, settling, held or due; healthy
data; no APR or staleness timer running): its inputs are the ones it was just judged on and no
clock runs for it, so evaluating it again would decide, journal and store exactly what it did.
A frame then evaluates only the venue's loud pairs (usually none), in the pass's order.

Whatever may change a pair's inputs without an event on its venue bumps `epoch` and the next
frame on every venue is a full pass again: a pair added or changing state (the legging engine
publishes every change as a hub PAIR event), an order update, an instrument, an action the
watchdog sent, a halt or resume, new brackets. A swapped config does too (`VenuePass.cfg`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.types import InstrumentKey
from daemon.core.pairs import State
from daemon.risk.ladder import WARN, Action, Warn


def is_quiet(pair: Any, st: Any, acts: list[Action]) -> bool:
    """Whether a pair's evaluation (its state `st` after it, the actions it decided) left it
    quiet: open, every leg at ok or warn, nothing decided but warnings, nothing in flight,
    settling, held or unwound, healthy data, no APR, staleness or breach timer running."""
    return (pair.state is State.OPEN and st.ok and st.stale_since is None
            and st.apr_below_since is None and st.breach_since is None and st.hold is None
            and not st.busy and not st.settling and not st.unwound
            and all(lv <= WARN for lv in st.levels.values())
            and all(isinstance(a, Warn) for a in acts))


class VenuePass:
    """The last full pass over a venue: its watched pairs in evaluation order, the epoch and
    config it ran under, and the mids of the books pricing its margin coins then."""

    __slots__ = ("epoch", "cfg", "order", "pairs", "mids")

    def __init__(self, epoch: int, cfg: Any, pairs: list[Any],
                 mids: dict[InstrumentKey, float | None]) -> None:
        self.epoch = epoch
        self.cfg = cfg
        self.pairs = pairs
        self.order = {p.id: i for i, p in enumerate(pairs)}
        self.mids = mids


class QuietIndex:
    def __init__(self) -> None:
        self.epoch = 0
        self.passes: dict[str, VenuePass] = {}
        # venue -> ids of the pairs with a leg there whose last evaluation left them loud
        self.loud: dict[str, set[str]] = {}
        self.frames_skipped = 0

    def bump(self) -> None:
        self.epoch += 1

    def record(self, venue: str, epoch: int, cfg: Any, pairs: list[Any],
               mids: Callable[[], dict[InstrumentKey, float | None]]) -> None:
        """A full pass over `venue` that started at `epoch` has evaluated `pairs`."""
        if epoch == self.epoch:
            self.passes[venue] = VenuePass(epoch, cfg, pairs, mids() if pairs else {})

    def note(self, pair: Any, quiet: bool) -> None:
        """The pair's evaluation just left it quiet (or not)."""
        for leg in pair.legs:
            loud = self.loud.get(leg.venue)
            if quiet:
                if loud:
                    loud.discard(pair.id)
            elif loud is None:
                self.loud[leg.venue] = {pair.id}
            else:
                loud.add(pair.id)

    def frame(self, key: InstrumentKey, cfg: Any, mid: Callable[[InstrumentKey], float | None]
              ) -> list[Any] | None:
        """The pairs a book frame on `key` must evaluate, in order; None: a full pass is due."""
        vp = self.passes.get(key.venue)
        if vp is None or vp.epoch != self.epoch or vp.cfg is not cfg:
            return None
        if vp.mids and key in vp.mids and mid(key) != vp.mids[key]:
            return None
        loud = self.loud.get(key.venue)
        if not loud:
            self.frames_skipped += 1
            return []
        order = vp.order
        if not loud.issubset(order.keys()):
            return None
        self.frames_skipped += 1
        return [vp.pairs[i] for i in sorted(order[pid] for pid in loud)]

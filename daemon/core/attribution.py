"""Splitting a venue-wide settlement among the pairs that share it (pure).

A venue nets: one perp position per symbol, one liability per coin. A funding settlement (or an
interest charge) is the account's, and each pair owns the share its quantity had at the
settlement time. Amounts are split in the venue's own units (1e-8) by largest remainder, so the
shares add up to the venue's figure exactly, whatever the weights.

`QtyLog` answers "what was this leg's quantity at time t" from the signed changes a leg went
through (fills, coin-paid fees), stamped with the venue's event time; changes may arrive out of
order.
"""
from __future__ import annotations

import bisect
from decimal import Decimal

UNIT = Decimal("0.00000001")
_MAX_ENTRIES = 4096


def to_units(amount: str | Decimal) -> int:
    """A venue decimal string in 1e-8 units (exact; more decimals are rounded half-even)."""
    return int((Decimal(amount) / UNIT).to_integral_value())


def from_units(units: int) -> float:
    return float(Decimal(units) * UNIT)


def split_units(units: int, weights: list[float]) -> list[int]:
    """`units` shared in proportion to `weights` (>= 0); the parts sum to `units` exactly. No
    positive weight: nothing to share it with (an empty split, the caller reports the row)."""
    total = sum(w for w in weights if w > 0)
    if not weights or total <= 0:
        return []
    sign = -1 if units < 0 else 1
    mag = abs(units)
    exact = [mag * max(w, 0.0) / total for w in weights]
    parts = [int(x) for x in exact]
    left = mag - sum(parts)
    # largest remainders first; ties to the earlier leg, so the split is deterministic
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return [sign * p for p in parts]


class QtyLog:
    """A leg's signed quantity over time: `start` before the first change, then each change."""

    def __init__(self, start: float = 0.0) -> None:
        self.start = start
        self._ts: list[int] = []
        self._dq: list[float] = []

    def add(self, ts_ms: int, dq: float) -> None:
        i = bisect.bisect_right(self._ts, ts_ms)
        self._ts.insert(i, ts_ms)
        self._dq.insert(i, dq)
        if len(self._ts) > _MAX_ENTRIES:
            # fold the oldest half into the start: settlements that old are long reconciled
            half = _MAX_ENTRIES // 2
            self.start += sum(self._dq[:half])
            del self._ts[:half], self._dq[:half]

    def first_ms(self) -> int:
        """Venue time of the earliest change kept (0: none)."""
        return self._ts[0] if self._ts else 0

    def at(self, ts_ms: int) -> float:
        """The quantity just after every change stamped at or before `ts_ms`."""
        i = bisect.bisect_right(self._ts, ts_ms)
        return self.start + sum(self._dq[:i])

"""Funding history: parse, time-normalise and snap settlements to the funding grid (pure).

Settlements happen on a fixed UTC grid (every 8 h at 00/08/16 UTC on most symbols; every 1, 2
or 4 h on some), but the timestamps a venue or a dump reports drift: Binance stamps settlements a
few milliseconds late, CSV dumps may use local time. Everything downstream (OU fit, funding PnL
reconciliation, missing-settlement detection) wants one value per grid slot, in UTC epoch ms.

The CSV reader takes text or lines (no file I/O here) in the `Symbol,Date,Funding Rate` layout of
github.com/supervik/historical-funding-rates-fetcher, whose dates are naive local times.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Sequence

import msgspec

HOUR_MS: int = 3_600_000
_EPOCH = _dt.datetime(1970, 1, 1)
_MS = _dt.timedelta(milliseconds=1)


class FundingHistoryError(ValueError):
    """Malformed input; the message names the line."""


class FundingSeries(msgspec.Struct, frozen=True):
    """One symbol's settled funding, one value per grid slot, ascending.

    ``slot_ms`` and ``rate`` are parallel columns (cheap to hand to the OU fit). Duplicated slots
    keep the first value seen; every extra row is listed in ``duplicates`` as (slot_ms, rate).
    ``off_grid`` lists raw timestamps farther than the tolerance from any slot (usually a sign
    the venue changed the interval); they are excluded from the columns.
    """

    symbol: str
    interval_ms: int
    slot_ms: list[int]
    rate: list[float]
    rows: int  # data rows read, before de-duplication
    missing_slots_ms: list[int]  # grid slots between first and last with no row
    duplicates: list[tuple[int, float]]
    off_grid: list[int]
    max_snap_ms: int  # largest |raw - slot| among accepted rows

    @property
    def first_slot_ms(self) -> int:
        return self.slot_ms[0]

    @property
    def last_slot_ms(self) -> int:
        return self.slot_ms[-1]

    @property
    def evenly_spaced(self) -> bool:
        """True when every grid slot from first to last has exactly one value (OU-fit ready)."""
        return not self.missing_slots_ms and not self.off_grid


def snap_to_grid(ts_ms: int, interval_ms: int, offset_ms: int = 0) -> int:
    """Nearest grid point of ``offset_ms + k * interval_ms`` (ties round up).

    Funding grids are aligned to UTC midnight for 1/2/4/8 h intervals, so offset 0 is right for
    every venue seen so far; the parameter exists for a venue that ever settles off-midnight.
    """
    if interval_ms <= 0:
        raise ValueError(f"interval_ms must be > 0, got {interval_ms!r}")
    return ((ts_ms - offset_ms + interval_ms // 2) // interval_ms) * interval_ms + offset_ms


def normalise(
    symbol: str,
    points: Iterable[tuple[int, float]],
    interval_hours: float,
    *,
    tolerance_ms: int = 60_000,
    offset_ms: int = 0,
) -> FundingSeries:
    """Snap (utc_ms, rate) points to the grid, sort, de-duplicate and find the holes.

    Used for CSV history and for live venue history alike. ``tolerance_ms`` bounds how far a raw
    timestamp may sit from its slot before it is treated as off-grid rather than jitter.
    """
    interval_ms = round(interval_hours * HOUR_MS)
    if interval_ms <= 0 or interval_ms != interval_hours * HOUR_MS:
        raise ValueError(
            f"interval_hours must be a positive whole number of ms, got {interval_hours!r}"
        )
    by_slot: dict[int, float] = {}
    duplicates: list[tuple[int, float]] = []
    off_grid: list[int] = []
    rows = 0
    max_snap = 0
    for ts, rate in points:
        rows += 1
        slot = snap_to_grid(ts, interval_ms, offset_ms)
        skew = abs(ts - slot)
        if skew > tolerance_ms:
            off_grid.append(ts)
            continue
        if skew > max_snap:
            max_snap = skew
        if slot in by_slot:
            duplicates.append((slot, rate))
        else:
            by_slot[slot] = rate
    slots = sorted(by_slot)
    missing: list[int] = []
    for prev, nxt in zip(slots, slots[1:]):
        missing.extend(range(prev + interval_ms, nxt, interval_ms))
    return FundingSeries(
        symbol=symbol,
        interval_ms=interval_ms,
        slot_ms=slots,
        rate=[by_slot[s] for s in slots],
        rows=rows,
        missing_slots_ms=missing,
        duplicates=duplicates,
        off_grid=off_grid,
        max_snap_ms=max_snap,
    )


def naive_local_to_utc_ms(text: str, tz_offset_hours: float) -> int:
    """'YYYY-MM-DD HH:MM:SS[.fff]' naive local time at UTC+offset -> exact UTC epoch ms."""
    local = _dt.datetime.fromisoformat(text)
    if local.tzinfo is not None:
        raise ValueError(f"expected a naive timestamp, got {text!r}")
    return (local - _EPOCH) // _MS - round(tz_offset_hours * HOUR_MS)


def parse_funding_csv(
    source: str | Sequence[str] | Iterable[str],
    *,
    tz_offset_hours: float,
    interval_hours: float = 8,
    tolerance_ms: int = 60_000,
) -> FundingSeries:
    """Parse `Symbol,Date,Funding Rate` CSV text/lines into a normalised FundingSeries.

    ``tz_offset_hours`` is the offset of the naive Date column from UTC (the supervik dumps in
    shared/realdata are UTC+3: a 00:00 UTC settlement reads 03:00). It has no default because a
    silent wrong guess shifts every slot.
    """
    lines: Iterable[str] = source.splitlines() if isinstance(source, str) else source
    it = iter(lines)
    header = next(it, None)
    if header is None or [h.strip() for h in header.strip().split(",")] != [
        "Symbol",
        "Date",
        "Funding Rate",
    ]:
        raise FundingHistoryError(
            f"line 1: expected header 'Symbol,Date,Funding Rate', got {header!r}"
        )
    symbol: str | None = None
    points: list[tuple[int, float]] = []
    for lineno, raw in enumerate(it, start=2):
        line = raw.strip()
        if not line:
            continue
        parts = line.split(",")
        if len(parts) != 3:
            raise FundingHistoryError(
                f"line {lineno}: expected 3 fields, got {len(parts)}: {line!r}"
            )
        sym, date, rate_s = parts
        if symbol is None:
            symbol = sym
        elif sym != symbol:
            raise FundingHistoryError(f"line {lineno}: symbol {sym!r} differs from {symbol!r}")
        try:
            ts = naive_local_to_utc_ms(date, tz_offset_hours)
            rate = float(rate_s)
            if not math.isfinite(rate):
                raise ValueError(f"non-finite funding rate {rate_s!r}")
        except ValueError as exc:
            raise FundingHistoryError(f"line {lineno}: {exc}") from None
        points.append((ts, rate))
    if symbol is None:
        raise FundingHistoryError("no data rows")
    return normalise(symbol, points, interval_hours, tolerance_ms=tolerance_ms)

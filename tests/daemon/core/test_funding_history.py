"""Funding history against the real Binance/Bybit dumps in shared/realdata (SOURCES.md answers)."""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core.funding_history import (
    HOUR_MS,
    FundingHistoryError,
    naive_local_to_utc_ms,
    normalise,
    parse_funding_csv,
    snap_to_grid,
)

from tests.conftest import ROOT
REALDATA = Path(os.environ.get("BASISD_REALDATA", ROOT.parent / "shared" / "realdata"))
FH = REALDATA / "funding_history"

# (file, rows, negative rows, sum of rates) exactly as SOURCES.md lists them.
EXPECTED = [
    ("BTC-USDT_binance_2020-01-01_2024-01-01_funding_history.csv", 4383, 590, 0.59878779),
    ("ETH-USDT_binance_2020-01-01_2024-01-01_funding_history.csv", 4383, 548, 0.74073975),
    ("BTC-USDT_bybit_2021-01-01_2024-01-01_funding_history.csv", 3285, 505, 0.50127858),
    ("ETH-USDT_bybit_2021-01-01_2024-01-01_funding_history.csv", 3285, 499, 0.53536484),
]
EIGHT_H = 8 * HOUR_MS


def _utc_ms(y: int, m: int, d: int, h: int) -> int:
    return int(dt.datetime(y, m, d, h, tzinfo=dt.timezone.utc).timestamp() * 1000)


def _utc_hour(ms: int) -> int:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).hour


@pytest.mark.parametrize(("name", "rows", "negatives", "rate_sum"), EXPECTED)
def test_real_history_matches_sources(
    name: str, rows: int, negatives: int, rate_sum: float
) -> None:
    series = parse_funding_csv((FH / name).read_text(), tz_offset_hours=3, interval_hours=8)
    symbol = name.split("_")[0]
    assert series.symbol == symbol
    assert series.rows == rows
    assert len(series.slot_ms) == rows == len(series.rate)
    assert sum(1 for r in series.rate if r < 0) == negatives
    assert math.isclose(math.fsum(series.rate), rate_sum, rel_tol=0.0, abs_tol=1e-9)
    assert series.missing_slots_ms == []
    assert series.duplicates == []
    assert series.off_grid == []
    assert series.evenly_spaced
    # Binance stamps up to +47 ms late; Bybit is exact.
    assert series.max_snap_ms == (47 if "binance" in name else 0)
    assert all(s % EIGHT_H == 0 for s in series.slot_ms)
    assert all(b - a == EIGHT_H for a, b in zip(series.slot_ms, series.slot_ms[1:]))
    assert _utc_hour(series.first_slot_ms) in (0, 8, 16)
    assert _utc_hour(series.last_slot_ms) in (0, 8, 16)
    # First local row is 03:00 at UTC+3 = 00:00 UTC on the start date; last is 19:00 -> 16:00 UTC.
    year = int(name.split("_")[2][:4])
    assert series.first_slot_ms == _utc_ms(year, 1, 1, 0)
    assert series.last_slot_ms == _utc_ms(2023, 12, 31, 16)
    # Span check: rows cover exactly (last - first)/8h + 1 slots.
    assert (series.last_slot_ms - series.first_slot_ms) // EIGHT_H + 1 == rows


def test_wrong_timezone_shows_as_off_grid_not_silently_shifted() -> None:
    # Treating the UTC+3 dump as UTC puts every row 3 h off an 8 h grid: all off-grid, none kept.
    text = (FH / EXPECTED[2][0]).read_text()
    series = parse_funding_csv(text, tz_offset_hours=0, interval_hours=8)
    assert series.slot_ms == []
    assert len(series.off_grid) == 3285


def test_missing_and_duplicate_slots_are_detected() -> None:
    text = "\n".join(
        [
            "Symbol,Date,Funding Rate",
            "X,2024-01-01 03:00:00.000,0.0001",
            "X,2024-01-01 11:00:00.031,0.0002",
            "X,2024-01-01 11:00:00.000,0.0009",  # duplicate slot, first value kept
            # 2024-01-01 16:00 UTC and 2024-01-02 00:00 UTC missing
            "X,2024-01-02 11:00:00,-0.0003",
            "X,2024-01-02 14:00:00,0.5",  # 11:00 UTC: off an 8 h grid
        ]
    )
    s = parse_funding_csv(text, tz_offset_hours=3, interval_hours=8)
    base = int(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
    assert s.rows == 5
    assert s.slot_ms == [base, base + EIGHT_H, base + 4 * EIGHT_H]
    assert s.rate == [0.0001, 0.0002, -0.0003]
    assert s.duplicates == [(base + EIGHT_H, 0.0009)]
    assert s.missing_slots_ms == [base + 2 * EIGHT_H, base + 3 * EIGHT_H]
    assert s.off_grid == [base + 35 * HOUR_MS]  # 14:00 local = 11:00 UTC on Jan 2
    assert not s.evenly_spaced
    # The same row is on the grid at 1 h.
    s1 = parse_funding_csv(text, tz_offset_hours=3, interval_hours=1)
    assert s1.off_grid == []
    assert len(s1.slot_ms) == 4


def test_generic_intervals_one_two_four_hours() -> None:
    base = 1_700_006_400_000  # 2023-11-15 00:00 UTC, on every grid
    for hours in (1, 2, 4, 8):
        iv = hours * HOUR_MS
        pts = [(base + k * iv + (k % 3) * 17, 0.0001 * k) for k in range(10) if k != 6]
        s = normalise("Y", pts, hours)
        assert s.interval_ms == iv
        assert s.missing_slots_ms == [base + 6 * iv]
        assert s.max_snap_ms == 34
        assert s.slot_ms[0] == base and s.slot_ms[-1] == base + 9 * iv


def test_unsorted_input_is_sorted() -> None:
    base = 1_700_006_400_000
    s = normalise("Y", [(base + 2 * EIGHT_H, 3.0), (base, 1.0), (base + EIGHT_H + 5, 2.0)], 8)
    assert s.slot_ms == [base, base + EIGHT_H, base + 2 * EIGHT_H]
    assert s.rate == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Time,Rate\n",
        "Symbol,Date,Funding Rate\n",
        "Symbol,Date,Funding Rate\nX,2024-01-01 03:00:00,abc\n",
        "Symbol,Date,Funding Rate\nX,2024-01-01 03:00:00,nan\n",
        "Symbol,Date,Funding Rate\nX,not-a-date,0.1\n",
        "Symbol,Date,Funding Rate\nX,2024-01-01 03:00:00\n",
        "Symbol,Date,Funding Rate\nX,2024-01-01 03:00:00,0.1\nY,2024-01-01 11:00:00,0.1\n",
    ],
)
def test_malformed_input_raises_naming_the_problem(text: str) -> None:
    with pytest.raises(FundingHistoryError):
        parse_funding_csv(text, tz_offset_hours=3)


def test_bad_line_is_named() -> None:
    with pytest.raises(FundingHistoryError, match="line 3"):
        parse_funding_csv(
            "Symbol,Date,Funding Rate\nX,2024-01-01 03:00:00,0.1\nX,2024-01-01 11:00:00,zz\n",
            tz_offset_hours=3,
        )


def test_naive_local_to_utc_ms() -> None:
    assert naive_local_to_utc_ms("2020-01-01 03:00:00.000", 3) == 1_577_836_800_000
    assert naive_local_to_utc_ms("2020-01-01 03:00:00.047", 3) == 1_577_836_800_047
    assert naive_local_to_utc_ms("2020-01-01 00:00:00", 0) == 1_577_836_800_000


@settings(max_examples=300, deadline=None)
@given(
    slot=st.integers(min_value=0, max_value=2_000_000),
    hours=st.sampled_from([1, 2, 4, 8]),
    jitter=st.integers(min_value=-HOUR_MS // 2 + 1, max_value=HOUR_MS // 2 - 1),
)
def test_snap_to_grid_recovers_slot_under_jitter(slot: int, hours: int, jitter: int) -> None:
    iv = hours * HOUR_MS
    exact = slot * iv
    snapped = snap_to_grid(exact + jitter, iv)
    assert snapped == exact
    assert snap_to_grid(snapped, iv) == snapped  # idempotent


@settings(max_examples=300, deadline=None)
@given(ts=st.integers(min_value=-(10**13), max_value=10**13), hours=st.sampled_from([1, 2, 4, 8]))
def test_snap_to_grid_is_nearest_grid_point(ts: int, hours: int) -> None:
    iv = hours * HOUR_MS
    s = snap_to_grid(ts, iv)
    assert s % iv == 0
    assert abs(s - ts) <= iv // 2

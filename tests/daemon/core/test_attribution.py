"""The attribution maths (pure): exact splits and quantity at a time."""
from __future__ import annotations

from daemon.core.attribution import QtyLog, from_units, split_units, to_units


def test_split_sums_exactly_whatever_the_weights() -> None:
    for units in (1, 7, -7, 123_456_789, -149_383_865, 0):
        for weights in ([1.0], [1.0, 1.0, 1.0], [0.3, 0.15, 0.0], [2.5, 1e-9, 7.0]):
            parts = split_units(units, weights)
            assert sum(parts) == units
            assert all(p == 0 for p, w in zip(parts, weights) if w == 0)


def test_split_is_proportional_and_deterministic() -> None:
    assert split_units(100, [2.0, 1.0, 1.0]) == [50, 25, 25]
    assert split_units(10, [1.0, 1.0, 1.0]) == [4, 3, 3]      # ties: the earlier leg
    assert split_units(-10, [1.0, 1.0, 1.0]) == [-4, -3, -3]


def test_split_with_no_holder_is_empty() -> None:
    assert split_units(5, []) == []
    assert split_units(5, [0.0, 0.0]) == []


def test_units_round_trip() -> None:
    assert to_units("-1.49383865") == -149_383_865
    assert from_units(to_units("0.00000089")) == 0.00000089


def test_qty_log_answers_at_a_time_out_of_order() -> None:
    log = QtyLog()
    log.add(300, -0.5)
    log.add(100, 1.0)
    log.add(200, 0.25)
    assert log.at(50) == 0.0
    assert log.at(100) == 1.0           # a change stamped at t counts at t
    assert log.at(250) == 1.25
    assert log.at(10_000) == 0.75
    assert log.first_ms() == 100


def test_qty_log_folds_old_entries_keeping_the_answer() -> None:
    log = QtyLog()
    for t in range(10_000):
        log.add(t, 1.0)
    assert log.at(20_000) == 10_000.0
    assert log.at(9_999) == 10_000.0

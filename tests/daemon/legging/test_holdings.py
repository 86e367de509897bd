"""The pure judgement of the books against the venue's holdings (holdings.judge)."""
from __future__ import annotations

from daemon.legging.holdings import LegHolding, judge

PERP = ("v", "perp", "BTCUSDT")
DEBT = ("v", "debt", "BTC")


def _pair(pid: str, created: int, qty: float) -> list[LegHolding]:
    return [LegHolding(pair_id=pid, created_ms=created, key=DEBT, qty=qty, tolerance=0.001),
            LegHolding(pair_id=pid, created_ms=created, key=PERP, qty=qty, tolerance=0.001)]


def test_venue_that_holds_the_pairs_explains_them() -> None:
    j = judge(_pair("a", 1, 0.03) + _pair("b", 2, 0.02), {PERP: 0.05, DEBT: 0.0500001}, {})
    assert j.lost == () and j.unmanaged == ()


def test_an_emptied_venue_loses_every_pair_and_nothing_is_unmanaged() -> None:
    j = judge(_pair("a", 1, 0.03) + _pair("b", 2, 0.02), {PERP: 0.0, DEBT: 0.0}, {})
    assert j.lost == ("a", "b") and j.unmanaged == ()


def test_the_newest_pair_the_venue_cannot_cover_is_lost_and_a_stray_leg_unmanaged() -> None:
    # the venue holds only the older pair's perp and both debts: b's perp is gone
    j = judge(_pair("a", 1, 0.03) + _pair("b", 2, 0.02), {PERP: 0.03, DEBT: 0.05}, {})
    assert j.lost == ("b",)
    assert [(u.kind, round(u.qty, 9)) for u in j.unmanaged] == [("debt", 0.02)]


def test_a_position_no_pair_explains_is_unmanaged_above_the_dust_floor() -> None:
    j = judge([], {PERP: -0.004, DEBT: 0.0}, {PERP: 0.001})
    assert [(u.name, u.qty) for u in j.unmanaged] == [("BTCUSDT", -0.004)]
    assert judge([], {PERP: 0.0004}, {PERP: 0.001}).unmanaged == ()

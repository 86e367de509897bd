"""Issue 11, Done-when 3: the books value each leg at its own price and book every fee once, in
whatever asset the venue charged it (pure: data in, figures out)."""
from __future__ import annotations

from daemon.core.accounting import LegBook, apply_fill, pair_pnl


def test_basis_pnl_moves_with_the_basis() -> None:
    spot, perp = LegBook(), LegBook()
    apply_fill(spot, "SELL", 1.0, 60_000.0)       # short spot (borrowed and sold)
    apply_fill(perp, "BUY", 1.0, 59_900.0)        # long perp
    # now index (spot) 61000, perp mark 60800: the basis widened from -100 to -200
    pnl = pair_pnl((spot, perp), (61_000.0, 60_800.0), 60_000.0, 3_600_000.0)
    assert pnl.basis == -100.0
    assert pnl.unrealised == -100.0 and pnl.net == -100.0
    # valued at one price (the old view: spot at the perp mark) it would read +100
    assert pair_pnl((spot, perp), (60_800.0, 60_800.0), 60_000.0, 1.0).basis == 100.0

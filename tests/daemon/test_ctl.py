from __future__ import annotations

from daemon.ctl import render_opportunities, render_position, render_positions, render_status, table


def test_table_aligns_columns() -> None:
    out = table([["a", 1], ["bbb", None]], ["X", "Y"]).splitlines()
    assert out[0].startswith("X    Y") and out[2].startswith("bbb")


def test_renderers_show_every_pnl_term_and_dashes_for_unknowns() -> None:
    pos = {"id": "p1", "type": "reverse_basis", "symbol": "BTCUSDT", "state": "open",
           "residual_base": 0.0, "pnl": {"funding": 1.5, "interest": -0.2, "fees": 3.0, "basis": -1.0,
                                         "net": -2.7},
           "legs": [{"venue": "sim-a", "market": "perp", "side": "BUY", "qty": 0.1, "avg_price": 60000.0,
                     "liq_distance_pct": None, "venue_qty": 0.25, "venue_share": 0.1}]}
    listing = render_positions({"positions": [pos]})
    assert "FUNDING" in listing and "1.50" in listing and "-2.70" in listing
    detail = render_position(pos)
    assert "LIQ DIST %" in detail and "60,000.0000" in detail and " -" in detail
    assert "VENUE NET" in detail and "SHARE" in detail and "0.250000" in detail   # netted state
    assert render_positions({"positions": []}) == "no positions"
    opps = render_opportunities({"opportunities": [{"type": "reverse_basis", "symbol": "ETHUSDT",
                                                   "venues": {"spot": "sim-a", "perp": "sim-a"},
                                                   "net_apr_pct": 19.6, "zscore": None,
                                                   "model": "apr_only", "holding_hours": 168.0}]})
    assert "sim-a/sim-a" in opps and "19.60" in opps and "None" not in opps
    assert "MODEL" in opps and "apr_only" in opps and "168.0" in opps   # no fit, visibly
    status = render_status({"version": "0.1.0", "pid": 1, "uptime_s": 5, "halt": "none", "config": "x",
                            "venues": {"sim-a": {"state": "degraded", "streams": {
                                "spot:BTCUSDT:book": {"health": "resyncing"},
                                "perp:BTCUSDT:book": {"health": "healthy"}}}},
                            "counts": {"books": 2}})
    assert "1/2 healthy" in status and "spot:BTCUSDT:book=resyncing" in status

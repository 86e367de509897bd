"""Issue 12: the daemon reconciles with the venue on every start, and drains on SIGTERM.

The embedded exchange runs as its own process (`basisd sim --state-dir`, fixed seed, realtime
clock), so it can be restarted as the same venue (it persists its accounts) or as a fresh one
(`--fresh`); the daemon reaches it as an external sim, over the real admin socket:
* pair open -> both restarted with the venue kept: the pair resumes, open, with the same legs;
* the venue emptied (a fresh sim): the pair is `lost`, `close` sends nothing;
* a position placed on the venue directly (its API key) shows as `unmanaged` in status;
* SIGTERM during a chase open with acknowledgements delayed: the daemon exits within its drain
  timeout, the venue holds a hedged (or flat) account and no order of ours rests.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.process_rig import Rig, admin, wait

PERP_STEP = 0.001


def _legs(view: dict[str, Any]) -> list[tuple[str, str, float]]:
    return [(leg["market"], leg["side"], round(leg["signed_qty"], 9)) for leg in view["legs"]]


def test_restart_resumes_the_same_venue_and_a_fresh_venue_loses_the_pair(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    try:
        venue = rig.start_sim()
        rig.start_daemon()
        pid = rig.open_pair(2000, "taker")
        before = next(p for p in rig.idle() if p["id"] == pid)
        assert before["state"] == "open" and before["hedged"], before
        perp = venue.perp_amt()
        assert perp > 0

        # both restart, the venue kept: the pair resumes as it was
        rig.stop("daemon")
        rig.stop("sim")
        venue = rig.start_sim()
        assert abs(venue.perp_amt() - perp) < 1e-12, "the sim came back without its accounts"
        rig.start_daemon()
        after = next(p for p in rig.idle() if p["id"] == pid)
        assert after["state"] == "open" and after["hedged"], after
        assert _legs(after) == _legs(before)
        rec = rig.status()
        assert rec["legging"]["recovery"]["holdings"]["lost"] == []
        assert rec["unmanaged"]["positions"] == [], rec["unmanaged"]

        # the venue emptied: the pair is lost, and close sends nothing
        rig.stop("daemon")
        rig.stop("sim")
        venue = rig.start_sim(fresh=True)
        assert venue.perp_amt() == 0
        rig.start_daemon()
        view = next(p for p in rig.idle() if p["id"] == pid)
        assert view["state"] == "lost", view
        assert "venue no longer holds" in view["reason"]
        st = rig.status()
        assert st["legging"]["lost"] == [pid]
        assert any(pid in a and "LOST" in a for a in st["legging"]["alerts"])
        table = rig.ctl_status()
        assert "LOST pairs" in table and pid in table, table
        orders = venue.all_orders()
        status, body = admin(rig.sock, "POST", f"/v1/positions/{pid}/close", {"confirm": True})
        assert status == 202, body
        assert body["state"] == "closed" and body["orders_sent"] == 0, body
        assert "nothing sent" in body["reason"]
        time.sleep(0.5)
        assert venue.all_orders() == orders
        assert venue.perp_amt() == 0 and venue.btc_net() == 0
    finally:
        rig.close()


def test_a_venue_position_no_pair_explains_is_unmanaged(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    try:
        venue = rig.start_sim()
        rig.start_daemon()
        assert rig.status()["unmanaged"]["positions"] == []
        venue.post("/fapi/v1/order", symbol="BTCUSDT", side="SELL", type="MARKET",
                   quantity="0.004", newClientOrderId="by-hand-1")
        assert abs(venue.perp_amt() + 0.004) < 1e-12
        rig.stop("daemon")
        rig.start_daemon()
        rig.idle()
        unmanaged = rig.status()["unmanaged"]["positions"]
        assert [(u["venue"], u["kind"], u["name"], round(u["qty"], 9)) for u in unmanaged] == [
            ("sim-a", "perp", "BTCUSDT", -0.004)], unmanaged
        table = rig.ctl_status()
        assert "unmanaged: sim-a perp BTCUSDT" in table, table
    finally:
        rig.close()


def test_sigterm_mid_chase_open_drains_to_hedged_or_flat(tmp_path: Path) -> None:
    drain_timeout_s = 4.0
    rig = Rig(tmp_path, drain_timeout_s=drain_timeout_s)
    try:
        venue = rig.start_sim()
        for market in ("margin", "futures"):
            assert venue.control({"action": "delay_acks", "ms": 400, "market": market})["ok"]
        rig.start_daemon()
        pid = rig.open_pair(10_000, "chase")
        wait(lambda: venue.all_orders(), 10, "the open's first orders on the venue")
        view = admin(rig.sock, "GET", f"/v1/positions/{pid}")[1]
        assert view["state"] == "opening" and view["operation"]["running"], view
        took = rig.stop("daemon")
        assert took <= drain_timeout_s + 2.0, f"exit took {took:.2f} s"
        assert venue.open_orders() == [], venue.open_orders()
        perp, spot = venue.perp_amt(), venue.btc_net()
        assert abs(perp + spot) <= PERP_STEP + 1e-6, (perp, spot)
        out = (tmp_path / "daemon.log").read_text()
        assert "drained" in out, out[-2000:]
    finally:
        rig.close()


def test_a_reconnect_reconciles_again_and_finds_what_changed_meanwhile(tmp_path: Path) -> None:
    """Not only at start: when a venue's streams come back (here the sim drops every websocket),
    the daemon compares the venue with its books again, and a position placed by hand since
    then shows as unmanaged without a restart."""
    rig = Rig(tmp_path)
    try:
        venue = rig.start_sim()
        rig.start_daemon()
        rig.idle()
        wait(lambda: rig.status()["venues"]["sim-a"]["state"] == "healthy", 30, "streams healthy")
        time.sleep(1.5)             # the start's own reconciliation is done
        venue.post("/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET",
                   quantity="0.003", newClientOrderId="by-hand-2")
        assert rig.status()["unmanaged"]["positions"] == []     # nothing has looked yet
        assert venue.control({"action": "drop_ws"})["ok"]

        def unmanaged() -> list[Any]:
            return [(u["venue"], u["kind"], u["name"], round(u["qty"], 9))
                    for u in rig.status()["unmanaged"]["positions"]]
        assert wait(unmanaged, 30, "the reconnect's reconciliation") == [
            ("sim-a", "perp", "BTCUSDT", 0.003)]
    finally:
        rig.close()

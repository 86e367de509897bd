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

import hashlib
import hmac
import json
import os
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import BIN, ROOT
from tests.daemon.legging.test_legging_crash import (BASISD, SimClient, _daemon_config,
                                                     _write_configs, _wait, admin, terminate)

PERP_STEP = 0.001


class Venue(SimClient):
    """The test's hands on the venue: signed reads, and orders placed directly."""

    def post(self, path: str, **params: str) -> Any:
        params["timestamp"] = str(int(time.time() * 1000))
        params["recvWindow"] = "60000"
        q = urllib.parse.urlencode(params)
        sig = hmac.new(self.secret, q.encode(), hashlib.sha256).hexdigest()
        req = urllib.request.Request(f"{self.rest}{path}", data=f"{q}&signature={sig}".encode(),
                                     headers={"X-MBX-APIKEY": self.key}, method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            return orjson.loads(r.read())

    def open_orders(self) -> list[dict[str, Any]]:
        spot = self.get("/sapi/v1/margin/openOrders", symbol="BTCUSDT")
        return spot + self.get("/fapi/v1/openOrders", symbol="BTCUSDT")

    def all_orders(self) -> list[dict[str, Any]]:
        return (self.get("/sapi/v1/margin/allOrders", symbol="BTCUSDT")
                + self.get("/fapi/v1/allOrders", symbol="BTCUSDT"))


class Rig:
    """One sim process and one daemon process at a time, each restartable."""

    def __init__(self, tmp: Path, drain_timeout_s: float = 2.0) -> None:
        self.tmp = tmp
        self.simcfg, self.dcfg = _write_configs(tmp)
        self.state = tmp / "venue"
        self.sock = str(tmp / "b.sock")
        self.env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.drain_timeout_s = drain_timeout_s
        self.sim: subprocess.Popen[str] | None = None
        self.daemon: subprocess.Popen[bytes] | None = None
        self.venue: Venue | None = None
        self.log = open(tmp / "daemon.log", "ab")

    def start_sim(self, *, fresh: bool = False) -> Venue:
        args = [*BASISD, "sim", "--config", str(self.simcfg), "--state-dir", str(self.state)]
        self.sim = subprocess.Popen(args + (["--fresh"] if fresh else []), cwd=ROOT,
                                    env=self.env, stdout=subprocess.PIPE,
                                    stderr=open(self.tmp / "sim.err", "ab"), text=True)
        assert self.sim.stdout is not None
        line = json.loads(self.sim.stdout.readline())
        _daemon_config(self.dcfg, self.tmp, line)
        text = self.dcfg.read_text().replace("drain_timeout_s = 2",
                                             f"drain_timeout_s = {self.drain_timeout_s}")
        self.dcfg.write_text(text)
        self.env.update(BASISD_SIMA_API_KEY=line["api_key"],
                        BASISD_SIMA_API_SECRET=line["api_secret"])
        self.venue = Venue(line)
        return self.venue

    def start_daemon(self) -> None:
        self.daemon = subprocess.Popen([*BASISD, "run", "--config", str(self.dcfg)], cwd=ROOT,
                                       env=self.env, stdout=self.log, stderr=self.log)
        _wait(lambda: admin(self.sock, "GET", "/v1/positions")[0] == 200, 30, "engine ready")

    def stop(self, which: str) -> float:
        """SIGTERM one process; returns the seconds it took to exit."""
        proc = self.daemon if which == "daemon" else self.sim
        assert proc is not None
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        return time.monotonic() - t0

    def idle(self) -> list[dict[str, Any]]:
        def settled() -> tuple[bool, list[dict[str, Any]]] | None:
            status, body = admin(self.sock, "GET", "/v1/positions")
            if status != 200 or any(p["operation"]["running"] or p["state"] in
                                    ("opening", "closing", "adjusting")
                                    for p in body["positions"]):
                return None
            return True, body["positions"]      # non-empty even when there are no pairs
        return _wait(settled, 30, "pairs idle")[1]

    def status(self) -> dict[str, Any]:
        return admin(self.sock, "GET", "/v1/status")[1]

    def open_pair(self, notional_usd: float, execution: str) -> str:
        status, body = admin(self.sock, "POST", "/v1/positions", {
            "type": "reverse_basis", "symbol": "BTCUSDT", "notional_usd": notional_usd,
            "execution": execution})
        assert status == 202, body
        return str(body["id"])

    def ctl_status(self) -> str:
        """`basisctl status` as the operator reads it."""
        return subprocess.run([str(BIN / "basisctl"), "--socket", self.sock, "status"],
                              capture_output=True, text=True, timeout=30).stdout

    def close(self) -> None:
        terminate(self.daemon, self.sim)


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
        _wait(lambda: venue.all_orders(), 10, "the open's first orders on the venue")
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

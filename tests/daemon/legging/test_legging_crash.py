"""Done-when 4: the daemon (`basisd run`) is SIGKILLed at random instants during open and close.

The embedded exchange runs as its own process (`basisd sim`, fixed seed, realtime clock) so it
outlives every daemon; the daemon reaches it as an external sim (`external_sim = true`, keys from
BASISD_SIMA_API_KEY / BASISD_SIMA_API_SECRET). After every restart, once the engine has recovered
and the pair is idle:
* every order the sim holds for our account (spot and USD-M, by the `bd-` client-id prefix) is
  known to the journal (intents table, or the pair's order table);
* no client id reached the sim twice;
* the sim's positions are exactly what the engine books (so nothing filled twice or unseen);
* the pair is within its residual budget.
Kill instants: BASISD_CRASH_KILLS (default 20), alternating open and close, at a seeded random delay
after the operation was accepted.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.conftest import ROOT
from tests.process_rig import (BASISD, SimClient, admin, check_venue_against_books, daemon_config,
                               settled_positions, terminate, wait, write_configs)

KILLS = int(os.environ.get("BASISD_CRASH_KILLS", "20"))
SEED = int(os.environ.get("BASISD_CRASH_SEED", "5"))
ACK_DELAY_MS = 150


def test_sigkill_during_open_and_close(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    simcfg, dcfg = write_configs(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sim = subprocess.Popen([*BASISD, "sim", "--config", str(simcfg)], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=open(tmp_path / "sim.err", "wb"),
                           text=True)
    daemon: subprocess.Popen[bytes] | None = None
    t_start = time.monotonic()
    stats = {"kills": 0, "opens": 0, "closes": 0, "restarts": 0, "sim_orders": 0,
             "killed_mid_op": 0, "replayed_intents": 0, "adopted": 0, "not_sent": 0,
             "cancelled": 0}
    try:
        assert sim.stdout is not None
        line = json.loads(sim.stdout.readline())
        client = SimClient(line)
        daemon_config(dcfg, tmp_path, line)
        env.update(BASISD_SIMA_API_KEY=line["api_key"], BASISD_SIMA_API_SECRET=line["api_secret"])
        sock = str(tmp_path / "b.sock")
        log = open(tmp_path / "daemon.log", "ab")

        def start() -> subprocess.Popen[bytes]:
            p = subprocess.Popen([*BASISD, "run", "--config", str(dcfg)], cwd=ROOT, env=env,
                                 stdout=log, stderr=log)
            wait(lambda: admin(sock, "GET", "/v1/positions")[0] == 200, 30, "engine ready")
            return p

        def settled() -> list[dict[str, Any]] | None:
            return settled_positions(sock)

        def check(ps: list[dict[str, Any]]) -> None:
            stats["sim_orders"] = len(check_venue_against_books(client, sock, tmp_path / "state"))

        # Orders execute at once but their acknowledgements are held back: each operation then
        # spans a few hundred ms, so the random kills land before, between and after the sends.
        for market in ("margin", "futures"):
            assert client.control({"action": "delay_acks", "ms": ACK_DELAY_MS,
                                   "market": market})["ok"]
        daemon = start()
        pid: str | None = None
        for k in range(KILLS):
            if pid is None:
                status, body = admin(sock, "POST", "/v1/positions", {
                    "type": "reverse_basis", "symbol": "BTCUSDT", "notional_usd": 10_000,
                    "execution": "taker"})
                assert status == 202, body
                pid = body["id"]
                stats["opens"] += 1
                closing = False
            else:
                status, body = admin(sock, "POST", f"/v1/positions/{pid}/close",
                                     {"confirm": True, "execution": "taker"})
                assert status == 202, body
                stats["closes"] += 1
                closing = True
            time.sleep(rng.uniform(0.0, 1.3 * ACK_DELAY_MS / 1000))
            os.kill(daemon.pid, signal.SIGKILL)
            daemon.wait()
            stats["kills"] += 1
            daemon = start()
            stats["restarts"] += 1
            rec = admin(sock, "GET", "/v1/status")[1]["legging"]["recovery"]
            stats["killed_mid_op"] += pid in rec["resumed"]
            stats["replayed_intents"] += rec["replayed_intents"]
            for key in ("adopted", "not_sent", "cancelled"):
                stats[key] += len(rec[key])
            assert not rec["errors"], rec
            ps = wait(settled, 30, "pair idle after restart")
            check(ps)
            view = next(p for p in ps if p["id"] == pid)
            if closing:
                assert view["state"] == "closed", view
                legs = view["legs"]
                assert abs(legs[1]["signed_qty"]) < 1e-9
                pid = None
            else:
                assert view["state"] == "open", view
        if pid is not None:      # leave the account flat
            admin(sock, "POST", f"/v1/positions/{pid}/close", {"confirm": True})
            check(wait(settled, 30, "final close"))
        assert stats["kills"] == KILLS
        # the test is only worth something if kills landed inside operations
        assert stats["killed_mid_op"] >= KILLS // 2, stats
        assert client.perp_amt() == 0
        print(f"crash test: {stats} in {time.monotonic() - t_start:.1f} s")
    finally:
        terminate(daemon, sim)

"""Done-when 3: the journal's disk fills up under a running daemon (a real tmpfs of 2 MiB holds the
state dir; the test fills it). No order reaches the venue without a durable intent, the daemon
halts `no_new` and says so (log, status, metrics), and an open pair still closes on command.

The venue is the embedded exchange as its own process (`basisd sim`), so the test reads the
venue's own order list. Needs root (mount); skipped with the reason otherwise.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN, ROOT
from tests.process_rig import (BASISD, SimClient, UnixHTTP, admin, daemon_config, fill_up,
                               journal_ids, tmpfs, wait, write_configs)


@pytest.fixture
def tiny_disk(short_dir: Path) -> Iterator[Path]:
    mnt = short_dir / "state"
    with tmpfs(mnt, "2m") as why_not:
        if why_not:
            pytest.skip(why_not)
        yield mnt


def _metrics(sock: str) -> str:
    conn = UnixHTTP(sock)
    try:
        conn.request("GET", "/metrics")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def _status(sock: str) -> dict[str, Any]:
    return admin(sock, "GET", "/v1/status")[1]


def test_journal_disk_full_halts_no_new_sends_nothing_unjournaled_and_still_closes(
        short_dir: Path, tiny_disk: Path) -> None:
    simcfg, dcfg = write_configs(short_dir)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("BASISD_SOCKET", None)
    sim = subprocess.Popen([*BASISD, "sim", "--config", str(simcfg)], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=open(short_dir / "sim.err", "wb"),
                           text=True)
    daemon: subprocess.Popen[bytes] | None = None
    log_path = short_dir / "daemon.log"
    try:
        assert sim.stdout is not None
        line = json.loads(sim.stdout.readline())
        client = SimClient(line)
        daemon_config(dcfg, short_dir, line)      # state_dir = short_dir/state: the tmpfs
        env.update(BASISD_SIMA_API_KEY=line["api_key"], BASISD_SIMA_API_SECRET=line["api_secret"])
        sock = str(short_dir / "b.sock")
        daemon = subprocess.Popen([*BASISD, "run", "--config", str(dcfg)], cwd=ROOT, env=env,
                                  stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
        wait(lambda: admin(sock, "GET", "/v1/positions")[0] == 200, 30, "engine ready")
        body = {"type": "reverse_basis", "symbol": "BTCUSDT", "notional_usd": 2000,
                "execution": "taker"}

        def opened() -> str | None:
            status, answer = admin(sock, "POST", "/v1/positions", body)
            return answer["id"] if status == 202 else None     # 422 until the books are in
        pid = wait(opened, 30, "first open accepted")
        wait(lambda: admin(sock, "GET", f"/v1/positions/{pid}")[1]["state"] == "open", 30,
              "pair open")
        assert _status(sock)["journal"]["healthy"] is True
        before = {o["clientOrderId"] for o in client.our_orders()}
        assert before and before <= journal_ids(tiny_disk)

        filler = fill_up(tiny_disk)
        status, answer = admin(sock, "POST", "/v1/positions", {**body, "notional_usd": 5000})
        assert status in (409, 503), (status, answer)
        wait(lambda: _status(sock)["halt"] == "no_new", 10, "halt no_new")
        status, answer = admin(sock, "POST", "/v1/positions", {**body, "notional_usd": 5000})
        assert status == 409 and "halted: no_new" in answer["error"], answer
        status, answer = admin(sock, "POST", f"/v1/positions/{pid}/increase",
                               {"notional_usd": 500})
        assert status == 409, answer
        assert {o["clientOrderId"] for o in client.our_orders()} == before   # nothing went out
        st = _status(sock)
        assert st["journal"]["healthy"] is False and st["journal"]["errors"] >= 1
        assert "full" in st["journal"]["last_error"], st["journal"]
        metrics = _metrics(sock)
        assert "basisd_journal_healthy 0" in metrics
        assert 'basisd_halt{mode="no_new"} 1' in metrics
        errors = next(float(x.split()[1]) for x in metrics.splitlines()
                      if x.startswith("basisd_journal_errors_total"))
        assert errors >= 1
        table = subprocess.run([str(BIN / "basisctl"), "--socket", sock, "status"],
                               capture_output=True, text=True, timeout=30).stdout
        assert "halt: no_new" in table and "journal: FAILING" in table, table
        log = log_path.read_text()
        assert "journal_write_failed" in log and "halted_on_journal_error" in log

        # A resume while the disk is still full does not let new risk through for long: the
        # next failed retry halts again.
        status, answer = admin(sock, "POST", "/v1/resume", {})
        assert status == 200, answer
        wait(lambda: _status(sock)["halt"] == "no_new", 10, "halted again")
        assert {o["clientOrderId"] for o in client.our_orders()} == before

        # Closing reduces risk: allowed, its intents held in memory until the disk has room.
        status, answer = admin(sock, "POST", f"/v1/positions/{pid}/close",
                               {"confirm": True, "execution": "taker"})
        assert status == 202, answer
        wait(lambda: admin(sock, "GET", f"/v1/positions/{pid}")[1]["state"] == "closed", 30,
              "pair closed")
        assert abs(client.perp_amt()) < 1e-9
        after = {o["clientOrderId"] for o in client.our_orders()}
        assert after > before                      # the closing orders reached the venue

        filler.unlink()                            # room again: the held rows are committed
        wait(lambda: _status(sock)["journal"]["healthy"], 20, "journal healthy again")
        wait(lambda: _status(sock)["journal"]["pending_rows"] == 0, 20, "rows written")
        assert after <= journal_ids(tiny_disk)    # every order the venue holds is journaled
        assert _status(sock)["halt"] == "no_new"   # until the operator resumes
        assert "journal_recovered" in log_path.read_text()
    finally:
        _stop(daemon, sim)


def _stop(*procs: subprocess.Popen[Any] | None) -> None:
    """SIGTERM each, SIGKILL what has not exited 10 s later."""
    running = [p for p in procs if p is not None and p.poll() is None]
    for p in running:
        p.send_signal(signal.SIGTERM)
    for p in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(10)
        if p.poll() is None:
            p.kill()
            p.wait()

"""`basisd run` on the embedded default config, driven only through basisctl: the new user's path."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import BIN, wait_for


def _ctl(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "basisctl"), "--socket", str(sock), *args],
                          capture_output=True, text=True, timeout=60)


def _metrics(sock: Path) -> str:
    import http.client
    import socket

    conn = http.client.HTTPConnection("basisd", timeout=10)
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.connect(str(sock))
    conn.request("GET", "/metrics")
    return conn.getresponse().read().decode()


def _status(sock: Path) -> dict:
    r = _ctl(sock, "--json", "status")
    return json.loads(r.stdout) if r.returncode == 0 else {}


def _venues_healthy(sock: Path) -> bool:
    venues = _status(sock).get("venues", {})
    return len(venues) == 4 and all(v["state"] == "healthy" and v["streams"] for v in venues.values())


def test_default_config_trades_on_the_embedded_exchange(short_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BASISD_SOCKET"}
    log = open(short_dir / "daemon.log", "wb")
    proc = subprocess.Popen([str(BIN / "basisd"), "run"], cwd=short_dir, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    sock = short_dir / "run" / "basisd.sock"
    try:
        t0 = time.monotonic()
        assert wait_for(lambda: _ctl(sock, "health").returncode == 0, 20), "no answer within 20 s"
        assert wait_for(lambda: _venues_healthy(sock), 20), _status(sock)
        status = _status(sock)
        # 4 venues (two Binance, one Bybit, one OKX) x 2 symbols x spot + perp
        assert status["counts"]["instruments"] == 16 and status["counts"]["books"] == 16
        assert time.monotonic() - t0 < 40
        table = _ctl(sock, "status")
        # One venue of each dialect (two of Binance's), each healthy in the human table.
        for name in ("sim-a", "sim-b", "sim-bybit", "sim-okx"):
            row = next(line for line in table.stdout.splitlines() if line.startswith(name + " "))
            assert " healthy " in row, table.stdout

        state = json.loads(_ctl(sock, "--json", "health").stdout)
        assert state["ok"] is True and state["reason"].startswith("serving: 4/4 venues healthy")
        def opportunities() -> list:
            r = _ctl(sock, "--json", "opportunities")
            return json.loads(r.stdout)["opportunities"] if r.returncode == 0 else []

        assert wait_for(lambda: len(opportunities()) > 0, 20)
        opps = opportunities()
        assert {o["type"] for o in opps} == {"basis", "reverse_basis", "long_short"}
        # ETHUSDT funds every 4 h on the sim: the scanner must use the symbol's own interval
        assert {o["interval_h"] for o in opps if o["symbol"] == "ETHUSDT"} == {4.0}

        assert wait_for(lambda: _ctl(sock, "positions").returncode == 0, 20)
        opened = _ctl(sock, "--json", "open", "reverse_basis", "BTCUSDT", "2000", "--execution", "taker",
                      "--spot", "sim-b", "--perp", "sim-b")
        assert opened.returncode == 0, opened.stderr
        pid = json.loads(opened.stdout)["id"]

        def state_of() -> str:
            r = _ctl(sock, "--json", "show", pid)
            return json.loads(r.stdout)["state"] if r.returncode == 0 else ""

        assert wait_for(lambda: state_of() == "open", 20), _ctl(sock, "show", pid).stdout
        shown = json.loads(_ctl(sock, "--json", "show", pid).stdout)
        assert {(leg["market"], leg["side"]) for leg in shown["legs"]} == {("spot_margin", "SELL"),
                                                                          ("perp", "BUY")}
        assert abs(shown["residual_base"]) <= shown["residual_tolerance"]
        refused = _ctl(sock, "close", pid)
        assert refused.returncode == 1 and "confirm" in refused.stderr
        assert _ctl(sock, "close", pid, "--yes").returncode == 0
        assert wait_for(lambda: state_of() == "closed", 30), _ctl(sock, "show", pid).stdout
        metrics = _metrics(sock)
        assert 'basisd_pairs{state="closed"}' in metrics
        # prometheus_client writes label names sorted
        assert 'basisd_funding_rate{symbol="ETHUSDT",venue="sim-a"}' in metrics
        assert "basisd_watchdog_reaction_seconds_bucket" in metrics
        listing = _ctl(sock, "positions").stdout
        assert pid in listing and "FUNDING" in listing and "INTEREST" in listing
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    assert code == 0
    assert not sock.exists()

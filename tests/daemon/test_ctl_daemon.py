"""basisctl against a real daemon on the embedded exchange, over the real unix socket: every command
in both renderings (a table or a line for a person, the daemon's JSON with --json), and its errors
in both (one line on stderr, or a JSON object on stdout), with the documented exit codes."""
from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN, DaemonProc, wait_for

SIM_CONFIG = """[daemon]
state_dir = "state"
drain_timeout_s = 5

[admin]
socket = "run/basisd.sock"

[sim]
enabled = true
seed = 1
scenario = "default"
speedup = 480

[[venues]]
name = "sim-a"
sim = true
symbols = ["BTCUSDT", "ETHUSDT"]

[[venues]]
name = "sim-b"
sim = true
symbols = ["BTCUSDT", "ETHUSDT"]
"""

NEGATIVE_ZERO = re.compile(r"-0(\.0+)?(?![0-9.])")


@pytest.fixture(scope="module")
def daemon() -> Iterator[DaemonProc]:
    """One daemon for the module (strategy off: the only pairs are the ones these tests open)."""
    workdir = Path(tempfile.mkdtemp(prefix="bdctl", dir="/tmp"))
    d = DaemonProc(workdir, SIM_CONFIG)
    try:
        assert d.ready(), d.output()
        assert wait_for(lambda: _venues_healthy(d), 30), d.ctl("status").stdout
        yield d
    finally:
        d.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _json(r: subprocess.CompletedProcess[str]) -> Any:
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return json.loads(r.stdout)


def _venues_healthy(d: DaemonProc) -> bool:
    r = d.ctl("--json", "status")
    venues = json.loads(r.stdout).get("venues", {}) if r.returncode == 0 else {}
    return len(venues) == 2 and all(v["state"] == "healthy" for v in venues.values())


def _refused(d: DaemonProc, *args: str) -> tuple[str, dict[str, Any]]:
    """The same refused command in both modes: (the human line, the JSON error)."""
    human = d.ctl(*args)
    assert human.returncode == 1 and human.stdout == "", (human.stdout, human.stderr)
    assert human.stderr.count("\n") == 1 and human.stderr.startswith("basisctl: ")
    machine = d.ctl("--json", *args)
    assert machine.returncode == 1 and machine.stderr == ""
    body = json.loads(machine.stdout)
    assert set(body) == {"error", "field", "status", "kind"}
    return human.stderr, body


def _state(d: DaemonProc, pid: str) -> str:
    r = d.ctl("--json", "show", pid)
    return json.loads(r.stdout)["state"] if r.returncode == 0 else ""


def _open(d: DaemonProc, symbol: str, usd: str, venue: str, *, as_json: bool) -> str:
    args = ["open", "reverse_basis", symbol, usd, "--execution", "taker", "--spot", venue, "--perp", venue]
    if as_json:
        pid = _json(d.ctl("--json", *args))["id"]
    else:
        r = d.ctl(*args)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("opening pair ") and "basisctl show" in r.stdout
        pid = r.stdout.split()[2].rstrip(":")
    assert wait_for(lambda: _state(d, pid) == "open", 30), d.ctl("show", pid).stdout
    return pid


def test_status_in_both_renderings_with_real_stream_ages(daemon: DaemonProc) -> None:
    def ws_ages_known() -> bool:
        streams = _json(daemon.ctl("--json", "status"))["venues"]["sim-a"]["streams"]
        return all(streams[s]["last_msg_ms"] > 0 for s in ("ws:perp-depth", "ws:perp-mark", "ws:spot-depth"))

    assert wait_for(ws_ages_known, 10)    # a healthy market-data socket says when it last heard
    status = _json(daemon.ctl("--json", "status"))
    assert status["pid"] == daemon.proc.pid and status["counts"]["books"] == 8
    r = daemon.ctl("status")
    assert r.returncode == 0 and r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[0].startswith("basisd ") and "halt: none" in lines[0]
    assert any(line.startswith("sim-a") and "9/9 healthy" in line for line in lines)
    assert any(line.startswith("pairs: ") and "venue positions: " in line for line in lines)
    streams = daemon.ctl("status", "--streams").stdout
    depth = next(line for line in streams.splitlines() if "sim-a" in line and "ws:perp-depth" in line)
    assert depth.split()[2] == "healthy" and depth.split()[4] != "-"
    assert "\x1b[" not in r.stdout + streams and NEGATIVE_ZERO.search(r.stdout) is None


def test_health_probe_in_both_renderings(daemon: DaemonProc, tmp_path: Path) -> None:
    r = daemon.ctl("health")
    assert r.returncode == 0 and r.stdout.startswith("healthy: serving: 2/2 venues healthy")
    assert r.stdout.count("\n") == 1
    assert _json(daemon.ctl("--json", "health")) == {"ok": True, "reason": r.stdout.split(": ", 1)[1].strip()}
    assert daemon.ctl("health", "--require-venues").returncode == 0
    nobody = [str(BIN / "basisctl"), "--socket", str(tmp_path / "none.sock")]
    r = subprocess.run([*nobody, "health"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and r.stdout.startswith("unhealthy: no basisd daemon is listening")
    r = subprocess.run([*nobody, "--json", "health"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and json.loads(r.stdout)["ok"] is False
    r = subprocess.run([*nobody, "--json", "status"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and json.loads(r.stdout)["kind"] == "unreachable"


def test_opportunities_in_both_renderings_and_a_bad_filter(daemon: DaemonProc) -> None:
    def ranked() -> list[dict[str, Any]]:
        return _json(daemon.ctl("--json", "opportunities"))["opportunities"]

    assert wait_for(lambda: len(ranked()) > 0, 20)
    top = _json(daemon.ctl("--json", "opportunities", "--type", "reverse_basis", "--limit", "2"))
    assert 1 <= len(top["opportunities"]) <= 2
    assert {o["type"] for o in top["opportunities"]} == {"reverse_basis"}
    r = daemon.ctl("opportunities", "--limit", "3")
    header, *rows = r.stdout.splitlines()
    assert r.returncode == 0 and 1 <= len(rows) <= 3
    for col in ("FUNDING APR %", "NET APR %", "HOLD H", "MODEL", "BASIS BPS", "DEPTH USD", "NEXT FUNDING", "WHY NOT"):
        assert col in header
    assert NEGATIVE_ZERO.search(r.stdout) is None and "None" not in r.stdout
    line, body = _refused(daemon, "opportunities", "--limit", "0")
    assert line == "basisctl: 400: limit must be within 1..1000 (field: limit)\n"
    assert body == {"error": "limit must be within 1..1000", "field": "limit", "status": 400, "kind": "daemon"}


def test_a_pair_from_open_to_closed_in_both_renderings(daemon: DaemonProc) -> None:
    pid = _open(daemon, "BTCUSDT", "2000", "sim-b", as_json=False)
    shown = _json(daemon.ctl("--json", "show", pid))
    assert shown["id"] == pid and len(shown["legs"]) == 2
    detail = daemon.ctl("show", pid).stdout
    assert f"pair {pid}  reverse_basis BTCUSDT  state open" in detail
    assert "notional 2,000.00 USD" in detail and "QTY BTC" in detail and "LIQ DIST %" in detail
    legs = [line for line in detail.splitlines() if line.startswith(("0 ", "1 "))]
    assert "spot_margin" in legs[0] and "SELL" in legs[0] and "perp" in legs[1] and "BUY" in legs[1]

    listing = daemon.ctl("positions").stdout
    row = next(line for line in listing.splitlines() if line.startswith(pid))
    assert "sim-b/sim-b" in row and "2,000.00" in row and "open" in row
    total = next(line for line in listing.splitlines() if line.startswith("TOTAL"))
    assert NEGATIVE_ZERO.search(listing) is None and total.split()[1] == "2,000.00"
    views = _json(daemon.ctl("--json", "positions"))["positions"]
    live = sum(1 for p in views if p["state"] == "open")
    assert f"pairs: {live} open" in daemon.ctl("status").stdout     # the same source as the view
    assert _json(daemon.ctl("--json", "status"))["legging"]["pairs"] == len(views)

    r = daemon.ctl("increase", pid, "500")
    assert r.returncode == 0 and r.stdout.startswith(f"increase accepted for pair {pid}: state ")
    assert wait_for(lambda: _state(daemon, pid) == "open", 30)
    assert _json(daemon.ctl("--json", "increase", pid, "200"))["operation"] == "increase"
    assert wait_for(lambda: _state(daemon, pid) == "open", 30)

    line, body = _refused(daemon, "decrease", pid, "2000")
    assert "more than half" in line and "add --yes to confirm" in line and '"confirm"' not in line
    assert body["field"] == "confirm" and body["status"] == 400 and "add --yes" in body["error"]
    r = daemon.ctl("decrease", pid, "300")
    assert r.returncode == 0 and "decrease accepted" in r.stdout
    assert wait_for(lambda: _state(daemon, pid) == "open", 30)

    line, body = _refused(daemon, "close", pid)
    assert line == "basisctl: 400: close unwinds both legs: add --yes to confirm (field: confirm)\n"
    assert body == {"error": "close unwinds both legs: add --yes to confirm", "field": "confirm",
                    "status": 400, "kind": "daemon"}
    r = daemon.ctl("close", pid, "--yes")
    assert r.returncode == 0 and f"close accepted for pair {pid}" in r.stdout
    assert wait_for(lambda: _state(daemon, pid) == "closed", 30)
    closed = daemon.ctl("positions", "--state", "closed").stdout
    assert pid in closed and "closed" in closed.splitlines()[1]


def test_detach_and_liquidate_in_both_renderings(daemon: DaemonProc) -> None:
    first = _open(daemon, "ETHUSDT", "1000", "sim-a", as_json=True)
    r = daemon.ctl("detach", first)
    assert r.returncode == 0 and r.stdout == f"detach accepted for pair {first}: state detached\n"
    again, body = _refused(daemon, "detach", first)
    assert "detached" in again and body["status"] == 409
    listing = daemon.ctl("positions", "--state", "detached").stdout
    assert "detached by operator" in listing

    second = _open(daemon, "ETHUSDT", "1000", "sim-b", as_json=False)
    line, body = _refused(daemon, "liquidate", second)
    assert "add --yes to confirm" in line and body["field"] == "confirm"
    answer = _json(daemon.ctl("--json", "liquidate", second, "--yes"))
    assert answer["id"] == second and answer["operation"] == "liquidate"
    assert wait_for(lambda: _state(daemon, second) == "closed", 30)


def test_unknown_pairs_and_usage_errors_in_both_modes(daemon: DaemonProc) -> None:
    line, body = _refused(daemon, "show", "nope")
    assert line == "basisctl: 404: no position 'nope' (field: id)\n"
    assert body == {"error": "no position 'nope'", "field": "id", "status": 404, "kind": "daemon"}
    for args in (["bogus"], ["open", "basis", "BTCUSDT", "-5"], ["decrease", "p1"], ["halt", "stop"]):
        human = daemon.ctl(*args)
        assert human.returncode == 2 and "basisctl: error:" in human.stderr and human.stdout == ""
        machine = daemon.ctl("--json", *args)
        assert machine.returncode == 2 and json.loads(machine.stdout)["kind"] == "usage"
    after = daemon.ctl("show", "nope", "--json")        # output options after the command too
    assert after.returncode == 1 and json.loads(after.stdout)["status"] == 404


def test_halt_resume_and_reload_in_both_renderings(daemon: DaemonProc) -> None:
    r = daemon.ctl("halt", "no_new", "--reason", "maintenance")
    assert r.returncode == 0
    assert r.stdout == "halted: no_new (reason: maintenance); undo with: basisctl resume\n"
    assert "halted no_new" in daemon.ctl("status").stdout
    assert _json(daemon.ctl("--json", "halt", "reduce_only"))["halt"]["mode"] == "reduce_only"
    line, body = _refused(daemon, "halt", "flatten")
    assert line == "basisctl: 400: flatten unwinds every pair at market: add --yes to confirm (field: confirm)\n"
    assert body["field"] == "confirm"
    assert daemon.ctl("resume").stdout == "trading resumed: halt none\n"
    assert _json(daemon.ctl("--json", "resume"))["halt"]["mode"] == "none"
    r = daemon.ctl("reload")
    assert r.returncode == 0 and r.stdout.startswith("config reloaded (reload #")
    assert _json(daemon.ctl("--json", "reload"))["reloaded"] is True


def test_watch_refreshes_and_stops_cleanly(daemon: DaemonProc) -> None:
    r = daemon.ctl("watch", "--count", "2", "--interval", "0.1")
    assert r.returncode == 0 and r.stdout.count("every 0.1s at ") == 2
    assert r.stdout.count("\nbasisd ") + r.stdout.startswith("basisd ") == 2
    r = daemon.ctl("--json", "watch", "--count", "2", "-n", "0.1")
    samples = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 0 and len(samples) == 2
    assert all(s["status"]["pid"] == daemon.proc.pid and isinstance(s["positions"], list) for s in samples)
    proc = subprocess.Popen([str(BIN / "basisctl"), "--socket", str(daemon.socket), "watch", "-n", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("every 0.2s")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _on_a_terminal(daemon: DaemonProc, *args: str, env: dict[str, str] | None = None) -> str:
    """basisctl's stdout when it is a terminal (a pty)."""
    master, slave = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    full_env.update({"TERM": "xterm", **(env or {})})
    proc = subprocess.Popen([str(BIN / "basisctl"), "--socket", str(daemon.socket), *args],
                            stdout=slave, stderr=subprocess.DEVNULL, env=full_env)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:          # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(10) == 0
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_only_and_never_with_no_color(daemon: DaemonProc) -> None:
    assert "\x1b[32mhealthy\x1b[0m" in _on_a_terminal(daemon, "status")
    assert "\x1b[" not in _on_a_terminal(daemon, "status", env={"NO_COLOR": "1"})
    assert "\x1b[" not in _on_a_terminal(daemon, "--no-color", "status")
    assert "\x1b[" not in _on_a_terminal(daemon, "status", "--color", "never")
    assert "\x1b[" not in daemon.ctl("status").stdout                          # a pipe
    assert "\x1b[32m" in daemon.ctl("--color", "always", "status").stdout

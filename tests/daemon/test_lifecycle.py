"""The daemon as a process: status over the socket, single instance, SIGTERM, SIGHUP, sd_notify."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

from tests.conftest import BIN, MINIMAL_CONFIG, wait_for


def test_status_json_and_table(daemon_factory) -> None:
    d = daemon_factory()
    assert d.ready(), d.output()
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o600
    r = d.ctl("--json", "status")
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)
    assert status["version"] and status["halt"] == "none" and status["pid"] == d.proc.pid
    assert "venues" in status and "counts" in status
    table = d.ctl("status")
    assert table.returncode == 0 and "basisd" in table.stdout and "halt: none" in table.stdout


def test_second_daemon_on_same_socket_refuses_and_first_keeps_serving(daemon_factory, short_dir) -> None:
    first = daemon_factory()
    assert first.ready(), first.output()
    other = short_dir / "other"
    other.mkdir()
    (other / "basisd.toml").write_text(MINIMAL_CONFIG)
    r = subprocess.run([str(BIN / "basisd"), "run", "--config", str(other / "basisd.toml"),
                        "--socket", str(first.socket)], cwd=other, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1
    assert "another basisd is already serving" in r.stdout + r.stderr
    assert first.ctl("health").returncode == 0
    assert first.socket.exists()


def test_sigterm_exits_zero_quickly_and_removes_socket(daemon_factory) -> None:
    d = daemon_factory()
    assert d.ready(), d.output()
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(10) == 0
    assert time.monotonic() - t0 < 10
    assert not d.socket.exists()


def test_sighup_applies_a_valid_config_and_keeps_old_on_invalid(daemon_factory) -> None:
    d = daemon_factory()
    assert d.ready(), d.output()
    d.config.write_text(MINIMAL_CONFIG.replace('drain_timeout_s = 5', 'drain_timeout_s = 6'))
    d.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: json.loads(d.ctl("--json", "status").stdout)["reloads"] == 1, 10)
    d.config.write_text(MINIMAL_CONFIG + "\n[admin2]\nx = 1\n")
    d.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    status = json.loads(d.ctl("--json", "status").stdout)
    assert status["reloads"] == 1          # rejected: still serving on the old config
    assert d.stop() == 0
    out = d.output()
    assert "reload_rejected" in out and "admin2" in out


def test_basisctl_without_daemon_says_so_in_one_line(short_dir: Path) -> None:
    r = subprocess.run([str(BIN / "basisctl"), "--socket", str(short_dir / "none.sock"), "status"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "no basisd daemon is listening" in r.stderr
    assert "Traceback" not in r.stderr
    env = {**os.environ, "BASISD_SOCKET": str(short_dir / "env.sock")}
    r = subprocess.run([str(BIN / "basisctl"), "status"], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 1 and "env.sock" in r.stderr


def test_metrics_and_reload_over_the_admin_api(daemon_factory) -> None:
    import http.client

    d = daemon_factory()
    assert d.ready(), d.output()
    from daemon.ctl import request

    status, _ = request(str(d.socket), "POST", "/v1/reload", {})
    assert status == 200
    conn = http.client.HTTPConnection("basisd")
    import socket as _s
    sock = _s.socket(_s.AF_UNIX, _s.SOCK_STREAM)
    sock.connect(str(d.socket))
    conn.sock = sock
    conn.request("GET", "/metrics")
    resp = conn.getresponse()
    text = resp.read().decode()
    assert resp.status == 200
    assert "# TYPE basisd_uptime_seconds gauge" in text
    assert "basisd_reloads_total 1" in text
    d.config.write_text("not = [valid")
    status, body = request(str(d.socket), "POST", "/v1/reload", {})
    assert status == 400 and body["reloaded"] is False


def test_malformed_requests_against_the_daemon_process(daemon_factory) -> None:
    import asyncio

    from tests.daemon.ops.test_admin import flood

    d = daemon_factory()
    assert d.ready(), d.output()
    asyncio.run(flood(str(d.socket), seed=11))
    assert d.proc.poll() is None
    r = d.ctl("health")
    assert r.returncode == 0, (r.stderr, r.stdout)
    assert json.loads(d.ctl("--json", "status").stdout)["pid"] == d.proc.pid


def test_sighup_applies_legging_limits_to_the_running_engine(daemon_factory) -> None:
    from daemon.ctl import request

    d = daemon_factory()
    assert d.ready(), d.output()
    body = {"type": "reverse_basis", "symbol": "BTCUSDT", "notional_usd": 10}
    assert wait_for(lambda: request(str(d.socket), "GET", "/v1/positions")[0] == 200, 10)
    status, answer = request(str(d.socket), "POST", "/v1/positions", body)
    assert "notional_usd" not in str(answer.get("field")), answer
    d.config.write_text(MINIMAL_CONFIG + "\n[legging]\nmax_notional_usd = 5\n")
    d.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: json.loads(d.ctl("--json", "status").stdout)["reloads"] == 1, 10)
    status, answer = request(str(d.socket), "POST", "/v1/positions", body)
    assert status == 400 and answer["field"] == "notional_usd" and "5" in answer["error"], answer


def test_a_halt_survives_a_daemon_restart(daemon_factory) -> None:
    from daemon.ctl import request

    d = daemon_factory()
    assert d.ready(), d.output()
    assert wait_for(lambda: request(str(d.socket), "GET", "/v1/positions")[0] == 200, 10)
    assert d.ctl("halt", "no_new").returncode == 0
    assert d.stop() == 0
    again = daemon_factory()             # same working directory, same journal
    assert again.ready(), again.output()
    assert wait_for(lambda: request(str(again.socket), "GET", "/v1/positions")[0] == 200, 10)
    assert json.loads(again.ctl("--json", "status").stdout)["halt"] == "no_new"
    status, answer = request(str(again.socket), "POST", "/v1/positions",
                             {"type": "reverse_basis", "symbol": "BTCUSDT", "notional_usd": 10})
    assert status == 409 and "halted" in answer["error"], answer

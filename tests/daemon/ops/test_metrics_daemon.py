"""`basisd run` on the embedded exchange, scraped over the admin socket and parsed with
prometheus_client's parser; the same run's JSON log lines carry the operator's events.

Two pairs: one on sim-a (the default, well funded account) opened and closed by the operator,
one on sim-b, whose margin account is funded thinly and whose ladder starts at 90 % distance, so
the watchdog acts on it (a protective request: the reaction histogram counts it).
"""
from __future__ import annotations

import http.client
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import DaemonProc, wait_for
from tests.daemon.test_ctl_daemon import SIM_CONFIG

SIM = """seed = 1

[[venues]]
name = "sim-a"
symbols = ["BTCUSDT", "ETHUSDT"]

[[venues]]
name = "sim-b"
symbols = ["BTCUSDT", "ETHUSDT"]
margin_funding = { USDT = "2000" }
"""

# test_ctl_daemon's two sim venues, the sim from SIM above, /metrics on TCP too, and a ladder
# whose collateral step starts at 90 % distance on the margin leg.
CONFIG = SIM_CONFIG.replace(
    "drain_timeout_s = 5\n", "drain_timeout_s = 5\nmetrics_port = PORT\n").replace(
    'seed = 1\nscenario = "default"\nspeedup = 480\n', 'config = "SIM_PATH"\n') + """
[watchdog]
target_distance = 0.95

[watchdog.margin]
warn = 0.95
collateral = 0.9
"""

HISTOGRAMS = ("basisd_feed_lag_seconds", "basisd_tick_to_order_seconds", "basisd_leg_skew_seconds",
              "basisd_order_ack_seconds", "basisd_watchdog_reaction_seconds")
PAIR_GAUGES = ("basisd_pair_liq_distance_pct", "basisd_pair_residual_base", "basisd_pair_net_apr",
               "basisd_pair_pnl_usd")
COUNTERS = ("basisd_orders", "basisd_order_rejects", "basisd_book_resyncs", "basisd_ws_reconnects",
            "basisd_http_429", "basisd_journal_errors")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[str, str]:
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.getheader("Content-Type", ""), resp.read().decode()


def _scrape(d: DaemonProc) -> tuple[str, dict[str, Any]]:
    conn = http.client.HTTPConnection("basisd", timeout=10)
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.connect(str(d.socket))
    try:
        ctype, text = _get(conn, "/metrics")
    finally:
        conn.close()
    return ctype, {f.name: f for f in text_string_to_metric_families(text)}


def _count(families: dict[str, Any], name: str) -> float:
    return sum(s.value for s in families[name].samples if s.name == name + "_count")


def _json(r: Any) -> Any:
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return json.loads(r.stdout)


def _state(d: DaemonProc, pid: str) -> str:
    r = d.ctl("--json", "show", pid)
    return json.loads(r.stdout)["state"] if r.returncode == 0 else ""


def _open(d: DaemonProc, venue: str) -> str:
    return str(_json(d.ctl("--json", "open", "reverse_basis", "BTCUSDT", "2000", "--execution",
                           "taker", "--spot", venue, "--perp", venue))["id"])


def _healthy(d: DaemonProc) -> bool:
    r = d.ctl("--json", "status")
    venues = json.loads(r.stdout).get("venues", {}) if r.returncode == 0 else {}
    return len(venues) == 2 and all(v["state"] == "healthy" for v in venues.values())


def _events(d: DaemonProc) -> list[dict[str, Any]]:
    out = []
    for line in d.output().splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "event" in doc:
            out.append(doc)
    return out


@pytest.fixture(scope="module")
def run() -> Iterator[tuple[DaemonProc, int]]:
    import shutil
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="bdmx", dir="/tmp"))
    (workdir / "sim.toml").write_text(SIM)
    port = _free_port()
    config = CONFIG.replace("PORT", str(port)).replace("SIM_PATH", str(workdir / "sim.toml"))
    assert 'config = "' in config and f"metrics_port = {port}" in config
    d = DaemonProc(workdir, config)
    try:
        assert d.ready(), d.output()
        assert wait_for(lambda: _healthy(d), 30), d.ctl("status").stdout
        yield d, port
    finally:
        d.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_metrics_parse_and_carry_every_family_after_a_sim_run(run: tuple[DaemonProc, int]) -> None:
    d, port = run
    pid = _open(d, "sim-a")
    assert wait_for(lambda: _state(d, pid) == "open", 30), d.ctl("show", pid).stdout
    ctype, families = _scrape(d)
    assert ctype.startswith("text/plain; version=") and "charset=utf-8" in ctype
    from prometheus_client import CONTENT_TYPE_LATEST
    assert ctype == CONTENT_TYPE_LATEST
    for name in HISTOGRAMS:
        assert families[name].type == "histogram", name
    for name in PAIR_GAUGES:
        assert families[name].type == "gauge", name
        assert any(s.labels.get("pair") == pid for s in families[name].samples), name
    parts = {s.labels["part"] for s in families["basisd_pair_pnl_usd"].samples}
    assert parts == {"funding", "interest", "fees", "basis", "net"}
    legs = {(s.labels["leg"], s.labels["market"])
            for s in families["basisd_pair_liq_distance_pct"].samples if s.labels["pair"] == pid}
    assert legs == {("0", "spot_margin"), ("1", "perp")}
    halt = {s.labels["mode"]: s.value for s in families["basisd_halt"].samples}
    assert halt == {"none": 1.0, "no_new": 0.0, "reduce_only": 0.0, "flatten": 0.0}
    for name in COUNTERS:
        assert families[name].type == "counter", name
    assert _count(families, "basisd_tick_to_order_seconds") >= 2     # both legs of the open
    assert _count(families, "basisd_leg_skew_seconds") >= 1
    assert _count(families, "basisd_order_ack_seconds") >= 2
    resyncs = families["basisd_book_resyncs"].samples
    assert sum(s.value for s in resyncs) >= 8     # every book synced once at connect

    assert d.ctl("close", pid, "--yes").returncode == 0
    assert wait_for(lambda: _state(d, pid) == "closed", 30), d.ctl("show", pid).stdout
    _, families = _scrape(d)
    outcomes = {s.labels["outcome"]: s.value for s in families["basisd_orders"].samples}
    assert outcomes.get("filled", 0) >= 4       # two legs in, two legs out

    # the thinly funded pair: the watchdog's first step acts on it
    thin = _open(d, "sim-b")
    assert wait_for(lambda: _count(_scrape(d)[1], "basisd_watchdog_reaction_seconds") >= 1, 30), (
        d.ctl("show", thin).stdout)

    # the same exposition on the loopback TCP port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        ctype, text = _get(conn, "/metrics")
    finally:
        conn.close()
    assert ctype == CONTENT_TYPE_LATEST
    assert {f.name for f in text_string_to_metric_families(text)} >= set(HISTOGRAMS)


def test_log_lines_carry_orders_and_the_operator_with_the_caller(
        run: tuple[DaemonProc, int]) -> None:
    d, _port = run
    pid = _open(d, "sim-a")
    assert wait_for(lambda: _state(d, pid) == "open", 30), d.ctl("show", pid).stdout
    assert d.ctl("close", pid, "--yes").returncode == 0
    assert wait_for(lambda: _state(d, pid) == "closed", 30)
    events = [e for e in _events(d) if e.get("pair_id") == pid]
    names = {e["event"] for e in events}
    assert {"order_sent", "order_acked", "order_filled"} <= names, names
    sent = [e for e in events if e["event"] == "order_sent"]
    assert {e["op"] for e in sent} >= {"open", "close"}
    for e in sent:
        assert {"client_id", "venue", "market", "symbol", "side", "qty", "order_type"} <= set(e)
    commands = [e for e in _events(d) if e["event"] == "operator_command"]
    close = [e for e in commands if e["path"] == f"/v1/positions/{pid}/close"]
    assert close and close[0]["caller_uid"] == os.getuid() and close[0]["caller_pid"] > 0
    assert close[0]["method"] == "POST" and close[0]["status"] == 202
    assert any(e["event"] == "resync" for e in _events(d))

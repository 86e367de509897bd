"""A real daemon process and a real embedded-exchange process (`basisd sim`), for the tests of
what happens to processes: crashes, restarts, signals, a full disk.

The sim runs as its own process (fixed seed, realtime clock, accounts persisted in its state dir)
so it outlives every daemon; the daemon reaches it as an external sim (`external_sim = true`, keys
from BASISD_SIMA_API_KEY / BASISD_SIMA_API_SECRET) and is steered over its real admin socket.
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import errno
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import BIN, ROOT

BASISD = [sys.executable, "-m", "daemon"]


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=5)
        self.path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.path)
        self.sock = s


def admin(sock: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    conn = UnixHTTP(sock)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw else None)
    finally:
        conn.close()


class SimClient:
    """The test's hands on the venue: signed reads (its view of the venue's truth) and
    orders placed directly."""

    def __init__(self, line: dict[str, str]) -> None:
        self.rest = line["rest"]
        self.key = line["api_key"]
        self.secret = line["api_secret"].encode()

    def control(self, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(f"{self.rest}/sim/control", data=orjson.dumps(body),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return orjson.loads(r.read())

    def get(self, path: str, **params: str) -> Any:
        params["timestamp"] = str(int(time.time() * 1000))
        params["recvWindow"] = "60000"
        q = urllib.parse.urlencode(params)
        sig = hmac.new(self.secret, q.encode(), hashlib.sha256).hexdigest()
        req = urllib.request.Request(f"{self.rest}{path}?{q}&signature={sig}",
                                     headers={"X-MBX-APIKEY": self.key})
        with urllib.request.urlopen(req, timeout=5) as r:
            return orjson.loads(r.read())

    def our_orders(self) -> list[dict[str, Any]]:
        spot = self.get("/sapi/v1/margin/allOrders", symbol="BTCUSDT")
        fut = self.get("/fapi/v1/allOrders", symbol="BTCUSDT")
        return [o for o in spot + fut if o["clientOrderId"].startswith("bd-")]

    def perp_amt(self) -> float:
        rows = self.get("/fapi/v2/positionRisk", symbol="BTCUSDT")
        return sum(float(r["positionAmt"]) for r in rows)

    def btc_net(self) -> float:
        acct = self.get("/sapi/v1/margin/account")
        for a in acct["userAssets"]:
            if a["asset"] == "BTC":
                return float(a["netAsset"])
        return 0.0

    def post(self, path: str, **params: str) -> Any:
        params["timestamp"] = str(int(time.time() * 1000))
        params["recvWindow"] = "60000"
        q = urllib.parse.urlencode(params)
        sig = hmac.new(self.secret, q.encode(), hashlib.sha256).hexdigest()
        req = urllib.request.Request(f"{self.rest}{path}", data=f"{q}&signature={sig}".encode(),
                                     headers={"X-MBX-APIKEY": self.key}, method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            return orjson.loads(r.read())

    def sim_state(self) -> dict[str, Any]:
        """The sim's own books (not Binance's API): coin totals, claims, liquidations."""
        with urllib.request.urlopen(f"{self.rest}/sim/state", timeout=5) as r:
            return orjson.loads(r.read())

    def open_orders(self) -> list[dict[str, Any]]:
        spot = self.get("/sapi/v1/margin/openOrders", symbol="BTCUSDT")
        return spot + self.get("/fapi/v1/openOrders", symbol="BTCUSDT")

    def all_orders(self) -> list[dict[str, Any]]:
        return (self.get("/sapi/v1/margin/allOrders", symbol="BTCUSDT")
                + self.get("/fapi/v1/allOrders", symbol="BTCUSDT"))


def write_configs(tmp: Path) -> tuple[Path, Path]:
    simcfg = tmp / "sim.toml"
    # The test's own signed reads share the daemon's IP weight budget: 100x Binance's limits,
    # so a test polling the venue is never itself the 429 the daemon sees.
    simcfg.write_text('seed = 7\nclock = "realtime"\ntick_ms = 100\n\n[[venues]]\n'
                      'name = "sim-a"\nsymbols = ["BTCUSDT"]\nscenario = ""\n'
                      'spot_weight_limit = 600000\nsapi_weight_limit = 1200000\n'
                      'fapi_weight_limit = 240000\n')
    return simcfg, tmp / "basisd.toml"


def daemon_config(path: Path, tmp: Path, line: dict[str, str]) -> None:
    path.write_text(f"""
[daemon]
state_dir = "{tmp / 'state'}"
drain_timeout_s = 2
log_level = "warning"

[admin]
socket = "{tmp / 'b.sock'}"

[[venues]]
name = "sim-a"
external_sim = true
credentials = "sima"
symbols = ["BTCUSDT"]
rest_url = "{line['rest']}"
futures_rest_url = "{line['rest']}"
spot_ws_url = "{line['spot_ws']}"
futures_ws_url = "{line['futures_ws']}"

[legging]
complete_budget_s = 0.5
backoff_base_s = 0.02
backoff_cap_s = 0.2
order_timeout_s = 2
default_execution = "taker"

[strategy]
enabled = false
""")


def journal_ids(state: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{state / 'journal.sqlite'}?mode=ro", uri=True)
    try:
        ids = {r[0] for r in conn.execute("SELECT client_id FROM intents")}
        for (doc,) in conn.execute("SELECT doc FROM pairs"):
            ids.update(o["client_id"] for o in orjson.loads(doc)["orders"])
    finally:
        conn.close()
    return ids


def wait(pred: Any, timeout: float, what: str, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = pred()
        except (OSError, http.client.HTTPException):
            last = None
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def terminate(*procs: subprocess.Popen[Any] | None) -> None:
    """SIGTERM each process still running; SIGKILL what does not exit within 10 s."""
    for p in procs:
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class Rig:
    """One sim process and one daemon process at a time, each restartable."""

    def __init__(self, tmp: Path, drain_timeout_s: float = 2.0) -> None:
        self.tmp = tmp
        self.simcfg, self.dcfg = write_configs(tmp)
        self.state = tmp / "venue"
        self.sock = str(tmp / "b.sock")
        self.env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.drain_timeout_s = drain_timeout_s
        self.sim: subprocess.Popen[str] | None = None
        self.daemon: subprocess.Popen[bytes] | None = None
        self.venue: SimClient | None = None
        self.log = open(tmp / "daemon.log", "ab")

    def start_sim(self, *, fresh: bool = False) -> SimClient:
        args = [*BASISD, "sim", "--config", str(self.simcfg), "--state-dir", str(self.state)]
        self.sim = subprocess.Popen(args + (["--fresh"] if fresh else []), cwd=ROOT,
                                    env=self.env, stdout=subprocess.PIPE,
                                    stderr=open(self.tmp / "sim.err", "ab"), text=True)
        assert self.sim.stdout is not None
        line = json.loads(self.sim.stdout.readline())
        daemon_config(self.dcfg, self.tmp, line)
        text = self.dcfg.read_text().replace("drain_timeout_s = 2",
                                             f"drain_timeout_s = {self.drain_timeout_s}")
        self.dcfg.write_text(text)
        self.env.update(BASISD_SIMA_API_KEY=line["api_key"],
                        BASISD_SIMA_API_SECRET=line["api_secret"])
        self.venue = SimClient(line)
        return self.venue

    def start_daemon(self) -> None:
        self.daemon = subprocess.Popen([*BASISD, "run", "--config", str(self.dcfg)], cwd=ROOT,
                                       env=self.env, stdout=self.log, stderr=self.log)
        wait(lambda: admin(self.sock, "GET", "/v1/positions")[0] == 200, 30, "engine ready")

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
        return wait(settled, 30, "pairs idle")[1]

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




ACTIVE = ("opening", "closing", "adjusting")


def settled_positions(sock: str) -> list[dict[str, Any]] | None:
    """The pairs, once none has an operation running (None until then)."""
    status, body = admin(sock, "GET", "/v1/positions")
    if status != 200:
        return None
    ps: list[dict[str, Any]] = body["positions"]
    if any(p["state"] in ACTIVE or p["operation"]["running"] for p in ps):
        return None
    return ps


def check_venue_against_books(client: SimClient, sock: str, state_dir: Path) -> list[str]:
    """The venue's ledger against the daemon's books, with the pairs idle: every order of ours
    the venue holds is in the journal and reached it once; the venue's perp position and BTC
    net asset are what the pairs' legs book; every pair is within its residual budget. Returns
    the venue's client ids."""
    ids = [o["clientOrderId"] for o in client.our_orders()]
    assert len(ids) == len(set(ids)), "a client id reached the venue twice"
    unknown = set(ids) - journal_ids(state_dir)
    assert not unknown, f"orders on the venue the journal does not know: {unknown}"
    readings: list[tuple[float, float, float, float]] = []

    def books_match() -> bool:
        # The realtime sim charges interest every 7.5 s of wall time and the charge reaches the
        # engine through the user stream a moment later: compare a venue reading that no charge
        # raced (the same before and after the engine's view) with that view.
        before = client.btc_net()
        view = settled_positions(sock)
        after, perp_venue = client.btc_net(), client.perp_amt()
        if view is None:
            return False
        legs = [leg for p in view for leg in p["legs"]]
        spot = sum(leg["signed_qty"] for leg in legs if leg["market"] == "spot_margin")
        perp = sum(leg["signed_qty"] for leg in legs if leg["market"] == "perp")
        readings.append((after, spot, perp_venue, perp))
        return before == after and abs(after - spot) < 1e-6 and abs(perp_venue - perp) < 1e-9
    try:
        wait(books_match, 15, "the venue to match the books")
    except AssertionError:
        raise AssertionError(f"venue (BTC net, perp) vs books: {readings[-3:]}") from None
    for p in settled_positions(sock) or []:
        if p["state"] not in ("closed", "lost"):
            assert abs(p["residual_base"]) <= p["residual_tolerance"], p
    return ids


@contextmanager
def tmpfs(mnt: Path, size: str) -> Iterator[str | None]:
    """A real tmpfs of `size` at `mnt`; yields None, or why it cannot be mounted (needs root)."""
    mnt.mkdir(exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        yield f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}): needs root"
        return
    try:
        yield None
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill_up(mnt: Path) -> Path:
    """Write until the filesystem says ENOSPC: nothing can grow on it after this."""
    filler = mnt / f"filler-{uuid.uuid4().hex}"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (1 << 16, 1 << 12, 1 << 8, 1):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    return filler

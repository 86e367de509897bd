"""A real daemon with the dashboard on, for the dashboard tests.

`Rig` starts `basisd sim` (realtime clock, one Binance-dialect venue) and `basisd run` against it
as an external sim, the dashboard on an ephemeral loopback port, the strategy off (every pair is
the test's). `DashboardOnly` runs a daemon with no venues: the admin socket's halt/resume routes
and the dashboard, quick to start, for the guard tests.
"""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

from tests.conftest import MINIMAL_CONFIG, ROOT, DaemonProc
from tests.daemon.legging.test_legging_crash import (BASISD, SimClient, _daemon_config,
                                                     _wait, _write_configs, admin)

DASHBOARD = "\n[dashboard]\nenabled = true\nhost = \"127.0.0.1\"\nport = 0\nrefresh_s = 0.5\n"


def dashboard_url(sock: str) -> str:
    status, body = admin(sock, "GET", "/v1/status")
    assert status == 200, body
    return str(body["dashboard"]["url"])


def fetch(url: str, method: str = "GET", path: str = "/", body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly the headers given (plus Host unless given)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        hdrs = dict(headers or {})
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        conn.putrequest(method, path, skip_host="Host" in hdrs, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.env.pop("BASISD_SOCKET", None)
        simcfg, self.dcfg = _write_configs(tmp)
        self.sim = subprocess.Popen([*BASISD, "sim", "--config", str(simcfg)], cwd=ROOT,
                                    env=self.env, stdout=subprocess.PIPE,
                                    stderr=open(tmp / "sim.err", "wb"), text=True)
        self.daemon: subprocess.Popen[bytes] | None = None
        self.sock = str(tmp / "b.sock")
        self.log_path = tmp / "daemon.log"

    def start(self) -> str:
        assert self.sim.stdout is not None
        line = json.loads(self.sim.stdout.readline())
        self.venue = SimClient(line)
        _daemon_config(self.dcfg, self.tmp, line)
        text = self.dcfg.read_text().replace('log_level = "warning"', 'log_level = "info"')
        self.dcfg.write_text(text + DASHBOARD)
        self.env.update(BASISD_SIMA_API_KEY=line["api_key"], BASISD_SIMA_API_SECRET=line["api_secret"])
        self.daemon = subprocess.Popen([*BASISD, "run", "--config", str(self.dcfg)], cwd=ROOT,
                                       env=self.env, stdout=open(self.log_path, "wb"),
                                       stderr=subprocess.STDOUT)
        _wait(lambda: admin(self.sock, "GET", "/v1/positions")[0] == 200, 30, "engine ready")
        return dashboard_url(self.sock)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        for p in (self.daemon, self.sim):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


class DashboardOnly(DaemonProc):
    def __init__(self, workdir: Path, extra: str = "", env: dict[str, str] | None = None,
                 text: Any = None) -> None:
        config = self.config_text() + extra
        super().__init__(workdir, text(config) if text else config, env=env)

    @staticmethod
    def config_text() -> str:
        return MINIMAL_CONFIG + DASHBOARD

    def url(self) -> str:
        assert self.ready(), self.output()
        return _wait(lambda: dashboard_url(str(self.socket)), 10, "dashboard url")

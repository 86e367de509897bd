"""A real daemon with the dashboard on, for the dashboard tests.

`Rig` is tests/process_rig.py's: `basisd sim` (realtime clock, one Binance-dialect venue) and
`basisd run` against it as an external sim, the strategy off (every pair is the test's), here
with the dashboard on an ephemeral loopback port. `DashboardOnly` runs a daemon with no venues: the admin socket's halt/resume routes
and the dashboard, quick to start, for the guard tests.
"""
from __future__ import annotations

import http.client
import json
import urllib.parse
from pathlib import Path
from typing import Any

from tests import process_rig
from tests.conftest import MINIMAL_CONFIG, DaemonProc
from tests.process_rig import admin, wait

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


class Rig(process_rig.Rig):
    """process_rig's sim + daemon, the daemon logging at info with the dashboard on."""

    def start(self) -> str:
        self.start_sim()
        text = self.dcfg.read_text().replace('log_level = "warning"', 'log_level = "info"')
        self.dcfg.write_text(text + DASHBOARD)
        self.start_daemon()
        return dashboard_url(self.sock)

    def log_text(self) -> str:
        self.log.flush()
        return (self.tmp / "daemon.log").read_text(errors="replace")


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
        return str(wait(lambda: dashboard_url(str(self.socket)), 10, "dashboard url"))

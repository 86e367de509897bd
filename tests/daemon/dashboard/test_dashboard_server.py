"""The dashboard served by a real daemon (no venues: halt/resume are the actions at hand).

Actions reach the admin API only with the page's CSRF token and a same-origin Origin (403 JSON
otherwise); what the admin API answers comes back unchanged (its own validation); a configured
access token is required on every request and never logged; a non-loopback host without one is
a config error; a port already taken leaves the daemon serving without the dashboard.
"""
from __future__ import annotations

import json
import re
import socket
import subprocess
from pathlib import Path

from tests.conftest import BIN
from tests.daemon.dashboard.rig import DashboardOnly, fetch
from tests.process_rig import admin


def _csrf(page: bytes) -> str:
    m = re.search(rb'name="basisd-csrf" content="([^"]+)"', page)
    assert m, page[:300]
    return m.group(1).decode()


def test_actions_need_the_page_token_and_same_origin(short_dir: Path) -> None:
    d = DashboardOnly(short_dir)
    try:
        url = d.url()
        host = url.split("/")[2]
        status, headers, page = fetch(url)
        assert status == 200 and "frame-ancestors 'none'" in headers["content-security-policy"]
        csrf = _csrf(page)
        assert "__BASISD_CSRF__" not in page.decode()
        origin = {"Origin": f"http://{host}"}
        halt = {"mode": "no_new", "reason": "test"}
        refused = [
            fetch(url, "POST", "/api/v1/halt", halt),                                 # nothing
            fetch(url, "POST", "/api/v1/halt", halt, origin),                         # no CSRF
            fetch(url, "POST", "/api/v1/halt", halt, {"X-Basisd-CSRF": csrf}),        # no Origin
            fetch(url, "POST", "/api/v1/halt", halt, {"X-Basisd-CSRF": "x" * 43, **origin}),
            fetch(url, "POST", "/api/v1/halt", halt,
                 {"X-Basisd-CSRF": csrf, "Origin": "http://evil.example"}),
        ]
        for status, headers, body in refused:
            assert status == 403 and headers["content-type"].startswith("application/json")
            assert json.loads(body)["error"]
        assert admin(str(d.socket), "GET", "/v1/status")[1]["halt"] == "none"
        # a DNS-rebinding page: right port, foreign Host
        status, _, body = fetch(url, "GET", "/api/v1/status", headers={"Host": f"evil.example:{url.split(':')[2].strip('/')}"})
        assert status == 403 and json.loads(body)["field"] == "Host"

        ok = {"X-Basisd-CSRF": csrf, **origin}
        status, _, body = fetch(url, "POST", "/api/v1/halt", halt, ok)
        assert status == 200 and json.loads(body)["halt"]["mode"] == "no_new"
        assert admin(str(d.socket), "GET", "/v1/status")[1]["halt"] == "no_new"
        # the admin API's own validation, unchanged
        status, _, body = fetch(url, "POST", "/api/v1/halt", {"mode": "flatten"}, ok)
        assert status == 400 and json.loads(body)["field"] == "confirm"
        status, _, body = fetch(url, "POST", "/api/v1/resume", {}, ok)
        assert status == 200 and json.loads(body)["halt"]["mode"] == "none"
        # only the actions and reads the dashboard offers
        assert fetch(url, "POST", "/api/v1/reload", {}, ok)[0] == 404
        assert fetch(url, "GET", "/api/v1/state")[0] == 404
        status, _, body = fetch(url, "POST", "/api/v1/halt", {"mode": "x" * 100_000}, ok)
        assert status == 413 and json.loads(body)["error"]
        status, _, body = fetch(url, "GET", "/api/v1/status")
        assert status == 200 and json.loads(body)["dashboard"]["url"] == url
        assert f"dashboard: {url}" in d.ctl("status").stdout
        log = d.output()
        assert '"path":"/v1/halt"' in log and '"operator_command"' in log
        assert log.count('"dashboard_action"') == 3
    finally:
        d.stop()


def test_access_token_required_and_never_logged(short_dir: Path) -> None:
    token = "tok-" + "7f3a9c" * 6
    d = DashboardOnly(short_dir, 'token = "dash"\n', env={"BASISD_DASH_TOKEN": token})
    try:
        url = d.url()
        assert fetch(url)[0] == 403
        assert fetch(url, "GET", "/events")[0] == 403
        assert fetch(url, "GET", "/static/style.css")[0] == 403
        assert fetch(url, "GET", "/", headers={"Authorization": f"Bearer {token}"})[0] == 200
        assert fetch(url, "GET", "/?token=wrong")[0] == 403
        status, headers, _ = fetch(url, "GET", f"/?token={token}")
        assert status == 303 and headers["location"] == "/"
        cookie = headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert fetch(url, "GET", "/", headers={"Cookie": cookie.split(";")[0]})[0] == 200
        status, _, body = fetch(url, "GET", "/api/v1/status",
                               headers={"Cookie": cookie.split(";")[0]})
        assert status == 200 and token not in body.decode()
    finally:
        d.stop()
    assert token not in d.output()


def test_non_loopback_without_token_refuses_to_start(short_dir: Path) -> None:
    cfg = short_dir / "open.toml"
    cfg.write_text(DashboardOnly.config_text().replace('host = "127.0.0.1"', 'host = "0.0.0.0"'))
    for cmd in ("check-config", "run --config"):
        r = subprocess.run([str(BIN / "basisd"), *cmd.split(), str(cfg)], cwd=short_dir,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (cmd, r.stdout, r.stderr)
        assert "dashboard.token" in r.stdout + r.stderr and "loopback" in r.stdout + r.stderr
    assert not (short_dir / "run" / "basisd.sock").exists()


def test_a_taken_port_leaves_the_daemon_serving(short_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        d = DashboardOnly(short_dir, text=lambda t: t.replace("port = 0", f"port = {port}"))
        try:
            assert d.ready(), d.output()
            status = admin(str(d.socket), "GET", "/v1/status")[1]
            assert status["dashboard"]["enabled"] is False and status["dashboard"]["error"]
            assert "dashboard_unavailable" in d.output()
            assert "dashboard: unavailable: " in d.ctl("status").stdout
        finally:
            d.stop()


def test_dashboard_section_needs_a_restart(short_dir: Path) -> None:
    d = DashboardOnly(short_dir)
    try:
        url = d.url()
        d.config.write_text(d.config.read_text().replace("refresh_s = 0.5", "refresh_s = 2"))
        status, body = admin(str(d.socket), "POST", "/v1/reload", {})
        assert status == 200 and body["reloaded"] is True
        assert admin(str(d.socket), "GET", "/v1/status")[1]["dashboard"]["url"] == url
        assert "reload_partial" in d.output() and "dashboard" in d.output()
    finally:
        d.stop()

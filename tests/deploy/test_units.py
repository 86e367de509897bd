"""The systemd units, checked by systemd's own tools where they are installed.

`systemd-analyze verify` needs no running systemd (it works in this container, where PID 1 is
not systemd) but does check that ExecStart's binary exists: each unit is verified as a copy whose
ExecStart points at this venv's `basisd` instead of /opt/basisd/.venv/bin/basisd; nothing else in
the copy differs. verify exits 0 on an unknown or misspelt key and only warns, so any warning about
the unit fails the test too.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN
from tests.deploy.units import ROOT, SYSTEMD, entries, one, values

SERVICE = SYSTEMD / "basisd.service"
TEMPLATE = SYSTEMD / "basisd@.service"
INSTALLED_BASISD = "/opt/basisd/.venv/bin/basisd"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package systemd; .ci/run installs it)")
    return path


def _systemd_version() -> int:
    out = subprocess.run([_tool("systemd-analyze"), "--version"], capture_output=True, text=True).stdout
    return int(re.match(r"systemd (\d+)", out).group(1))  # type: ignore[union-attr]


def _copy_for_verify(unit: Path, into: Path) -> Path:
    text = unit.read_text()
    assert INSTALLED_BASISD in text
    copy = into / unit.name
    copy.write_text(text.replace(INSTALLED_BASISD, str(BIN / "basisd")))
    return copy


def _verify(unit_arg: str, cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    """Problems systemd-analyze reports: its exit status and every warning naming our files."""
    r = subprocess.run([_tool("systemd-analyze"), "verify", "--man=no", unit_arg], cwd=cwd,
                       capture_output=True, text=True, timeout=60, env=env)
    problems = [line for line in r.stderr.splitlines() if str(cwd) in line or "basisd" in line]
    return problems + ([f"exit {r.returncode}: {r.stderr.strip()}"] if r.returncode else [])


def test_systemd_analyze_verify_passes_on_the_service(tmp_path: Path) -> None:
    _copy_for_verify(SERVICE, tmp_path)
    assert _verify("./basisd.service", tmp_path) == []


def test_systemd_analyze_verify_passes_on_an_instance_of_the_template(tmp_path: Path) -> None:
    _copy_for_verify(TEMPLATE, tmp_path)
    assert _verify("./basisd@account1.service", tmp_path) == []


def test_verify_here_does_flag_a_bad_unit(tmp_path: Path) -> None:
    """So a pass above means something: this systemd-analyze reports a misspelt key and a
    missing binary."""
    copy = _copy_for_verify(SERVICE, tmp_path)
    copy.write_text(copy.read_text().replace("WatchdogSec=", "WatchdogSecs="))
    assert any("WatchdogSecs" in p for p in _verify("./basisd.service", tmp_path))
    copy.write_text(SERVICE.read_text())    # ExecStart at /opt/basisd, absent here
    assert any("not executable" in p for p in _verify("./basisd.service", tmp_path))


def test_the_notify_reload_drop_in_is_read_and_verifies_where_systemd_knows_the_type(
        tmp_path: Path) -> None:
    """systemd >= 253 verifies the unit with the drop-in clean. An older one (252 here) must
    report exactly one problem: the drop-in's own `Type=notify-reload` line, which it does not
    know yet and ignores (falling back to the unit's Type=notify). Either way systemd has read
    the drop-in, and nothing else in it or the unit is wrong."""
    _copy_for_verify(SERVICE, tmp_path)
    (tmp_path / "basisd.service.d").mkdir()
    shutil.copy(SYSTEMD / "notify-reload.conf", tmp_path / "basisd.service.d")
    env = {"SYSTEMD_UNIT_PATH": f"{tmp_path}:", "PATH": "/usr/bin:/bin"}
    problems = _verify("./basisd.service", tmp_path, env)
    if _systemd_version() >= 253:
        assert problems == []
    else:
        assert len(problems) == 1, problems
        assert "notify-reload.conf" in problems[0] and "notify-reload" in problems[0].split(":")[-1]


def test_service_declares_notify_watchdog_limits_directories_credentials() -> None:
    s = "Service"
    assert one(SERVICE, s, "Type") == "notify" and one(SERVICE, s, "NotifyAccess") == "main"
    assert one(SERVICE, s, "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one(SERVICE, s, "WatchdogSec").endswith("s")
    assert int(one(SERVICE, s, "LimitNOFILE")) >= 4096
    assert (one(SERVICE, s, "User"), one(SERVICE, s, "Group")) == ("basisd", "basisd")
    assert one(SERVICE, s, "StateDirectory") == "basisd"
    assert (one(SERVICE, s, "RuntimeDirectory"), one(SERVICE, s, "RuntimeDirectoryMode")) == (
        "basisd", "0750")
    creds = values(SERVICE, s, "LoadCredential")
    assert sorted(c.split(":", 1)[0] for c in creds) == ["binance-main.api_key",
                                                         "binance-main.api_secret"]
    example = (ROOT / "deploy" / "basisd.example.toml").read_text()
    assert 'credentials = "binance-main"' in example and 'state_dir = "/var/lib/basisd"' in example


def test_service_is_hardened() -> None:
    expected = {
        "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "ProtectSystem": "strict",
        "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "SystemCallFilter": "@system-service",
        "MemoryDenyWriteExecute": "yes", "RestrictNamespaces": "yes", "LockPersonality": "yes",
        "SystemCallArchitectures": "native", "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
    }
    assert {k: one(SERVICE, "Service", k) for k in expected} == expected


def test_documentation_points_at_the_readme_of_the_installed_tree() -> None:
    doc = one(SERVICE, "Unit", "Documentation")
    assert doc == "file:///opt/basisd/README.md"        # the clone README's install steps make
    assert INSTALLED_BASISD.startswith("/opt/basisd/")
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Running as a service"):]
    for name in ("basisd.service", "basisd@.service", "basisd.sysusers.conf",
                 "basisd.tmpfiles.conf", "notify-reload.conf", "/opt/basisd"):
        assert name in section, name


def test_template_differs_from_the_service_only_in_per_instance_paths() -> None:
    """One daemon per account: config, state, runtime dir, socket and credentials per instance;
    everything else (hardening above all) the same as basisd.service, so the two cannot drift."""
    per_instance = {"Description", "ExecStart", "WorkingDirectory", "StateDirectory",
                    "RuntimeDirectory", "LoadCredential"}
    same = [e for e in entries(SERVICE) if e[1] not in per_instance]
    assert [e for e in entries(TEMPLATE) if e[1] not in per_instance] == same
    t = "Service"
    assert one(TEMPLATE, t, "ExecStart") == (
        f"{INSTALLED_BASISD} run --config /etc/basisd/%i.toml --socket /run/basisd/%i/basisd.sock")
    assert one(TEMPLATE, t, "StateDirectory") == "basisd/%i"
    assert one(TEMPLATE, t, "WorkingDirectory") == "/var/lib/basisd/%i"
    assert one(TEMPLATE, t, "RuntimeDirectory") == "basisd/%i"
    assert values(TEMPLATE, t, "LoadCredential") == [
        "%i.api_key:/etc/basisd/credentials/%i.api_key",
        "%i.api_secret:/etc/basisd/credentials/%i.api_secret"]


def _owner(root: Path, name: str, field: int) -> int:
    table = root / "etc" / ("passwd" if field == 2 else "group")
    for line in table.read_text().splitlines():
        parts = line.split(":")
        if parts[0] == name:
            return int(parts[2])
    raise AssertionError(f"{name} not in {table}")


def test_sysusers_and_tmpfiles_create_the_user_and_directories(tmp_path: Path) -> None:
    """Applied for real, into a scratch root (--root) rather than this machine's /etc."""
    (tmp_path / "etc").mkdir()
    r = subprocess.run([_tool("systemd-sysusers"), f"--root={tmp_path}",
                        str(SYSTEMD / "basisd.sysusers.conf")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    passwd = (tmp_path / "etc" / "passwd").read_text()
    assert re.search(r"^basisd:x:\d+:\d+:[^:]*:/var/lib/basisd:/usr/sbin/nologin$", passwd, re.M)
    uid, gid = _owner(tmp_path, "basisd", 2), _owner(tmp_path, "basisd", 3)
    r = subprocess.run([_tool("systemd-tmpfiles"), f"--root={tmp_path}", "--create",
                        str(SYSTEMD / "basisd.tmpfiles.conf")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    expect = {"etc/basisd": (0o750, 0, gid), "etc/basisd/credentials": (0o700, 0, 0),
              "var/lib/basisd": (0o750, uid, gid), "run/basisd": (0o750, uid, gid)}
    for rel, (mode, owner, group) in expect.items():
        st = (tmp_path / rel).stat()
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (mode, owner, group), rel

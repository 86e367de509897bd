"""The unit's hardening, tried on the daemon itself rather than trusted: the embedded default
config (the embedded exchange, both venues, auto mode: every C extension on its hot path) runs,
reloads and drains under the kernel's MemoryDenyWriteExecute (PR_SET_MDWE, what systemd's
MemoryDenyWriteExecute= enforces by seccomp) and under strace, whose record must stay inside
SystemCallFilter=@system-service and RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BIN, wait_for
from tests.deploy.units import SYSTEMD, one

# Sets PR_SET_MDWE (refuse write+execute mappings and gaining execute), then execs the daemon:
# the flag is inherited across execve, as systemd's filter is.
MDWE_EXEC = """
import ctypes, os, sys
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    sys.exit(f"mdwe-unsupported: {os.strerror(ctypes.get_errno())}")
os.execv(sys.argv[1], sys.argv[1:])
"""


def _exercise(prefix: list[str], workdir: Path) -> tuple[int, str]:
    """Start the embedded default, wait until it serves and trades, reload, stop; (exit, log)."""
    log = workdir / "daemon.log"
    sock = workdir / "run" / "basisd.sock"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*prefix, str(BIN / "basisd"), "run"], cwd=workdir,
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            def ctl(*args: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run([str(BIN / "basisctl"), "--socket", str(sock), *args],
                                      capture_output=True, text=True, timeout=30)

            def healthy_venues() -> bool:
                r = ctl("--json", "status")
                if r.returncode == 0 and '"healthy"' in r.stdout and '"sim-b"' in r.stdout:
                    pid.append(json.loads(r.stdout)["pid"])
                return bool(pid)
            # Signals go to the daemon's own pid: under strace, `proc` is strace.
            pid: list[int] = []
            if wait_for(lambda: proc.poll() is None and healthy_venues(), timeout=90):
                os.kill(pid[0], signal.SIGHUP)
                wait_for(lambda: '"reloaded"' in log.read_text(errors="replace"), timeout=20)
                os.kill(pid[0], signal.SIGTERM)
            code = proc.wait(90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if pid:                  # never leave a daemon behind strace's back
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid[0], signal.SIGKILL)
    return code, log.read_text(errors="replace")


def test_the_daemon_runs_under_memory_deny_write_execute(short_dir: Path) -> None:
    probe = subprocess.run([sys.executable, "-c", MDWE_EXEC, "/bin/true"], capture_output=True,
                           text=True)
    if "mdwe-unsupported" in probe.stderr:
        pytest.skip(f"this kernel has no PR_SET_MDWE (Linux >= 6.3): {probe.stderr.strip()}")
    code, log = _exercise([sys.executable, "-c", MDWE_EXEC], short_dir)
    assert code == 0, log[-3000:]
    assert '"serving"' in log and '"reloaded"' in log and '"stopped"' in log


def _syscall_groups() -> dict[str, set[str]]:
    """Every group systemd-analyze knows, members as listed (nested groups by their @name)."""
    out = subprocess.run([shutil.which("systemd-analyze") or "systemd-analyze", "syscall-filter"],
                         capture_output=True, text=True, check=True).stdout
    groups: dict[str, set[str]] = {}
    current = ""
    for line in out.splitlines():
        if line.startswith("@"):
            current = line.strip()
            groups[current] = set()
        elif line.startswith("    ") and not line.strip().startswith("#") and current:
            groups[current].add(line.strip())
    return groups


def _expand(name: str, groups: dict[str, set[str]]) -> set[str]:
    out: set[str] = set()
    for member in groups[name]:
        out |= _expand(member, groups) if member.startswith("@") else {member}
    return out


def test_syscalls_and_socket_families_stay_inside_the_units_filters(short_dir: Path) -> None:
    for tool in ("strace", "systemd-analyze"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (Debian package {tool.split('-')[0]}; "
                        ".ci/run installs it)")
    service = SYSTEMD / "basisd.service"
    filter_group = one(service, "Service", "SystemCallFilter")
    families = set(one(service, "Service", "RestrictAddressFamilies").split())
    allowed = _expand(filter_group, _syscall_groups())
    trace = short_dir / "strace.txt"
    code, log = _exercise(["strace", "-f", "-qq", "-o", str(trace)], short_dir)
    assert code == 0, log[-3000:]
    used: set[str] = set()
    sockets: set[str] = set()
    for line in trace.read_text(errors="replace").splitlines():
        m = re.match(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
        if m:
            used.add(m.group(1))
        s = re.match(r"^\d+\s+socket(?:pair)?\((AF_[A-Z0-9]+)", line)
        if s:
            sockets.add(s.group(1))
    # strace's own exec of the daemon is the only execve, and it is in @system-service anyway.
    assert {"epoll_wait", "connect", "accept4", "recvfrom"} <= used, sorted(used)
    assert used - allowed == set(), f"syscalls outside {filter_group}: {sorted(used - allowed)}"
    assert sockets and sockets <= families, sockets

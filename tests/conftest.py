"""Shared fixtures: short socket paths, a daemon subprocess on a minimal config, realdata location."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REALDATA = Path(os.environ.get("BASISD_REALDATA", ROOT.parent / "shared" / "realdata"))
BIN = Path(sys.executable).parent

MINIMAL_CONFIG = """
[daemon]
state_dir = "state"
drain_timeout_s = 5

[admin]
socket = "run/basisd.sock"

[sim]
enabled = false
"""


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """Unix socket paths must stay under ~107 bytes: pytest's tmp_path can be longer."""
    d = Path(tempfile.mkdtemp(prefix="bd", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


class DaemonProc:
    def __init__(self, workdir: Path, config_text: str = MINIMAL_CONFIG, env: dict[str, str] | None = None,
                 extra_args: list[str] | None = None) -> None:
        self.workdir = workdir
        self.config = workdir / "basisd.toml"
        self.config.write_text(config_text)
        self.socket = workdir / "run" / "basisd.sock"
        full_env = {**os.environ, **(env or {})}
        full_env.pop("BASISD_SOCKET", None)
        # A file, not a pipe nobody reads: a full pipe would block the daemon's logging.
        self.log_path = workdir / f"daemon-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(BIN / "basisd"), "run", "--config", str(self.config), *(extra_args or [])],
            cwd=workdir, env=full_env, stdout=self._log, stderr=subprocess.STDOUT)

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "basisctl"), "--socket", str(self.socket), *args],
                              capture_output=True, text=True, timeout=30)

    def ready(self, timeout: float = 20.0) -> bool:
        return wait_for(lambda: self.proc.poll() is None and self.ctl("health").returncode == 0, timeout)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def daemon_factory(short_dir: Path) -> Iterator:
    procs: list[DaemonProc] = []

    def make(config_text: str = MINIMAL_CONFIG, **kw) -> DaemonProc:
        d = DaemonProc(short_dir, config_text, **kw)
        procs.append(d)
        return d

    yield make
    for d in procs:
        d.stop()

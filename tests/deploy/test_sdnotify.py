"""The daemon speaks systemd's notification protocol to a real AF_UNIX datagram socket bound here.

READY=1 only once the admin socket serves; WATCHDOG=1 about every WATCHDOG_USEC/2 from the event
loop (counted over a window, with generous bounds; a stopped loop misses its pings); RELOADING=1
with MONOTONIC_USEC then READY=1 around a SIGHUP (what Type=notify-reload needs); STOPPING=1 on
SIGTERM.
"""
from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import MINIMAL_CONFIG

WATCHDOG_USEC = 400_000  # pings every 0.2 s


class NotifySocket:
    """What systemd's side sees: every datagram, split into its lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[list[str]] = []

    def receive(self, timeout: float) -> list[str] | None:
        self.sock.settimeout(timeout)
        try:
            lines = self.sock.recv(4096).decode().split("\n")
        except TimeoutError:
            return None
        self.messages.append(lines)
        return lines

    def until(self, predicate: Callable[[list[str]], bool], timeout: float = 20) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.receive(max(0.01, deadline - time.monotonic()))
            if lines is not None and predicate(lines):
                return lines
        raise AssertionError(f"no such notification in {timeout}s; got {self.messages[-10:]}")

    def count_for(self, seconds: float, line: str) -> int:
        """Datagrams carrying `line` within the next `seconds`."""
        n, deadline = 0, time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            lines = self.receive(left)
            n += lines is not None and line in lines
        return n

    def drain(self) -> None:
        while self.receive(0.05) is not None:
            pass


@pytest.fixture
def notify(short_dir: Path) -> Iterator[NotifySocket]:
    s = NotifySocket(short_dir / "notify.sock")
    try:
        yield s
    finally:
        s.sock.close()


def _start(daemon_factory, notify: NotifySocket):
    return daemon_factory(env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": str(WATCHDOG_USEC)})


def test_ready_status_watchdog_cadence_and_stopping(daemon_factory, notify: NotifySocket) -> None:
    d = _start(daemon_factory, notify)
    ready = notify.until(lambda m: "READY=1" in m)
    assert any(x.startswith("STATUS=serving on ") for x in ready)
    assert d.ctl("health").returncode == 0     # READY only once serving
    assert any(x == "STATUS=starting" for m in notify.messages for x in m)
    # 2 s at one ping per 0.2 s is 10: at least 3 even on a loaded machine, never a flood.
    pings = notify.count_for(2.0, "WATCHDOG=1")
    assert 3 <= pings <= 15, pings
    d.proc.send_signal(signal.SIGTERM)
    notify.until(lambda m: "STOPPING=1" in m)
    assert d.proc.wait(10) == 0


def test_a_stopped_event_loop_misses_its_watchdog_pings(daemon_factory, notify: NotifySocket) -> None:
    d = _start(daemon_factory, notify)
    notify.until(lambda m: "READY=1" in m)
    notify.until(lambda m: m == ["WATCHDOG=1"])
    d.proc.send_signal(signal.SIGSTOP)
    try:
        time.sleep(0.3)
        notify.drain()                         # what was sent before the stop took hold
        assert notify.count_for(0.6, "WATCHDOG=1") == 0
    finally:
        d.proc.send_signal(signal.SIGCONT)
    notify.until(lambda m: m == ["WATCHDOG=1"])  # and pings again once the loop runs


def test_sighup_reload_is_bracketed_by_reloading_and_ready(daemon_factory, notify: NotifySocket) -> None:
    d = _start(daemon_factory, notify)
    notify.until(lambda m: "READY=1" in m)
    before_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    d.proc.send_signal(signal.SIGHUP)
    reloading = notify.until(lambda m: "RELOADING=1" in m)
    stamp = [x for x in reloading if x.startswith("MONOTONIC_USEC=")]
    assert len(stamp) == 1 and int(stamp[0].split("=", 1)[1]) >= before_us   # same clock as systemd's
    notify.until(lambda m: "READY=1" in m)
    assert any(x == "STATUS=reloaded (1)" for m in notify.messages for x in m)
    # A rejected reload still ends with READY=1 (the service keeps serving the old config).
    d.config.write_text("")
    d.proc.send_signal(signal.SIGHUP)
    notify.until(lambda m: "RELOADING=1" in m)
    notify.until(lambda m: "READY=1" in m)
    assert any(x.startswith("STATUS=reload rejected") for m in notify.messages for x in m)
    d.config.write_text(MINIMAL_CONFIG)
    assert d.ctl("health").returncode == 0

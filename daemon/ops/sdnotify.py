"""systemd notification protocol: one datagram per message to $NOTIFY_SOCKET.

Written by hand (it is a few lines): READY=1 once serving, STATUS=..., STOPPING=1, and WATCHDOG=1 from
a task on the event loop, so a blocked loop misses its ping and systemd restarts the daemon. A reload
is bracketed by RELOADING=1 + MONOTONIC_USEC and READY=1 again: the protocol of systemd's
`Type=notify-reload` (253+), which older systemd also accepts under `Type=notify`.
"""
from __future__ import annotations

import asyncio
import os
import socket
import time


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        if path.startswith("@"):  # abstract namespace
            path = "\0" + path[1:]
        self._address = path or None
        self._sock: socket.socket | None = None
        self._ready = False  # a SIGHUP while starting must not announce READY=1 early
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_interval_s: float | None = (
            int(usec) / 2_000_000 if usec.isdigit() and int(usec) > 0 and mine else None)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *lines: str) -> bool:
        if self._address is None:
            return False
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            self._sock.sendto("\n".join(lines).encode(), self._address)
            return True
        except OSError:
            return False  # systemd gone or socket full: never fatal to trading

    def ready(self, status: str = "") -> None:
        self._ready = True
        self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> None:
        """Start of a reload; systemd matches MONOTONIC_USEC against its own reload request."""
        if self._ready:
            usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def reloaded(self) -> None:
        """End of a reload, applied or rejected (STATUS says which): serving again."""
        if self._ready:
            self.notify("READY=1")

    def status(self, text: str) -> None:
        self.notify(f"STATUS={text}")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    async def watchdog_loop(self) -> None:
        if self.watchdog_interval_s is None:
            return
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(self.watchdog_interval_s)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

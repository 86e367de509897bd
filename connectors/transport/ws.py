"""Reconnecting websocket client (websockets 15, asyncio), shared by all venue connectors.

- The handler is called synchronously, once per frame, with the raw bytes (no decode to str, no
  queue): the connector decodes with a precompiled msgspec decoder in the same task.
- Reconnects with the shared `Backoff` (exponential, full jitter, cap), reset once a connection has
  delivered a frame (a server that accepts then drops us must not cause a hot loop).
- Ping/pong: websockets pings every `ping_interval_s` and answers the venue's pings itself.
- Staleness: no frame for `stale_after_s` -> the stream is marked STALE and the socket is dropped
  and reopened (a silent socket is worse than a closed one).
- Planned rotation before the venue's 24 h connection limit (no backoff delay for that one).
- `on_open` runs after each connect (resubscribe, resnapshot); `on_down(reason)` after each drop so
  the owner can mark its books unhealthy before the next frame arrives.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from connectors.transport.backoff import Backoff
from connectors.types import Health
from connectors.base import StateHub

FrameHandler = Callable[[bytes], None]


class WsStream:
    def __init__(self, name: str, url: str | Callable[[], Awaitable[str]], on_frame: FrameHandler,
                 *, hub: StateHub | None = None, venue: str = "", stale_after_s: float = 10.0,
                 ping_interval_s: float | None = 20.0, rotate_after_s: float = 23.5 * 3600,
                 open_timeout_s: float = 10.0, backoff: Backoff | None = None,
                 on_open: Callable[[ClientConnection], Awaitable[None]] | None = None,
                 on_down: Callable[[str], None] | None = None,
                 max_size: int | None = 16 * 1024 * 1024) -> None:
        self.name = name
        self._url = url
        self._on_frame = on_frame
        self._hub = hub
        self._venue = venue
        self.stale_after_s = stale_after_s
        self.ping_interval_s = ping_interval_s
        self.rotate_after_s = rotate_after_s
        self.open_timeout_s = open_timeout_s
        self.backoff = backoff or Backoff()
        self._on_open = on_open
        self._on_down = on_down
        self.max_size = max_size
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._stopping = False
        self._last_frame = 0.0
        self._close_reason = ""
        self.connects = 0
        self.frames = 0
        self.handler_errors = 0
        self.last_handler_error = ""
        self.last_down_reason = ""
        self.connected = asyncio.Event()
        self._closing: asyncio.Future[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"ws:{self.name}")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2.0)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def send(self, text: str | bytes) -> None:
        ws = self._ws
        if ws is None:
            raise ConnectionError(f"{self.name}: not connected")
        await ws.send(text)

    def drop(self, reason: str = "requested") -> None:
        """Close the current socket (it will reconnect): used by tests and by the owner."""
        ws = self._ws
        if ws is not None:
            self._close_reason = reason
            if reason == "abort":
                ws.transport.abort()
            else:
                self._closing = asyncio.ensure_future(ws.close())

    # -- internals -----------------------------------------------------------------------------
    def _set_health(self, health: Health, reason: str = "") -> None:
        if self._hub is not None:
            self._hub.set_health(self._venue, f"ws:{self.name}", health, reason)

    async def _resolve_url(self) -> str:
        return self._url if isinstance(self._url, str) else await self._url()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            reason = "closed"
            planned = False
            try:
                url = await self._resolve_url()
                async with connect(url, ping_interval=self.ping_interval_s,
                                   ping_timeout=self.ping_interval_s, max_size=self.max_size,
                                   open_timeout=self.open_timeout_s, compression=None,
                                   close_timeout=2.0) as ws:
                    self._ws = ws
                    self._close_reason = ""
                    self.connects += 1
                    self._last_frame = loop.time()
                    if self._on_open is not None:
                        await self._on_open(ws)
                    self.connected.set()
                    self._set_health(Health.HEALTHY)
                    await self._pump(ws, loop)
            except ConnectionClosed as exc:
                reason = self._close_reason or f"closed {exc.rcvd.code if exc.rcvd else ''}".strip()
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                reason = f"connect failed: {type(exc).__name__}"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bad URL factory (e.g. listenKey refresh failed)
                reason = f"error: {type(exc).__name__}: {exc}"
            finally:
                self._ws = None
                self.connected.clear()
            if self._close_reason:
                reason = self._close_reason
            planned = reason == "rotation"
            self.last_down_reason = reason
            if self._stopping:
                break
            self._set_health(Health.STALE if reason == "stale" else Health.DOWN, reason)
            if self._on_down is not None:
                try:
                    self._on_down(reason)
                except Exception as exc:
                    self.handler_errors += 1
                    self.last_handler_error = repr(exc)
            if not planned:
                await asyncio.sleep(self.backoff.next_delay())

    async def _pump(self, ws: ClientConnection, loop: asyncio.AbstractEventLoop) -> None:
        watchdog = asyncio.create_task(self._watch(ws, loop))
        try:
            on_frame = self._on_frame
            got_first = False
            hub, venue, stream = self._hub, self._venue, f"ws:{self.name}"
            while True:
                data = await ws.recv(decode=False)
                self._last_frame = loop.time()
                self.frames += 1
                if not got_first:
                    got_first = True
                    self.backoff.reset()
                try:
                    on_frame(data)
                except Exception as exc:  # a handler bug must not kill the connection
                    self.handler_errors += 1
                    self.last_handler_error = repr(exc)
                if hub is not None:   # status's last-message time; after the handler, off its path
                    hub.touch(venue, stream, int(time.time() * 1000))
        finally:
            watchdog.cancel()

    async def _watch(self, ws: ClientConnection, loop: asyncio.AbstractEventLoop) -> None:
        opened = loop.time()
        step = max(0.05, min(1.0, self.stale_after_s / 4))
        while True:
            await asyncio.sleep(step)
            now = loop.time()
            if now - self._last_frame > self.stale_after_s:
                self._close_reason = "stale"
                self._set_health(Health.STALE, f"no frame for {self.stale_after_s:g}s")
                ws.transport.abort()   # a stale peer may not answer a close handshake either
                return
            if now - opened > self.rotate_after_s:
                self._close_reason = "rotation"
                await ws.close(1000, "rotation")
                return

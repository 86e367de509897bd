"""Pre-opened HTTP/1.1 keep-alive connections on asyncio Protocols: requests written synchronously.

aiohttp writes a request from inside a coroutine, so a request started from a hub callback leaves
one event-loop pass later at best. For protective requests (the watchdog's) that pass matters: the
mark frame that crossed the threshold and the bytes of the reaction should leave in the same pass.
`FastPool.write(prep)` picks an idle connection to the request's origin, calls transport.write()
and returns a future of the response before it returns; None when no connection is idle (the
caller then falls back to the normal path).

One request in flight per connection (no pipelining). Responses are parsed from Content-Length or
chunked transfer encoding; a connection the server closes, or one answered with
`Connection: close`, is dropped and reopened in the background.
"""
from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from typing import Any

from multidict import CIMultiDict
from yarl import URL

Origin = tuple[str, str, int]


def origin_of(url: URL) -> Origin:
    return (url.scheme, url.host or "", url.port or (443 if url.scheme == "https" else 80))


class RawResponse:
    """What the error classifier reads of a response (the subset of aiohttp's it uses)."""

    __slots__ = ("status", "reason", "headers", "body")

    def __init__(self, status: int, reason: str, headers: CIMultiDict[str], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body


class WriteFuture(asyncio.Future):  # type: ignore[type-arg]
    """A response future that knows when its request bytes were written (perf_counter_ns; 0 =
    not written yet, e.g. when the request fell back to the coroutine path)."""

    written_ns: int = 0


def completed_after_write(raw: WriteFuture, completion: Any) -> WriteFuture:
    """A WriteFuture resolving to what `completion` (a coroutine handling `raw`'s answer)
    returns, carrying `raw.written_ns`; cancelling it cancels the completion."""
    loop = asyncio.get_running_loop()
    task = loop.create_task(completion)
    out = WriteFuture(loop=loop)
    out.written_ns = raw.written_ns

    def done(t: asyncio.Task[Any]) -> None:
        if out.done():
            return
        if t.cancelled():
            out.cancel()
        elif t.exception() is not None:
            out.set_exception(t.exception())  # type: ignore[arg-type]
        else:
            out.set_result(t.result())

    def abandoned(f: asyncio.Future[Any]) -> None:
        if f.cancelled():     # the caller stopped waiting (its budget): stop asking too
            task.cancel()
    task.add_done_callback(done)
    out.add_done_callback(abandoned)
    return out


class _Conn(asyncio.Protocol):
    def __init__(self, pool: FastPool, origin: Origin) -> None:
        self.pool = pool
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[RawResponse] | None = None
        self.closed = False

    # -- protocol callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport is not an asyncio.Transport subclass: check the ability, not the type
        if not hasattr(transport, "write"):
            raise TypeError(f"transport {type(transport).__name__} cannot write")
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._forget(self)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionResetError("connection lost before the response"))
        self.waiter = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is None:
            return
        try:
            parsed = _parse(self.buf)
        except ValueError as exc:
            self._fail(exc)
            return
        if parsed is None:
            return
        resp, used, keep = parsed
        del self.buf[:used]
        waiter, self.waiter = self.waiter, None
        if not waiter.done():
            waiter.set_result(resp)
        if keep and not self.closed:
            self.pool._release(self)
        else:
            self.close()

    # -- use
    def write(self, data: bytes, waiter: asyncio.Future[RawResponse]) -> None:
        assert self.transport is not None
        self.waiter = waiter
        self.transport.write(data)

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        self.waiter = None
        self.close()

    def close(self) -> None:
        self.closed = True
        self.pool._forget(self)
        if self.transport is not None:
            self.transport.close()


def _parse(buf: bytearray) -> tuple[RawResponse, int, bool] | None:
    """(response, bytes consumed, keep-alive) once a whole response is buffered, else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError(f"bad status line {head[0]!r}")
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers: CIMultiDict[str] = CIMultiDict()
    for line in head[1:]:
        k, _, v = line.partition(":")
        headers.add(k.strip(), v.strip())
    pos = end + 4
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        body = bytearray()
        while True:
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                return None
            size = int(bytes(buf[pos:nl]).split(b";")[0], 16)
            if size == 0:
                trailer_end = buf.find(b"\r\n\r\n", nl)
                if trailer_end < 0:
                    if len(buf) >= nl + 4 and buf[nl:nl + 4] == b"\r\n\r\n":
                        trailer_end = nl
                    else:
                        return None
                pos = trailer_end + 4
                break
            if len(buf) < nl + 2 + size + 2:
                return None
            body += buf[nl + 2:nl + 2 + size]
            pos = nl + 2 + size + 2
        data = bytes(body)
    else:
        length = int(headers.get("Content-Length", "0"))
        if len(buf) < pos + length:
            return None
        data = bytes(buf[pos:pos + length])
        pos += length
    keep = headers.get("Connection", "").lower() != "close" and parts[0] != "HTTP/1.0"
    return RawResponse(status, reason, headers, data), pos, keep


class FastPool:
    """`size` idle keep-alive connections per origin, opened by `open(base)` and kept topped up."""

    def __init__(self, size: int = 2, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.size = size
        self.ssl_context = ssl_context
        self._idle: dict[Origin, list[_Conn]] = {}
        self._all: set[_Conn] = set()
        self._wanted: set[Origin] = set()
        self._refill: dict[Origin, asyncio.Task[None]] = {}
        self.writes = 0
        self.fallbacks = 0         # counted by the caller (RestSession.send_now)
        self.closed = False

    async def open(self, base: str) -> None:
        origin = origin_of(URL(base))
        self._wanted.add(origin)
        await self._fill(origin)

    async def _fill(self, origin: Origin) -> None:
        loop = asyncio.get_running_loop()
        scheme, host, port = origin
        while not self.closed and len(self._idle.get(origin, [])) < self.size:
            ctx = (self.ssl_context or ssl.create_default_context()) if scheme == "https" else None
            _t, conn = await loop.create_connection(lambda: _Conn(self, origin), host, port, ssl=ctx)
            self._all.add(conn)
            self._idle.setdefault(origin, []).append(conn)

    def _top_up(self, origin: Origin) -> None:
        if self.closed or origin not in self._wanted:
            return
        task = self._refill.get(origin)
        if task is not None and not task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return

        async def fill() -> None:
            with contextlib.suppress(OSError):
                await self._fill(origin)
        self._refill[origin] = loop.create_task(fill())

    def _release(self, conn: _Conn) -> None:
        idle = self._idle.setdefault(conn.origin, [])
        if len(idle) < self.size and not self.closed:
            idle.append(conn)
        else:
            conn.close()

    def _forget(self, conn: _Conn) -> None:
        self._all.discard(conn)
        idle = self._idle.get(conn.origin)
        if idle is not None and conn in idle:
            idle.remove(conn)
        self._top_up(conn.origin)

    def take(self, url: URL) -> _Conn | None:
        idle = self._idle.get(origin_of(url))
        while idle:
            conn = idle.pop()
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                return conn
        return None

    def take_possible(self, url: URL) -> bool:
        return any(not c.closed for c in self._idle.get(origin_of(url), ()))

    def stage(self, method: str, url: URL, headers: dict[str, str] | Any, body: bytes | None,
              timeout_s: float, on_timeout: Callable[[], BaseException]
              ) -> tuple[_Conn, bytes, asyncio.Future[RawResponse]] | None:
        """Everything of a write but the write: an idle connection taken, the request's bytes,
        its response future with the timeout armed; None if no connection is idle. The caller
        writes with `conn.write(data, waiter)` in the same synchronous stretch (`Staged`)."""
        conn = self.take(url)
        if conn is None:
            return None
        loop = asyncio.get_running_loop()
        scheme, host, port = conn.origin
        default = 443 if scheme == "https" else 80
        lines = [f"{method} {url.raw_path_qs or '/'} HTTP/1.1",
                 f"Host: {host}" if port == default else f"Host: {host}:{port}",
                 "Accept: */*", "Connection: keep-alive"]
        for k, v in headers.items():
            lines.append(f"{k}: {v}")
        payload = body or b""
        if payload or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(payload)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload
        waiter: asyncio.Future[RawResponse] = loop.create_future()
        self._top_up(conn.origin)

        def expire() -> None:
            if not waiter.done():
                waiter.set_exception(on_timeout())
                conn.close()
        handle = loop.call_later(timeout_s, expire)
        waiter.add_done_callback(lambda _f: handle.cancel())
        return conn, data, waiter

    async def close(self) -> None:
        self.closed = True
        for task in self._refill.values():
            task.cancel()
        for conn in list(self._all):
            conn.close()
        self._all.clear()
        self._idle.clear()
        await asyncio.sleep(0)


class Staged:
    """A request ready to leave: `write()` puts its bytes on the wire and stamps the time, with
    nothing else in it, so requests staged together leave back to back (a pair's two legs);
    `answer()` is its WriteFuture (`written_ns` set by the write). Without a usable connection
    (none was idle, or the staged one closed since) `write()` runs `fallback` instead (the
    coroutine path: the bytes leave a pass later, `written_ns` stays 0). `counted`: run once the
    bytes were written on the connection. Written once."""

    __slots__ = ("out", "_conn", "_data", "_waiter", "_fallback", "_counted")

    def __init__(self, out: WriteFuture,
                 staged: tuple[_Conn, bytes, asyncio.Future[RawResponse]] | None,
                 fallback: Callable[[], object], counted: Callable[[], object] | None = None
                 ) -> None:
        self.out = out
        self._conn, self._data, self._waiter = staged if staged is not None else (None, b"", None)
        self._fallback: Callable[[], object] | None = fallback
        self._counted = counted

    def write(self) -> int:
        """perf_counter_ns of the write; 0 when it fell back (or was already written)."""
        conn, waiter, self._conn, self._waiter = self._conn, self._waiter, None, None
        fallback, self._fallback = self._fallback, None
        if fallback is None:
            return 0
        if conn is None or waiter is None or conn.closed or conn.transport is None \
                or conn.transport.is_closing():
            if waiter is not None:
                waiter.cancel()      # never written: its timer goes, the fallback answers
            fallback()
            return 0
        try:
            conn.write(self._data, waiter)
        except Exception as exc:    # a transport that broke under us: the outcome is unknown
            if not waiter.done():
                waiter.set_exception(exc)
            conn.close()
            return 0
        self.out.written_ns = ns = time.perf_counter_ns()
        conn.pool.writes += 1
        if self._counted is not None:
            self._counted()
        return ns

    def answer(self) -> WriteFuture:
        return self.out


class StagedCompletion:
    """A `Staged` request whose answer is `complete(raw)`, a coroutine over the raw response
    future (the venue's acknowledgement handling), started only after the write."""

    __slots__ = ("staged", "complete")

    def __init__(self, staged: Staged, complete: Callable[[WriteFuture], Any]) -> None:
        self.staged = staged
        self.complete = complete

    def write(self) -> int:
        return self.staged.write()

    def answer(self) -> WriteFuture:
        raw = self.staged.answer()
        return completed_after_write(raw, self.complete(raw))


def send_staged(staged: Staged | StagedCompletion) -> WriteFuture:
    """A lone request: written now, its answer."""
    staged.write()
    return staged.answer()


def now_ns() -> int:
    return time.perf_counter_ns()

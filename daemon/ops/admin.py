"""Admin API: HTTP/1.1 + JSON over a unix socket (aiohttp), versioned under /v1/.

The socket is created under umask 077 and then set to 0600 (0660 with `admin.group`). A live daemon
already answering on the path is never disturbed; a stale file is removed. Every error is a JSON body
`{"error": ..., "field": ...}`, aiohttp's own parser errors included; nothing an operator sends can
crash the daemon.

The file mode is not the only lock (a group-readable socket, or a socket dir someone loosened):
each connection's peer credentials (SO_PEERCRED) must be the daemon's own uid, root, or a member of
`admin.group`; anyone else gets 403. A connection must finish its request headers within
`header_timeout_s` and its body within `body_timeout_s`, and a body announced larger than the limit
is refused before it is read. Open connections are capped below the fd limit (RLIMIT_NOFILE):
beyond the cap the oldest idle connection is closed, so a pile of idle connections can neither
exhaust the daemon's fds nor lock an operator out.
"""
from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import pwd
import resource
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, cast

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

JsonHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]

__all__ = ["AdminServer", "RequestError", "SocketInUse", "error_response", "json_response",
           "read_json", "socket_answers"]

MAX_BODY = web.AppKey("max_body", int)
BODY_TIMEOUT = web.AppKey("body_timeout", float)
LOG = web.AppKey("log", object)


class SocketInUse(RuntimeError):
    pass


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
                                          default=str),
                        status=status, content_type="application/json")


def error_response(status: int, message: str, field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": message, "status": status}
    if field is not None:
        body["field"] = field
    return json_response(body, status)


# ---------------------------------------------------------------------------- connections
_BACKLOG = 128          # connections the kernel queues (and asyncio may accept) before we see them
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0   # from connect (or the previous answer) to complete headers
    body_timeout_s: float = 10.0     # for the whole body, once the headers are in
    idle_timeout_s: float = 30.0     # keep-alive between requests
    max_connections: int = 256       # lowered further by the fd limit, see connection_cap


def connection_cap(max_connections: int, soft_nofile: int, backlog: int = _BACKLOG) -> int:
    """Open admin connections allowed: at most half the fd limit (venues, the journal and the
    logs need the rest), less the backlog asyncio can accept in one go before any is counted."""
    return max(1, min(max_connections, soft_nofile // 2 - backlog))


def peer_allowed(uid: int, gid: int, *, own_uid: int, group_gid: int | None) -> bool:
    """The daemon's own uid, root, or a member of the admin group (its gid as the peer's
    effective or primary group, or the user listed in the group)."""
    if uid in (0, own_uid):
        return True
    if group_gid is None:
        return False
    if gid == group_gid:
        return True
    try:
        user = pwd.getpwuid(uid)
        return user.pw_gid == group_gid or user.pw_name in grp.getgrgid(group_gid).gr_mem
    except KeyError:
        return False


def _raw_error(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 JSON error for a connection that has no request to answer."""
    body = orjson.dumps({"error": message, "status": status})
    return (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


class Connections:
    """The open admin connections, oldest first, and what the guards did to them."""

    def __init__(self, cap: int, log: Any) -> None:
        self.cap = cap
        self._log = log
        self._open: dict[AdminConnection, None] = {}
        self.counts = {"peer_refused": 0, "idle_evicted": 0, "full_refused": 0,
                       "header_timeouts": 0}

    def __len__(self) -> int:
        return len(self._open)

    def admit(self, conn: AdminConnection) -> bool:
        """Make room for ``conn`` by closing the oldest idle connection (a refused peer's first).
        False when every slot is mid-request, or when ``conn`` is a refused peer itself: it may
        not push anyone out."""
        if len(self._open) >= self.cap:
            idle = [c for c in self._open if c.idle]
            victim = next((c for c in idle if not c.peer_allowed), idle[0] if idle else None)
            if victim is None or not conn.peer_allowed:
                self.counts["full_refused"] += 1
                return False
            self.counts["idle_evicted"] += 1
            self.discard(victim)
            victim.force_close()
        self._open[conn] = None
        return True

    def discard(self, conn: AdminConnection) -> None:
        self._open.pop(conn, None)

    def note(self, what: str, **fields: Any) -> None:
        self.counts[what] += 1
        if what == "peer_refused":  # the one worth a line each time: somebody tried
            self._log.warning("admin_peer_refused", **fields)


class AdminConnection(RequestHandler):
    """aiohttp's request handler plus the admin socket's guards: peer credentials, the connection
    cap, a header deadline, and JSON bodies for the parser's own errors. Reads aiohttp's private
    ``_request_count``/``_request_in_progress``/``_messages`` (aiohttp is pinned in
    requirements.lock; tests/daemon/ops/test_admin_guards.py covers each guard)."""

    def __init__(self, manager: Any, *, loop: asyncio.AbstractEventLoop, connections: Connections,
                 limits: ConnectionLimits, own_uid: int, group_gid: int | None) -> None:
        super().__init__(manager, loop=loop, keepalive_timeout=limits.idle_timeout_s,
                         tcp_keepalive=False, access_log=None, lingering_time=1.0)
        self._connections = connections
        self._limits = limits
        self._own_uid = own_uid
        self._group_gid = group_gid
        self._header_deadline: asyncio.TimerHandle | None = None
        self._admitted = False
        self.peer_uid = -1
        self.peer_pid = -1
        self.peer_allowed = False

    @property
    def idle(self) -> bool:
        return not self._request_in_progress and not self._messages

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        pid, self.peer_uid, gid = _PEERCRED.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
        self.peer_pid = pid
        self.peer_allowed = peer_allowed(self.peer_uid, gid, own_uid=self._own_uid,
                                         group_gid=self._group_gid)
        if not self.peer_allowed:  # still parsed and answered (403) by the middleware
            self._connections.note("peer_refused", uid=self.peer_uid, pid=pid)
        if not self._connections.admit(self):
            cast(asyncio.Transport, transport).write(
                _raw_error(503, "admin socket busy: every connection is mid-request"))
            transport.close()
            return
        self._admitted = True
        super().connection_made(transport)
        self._header_deadline = self._loop.call_later(self._limits.header_timeout_s,
                                                      self._headers_too_slow)

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        super().data_received(data)
        if self._header_deadline is not None and self._request_count:
            self._header_deadline.cancel()   # later requests: aiohttp's keep-alive timeout
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.transport is not None and not self._request_count:
            self._connections.note("header_timeouts")
            self.transport.write(_raw_error(
                408, f"request headers not received within {self._limits.header_timeout_s:g} s"))
            self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._connections.discard(self)
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None
        if self._admitted:  # a connection refused for room never reached aiohttp
            super().connection_lost(exc)

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """aiohttp answers a malformed request (and a handler that escaped every middleware)
        here, in text/plain; the admin API answers JSON everywhere."""
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send the error")
        if status >= 500:
            self.log_exception("admin request failed", exc_info=exc)
        text = (message or (str(exc) if exc else "") or HTTPStatus(status).phrase).strip()
        resp = error_response(status, text.splitlines()[0][:200] if text else "error")
        resp.force_close()
        return resp


class RequestError(Exception):
    """Raised by handlers (and read_json) to answer a 4xx JSON error."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is `{}`."""
    timeout = request.app[BODY_TIMEOUT]
    try:
        async with asyncio.timeout(timeout):
            raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise RequestError(413, f"request body larger than {request.app[MAX_BODY]} bytes") from None
    except TimeoutError:
        raise RequestError(408, f"request body not received within {timeout:g} s") from None
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError(400, f"expected a JSON object, got {type(data).__name__}")
    return data


@web.middleware
async def _peer_and_size(request: web.Request, handler: JsonHandler) -> web.StreamResponse:
    """Refuse a peer the connection found not allowed, and a body announced too large (before
    anyone waits for it); either way the connection closes after the answer."""
    conn = request.protocol
    if isinstance(conn, AdminConnection) and not conn.peer_allowed:
        resp = error_response(403, f"uid {conn.peer_uid} may not use the admin socket")
    elif (request.content_length or 0) > request.app[MAX_BODY]:
        resp = error_response(413, f"request body larger than {request.app[MAX_BODY]} bytes")
    else:
        resp = await handler(request)
        if request.method not in ("GET", "HEAD"):
            _log_command(request, resp.status)
        if resp.status not in (408, 413):
            return resp
    resp.force_close()
    return resp


def _log_command(request: web.Request, status: int) -> None:
    """`operator_command`: what was asked, by whom (the peer's SO_PEERCRED), and the answer.
    The body is the one the handler read (aiohttp keeps it); redaction scrubs secret keys."""
    conn = request.protocol
    body: Any = None
    raw = getattr(request, "_read_bytes", None)
    if raw and len(raw) <= 4096:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
    request.app[LOG].info("operator_command", method=request.method, path=request.path,
                          status=status, body=body,
                          caller_uid=getattr(conn, "peer_uid", None),
                          caller_pid=getattr(conn, "peer_pid", None))


@web.middleware
async def _errors(request: web.Request, handler: JsonHandler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        return error_response(exc.status, exc.message, exc.field)
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, f"request body larger than {request.app[MAX_BODY]} bytes")
    except web.HTTPNotFound:
        return error_response(404, f"no route {request.method} {request.path}")
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        resp = error_response(405, f"method {request.method} not allowed on {request.path}; allowed: {allowed}")
        resp.headers["Allow"] = allowed
        return resp
    except web.HTTPException as exc:
        return error_response(exc.status, exc.reason or "error")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug in one handler answers 500, the daemon goes on
        request.app[LOG].error("admin_handler_failed", path=request.path, error=repr(exc))
        return error_response(500, f"internal error: {type(exc).__name__}")


def socket_answers(path: str, timeout: float = 1.0) -> bool:
    """True when something accepts a connection and answers HTTP on the unix socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: basisd\r\nConnection: close\r\n\r\n")
        return s.recv(16).startswith(b"HTTP/")
    except OSError:
        return False
    finally:
        s.close()


class _GuardedUnixSite(web.UnixSite):
    """A UnixSite whose connections are `AdminConnection`s (aiohttp's site would build plain
    RequestHandlers from the runner's server)."""

    def __init__(self, runner: web.AppRunner, path: str,
                 factory: Callable[[], AdminConnection], backlog: int) -> None:
        super().__init__(runner, path, backlog=backlog)
        self._factory = factory

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with the runner, as UnixSite does
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(self._factory, self._path,
                                                     backlog=self._backlog)


class AdminServer:
    def __init__(self, socket_path: str, *, group: str | None, max_body: int,
                 status: Callable[[], dict[str, Any]], log: Any,
                 limits: ConnectionLimits | None = None) -> None:
        self.path = socket_path
        self.group = group
        self.limits = limits or ConnectionLimits()
        self.app = web.Application(client_max_size=max_body, middlewares=[_peer_and_size, _errors])
        self.app[MAX_BODY] = max_body
        self.app[BODY_TIMEOUT] = self.limits.body_timeout_s
        self.app[LOG] = log
        self._log = log
        self._status = status
        self._runner: web.AppRunner | None = None
        self._bound = False
        self.connections: Connections | None = None   # set by start()
        self.app.router.add_get("/v1/health", self._health)
        self.app.router.add_get("/v1/status", self._status_handler)

    def add_routes(self, routes: Iterable[web.RouteDef]) -> None:
        self.app.router.add_routes(list(routes))

    async def _health(self, _request: web.Request) -> web.Response:
        return json_response({"ok": True})

    async def _status_handler(self, _request: web.Request) -> web.Response:
        return json_response(self._status())

    def claim_path(self) -> None:
        """Refuse a live socket; remove a stale one. Called before anything else is started."""
        p = Path(self.path)
        if p.exists() or p.is_symlink():
            if socket_answers(self.path):
                raise SocketInUse(f"another basisd is already serving on {self.path}; not touching it")
            p.unlink()
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def start(self) -> None:
        self.claim_path()
        group_gid = grp.getgrnam(self.group).gr_gid if self.group else None
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        soft_nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        cap = connection_cap(self.limits.max_connections, soft_nofile, _BACKLOG)
        connections = self.connections = Connections(cap, self._log)
        manager, limits, loop = self._runner.server, self.limits, asyncio.get_running_loop()
        assert manager is not None

        def factory() -> AdminConnection:
            return AdminConnection(manager, loop=loop, connections=connections, limits=limits,
                                   own_uid=os.geteuid(), group_gid=group_gid)

        site = _GuardedUnixSite(self._runner, self.path, factory, _BACKLOG)
        old = os.umask(0o077)
        try:
            await site.start()
        finally:
            os.umask(old)
        self._bound = True
        if group_gid is not None:
            os.chown(self.path, -1, group_gid)
            os.chmod(self.path, 0o660)
        else:
            os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._bound:  # never remove a socket another daemon owns
            self._bound = False
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

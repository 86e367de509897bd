"""Admin API: HTTP/1.1 + JSON over a unix socket (aiohttp UnixSite), versioned under /v1/.

The socket is created under umask 077 and then set to 0600 (0660 with `admin.group`). A live daemon
already answering on the path is never disturbed; a stale file is removed. Every error is a JSON body
`{"error": ..., "field": ...}`; nothing an operator sends can crash the daemon.
"""
from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import socket
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

JsonHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


MAX_BODY = web.AppKey("max_body", int)
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


class RequestError(Exception):
    """Raised by handlers (and read_json) to answer a 4xx JSON error."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is `{}`."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise RequestError(413, f"request body larger than {request.app[MAX_BODY]} bytes") from None
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


class AdminServer:
    def __init__(self, socket_path: str, *, group: str | None, max_body: int,
                 status: Callable[[], dict[str, Any]], log: Any) -> None:
        self.path = socket_path
        self.group = group
        self.app = web.Application(client_max_size=max_body, middlewares=[_errors])
        self.app[MAX_BODY] = max_body
        self.app[LOG] = log
        self._status = status
        self._runner: web.AppRunner | None = None
        self._bound = False
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
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.UnixSite(self._runner, self.path)
        old = os.umask(0o077)
        try:
            await site.start()
        finally:
            os.umask(old)
        self._bound = True
        if self.group:
            os.chown(self.path, -1, grp.getgrnam(self.group).gr_gid)
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

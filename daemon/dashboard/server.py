"""The dashboard's HTTP server (aiohttp, TCP on loopback unless a token is configured).

GET  /                   the page (the per-process CSRF token written into it)
GET  /static/...         ES modules, CSS, vendored uPlot
GET  /events             server-sent events: `history` once, then a `snapshot` each refresh
GET  /api/v1/<read>      forwarded to the admin API: status, opportunities, positions[/{id}],
                         funding (query string passed on)
POST /api/v1/<action>    forwarded to the admin API: positions (open), positions/{id}/increase |
                         decrease | close | liquidate, halt, resume; needs the CSRF header and a
                         same-origin `Origin` (guard.py), else 403 JSON
Every request must carry an accepted Host header, and the access token when one is configured.
"""
from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path
from typing import Any

from aiohttp import web

from connectors.secrets import Secret
from daemon.config import ConfigError, is_loopback
from daemon.dashboard.config import DashboardConfig
from daemon.dashboard.feed import Feed, event
from daemon.dashboard.guard import (
    CSRF_HEADER, TOKEN_COOKIE, accepted_hosts, access_ok, action_refusal, host_ok, same,
)
from daemon.dashboard.upstream import AdminClient, AdminUnavailable
from daemon.ops.admin import error_response

STATIC = Path(__file__).parent / "static"
CSRF_PLACEHOLDER = "__BASISD_CSRF__"
_ID = r"[A-Za-z0-9_.-]{1,64}"
READS = re.compile(rf"^(status|opportunities|positions|positions/{_ID}|funding)$")
ACTIONS = re.compile(rf"^(positions|positions/{_ID}/(increase|decrease|close|liquidate)"
                     r"|halt|resume)$")
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none';"
                               " base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
}
_KEEPALIVE_S = 15.0


class DashboardServer:
    def __init__(self, cfg: DashboardConfig, socket_path: str, *, log: Any,
                 token: Secret | None = None) -> None:
        if not is_loopback(cfg.host) and token is None:   # config check refuses it too
            raise ConfigError("dashboard.host", [f"{cfg.host!r} is not a loopback address and "
                                                 "no dashboard.token is configured"])
        self.cfg = cfg
        self.log = log
        self._token = token.reveal() if token is not None else None
        self.csrf = secrets.token_urlsafe(32)
        self.client = AdminClient(socket_path)
        self.feed = Feed(self.client, cfg.refresh_s, log)
        self.hosts: frozenset[str] = frozenset()
        self.port = cfg.port
        self._page = (STATIC / "index.html").read_text().replace(CSRF_PLACEHOLDER, self.csrf)
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()

    @property
    def url(self) -> str:
        host = self.cfg.host if ":" not in self.cfg.host else f"[{self.cfg.host}]"
        return f"http://{host}:{self.port}/"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024, middlewares=[self._guard])
        app.router.add_get("/", self._index)
        app.router.add_get("/events", self._events)
        app.router.add_get("/api/v1/{tail:.+}", self._read)
        app.router.add_post("/api/v1/{tail:.+}", self._act)
        app.router.add_static("/static", STATIC, follow_symlinks=False)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.cfg.host, self.cfg.port)
        try:
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            self._runner = None
            raise
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self.hosts = accepted_hosts(self.cfg.host, self.port, self.cfg.allowed_hosts)
        self.feed.start()
        self.log.info("dashboard_listening", url=self.url, token=self._token is not None)

    async def stop(self) -> None:
        self._closing.set()
        await self.feed.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.client.close()

    def status_fields(self) -> dict[str, Any]:
        return {"enabled": True, "url": self.url, "token": self._token is not None}

    # -- guard -----------------------------------------------------------------------------
    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not host_ok(request.headers.get("Host"), self.hosts):
            return error_response(403, "Host header not accepted by the dashboard", "Host")
        if self._token is not None and request.path == "/" and "token" in request.query:
            return self._login(request.query["token"])
        if not access_ok(self._token, request.cookies.get(TOKEN_COOKIE),
                         request.headers.get("Authorization")):
            return error_response(403, "dashboard access token required: open /?token=...")
        try:
            resp = await handler(request)
        except web.HTTPNotFound:
            resp = error_response(404, f"no route {request.method} {request.path}")
        except web.HTTPMethodNotAllowed:
            resp = error_response(405, f"method {request.method} not allowed on {request.path}")
        except web.HTTPException as exc:     # e.g. 413 for a body over client_max_size
            resp = error_response(exc.status, exc.reason or "error")
        if not resp.prepared:
            resp.headers.update({k: v for k, v in _SECURITY_HEADERS.items()
                                 if k not in resp.headers})
        return resp

    def _login(self, given: str) -> web.StreamResponse:
        assert self._token is not None
        if not same(self._token, given):
            return error_response(403, "wrong dashboard access token")
        resp = web.Response(status=303, headers={"Location": "/"})
        resp.set_cookie(TOKEN_COOKIE, self._token, httponly=True, samesite="Strict", path="/")
        return resp

    # -- handlers --------------------------------------------------------------------------
    async def _index(self, _request: web.Request) -> web.Response:
        return web.Response(text=self._page, content_type="text/html")

    async def _forward(self, method: str, request: web.Request, body: bytes | None
                       ) -> web.Response:
        try:
            status, raw = await self.client.request(method, "/v1/" + request.match_info["tail"],
                                                    query=request.query, body=body)
        except AdminUnavailable as exc:
            return error_response(502, str(exc))
        return web.Response(body=raw, status=status, content_type="application/json")

    async def _read(self, request: web.Request) -> web.Response:
        if not READS.match(request.match_info["tail"]):
            return error_response(404, f"not served by the dashboard: {request.path}")
        return await self._forward("GET", request, None)

    async def _act(self, request: web.Request) -> web.Response:
        refusal = action_refusal(csrf=self.csrf, given_csrf=request.headers.get(CSRF_HEADER),
                                 origin=request.headers.get("Origin"), accepted=self.hosts)
        if refusal is not None:
            return error_response(403, refusal)
        tail = request.match_info["tail"]
        if not ACTIONS.match(tail):
            return error_response(404, f"not an action the dashboard offers: {request.path}")
        body = await request.read()
        resp = await self._forward("POST", request, body or b"{}")
        self.log.info("dashboard_action", path="/v1/" + tail, status=resp.status,
                      remote=request.remote)
        self.feed.poke()
        return resp

    async def _events(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store"})
        await resp.prepare(request)
        queue = self.feed.subscribe()
        try:
            await resp.write(event("history", self.feed.history()))
            if self.feed.latest is not None:
                await resp.write(self.feed.latest)
            while not self._closing.is_set():
                try:
                    data = await asyncio.wait_for(queue.get(), _KEEPALIVE_S)
                except TimeoutError:
                    data = b": keep-alive\n\n"
                if not data:
                    break
                await resp.write(data)
        except (ConnectionError, RuntimeError):   # the page went away mid-write
            pass
        finally:
            self.feed.unsubscribe(queue)
        return resp

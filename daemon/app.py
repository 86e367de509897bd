"""Wiring and lifecycle: start order, signals, reload, drain, sd_notify.

Start order: claim the admin socket (refuse if another daemon serves it) -> embedded exchange (if
enabled) -> venues -> engines -> admin socket -> READY=1. Stop order is the reverse, bounded by
`daemon.drain_timeout_s`.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from daemon import __version__
from aiohttp import web

from daemon.ops.admin import AdminServer, SocketInUse, error_response, json_response
from daemon.config import (
    Config, ConfigError, dropped, environment_problems, is_loopback, read_config,
)
from daemon.core.halt import JOURNAL_FAILURE_MODE
from daemon.hub import Hub
from daemon.ops.logs import configure_logging, get_logger
from daemon.ops.daemon_metrics import DaemonMetrics
from daemon.ops.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE, Registry
from daemon.ops.stream_events import StreamEvents
from daemon.ops.sdnotify import Notifier


def resolve_socket(cli: str | None, cfg: Config, environ: dict[str, str] | None = None) -> str:
    """`--socket`, else `$BASISD_SOCKET`, else the config's `admin.socket` (basisctl uses the same)."""
    env = os.environ if environ is None else environ
    return cli or env.get("BASISD_SOCKET") or cfg.admin.socket


# Sections that need a restart to change; a reload that changes them keeps the old values.
_RESTART_ONLY = ("admin", "sim", "venues", "dashboard")


class Daemon:
    def __init__(self, cfg: Config, *, config_path: str | None, socket_path: str,
                 sections: frozenset[str] | None = None, fresh: bool = False) -> None:
        """`sections`: those the config file holds (a reload may not drop one; None: unknown,
        not checked). `fresh`: the embedded exchange starts new instead of resuming the one
        saved in the state dir."""
        self.cfg = cfg
        self.fresh = fresh
        self.config_path = config_path
        self.sections = sections
        self.start_error = ""
        self.socket_path = socket_path
        self.log = get_logger("basisd")
        self.hub = Hub()
        self.notifier = Notifier()
        self.started_at = time.time()
        self.stop_event = asyncio.Event()
        self.reloads = 0
        self.components: list[Any] = []      # started in order, stopped in reverse
        self.venues: dict[str, Any] = {}
        self.sim: Any = None
        self.legging: Any = None
        self.watchdog: Any = None
        self.dashboard: Any = None           # daemon.dashboard.server.DashboardServer when on
        self.dashboard_error = ""
        self.admin = AdminServer(socket_path, group=cfg.admin.group, max_body=cfg.admin.max_body_bytes,
                                 status=self.status, log=self.log)
        self._tasks: list[asyncio.Task[Any]] = []
        self.metrics = Registry()
        self.stream_events = StreamEvents(self.log)
        self.hub.on_health = self.stream_events.on_health
        self.metric_families = DaemonMetrics(self, self.metrics, self.stream_events)
        self.hub.observe = self.metric_families.latency
        self.admin.add_routes([web.get("/metrics", self._metrics), web.post("/v1/reload", self._reload),
                               web.get("/v1/state", self._state)])

    def _journal(self) -> Any:
        return getattr(self.legging, "journal", None)

    def _halt_mode(self) -> str:
        return self.metric_families.halt_mode()

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render().encode(),
                            headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def _serve_metrics_port(self) -> None:
        """`daemon.metrics_port` > 0: /metrics (only) over TCP on the loopback host."""
        port, host = self.cfg.daemon.metrics_port, self.cfg.daemon.metrics_host
        if not port:
            return
        if not is_loopback(host):   # config validation refuses it too: never bind beyond the host
            raise ConfigError("daemon.metrics_host", [f"{host!r} is not a loopback address"])
        app = web.Application()
        app.add_routes([web.get("/metrics", self._metrics)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self.components.append(_Stoppable(runner.cleanup))
        self.log.info("metrics_listening", host=host, port=port)

    async def _state(self, request: web.Request) -> web.Response:
        """The hub's consistent snapshot: books (top levels), marks, borrow, balances, positions."""
        try:
            depth = int(request.query.get("depth", "5"))
        except ValueError:
            return error_response(400, "depth must be an integer", "depth")
        if not 1 <= depth <= 100:
            return error_response(400, "depth must be between 1 and 100", "depth")
        return json_response(self.hub.snapshot(depth))

    async def _reload(self, _request: web.Request) -> web.Response:
        before = self.reloads
        self.reload()
        return json_response({"reloaded": self.reloads > before, "reloads": self.reloads},
                             200 if self.reloads > before else 400)

    def background(self, tasks: list[asyncio.Task[Any]]) -> None:
        """Tasks cancelled at drain (venue start-up retries and the like)."""
        self._tasks.extend(tasks)

    # -- status --------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        streams = self.hub.stream_summary()
        venues = {}
        for name in sorted(set(self.venues) | set(streams)):
            s = streams.get(name, {})
            worst = "healthy" if s and all(v["health"] == "healthy" for v in s.values()) else (
                "down" if not s else "degraded")
            venues[name] = {"state": worst, "streams": s}
        extra: dict[str, Any] = {}
        for component in self.components:
            hook = getattr(component, "status_fields", None)
            if hook is not None:
                extra.update(hook())
        return {
            "version": __version__,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started_at, 3),
            "config": self.config_path or "<embedded default>",
            "socket": self.socket_path,
            "venues": venues,
            "counts": {
                "instruments": len(self.hub.instruments), "books": len(self.hub.books),
                "marks": len(self.hub.marks), "positions": len(self.hub.positions),
                "open_orders": sum(1 for o in self.hub.orders.values() if not o.is_final),
            },
            "halt": extra.pop("halt", "none"),
            "journal": None if self._journal() is None else self._journal().health(),
            "reloads": self.reloads,
            "subscriber_errors": self.hub.subscriber_errors,
            "dashboard": (self.dashboard.status_fields() if self.dashboard is not None
                          else {"enabled": False, "error": self.dashboard_error or None}),
            **extra,
        }

    # -- lifecycle -----------------------------------------------------------------------------
    async def run(self) -> int:
        try:
            self.admin.claim_path()
        except SocketInUse as exc:
            self.log.error("socket_in_use", socket=self.socket_path, error=str(exc))
            return 1
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        self.notifier.status("starting")
        try:
            from daemon.wiring import start_components
            await start_components(self)
            self._guard_journal()
            await self._serve_metrics_port()
            await self.admin.start()
            await self._start_dashboard()
        except Exception as exc:
            self.start_error = _describe(exc)
            self.log.error("start_failed", error=repr(exc))
            await self._drain()
            return 1
        self._tasks.append(asyncio.create_task(self.notifier.watchdog_loop(), name="sd-watchdog"))
        self.log.info("serving", socket=self.socket_path, venues=sorted(self.venues), version=__version__)
        self.notifier.ready(f"serving on {self.socket_path}")
        await self.stop_event.wait()
        self.log.info("stopping", drain_timeout_s=self.cfg.daemon.drain_timeout_s)
        self.notifier.stopping()
        await self._drain()
        self.log.info("stopped")
        return 0

    async def _start_dashboard(self) -> None:
        """`[dashboard] enabled`: the web dashboard, a client of the admin socket just opened.
        A port already taken is logged and the daemon serves on without it (risk control does
        not wait on a UI); a non-loopback host without a token never gets this far."""
        dcfg = self.cfg.dashboard
        if not dcfg.enabled:
            return
        from connectors.secrets import load_secret
        from daemon.dashboard.server import DashboardServer

        token = load_secret(dcfg.token, "token") if dcfg.token is not None else None
        server = DashboardServer(dcfg, self.socket_path, log=self.log, token=token)
        try:
            await server.start()
        except OSError as exc:
            self.dashboard_error = _describe(exc)
            self.log.error("dashboard_unavailable", host=dcfg.host, port=dcfg.port,
                           error=self.dashboard_error)
            return
        self.dashboard = server

    async def _drain(self) -> None:
        """Within `drain_timeout_s`: the engine brings its operations to hedged or flat first
        (the feeds and the watchdog are stopped before it, so nothing starts new work), then
        everything stops in reverse start order; the embedded exchange is always stopped (it
        saves its accounts) even when the budget ran out."""
        for task in self._tasks:
            task.cancel()
        if self.dashboard is not None:     # no new operator actions while draining
            with contextlib.suppress(Exception):
                await self.dashboard.stop()
            self.dashboard = None
        loop = asyncio.get_running_loop()
        timeout = self.cfg.daemon.drain_timeout_s
        deadline = loop.time() + timeout
        # what stopping the journal, the venues and the sim needs after the engine's drain
        reserve = min(1.5, 0.3 * timeout)
        try:
            async with asyncio.timeout(timeout):
                for component in reversed(self.components):
                    with contextlib.suppress(Exception):
                        drain = getattr(component, "drain", None)
                        if drain is not None:
                            await drain(max(0.0, deadline - loop.time() - reserve))
                        await component.stop()
        except TimeoutError:
            self.log.warning("drain_timeout", timeout_s=timeout)
            if self.sim is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2.0):
                        await self.sim.stop()
        await self.admin.stop()
        self.notifier.close()

    def _guard_journal(self) -> None:
        """A failing journal halts new risk (JOURNAL_FAILURE_MODE), again on every failed write,
        so a resume while the disk is still full does not let opens through."""
        journal = self._journal()
        if journal is None or self.watchdog is None:
            return

        def on_health(healthy: bool, error: str) -> None:
            if healthy:
                self.log.warning("journal_healthy_again", halt=self._halt_mode(),
                                 hint="resume to lift the halt")
                return
            if self.watchdog.auto_halt(JOURNAL_FAILURE_MODE, f"journal: {error}"):
                self.log.error("halted_on_journal_error", mode=JOURNAL_FAILURE_MODE.value,
                               error=error)
                self.notifier.status(f"halted {JOURNAL_FAILURE_MODE.value}: journal failing")
        journal.watch(on_health)

    def reload(self) -> None:
        """SIGHUP: re-read and fully validate; apply, or keep the old config and say why."""
        self.notifier.reloading()
        try:
            self._reload_config()
        except Exception as exc:  # a signal handler's failure must not take the daemon down
            self.log.error("reload_failed", error=repr(exc), config=self.config_path)
        finally:
            self.notifier.reloaded()

    def _reload_config(self) -> None:
        try:
            new, sections = read_config(self.config_path)
            problems = [] if self.sections is None else dropped(self.sections, sections)
            if problems:
                raise ConfigError(self.config_path or "<embedded default>", problems)
        except ConfigError as exc:
            self.log.error("reload_rejected", problems=exc.problems, source=exc.source,
                           kept="the running config")
            self.notifier.status("reload rejected: " + "; ".join(exc.problems)[:200])
            return
        kept = [name for name in _RESTART_ONLY if getattr(new, name) != getattr(self.cfg, name)]
        if kept:
            import msgspec
            new = msgspec.structs.replace(new, **{name: getattr(self.cfg, name) for name in kept})
            self.log.warning("reload_partial", kept_old=kept, why="these sections need a restart")
        self.cfg = new
        self.sections = sections
        configure_logging(new.daemon.log_level)
        for component in self.components:
            hook = getattr(component, "reconfigure", None)
            if hook is not None:
                hook(new)
        self.reloads += 1
        self.log.info("reloaded", config=self.config_path or "<embedded default>", kept_old=kept)
        self.notifier.status(f"reloaded ({self.reloads})")


def _describe(exc: BaseException) -> str:
    """One line for the operator: the message, not a repr (never a secret: those are `***`)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


class _Stoppable:
    def __init__(self, stop: Any) -> None:
        self.stop = stop


def run_daemon(config_path: str | None, socket_cli: str | None, *, fresh: bool = False) -> int:
    try:
        cfg, sections = read_config(config_path)
        problems = environment_problems(cfg)
        if problems:
            raise ConfigError(config_path or "<embedded default>", problems)
    except ConfigError as exc:
        configure_logging("info")
        for problem in exc.problems:
            print(f"basisd: config error in {exc.source}: {problem}", flush=True)
        return 2
    configure_logging(cfg.daemon.log_level)
    if not cfg.venues:
        get_logger("basisd").warning("no_venues", config=config_path,
                                     why="nothing to trade: serving the admin socket only")
    socket_path = resolve_socket(socket_cli, cfg)
    Path(cfg.daemon.state_dir).mkdir(parents=True, exist_ok=True)
    try:
        import uvloop
        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a pinned dependency on Linux
        runner = asyncio.run
    daemon_holder: dict[str, Daemon] = {}

    async def main() -> int:
        daemon = Daemon(cfg, config_path=config_path, socket_path=socket_path, sections=sections,
                        fresh=fresh)
        daemon_holder["d"] = daemon
        return await daemon.run()

    code = runner(main())
    if code == 1 and "d" in daemon_holder:
        d = daemon_holder["d"]
        print(f"basisd: refusing to start: another daemon serves {socket_path}"
              if not d.admin._bound and Path(socket_path).exists()
              else f"basisd: failed to start: {d.start_error or 'see log'}", flush=True)
    return code

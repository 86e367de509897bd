"""A sim of N venues sharing one clock driver, and `run_sim` behind `basisd sim`."""
from __future__ import annotations

import asyncio
import signal
import sys
import time
from dataclasses import dataclass
from typing import IO, Any

import orjson

from connectors.sim.config import SimConfig, load_sim_config
from connectors.sim.server.venue import VenueServer

_LISTEN_KEY_SWEEP_S = 1.0
_MAX_CATCH_UP_TICKS = 10


@dataclass(frozen=True, slots=True)
class VenueInfo:
    name: str
    rest_url: str        # serves /api, /sapi, /fapi (and /sim/control, /sim/state)
    spot_ws_url: str     # base of /ws/<stream>, /stream?streams=
    futures_ws_url: str  # base of /public, /market, /private, legacy /ws and /stream
    api_key: str
    api_secret: str
    server: VenueServer  # the live venue (engine access for tests)
    ws_api_url: str = ""          # spot WS-API (`<spot_ws>/ws-api/v3`): margin listenToken flow
    margin_risk_ws_url: str = ""  # margin risk stream base (`<spot_ws>/margin-risk`), + /ws/<key>
    dialect: str = "binance"
    passphrase: str = ""          # OKX dialect: the funded account's API passphrase

    def json_line(self) -> str:
        line: dict[str, str] = {
            "venue": self.name, "rest": self.rest_url,
            "spot_ws": self.spot_ws_url, "futures_ws": self.futures_ws_url,
            "ws_api": self.ws_api_url, "margin_risk_ws": self.margin_risk_ws_url,
            "api_key": self.api_key, "api_secret": self.api_secret}
        if self.dialect != "binance":     # a Binance line keeps its historical keys
            line.update(dialect=self.dialect, passphrase=self.passphrase)
        return orjson.dumps(line).decode()


class SimCluster:
    """`async with SimCluster(cfg) as sim:` hosts every venue of `cfg` on loopback.

    Venue i is seeded with `cfg.seed + i` so that venues differ but a seed reproduces them all.
    In "realtime" mode every venue is advanced by tick_ms of scenario time per tick_ms of wall
    time (fixed steps, so a seed reproduces the same market data); in "manual" mode time moves
    only through `POST /sim/control {"action": "advance"}` or `SimCluster.advance`.
    """

    def __init__(self, config: SimConfig | None = None, *, seed: int | None = None,
                 clock: str | None = None, exchanges: list[Any] | None = None) -> None:
        cfg = config if config is not None else SimConfig()
        if seed is not None:
            cfg = _replace(cfg, seed=seed)
        if clock is not None:
            cfg = _replace(cfg, clock=clock)
        self.config = cfg
        self._servers = [
            _server_class(vc.dialect)(vc, cfg.seed + i, clock=cfg.clock,
                                      exchange=exchanges[i] if exchanges is not None else None)
            for i, vc in enumerate(cfg.venues)]
        self.venues: list[VenueInfo] = []
        self._driver: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            for server in self._servers:
                await server.start()
        except BaseException:
            await self.stop()
            raise
        self.venues = [VenueInfo(s.name, s.rest_url, s.spot_ws_url, s.futures_ws_url,
                                 s.api_key, s.api_secret, s, ws_api_url=s.ws_api_url,
                                 margin_risk_ws_url=s.margin_risk_ws_url,
                                 dialect=getattr(s, "dialect", "binance"),
                                 passphrase=getattr(s, "passphrase", ""))
                       for s in self._servers]
        self._driver = asyncio.create_task(self._drive(), name="sim-clock")

    async def stop(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            await asyncio.gather(self._driver, return_exceptions=True)
            self._driver = None
        for server in self._servers:
            await server.stop()

    async def __aenter__(self) -> SimCluster:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def venue(self, name: str) -> VenueInfo:
        for v in self.venues:
            if v.name == name:
                return v
        raise KeyError(name)

    def advance(self, seconds: float, step: float | None = None) -> None:
        """Advance every venue by `seconds` of scenario time in steps (manual mode helper)."""
        step = step if step is not None else self.config.tick_ms / 1000.0
        for server in self._servers:
            remaining = seconds
            while remaining > 1e-12:
                dt = min(step, remaining)
                server.advance(dt)
                remaining -= dt

    async def _drive(self) -> None:
        tick = self.config.tick_ms / 1000.0
        realtime = self.config.clock == "realtime"
        next_tick = time.monotonic() + tick
        next_sweep = time.monotonic() + _LISTEN_KEY_SWEEP_S
        while True:
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            now = time.monotonic()
            due = int((now - next_tick) // tick) + 1
            if due > _MAX_CATCH_UP_TICKS:
                due = _MAX_CATCH_UP_TICKS  # overloaded: let scenario time slip, not the loop
                next_tick = now + tick
            else:
                next_tick += due * tick
            if realtime:
                for _ in range(due):
                    for server in self._servers:
                        server.advance(tick)
            if now >= next_sweep:
                next_sweep = now + _LISTEN_KEY_SWEEP_S
                for server in self._servers:
                    server.expire_listen_keys()


def _server_class(dialect: str) -> Any:
    if dialect == "okx":
        from connectors.sim.server.okx.server import OkxVenueServer
        return OkxVenueServer
    return VenueServer


def _replace(cfg: SimConfig, **kw: Any) -> SimConfig:
    import msgspec

    return msgspec.structs.replace(cfg, **kw)


async def run_sim(config_path: str | None, seed: int | None = None, *, clock: str | None = None,
                  out: IO[str] | None = None, stop: asyncio.Event | None = None) -> None:
    """Run the sim until SIGTERM/SIGINT (or until `stop` is set).

    Prints one JSON line per venue on `out` (stdout by default):
    {"venue", "rest", "spot_ws", "futures_ws", "api_key", "api_secret"} (+ "dialect" and the
    "passphrase" of an OKX-dialect venue; its "spot_ws"/"futures_ws" are the base of
    /ws/v5/public and /ws/v5/private).
    """
    cfg = load_sim_config(config_path, seed=seed)
    out = out if out is not None else sys.stdout
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        async with SimCluster(cfg, clock=clock) as sim:
            for v in sim.venues:
                out.write(v.json_line() + "\n")
            out.flush()
            await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)

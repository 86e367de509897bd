"""A sim of N venues sharing one clock driver, and `run_sim` behind `basisd sim`.

With a `state_dir` the venues persist their accounts there (one `sim-<venue>.json` each, the
engine's snapshot): loaded on start unless `fresh`, saved every few seconds and on stop, so a
restarted sim is the same venue (balances, liabilities, positions, orders, ids, clock)."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from connectors.sim.config import SimConfig, load_sim_config
from connectors.sim.engine.snapshot import SnapshotMismatch, restore, to_dict
from connectors.sim.server.venue import VenueServer

_LISTEN_KEY_SWEEP_S = 1.0
_MAX_CATCH_UP_TICKS = 10
_SAVE_EVERY_S = 2.0


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
    dialect: str = "binance"      # bybit: rest_url serves /v5, spot_ws_url is the ws base
    passphrase: str = ""          # OKX dialect: the funded account's API passphrase

    def json_line(self) -> str:
        line: dict[str, str] = {
            "venue": self.name, "dialect": self.dialect, "rest": self.rest_url,
            "spot_ws": self.spot_ws_url, "futures_ws": self.futures_ws_url,
            "ws_api": self.ws_api_url, "margin_risk_ws": self.margin_risk_ws_url,
            "api_key": self.api_key, "api_secret": self.api_secret}
        if self.passphrase:
            line["passphrase"] = self.passphrase
        return orjson.dumps(line).decode()


class SimCluster:
    """`async with SimCluster(cfg) as sim:` hosts every venue of `cfg` on loopback.

    Venue i is seeded with `cfg.seed + i` so that venues differ but a seed reproduces them all.
    In "realtime" mode every venue is advanced by tick_ms of scenario time per tick_ms of wall
    time (fixed steps, so a seed reproduces the same market data); in "manual" mode time moves
    only through `POST /sim/control {"action": "advance"}` or `SimCluster.advance`.
    """

    def __init__(self, config: SimConfig | None = None, *, seed: int | None = None,
                 clock: str | None = None, exchanges: list[Any] | None = None,
                 state_dir: str | Path | None = None, fresh: bool = False) -> None:
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
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.resumed: list[str] = []       # venues loaded from the state dir
        self.load_errors: list[str] = []
        self._saving: asyncio.Task[None] | None = None
        if self.state_dir is not None and not fresh:
            self._load()

    def _path(self, server: VenueServer) -> Path:
        assert self.state_dir is not None
        return self.state_dir / f"sim-{server.name}.json"

    def _load(self) -> None:
        for server in self._servers:
            path = self._path(server)
            if not path.exists():
                continue
            try:
                restore(server.exchange, orjson.loads(path.read_bytes()))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                # unreadable or of another venue: start this one afresh, the file is replaced
                kind = "mismatch" if isinstance(exc, SnapshotMismatch) else "unreadable"
                self.load_errors.append(f"{path}: {kind}: {exc}")
                print(f"basisd sim: {path}: {kind} ({exc}); starting {server.name} afresh",
                      file=sys.stderr, flush=True)
                continue
            self.resumed.append(server.name)

    def _snapshots(self) -> list[tuple[Path, dict[str, Any]]]:
        return [(self._path(s), to_dict(s.exchange)) for s in self._servers]

    @staticmethod
    def _write(snaps: list[tuple[Path, dict[str, Any]]]) -> None:
        for path, doc in snaps:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                f.write(orjson.dumps(doc))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)

    def save(self) -> None:
        """Write every venue's snapshot now (atomically: a crash leaves the previous one)."""
        if self.state_dir is not None:
            self._write(self._snapshots())

    async def _save_soon(self) -> None:
        try:
            await asyncio.to_thread(self._write, self._snapshots())
        except OSError as exc:   # a full disk must not stop the venue; the next save retries
            print(f"basisd sim: saving state failed: {exc}", file=sys.stderr, flush=True)

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
        if self._saving is not None:     # never two writers of one file
            await asyncio.gather(self._saving, return_exceptions=True)
        if self.state_dir is not None and self.venues:
            try:
                self.save()
            except OSError as exc:
                print(f"basisd sim: saving state failed: {exc}", file=sys.stderr, flush=True)
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
        next_save = time.monotonic() + _SAVE_EVERY_S
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
            if self.state_dir is not None and now >= next_save and (
                    self._saving is None or self._saving.done()):
                next_save = now + _SAVE_EVERY_S
                self._saving = asyncio.create_task(self._save_soon(), name="sim-save")


def _server_class(dialect: str) -> Any:
    """The venue server of a dialect (each over the same engine)."""
    if dialect == "bybit":
        from connectors.sim.server.bybit.venue import BybitVenueServer
        return BybitVenueServer
    if dialect == "okx":
        from connectors.sim.server.okx.server import OkxVenueServer
        return OkxVenueServer
    if dialect != "binance":
        raise ValueError(f"sim dialect {dialect!r} is not served yet")
    return VenueServer


def _replace(cfg: SimConfig, **kw: Any) -> SimConfig:
    import msgspec

    return msgspec.structs.replace(cfg, **kw)


async def run_sim(config_path: str | None, seed: int | None = None, *, clock: str | None = None,
                  out: IO[str] | None = None, stop: asyncio.Event | None = None,
                  state_dir: str | None = None, fresh: bool = False) -> None:
    """Run the sim until SIGTERM/SIGINT (or until `stop` is set).

    Prints one JSON line per venue on `out` (stdout by default):
    {"venue", "dialect", "rest", "spot_ws", "futures_ws", "api_key", "api_secret"} (+ the
    "passphrase" of an OKX-dialect venue; a bybit venue's spot_ws and futures_ws are both its
    websocket base: /v5/public/spot|linear, /v5/private; an OKX venue's are the base of
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
        async with SimCluster(cfg, clock=clock, state_dir=state_dir, fresh=fresh) as sim:
            for v in sim.venues:
                out.write(v.json_line() + "\n")
            out.flush()
            await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)

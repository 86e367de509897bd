"""What `basisd run` starts, in order. Each component has async start()/stop().

The embedded exchange (when `sim.enabled`) starts first so that sim venues can take their URLs and
funded-account keys from it. Venues start in background tasks with the shared backoff policy: a
venue that is down at start-up shows as down in status; it never stops the daemon from serving.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from connectors.backoff import Backoff
from daemon.admin import error_response
from daemon.config import Config, VenueConfig
from daemon.secrets import Secret, load_secret

if TYPE_CHECKING:
    from daemon.app import Daemon


class _Stoppable:
    def __init__(self, stop: Any) -> None:
        self.stop = stop


def sim_config_for(cfg: Config) -> Any:
    from connectors.sim.config import SimConfig, SimVenueConfig, load_sim_config

    if cfg.sim.config:
        return load_sim_config(cfg.sim.config, seed=cfg.sim.seed)
    venues = tuple(SimVenueConfig(name=v.name, symbols=tuple(v.symbols), scenario=cfg.sim.scenario,
                                  speedup=cfg.sim.speedup) for v in cfg.venues if v.sim)
    return SimConfig(seed=cfg.sim.seed, venues=venues)


async def start_sim(daemon: Daemon) -> None:
    from connectors.sim import SimCluster

    cluster = SimCluster(sim_config_for(daemon.cfg))
    await cluster.start()
    daemon.sim = cluster
    daemon.components.append(cluster)
    for info in cluster.venues:
        daemon.log.info("sim_venue", venue=info.name, rest=info.rest_url, spot_ws=info.spot_ws_url,
                        futures_ws=info.futures_ws_url)


def make_venue(daemon: Daemon, vcfg: VenueConfig) -> Any:
    from connectors.binance import BinanceVenue
    from connectors.binance.urls import BinanceUrls

    if vcfg.sim:
        info = daemon.sim.venue(vcfg.name)
        return BinanceVenue(vcfg, daemon.hub, api_key=Secret(info.api_key),
                            api_secret=Secret(info.api_secret),
                            urls=BinanceUrls.for_sim(info.rest_url, info.spot_ws_url,
                                                     info.futures_ws_url))
    assert vcfg.credentials is not None  # enforced by config validation
    return BinanceVenue(vcfg, daemon.hub, api_key=load_secret(vcfg.credentials, "api_key"),
                        api_secret=load_secret(vcfg.credentials, "api_secret"))


async def _start_with_retry(daemon: Daemon, name: str, venue: Any) -> None:
    backoff = Backoff()
    while True:
        try:
            await venue.start()
            daemon.log.info("venue_started", venue=name)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay = backoff.next_delay()
            daemon.log.warning("venue_start_failed", venue=name, error=str(exc), retry_in_s=round(delay, 2))
            with contextlib.suppress(Exception):
                await venue.stop()
            await asyncio.sleep(delay)


def legging_config_for(cfg: Config) -> Any:
    """Default venues that are not configured fall back to the configured ones (first, second)."""
    import msgspec

    names = [v.name for v in cfg.venues]
    leg = cfg.legging
    if not names:
        return leg
    fallback = {"default_spot_venue": names[0], "default_perp_venue": names[0],
                "default_long_venue": names[0], "default_short_venue": names[min(1, len(names) - 1)]}
    changes = {k: v for k, v in fallback.items() if getattr(leg, k) not in names}
    return msgspec.structs.replace(leg, **changes) if changes else leg


class Gate:
    """Answers 503 on engine routes until the engine has recovered its state from the venues."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.open = False

    def wrap(self, routes: list[web.RouteDef]) -> list[web.RouteDef]:
        def gated(handler: Any) -> Any:
            async def handle(request: web.Request) -> web.StreamResponse:
                if not self.open:
                    return error_response(503, f"{self.what} is starting (recovering from the journal"
                                               " and venues); retry shortly")
                return await handler(request)
            return handle
        return [web.route(r.method, r.path, gated(r.handler), **r.kwargs) for r in routes]


async def _start_engines(daemon: Daemon, starters: list[asyncio.Task[None]], engine: Any,
                         gate: Gate) -> None:
    await asyncio.gather(*starters)
    backoff = Backoff()
    while True:
        try:
            await engine.start()
            break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay = backoff.next_delay()
            daemon.log.error("legging_start_failed", error=repr(exc), retry_in_s=round(delay, 2))
            await asyncio.sleep(delay)
    gate.open = True
    daemon.log.info("legging_started", pairs=len(engine.pairs))


async def start_components(daemon: Daemon) -> None:
    from daemon.journal import Journal
    from daemon.legging import LeggingEngine
    from daemon.legging_adapter import BinanceLegVenue
    from daemon.positions_api import position_routes

    cfg = daemon.cfg
    if cfg.sim.enabled and any(v.sim for v in cfg.venues):
        await start_sim(daemon)
    starters = []
    for vcfg in cfg.venues:
        venue = make_venue(daemon, vcfg)
        daemon.venues[vcfg.name] = venue
        daemon.components.append(venue)
        starters.append(asyncio.create_task(_start_with_retry(daemon, vcfg.name, venue),
                                            name=f"start-{vcfg.name}"))
    leg_cfg = legging_config_for(cfg)
    journal = Journal(cfg.daemon.state_dir, leg_cfg.journal_file, leg_cfg.journal_sync)
    engine = LeggingEngine(daemon.hub, {n: BinanceLegVenue(v) for n, v in daemon.venues.items()},
                           leg_cfg, journal)
    daemon.legging = engine
    daemon.components.append(engine)
    gate = Gate("the legging engine")
    daemon.admin.add_routes(gate.wrap(position_routes(engine)))
    daemon.background(starters + [asyncio.create_task(_start_engines(daemon, starters, engine, gate),
                                                      name="start-engines")])

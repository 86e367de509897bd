"""What `basisd run` starts, in order. Each component has async start()/stop().

The embedded exchange (when `sim.enabled`) starts first so that sim venues can take their URLs and
funded-account keys from it. Venues start in background tasks with the shared backoff policy: a
venue that is down at start-up shows as down in status; it never stops the daemon from serving.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from connectors.backoff import Backoff
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


async def start_components(daemon: Daemon) -> None:
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
    daemon.background(starters)

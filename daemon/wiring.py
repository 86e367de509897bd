"""What `basisd run` starts, in order. Each component has async start()/stop()."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daemon.app import Daemon


async def start_components(daemon: Daemon) -> None:
    cfg = daemon.cfg
    if cfg.sim.enabled:
        daemon.log.info("sim_pending")
    for venue in cfg.venues:
        daemon.log.info("venue_configured", venue=venue.name, kind=venue.kind, sim=venue.sim)

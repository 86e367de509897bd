"""The embedded exchange: simulated Binance venues (spot, cross margin, USD-M) on loopback.

    async with SimCluster(SimConfig(...)) as sim:
        venue = sim.venues[0]   # .name .rest_url .spot_ws_url .futures_ws_url .api_key .api_secret

`run_sim(config_path, seed)` is what `basisd sim` runs. The server package is imported lazily so
that importing the pure engine (`connectors.sim.engine`) never pulls in aiohttp.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.sim.config import SimConfig, SimVenueConfig, load_sim_config

if TYPE_CHECKING:
    from connectors.sim.server.cluster import SimCluster, VenueInfo, run_sim

__all__ = ["SimCluster", "SimConfig", "SimVenueConfig", "VenueInfo", "load_sim_config", "run_sim"]


def __getattr__(name: str) -> Any:
    if name in ("SimCluster", "VenueInfo", "run_sim"):
        from connectors.sim.server import cluster

        return getattr(cluster, name)
    raise AttributeError(name)

"""The loopback stack the latency benchmarks share: one embedded Binance venue on a manual clock
and a BinanceVenue connected to it, with both sides' per-minute weight budgets lifted (repetition
needs many orders and transfers a minute; the budgets would hold requests back for a minute)."""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

SYMBOL = "BTCUSDT"
VENUE = "sim-a"


async def start_sim(margin_usdt: str, futures_usdt: str, hooks: tuple[str, ...],
                    on_call: Callable[[], None]) -> Any:
    """A started SimCluster; `on_call()` runs as each of the exchange engine's `hooks` methods
    (e.g. "futures_new_order") is entered, i.e. when the venue executes the parsed request."""
    from connectors.sim import SimCluster, SimConfig, SimVenueConfig

    cluster = SimCluster(SimConfig(clock="manual", venues=(SimVenueConfig(
        name=VENUE, symbols=(SYMBOL,), scenario="", margin_funding={"USDT": margin_usdt},
        futures_funding={"USDT": futures_usdt}),)))
    await cluster.start()
    server = cluster._servers[0]
    for name in list(server.limiters):
        server.limiters[name] = type(server.limiters[name])(10**12, can_ban=False)
    ex = server.exchange
    for meth in hooks:
        orig = getattr(ex, meth)

        def hooked(*a: Any, _orig: Any = orig, **kw: Any) -> Any:
            on_call()
            return _orig(*a, **kw)
        setattr(ex, meth, hooked)
    return cluster


def venue_for(cluster: Any, hub: Any) -> Any:
    """A BinanceVenue on the cluster's one venue (not started), its weight limiter never waits."""
    from connectors.binance import BinanceVenue
    from connectors.config import VenueConfig
    from connectors.secrets import Secret
    from connectors.transport.rest import WeightLimiter

    info = cluster.venues[0]
    vcfg = VenueConfig(name=VENUE, sim=True, symbols=[SYMBOL], rest_url=info.rest_url,
                       futures_rest_url=info.rest_url, spot_ws_url=info.spot_ws_url,
                       futures_ws_url=info.futures_ws_url, stale_after_s=3600.0)
    venue = BinanceVenue(vcfg, hub, api_key=Secret(info.api_key), api_secret=Secret(info.api_secret))
    venue.rest.limiter = WeightLimiter(dict(venue.rest.dialect.weight_limits))
    venue.rest.limiter.delay_for = lambda *_a: 0.0     # type: ignore[method-assign]
    return venue


async def stop_stack(engine: Any, venue: Any, cluster: Any) -> None:
    """Engine, connector, sim: each only if it came up."""
    if engine is not None:
        with contextlib.suppress(Exception):
            await engine.stop()
    with contextlib.suppress(Exception):
        await venue.stop()
    await cluster.stop()

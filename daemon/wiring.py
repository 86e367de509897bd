"""What `basisd run` starts, in order. Each component has async start()/stop().

The embedded exchange (when `sim.enabled`) starts first so that sim venues can take their URLs and
funded-account keys from it. Venues start in background tasks with the shared backoff policy: a
venue that is down at start-up shows as down in status; it never stops the daemon from serving.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import structlog
from aiohttp import web

from connectors.transport.backoff import Backoff
from daemon.ops.admin import error_response
from daemon.config import Config, VenueConfig
from daemon.hub import Hub
from daemon.ops.admin import AdminServer
from daemon.ops.metrics import Registry
from daemon.ops.sdnotify import Notifier
from daemon.risk.actions import EngineRiskActions, brackets_from_tiers
from connectors.secrets import Secret, load_secret
from connectors.tasks import cancel_and_wait



class Daemon(Protocol):
    """What wiring fills in on the running daemon (`daemon.app.Daemon`); a protocol, so this
    module does not import the app that calls it."""

    cfg: Config
    hub: Hub
    log: Any
    notifier: Notifier
    admin: AdminServer
    metrics: Registry
    components: list[Any]
    venues: dict[str, Any]
    sim: Any
    legging: Any
    watchdog: Any
    fresh: bool

    def background(self, tasks: list[asyncio.Task[Any]]) -> None: ...


class _Stoppable:
    def __init__(self, stop: Any) -> None:
        self.stop = stop


def sim_config_for(cfg: Config) -> Any:
    from connectors.sim.config import SimConfig, SimVenueConfig, load_sim_config

    if cfg.sim.config:
        return load_sim_config(cfg.sim.config, seed=cfg.sim.seed)
    venues = tuple(SimVenueConfig(name=v.name, dialect=v.kind, symbols=tuple(v.symbols),
                                  scenario=cfg.sim.scenario, speedup=cfg.sim.speedup)
                   for v in cfg.venues if v.sim)
    return SimConfig(seed=cfg.sim.seed, venues=venues)


async def start_sim(daemon: Daemon) -> None:
    from connectors.sim import SimCluster

    from pathlib import Path

    # The venue persists beside the journal, so a restart meets the same accounts.
    cluster = SimCluster(sim_config_for(daemon.cfg), state_dir=Path(daemon.cfg.daemon.state_dir),
                         fresh=daemon.fresh)
    await cluster.start()
    if cluster.resumed:
        daemon.log.info("sim_resumed", venues=cluster.resumed,
                        state_dir=daemon.cfg.daemon.state_dir)
    daemon.sim = cluster
    daemon.components.append(cluster)
    for info in cluster.venues:
        daemon.log.info("sim_venue", venue=info.name, dialect=info.dialect, rest=info.rest_url,
                        spot_ws=info.spot_ws_url, futures_ws=info.futures_ws_url)


def make_okx_venue(daemon: Daemon, vcfg: VenueConfig) -> Any:
    from connectors.okx.config import OkxUrls
    from connectors.okx.venue import OkxVenue

    if vcfg.sim:
        info = daemon.sim.venue(vcfg.name)
        return OkxVenue(vcfg, daemon.hub, api_key=Secret(info.api_key),
                        api_secret=Secret(info.api_secret), passphrase=Secret(info.passphrase),
                        urls=OkxUrls.for_sim(info.rest_url, info.spot_ws_url))
    assert vcfg.credentials is not None  # enforced by config validation
    urls = OkxUrls.for_sim(vcfg.rest_url, vcfg.spot_ws_url) if vcfg.external_sim else None
    return OkxVenue(vcfg, daemon.hub, api_key=load_secret(vcfg.credentials, "api_key"),
                    api_secret=load_secret(vcfg.credentials, "api_secret"),
                    passphrase=load_secret(vcfg.credentials, "api_passphrase"), urls=urls)


def make_venue(daemon: Daemon, vcfg: VenueConfig) -> Any:
    from connectors.binance import BinanceVenue
    from connectors.binance.config import BinanceUrls

    if vcfg.kind == "bybit" or (vcfg.sim and daemon.sim.venue(vcfg.name).dialect == "bybit"):
        return make_bybit_venue(daemon, vcfg)
    if vcfg.kind == "okx":
        return make_okx_venue(daemon, vcfg)
    if vcfg.sim:
        info = daemon.sim.venue(vcfg.name)
        return BinanceVenue(vcfg, daemon.hub, api_key=Secret(info.api_key),
                            api_secret=Secret(info.api_secret),
                            urls=BinanceUrls.for_sim(info.rest_url, info.spot_ws_url,
                                                     info.futures_ws_url))
    assert vcfg.credentials is not None  # enforced by config validation
    urls = (BinanceUrls.for_sim(vcfg.rest_url, vcfg.spot_ws_url, vcfg.futures_ws_url)
            if vcfg.external_sim else None)
    return BinanceVenue(vcfg, daemon.hub, api_key=load_secret(vcfg.credentials, "api_key"),
                        api_secret=load_secret(vcfg.credentials, "api_secret"), urls=urls)


def make_bybit_venue(daemon: Daemon, vcfg: VenueConfig) -> Any:
    from connectors.bybit import BybitUrls, BybitVenue

    if vcfg.sim:
        info = daemon.sim.venue(vcfg.name)
        return BybitVenue(vcfg, daemon.hub, api_key=Secret(info.api_key),
                          api_secret=Secret(info.api_secret),
                          urls=BybitUrls.for_sim(info.rest_url, info.spot_ws_url))
    assert vcfg.credentials is not None  # enforced by config validation
    urls = BybitUrls.for_sim(vcfg.rest_url, vcfg.spot_ws_url) if vcfg.external_sim else None
    return BybitVenue(vcfg, daemon.hub, api_key=load_secret(vcfg.credentials, "api_key"),
                      api_secret=load_secret(vcfg.credentials, "api_secret"), urls=urls)


def leg_venue_for(venue: Any) -> Any:
    """The legging engine's `Venue` of a connector venue (each venue folder has its own)."""
    from connectors.binance.legs import BinanceLegVenue

    from connectors.okx.legs import OkxLegVenue
    from connectors.okx.venue import OkxVenue

    make = getattr(venue, "leg_venue", None)
    if make is not None:
        return make()
    return OkxLegVenue(venue) if isinstance(venue, OkxVenue) else BinanceLegVenue(venue)


async def _start_with_retry(daemon: Daemon, name: str, venue: Any) -> None:
    backoff = Backoff()
    # Tasks the venue creates copy this context: every log line from its streams names the venue.
    structlog.contextvars.bind_contextvars(venue=name)
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


def watched_distance(watchdog: Any, pair_id: str, market: str, venue: str) -> float | None:
    """The watchdog's latest liquidation distance (%) of one leg, if it has evaluated the pair."""
    state = watchdog.state.get(pair_id)
    risk = state.risk if state is not None else None
    if risk is None:
        return None
    wanted = "margin" if market == "spot_margin" else "perp"
    for leg in risk.legs:
        if leg.leg == wanted and leg.venue == venue:
            return leg.distance * 100.0
    return None


class WatchdogComponent:
    """Adapts the watchdog (sync start/stop + a backup tick task) to the component lifecycle."""

    def __init__(self, watchdog: Any) -> None:
        self.watchdog = watchdog
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.watchdog.start()
        self._task = asyncio.create_task(self.watchdog.run(), name="watchdog-tick")

    async def stop(self) -> None:
        self.watchdog.stop()
        await cancel_and_wait(self._task)

    def reconfigure(self, cfg: Config) -> None:
        self.watchdog.cfg = cfg.watchdog

    def status_fields(self) -> dict[str, Any]:
        st = self.watchdog.status()
        return {"halt": st["halt"].get("mode", "none") if isinstance(st.get("halt"), dict) else "none",
                "watchdog": st}


class SessionComponent:
    """An aiohttp session shared by the slow feeds (funding history); closed at drain."""

    def __init__(self) -> None:
        import aiohttp
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.session.close()


class ConfigFollower:
    """Applies a reloaded config to a component that reads its settings at call time."""

    def __init__(self, apply: Any) -> None:
        self.apply = apply

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def reconfigure(self, cfg: Config) -> None:
        self.apply(cfg)


class Reconfigurable:
    def __init__(self, component: Any, section: str) -> None:
        self.component = component
        self.section = section

    async def start(self) -> None:
        await self.component.start()

    async def stop(self) -> None:
        await self.component.stop()

    def reconfigure(self, cfg: Config) -> None:
        self.component.reconfigure(getattr(cfg, self.section))

    def status_fields(self) -> dict[str, Any]:
        return self.component.status_fields()


async def _start_in_order(daemon: Daemon, starters: list[asyncio.Task[None]], engine: Any,
                          gate: Gate, later: list[Any]) -> None:
    """Venues first, then the legging engine (recovery needs the venues), then the rest."""
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
    for component in later:
        try:
            await component.start()
        except Exception as exc:  # a scanner/strategy start failure must not stop risk control
            daemon.log.error("component_start_failed", component=type(component).__name__,
                             error=repr(exc))
    daemon.notifier.status("trading: all components started")


async def start_components(daemon: Daemon) -> None:
    from daemon.opportunity.borrow_feed import BorrowFeed
    from connectors.binance.funding_history import binance_fetcher
    from daemon.opportunity.funding_feed import FundingFeed
    from daemon.journal import Journal
    from daemon.legging.engine import LeggingEngine
    from daemon.legging.api import position_routes
    from daemon.risk.api import risk_routes
    from daemon.opportunity.scanner import Scanner
    from daemon.opportunity.pricing import StrategyTerms
    from daemon.opportunity.api import funding_routes, scanner_routes
    from daemon.opportunity.strategy import LeggingAdapter, Strategy, collateral_from_hub
    from daemon.risk.watchdog import Watchdog

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
    engine = LeggingEngine(daemon.hub, {n: leg_venue_for(v) for n, v in daemon.venues.items()},
                           leg_cfg, journal)
    daemon.legging = engine
    daemon.components.append(engine)

    def follow_legging(new: Config) -> None:
        engine.cfg = legging_config_for(new)
    daemon.components.append(ConfigFollower(follow_legging))

    def brackets(venue: str, symbol: str) -> Any:
        v = daemon.venues.get(venue)
        tiers = v.reference.tiers.get(symbol) if v is not None else None
        return brackets_from_tiers(tiers) if tiers else None

    engine.brackets = brackets      # pre-flight judges with the same tiers as the watchdog
    watchdog = Watchdog(daemon.hub, cfg.watchdog, lambda: [rt.pair for rt in engine.pairs.values()],
                        EngineRiskActions(engine, daemon.venues), brackets=brackets, log=daemon.log,
                        journal=journal.record_risk_step, state_store=journal,
                        venues=[v.name for v in cfg.venues], exposures=engine.exposures)
    # Halt state and the loss baseline come back before recovery resumes any operation.
    engine.before_resume = lambda state: watchdog.restore(state["risk_state"])
    engine.allow = watchdog.allows     # the halt gate: no_new / reduce_only refuse in the engine
    engine.liq_distance_source = lambda pid, market, venue: watched_distance(watchdog, pid, market, venue)
    daemon.watchdog = watchdog
    daemon.metrics.histogram(watchdog.reaction)
    watchdog_component = WatchdogComponent(watchdog)
    await watchdog_component.start()
    daemon.components.append(watchdog_component)

    session = SessionComponent()
    daemon.components.append(session)
    feed = FundingFeed(daemon.hub,
                       {n: binance_fetcher(session.session, v.urls.futures_rest)
                        for n, v in daemon.venues.items() if hasattr(v.urls, "futures_rest")},
                       {vc.name: vc.symbols for vc in cfg.venues}, min_history=cfg.scanner.min_history,
                       log=daemon.log)
    borrow = BorrowFeed(daemon.venues,
                        {vc.name: [s.removesuffix("USDT") for s in vc.symbols] for vc in cfg.venues},
                        log=daemon.log)
    scanner = Scanner(daemon.hub, cfg.scanner, feed.stats, spreads=feed.spread_fits)
    strategy = Strategy(cfg.strategy, opportunities=lambda: scanner.latest,
                        engine=LeggingAdapter(engine), halt_mode=lambda: watchdog.halt_state.mode,
                        collateral=lambda: collateral_from_hub(daemon.hub), log=daemon.log)
    scanner.terms = lambda: StrategyTerms.from_strategy(strategy.cfg)   # one exit rule for both
    later = [feed, borrow, Reconfigurable(scanner, "scanner"), Reconfigurable(strategy, "strategy")]
    daemon.components.extend(later)

    gate = Gate("the legging engine")
    daemon.admin.add_routes(gate.wrap(position_routes(engine)))
    daemon.admin.add_routes(risk_routes(watchdog))
    daemon.admin.add_routes(scanner_routes(scanner))
    daemon.admin.add_routes(funding_routes(feed))
    daemon.background(starters + [asyncio.create_task(
        _start_in_order(daemon, starters, engine, gate, later), name="start-engines")])

"""One simulated venue on loopback: the engine plus its three listening sockets.

- REST port: `/api`, `/sapi`, `/fapi`, and the sim's own `POST /sim/control`, `GET /sim/state`.
- spot websocket port: `/ws/..`, `/stream?streams=`, margin user data `/ws/<listenKey>` (classic
  listenKey flow), the WS-API `/ws-api/v3` (listenToken flow, ws_api.py) and the margin risk
  stream under `/margin-risk` (margin_risk.py).
- futures websocket port: `/public/..`, `/market/..`, `/private/..`, legacy `/ws/..`, `/stream`.

Clocks. API timestamps report the venue clock (`Exchange.now_ms()`, which runs `speedup` times
faster than the wall clock) shifted by the clock_skew fault. A signed request's `timestamp` is
accepted when it fits its recvWindow against that venue clock OR against the wall clock (both
shifted by the skew): no client can follow a clock running 480x, so a client signing with its own
wall clock (as ccxt and our connector do) is accepted, a stale or future timestamp is not
(-1021), and clock_skew still bites. Clients must not add the offset to `/time` to their
timestamps when the speed-up is not 1.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import msgspec
from aiohttp import web

from connectors.sim.config import ClockMode, SimVenueConfig
from connectors.sim.server.control import control_routes
from connectors.sim.server.endpoints_futures import futures_endpoints
from connectors.sim.server.endpoints_spot import spot_endpoints
from connectors.sim.server.faults import TransportFaults
from connectors.sim.server.listenkeys import ListenKeys
from connectors.sim.server.margin_risk import RISK_PREFIX, RiskStream, risk_endpoints
from connectors.sim.server.rest import routes_for
from connectors.sim.server.streams import StreamHub, ws_routes
from connectors.sim.server.weights import WeightLimiter
from connectors.sim.server.listen_tokens import ListenTokens, WsApiHub, wall_ms
from connectors.sim.server.ws_api import WS_API_PATH, listen_token_endpoints, ws_api_routes

log = logging.getLogger(__name__)


def make_exchange(cfg: SimVenueConfig, seed: int) -> Any:
    from connectors.sim.engine import Exchange
    from connectors.sim.engine.scenario import load_scenario

    scenario = load_scenario(cfg.scenario) if cfg.scenario else None
    return Exchange(cfg, seed, scenario)


class VenueServer:
    def __init__(self, cfg: SimVenueConfig, seed: int, *, clock: ClockMode = "realtime",
                 exchange: Any | None = None) -> None:
        if clock == "realtime" and cfg.epoch0_ms == 0:
            # A live sim starts its venue clock at the wall clock, so that clients measuring skew
            # at start see ~0; manual (test) sims keep the engine's fixed epoch: reproducible.
            cfg = msgspec.structs.replace(cfg, epoch0_ms=int(time.time() * 1000))
        self.cfg = cfg
        self.name = cfg.name
        self.clock: ClockMode = clock
        self.exchange = exchange if exchange is not None else make_exchange(cfg, seed)
        self.api_key, self.api_secret = self.exchange.default_account()
        self._secrets: dict[str, str] = {self.api_key: self.api_secret}
        self.limiters = {
            "api": WeightLimiter(cfg.spot_weight_limit, cfg.violations_before_ban, cfg.ban_seconds),
            "sapi": WeightLimiter(cfg.sapi_weight_limit, can_ban=False),
            "fapi": WeightLimiter(cfg.fapi_weight_limit, cfg.violations_before_ban,
                                  cfg.ban_seconds),
        }
        self.faults = TransportFaults()
        self.hub = StreamHub()
        self.listen_keys = ListenKeys(rng=random.Random(seed * 7919 + 17))
        self.listen_tokens = ListenTokens(rng=random.Random(seed * 7919 + 29))
        self.ws_api = WsApiHub(self.listen_tokens)
        self.risk = RiskStream(self)
        self._runners: list[web.AppRunner] = []
        self._stopping = asyncio.Event()
        self.rest_url = self.spot_ws_url = self.futures_ws_url = ""
        self.ws_api_url = self.margin_risk_ws_url = ""

    # -- clocks
    @staticmethod
    def wall_s() -> float:
        return time.time()

    def server_ms(self) -> int:
        return int(self.exchange.now_ms()) + self.faults.skew_ms

    def auth_clocks_ms(self) -> tuple[int, ...]:
        skew = self.faults.skew_ms
        return (int(self.exchange.now_ms()) + skew, int(time.time() * 1000) + skew)

    # -- accounts
    def secret_for_key(self, api_key: str) -> str | None:
        acct = self.exchange.account_for_key(api_key)
        record = getattr(self.exchange, "accounts", {}).get(acct)
        secret = getattr(record, "api_secret", None)
        return secret if secret is not None else self._secrets.get(api_key)

    def create_account(self, funding: dict[str, Any],
                       futures_funding: dict[str, Any] | None = None) -> tuple[str, str]:
        key, secret = self.exchange.create_account(funding, futures_funding or {})
        self._secrets[key] = secret
        return key, secret

    # -- events
    def publish(self, events: Any) -> None:
        if not events:
            return
        publish = self.hub.publish
        for key, payload in events:
            publish(key, payload)
            if key.endswith(":margin") and key.startswith("user:"):
                # the same margin events, in the listenToken flow's two streams
                acct = key[5:-7]
                self.ws_api.publish(acct, payload)
                self.risk.on_margin_event(acct, payload)
        self.risk.evaluate()

    def flush_events(self) -> None:
        """Publish what the engine queued during a REST call (order updates, account updates)."""
        drain = getattr(self.exchange, "drain_events", None)
        if drain is not None:
            self.publish(drain())

    def advance(self, dt_s: float) -> None:
        self.publish(self.exchange.advance(dt_s))
        self.flush_events()

    def resolve_stream(self, market: str, kind: str, name: str) -> str:
        """Event key for a stream name sent on a websocket port (listenKeys become user keys)."""
        lk = self.listen_keys.get(name, self.wall_s())
        if lk is not None and lk.kind == kind:
            return f"user:{lk.account}:{kind}"
        return f"{market}:{name}"

    def close_listen_key(self, key: str) -> None:
        """Detach every connection listening on `key` and tell it, as Binance does on expiry."""
        event = {"e": "listenKeyExpired", "E": self.server_ms(), "listenKey": key}
        for conn in list(self.hub.conns):
            for ev_key, name in list(conn.names.items()):
                if name == key and ev_key.startswith("user:"):
                    self.hub.unsubscribe(conn, ev_key)
                    conn.push(self._wrap(conn.combined, name, event))

    @staticmethod
    def _wrap(combined: bool, name: str, payload: dict[str, Any]) -> str:
        import orjson

        if combined:
            return orjson.dumps({"stream": name, "data": payload}).decode()
        return orjson.dumps(payload).decode()

    def expire_listen_keys(self) -> None:
        for lk in self.listen_keys.expire(self.wall_s()):
            self.close_listen_key(lk.key)
        self.ws_api.expire(wall_ms(), self.server_ms())

    # -- faults that need the loop
    async def hang(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    # -- lifecycle
    def _rest_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        app.add_routes(routes_for(self, spot_endpoints() + futures_endpoints()
                                  + listen_token_endpoints() + risk_endpoints()))
        app.add_routes(control_routes(self))
        return app

    def _spot_ws_app(self) -> web.Application:
        app = web.Application()
        app.add_routes(ws_routes(self.hub, {"": "spot"},
                                 lambda n: self.resolve_stream("spot", "margin", n)))
        app.add_routes(ws_api_routes(self))
        app.add_routes(self.risk.routes())
        return app

    def _futures_ws_app(self) -> web.Application:
        app = web.Application()
        def resolve(n: str) -> Any:
            return self.resolve_stream("fut", "futures", n)

        app.add_routes(ws_routes(self.hub, {"/public": "public", "/market": "market",
                                            "": "legacy"}, resolve))
        app.add_routes(ws_routes(self.hub, {"/private": "private"}, resolve,
                                 listen_key_query=True))
        return app

    async def _serve(self, app: web.Application, port: int) -> int:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5,
                               handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.cfg.host, port)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[-1][1])

    async def start(self) -> None:
        host = self.cfg.host
        rest = await self._serve(self._rest_app(), self.cfg.rest_port)
        spot = await self._serve(self._spot_ws_app(), self.cfg.spot_ws_port)
        fut = await self._serve(self._futures_ws_app(), self.cfg.futures_ws_port)
        self.rest_url = f"http://{host}:{rest}"
        self.spot_ws_url = f"ws://{host}:{spot}"
        self.futures_ws_url = f"ws://{host}:{fut}"
        self.ws_api_url = f"{self.spot_ws_url}{WS_API_PATH}"
        self.margin_risk_ws_url = f"{self.spot_ws_url}{RISK_PREFIX}"

    async def stop(self) -> None:
        self._stopping.set()
        self.hub.drop_all()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    def info(self) -> dict[str, str]:
        return {"venue": self.name, "rest": self.rest_url, "spot_ws": self.spot_ws_url,
                "futures_ws": self.futures_ws_url, "ws_api": self.ws_api_url,
                "margin_risk_ws": self.margin_risk_ws_url, "api_key": self.api_key,
                "api_secret": self.api_secret}

"""One embedded venue speaking Bybit v5: the engine, a REST port (`/v5/...`) and a websocket port
(`/v5/public/spot`, `/v5/public/linear`, `/v5/private`).

The engine's events (Binance-flavoured keys and payloads) are turned into Bybit's topics here:
depth diffs become `orderbook.50.{symbol}` deltas whose `u` is consecutive per topic (a diff the
engine skipped, the skip_diff fault, shows as a hole in `u`), markPrice updates become `tickers`
deltas, user events become `order`/`execution`/`position`/`wallet` pushes. Clocks and the
auth window are as in connectors/sim/server/venue.py.
"""
from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import msgspec
from aiohttp import web

from connectors.bybit import constants as C
from connectors.sim.config import ClockMode, SimVenueConfig
from connectors.sim.server.bybit import translate as T
from connectors.sim.server.bybit.rest import rest_routes
from connectors.sim.server.bybit.streams import BybitStreams
from connectors.sim.server.venue import make_exchange

_ROUTE_OF = {"spot": "spot", "fut": "linear"}
_FIRST_U = 1000


class BybitVenueServer:
    dialect = "bybit"

    def __init__(self, cfg: SimVenueConfig, seed: int, *, clock: ClockMode = "realtime",
                 exchange: Any | None = None) -> None:
        if clock == "realtime" and cfg.epoch0_ms == 0:
            cfg = msgspec.structs.replace(cfg, epoch0_ms=int(time.time() * 1000))
        self.cfg = cfg
        self.name = cfg.name
        self.clock: ClockMode = clock
        self.exchange = exchange if exchange is not None else make_exchange(cfg, seed)
        self.api_key, self.api_secret = self.exchange.default_account()
        self.streams = BybitStreams(self._snapshot, self._secret_of)
        self.post_only_cancelled: dict[tuple[str, str], dict[str, Any]] = {}
        self._book_u: dict[tuple[str, str], int] = {}
        self._engine_u: dict[tuple[str, str], int] = {}
        self._order_ids = itertools.count(9_000_000_001)
        self._msg_ids = itertools.count(1)
        self._runners: list[web.AppRunner] = []
        self.rest_url = self.spot_ws_url = self.futures_ws_url = ""
        self.ws_api_url = self.margin_risk_ws_url = ""
        self.skew_ms = 0

    # -- clocks and accounts
    def server_ms(self) -> int:
        return int(self.exchange.now_ms()) + self.skew_ms

    def auth_clocks_ms(self) -> tuple[int, ...]:
        return (self.server_ms(), int(time.time() * 1000) + self.skew_ms)

    def secret_for_key(self, api_key: str) -> str | None:
        acct = self.exchange.account_for_key(api_key)
        record = self.exchange.accounts.get(acct) if acct is not None else None
        return getattr(record, "api_secret", None)

    def _secret_of(self, api_key: str) -> tuple[str, str] | None:
        acct = self.exchange.account_for_key(api_key)
        secret = self.secret_for_key(api_key)
        return (str(acct), secret) if acct is not None and secret is not None else None

    def create_account(self, funding: dict[str, Any],
                       futures_funding: dict[str, Any] | None = None) -> tuple[str, str]:
        key, secret = self.exchange.create_account(funding, futures_funding or {})
        return key, secret

    def next_order_id(self) -> str:
        return str(next(self._order_ids))

    # -- views the REST handlers and the snapshots share
    def book_data(self, route: str, sym: str) -> dict[str, Any]:
        ex = self.exchange
        depth = ex.spot_depth(sym, 5000) if route == "spot" else ex.futures_depth(sym, 1000)
        key = (route, sym)
        u = self._book_u.setdefault(key, _FIRST_U)
        return {"s": sym, "b": depth["bids"], "a": depth["asks"], "u": u,
                "seq": depth["lastUpdateId"], "ts": self.server_ms()}

    def book_snapshot(self, cat: str, sym: str) -> dict[str, Any]:
        if sym not in self.exchange.specs:
            raise T.BybitApiError(C.PARAM_ERROR, f"params error: symbol {sym} invalid")
        return self.book_data("spot" if cat == C.SPOT else "linear", sym)

    def ticker(self, sym: str) -> dict[str, Any]:
        ex = self.exchange
        if sym not in ex.specs:
            raise T.BybitApiError(C.PARAM_ERROR, f"params error: symbol {sym} invalid")
        pi = ex.premium_index(sym)
        bt = ex.futures_book_ticker(sym)
        return {"symbol": sym, "markPrice": pi["markPrice"], "indexPrice": pi["indexPrice"],
                "fundingRate": pi["lastFundingRate"],
                "nextFundingTime": str(pi["nextFundingTime"]),
                "fundingIntervalHour": str(ex.specs[sym].funding_interval_h),
                "bid1Price": bt["bidPrice"], "ask1Price": bt["askPrice"],
                "lastPrice": pi["markPrice"]}

    def wallet_view(self, acct: str, kind: str) -> dict[str, Any]:
        ex = self.exchange
        if kind == C.CONTRACT:
            return T.contract_account(ex.futures_account(acct))
        if kind != C.UNIFIED:
            raise T.BybitApiError(C.PARAM_ERROR, "accountType only support UNIFIED, CONTRACT")
        return T.unified_account(ex.margin_account(acct), ex.margin_trade_coeff(acct))

    def _snapshot(self, route: str, topic: str) -> dict[str, Any] | None:
        parts = topic.split(".")
        now = self.server_ms()
        if parts[0] == C.TOPIC_ORDERBOOK and len(parts) == 3 and parts[2] in self.exchange.specs:
            return {"topic": topic, "type": "snapshot", "ts": now, "cts": now,
                    "data": self.book_data(route, parts[2])}
        if parts[0] == C.TOPIC_TICKERS and len(parts) == 2 and route == "linear" \
                and parts[1] in self.exchange.specs:
            return {"topic": topic, "type": "snapshot", "ts": now, "cs": 0,
                    "data": self.ticker(parts[1])}
        return None

    # -- events
    def publish_private(self, account: str, topic: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.streams.publish_private(account, topic, {
                "id": f"sim-{next(self._msg_ids)}", "topic": topic,
                "creationTime": self.server_ms(), "data": rows})

    def publish(self, events: Any) -> None:
        wallets: set[str] = set()
        for key, payload in events or ():
            market, _, rest = key.partition(":")
            if market == "user":
                acct, _, kind = rest.rpartition(":")
                self._user_event(acct, kind, payload)
                wallets.add(acct)
            elif rest.endswith("@depth@100ms"):
                self._book_delta(_ROUTE_OF[market], payload)
            elif rest.endswith("@markPrice@1s"):
                self._ticker_delta(payload)
        for acct in wallets:
            self.publish_private(acct, "wallet", [self.wallet_view(acct, C.UNIFIED),
                                                  self.wallet_view(acct, C.CONTRACT)])

    def _book_delta(self, route: str, ev: dict[str, Any]) -> None:
        sym = ev["s"]
        key = (route, sym)
        last = self._engine_u.get(key)
        # a diff the engine skipped (its ids consumed, nothing sent) is a hole in Bybit's u too
        step = 1 if last is None or ev["U"] == last + 1 else 2
        self._engine_u[key] = ev["u"]
        u = self._book_u[key] = self._book_u.get(key, _FIRST_U) + step
        topic = f"{C.TOPIC_ORDERBOOK}.{C.BOOK_DEPTH}.{sym}"
        self.streams.publish(route, topic, {
            "topic": topic, "type": "delta", "ts": ev["E"], "cts": ev["E"],
            "data": {"s": sym, "b": ev["b"], "a": ev["a"], "u": u, "seq": ev["u"]}})

    def _ticker_delta(self, ev: dict[str, Any]) -> None:
        topic = f"{C.TOPIC_TICKERS}.{ev['s']}"
        self.streams.publish("linear", topic, {
            "topic": topic, "type": "delta", "ts": ev["E"], "cs": 0,
            "data": {"symbol": ev["s"], "markPrice": ev["p"], "indexPrice": ev["i"],
                     "fundingRate": ev["r"], "nextFundingTime": str(ev["T"])}})

    def _user_event(self, acct: str, kind: str, ev: dict[str, Any]) -> None:
        e = ev.get("e")
        if e in ("executionReport", "ORDER_TRADE_UPDATE"):
            cat = C.SPOT if kind == "margin" else C.LINEAR
            row, execution = T.order_event_rows(cat, ev)
            self.publish_private(acct, "order", [row])
            if execution is not None:
                self.publish_private(acct, "execution", [execution])
        elif e == "ACCOUNT_UPDATE":
            a = ev["a"]
            if a.get("m") == "FUNDING_FEE":
                income = self.exchange.accounts[acct].income
                rows = [T.funding_execution(r["symbol"], r["income"], r["time"])
                        for r in income if r["time"] == ev["E"]
                        and r["incomeType"] == "FUNDING_FEE"]
                self.publish_private(acct, "execution", rows)
            symbols = [p["s"] for p in a.get("P", [])]
            if symbols:
                rows = [T.position_row(r) for r in self.exchange.futures_position_risk(acct, {})
                        if r["symbol"] in symbols]
                self.publish_private(acct, "position", rows)

    def flush_events(self) -> None:
        self.publish(self.exchange.drain_events())

    def advance(self, dt_s: float) -> None:
        self.publish(self.exchange.advance(dt_s))
        self.flush_events()

    def expire_listen_keys(self) -> None:
        """Bybit has no listenKeys (the cluster's sweep calls every venue)."""

    # -- lifecycle
    async def _serve(self, app: web.Application, port: int) -> int:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, self.cfg.host, port).start()
        self._runners.append(runner)
        return int(runner.addresses[-1][1])

    async def start(self) -> None:
        rest_app = web.Application(client_max_size=1 << 20)
        rest_app.add_routes(rest_routes(self))
        ws_app = web.Application()
        ws_app.add_routes(self.streams.routes())
        rest = await self._serve(rest_app, self.cfg.rest_port)
        ws = await self._serve(ws_app, self.cfg.spot_ws_port)
        self.rest_url = f"http://{self.cfg.host}:{rest}"
        self.spot_ws_url = self.futures_ws_url = f"ws://{self.cfg.host}:{ws}"

    async def stop(self) -> None:
        self.streams.drop_all()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        await asyncio.sleep(0)

    def info(self) -> dict[str, str]:
        return {"venue": self.name, "dialect": self.dialect, "rest": self.rest_url,
                "ws": self.spot_ws_url, "api_key": self.api_key, "api_secret": self.api_secret}

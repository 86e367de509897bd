"""The state every component of one simulated venue shares: the clock, ids and the event queue,
the ledger, accounts, symbol and asset specs, markets with their books, borrow rates and faults.

Components (market data, matching, margin, futures, liquidation, transfers) receive this object
and the other components they call explicitly; none of them knows the `Exchange` facade."""
from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from connectors.sim.config import SimVenueConfig
from connectors.sim.engine.book import Book, DepthModel
from connectors.sim.engine.errors import BinanceError, err
from connectors.sim.engine.faults import Faults
from connectors.sim.engine.ledger import Ledger
from connectors.sim.engine.market import BorrowRate, SymbolMarket
from connectors.sim.engine.params import (
    AssetSpec, EngineParams, SymbolSpec, asset_spec, symbol_spec)
from connectors.sim.engine.state import Account

Event = tuple[str, dict[str, Any]]
HOUR_MS = 3_600_000
HOUSE, POOL = "house", "pool"   # the counterparty of every fill; the lender of every borrow


def next_boundary(now: int, period: int) -> int:
    return (now // period + 1) * period


class VenueState:
    def __init__(self, cfg: SimVenueConfig, seed: int, params: EngineParams) -> None:
        self.cfg = cfg
        self.seed = seed
        self.p = params
        self.t = 0.0                       # scenario seconds since start
        self.epoch0_ms = cfg.epoch0_ms or params.default_epoch0_ms
        self.speedup = cfg.speedup
        self.specs: dict[str, SymbolSpec] = {s: symbol_spec(s) for s in cfg.symbols}
        assets = {"USDT"} | {s.base for s in self.specs.values()}
        self.assets: dict[str, AssetSpec] = {a: asset_spec(a) for a in sorted(assets)}
        self.ledger = Ledger()
        self.faults = Faults()
        self.events: list[Event] = []
        self.seq = 0
        self.markets: dict[str, SymbolMarket] = {}
        self.spot_books: dict[str, Book] = {}
        self.fut_books: dict[str, Book] = {}
        self.spot_models: dict[str, DepthModel] = {}
        self.fut_models: dict[str, DepthModel] = {}
        for sym, spec in self.specs.items():
            self.markets[sym] = SymbolMarket(spec, random.Random(f"{seed}:{sym}:market"))
            ids = random.Random(f"{seed}:{sym}:ids")
            self.spot_books[sym] = Book(ids.randrange(10**9, 2 * 10**9))
            self.fut_books[sym] = Book(ids.randrange(10**11, 2 * 10**11))
            self.spot_models[sym] = DepthModel(
                random.Random(f"{seed}:{sym}:spotbook"), params.levels, spec.spot_level_ticks,
                spec.spot_touch_qty / float(spec.spot_step), spec.depth_decay,
                params.refill_tau_s)
            self.fut_models[sym] = DepthModel(
                random.Random(f"{seed}:{sym}:perpbook"), params.levels, spec.perp_level_ticks,
                spec.perp_touch_qty / float(spec.perp_step), spec.depth_decay,
                params.refill_tau_s)
        self.rates: dict[str, BorrowRate] = {
            a: BorrowRate(s, random.Random(f"{seed}:{a}:rate")) for a, s in self.assets.items()}
        self.rate_mult: dict[str, float] = {a: 1.0 for a in self.assets}
        self.accounts: dict[str, Account] = {}
        self.by_key: dict[str, str] = {}
        self.funding_history: dict[str, list[dict[str, Any]]] = {s: [] for s in self.specs}
        self.liquidations: list[dict[str, Any]] = []
        now = self.now_ms()
        self.next_funding_ms = {s: next_boundary(now, sp.funding_interval_h * HOUR_MS)
                                for s, sp in self.specs.items()}
        self.next_hour_ms = next_boundary(now, HOUR_MS)

    # -- clock, ids, events
    def now_ms(self) -> int:
        return self.epoch0_ms + int(round(self.t * self.speedup * 1000))

    def next_id(self) -> int:
        self.seq += 1
        return self.seq

    def emit(self, key: str, payload: dict[str, Any]) -> None:
        self.events.append((key, payload))

    def drain_events(self) -> list[Event]:
        ev, self.events = self.events, []
        return ev

    # -- lookups that answer with Binance's errors
    def spec(self, symbol: str | None) -> SymbolSpec:
        if not symbol:
            raise err(-1102, "symbol")
        spec = self.specs.get(symbol.upper())
        if spec is None:
            raise err(-1121)
        return spec

    def acct(self, acct: str) -> Account:
        a = self.accounts.get(acct)
        if a is None:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        return a

    # -- balances and prices
    def bal(self, acct: str, asset: str, bucket: str = "free") -> Decimal:
        return self.ledger.get(acct, asset, bucket)

    def liability(self, acct: str, asset: str) -> Decimal:
        """What the account owes in `asset`: principal plus accrued interest."""
        return self.bal(acct, asset, "borrowed") + self.bal(acct, asset, "interest")

    def asset_price(self, asset: str) -> Decimal:
        if asset == "USDT":
            return Decimal(1)
        return self.markets[asset + "USDT"].index_price()

"""The facade the server calls: `Exchange(cfg, seed, scenario)`. Pure: no I/O, no wall clock;
time moves only through `advance(dt_s)`. Trading calls live in the margin/futures mixins."""
from __future__ import annotations

import hashlib
import math
import random
from decimal import Decimal
from typing import Any

from connectors.sim.config import SimVenueConfig
from connectors.sim.engine import refdata
from connectors.sim.engine.book import Book, DepthModel
from connectors.sim.engine.errors import BinanceError, err
from connectors.sim.engine.faults import Faults
from connectors.sim.engine.futures import FuturesMixin
from connectors.sim.engine.ledger import Ledger
from connectors.sim.engine.liquidation import LiquidationMixin
from connectors.sim.engine.margin import MarginMixin
from connectors.sim.engine.margin_orders import MarginOrdersMixin
from connectors.sim.engine.matching import MatchingMixin
from connectors.sim.engine.market import BorrowRate, SymbolMarket
from connectors.sim.engine.params import (
    AssetSpec, EngineParams, SymbolSpec, asset_spec, log_drift_per_s, symbol_spec)
from connectors.sim.engine.scenario import Regime, Scenario
from connectors.sim.engine.state import Account

Event = tuple[str, dict[str, Any]]
HOUR_MS = 3_600_000
HOUSE, POOL = "house", "pool"


class Exchange(MarginOrdersMixin, MarginMixin, FuturesMixin, LiquidationMixin, MatchingMixin):
    def __init__(self, cfg: SimVenueConfig, seed: int, scenario: Scenario | None = None,
                 params: EngineParams | None = None) -> None:
        self.cfg = cfg
        self.seed = seed
        self.scenario = scenario
        self.p = params or EngineParams()
        self.t = 0.0
        self.epoch0_ms = cfg.epoch0_ms or self.p.default_epoch0_ms
        self.speedup = cfg.speedup
        self.specs: dict[str, SymbolSpec] = {s: symbol_spec(s) for s in cfg.symbols}
        assets = {"USDT"} | {s.base for s in self.specs.values()}
        self.assets: dict[str, AssetSpec] = {a: asset_spec(a) for a in sorted(assets)}
        self.ledger_ = Ledger()
        self.faults = Faults()
        self._events: list[Event] = []
        self._seq = 0
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
                random.Random(f"{seed}:{sym}:spotbook"), self.p.levels, spec.spot_level_ticks,
                spec.spot_touch_qty / float(spec.spot_step), spec.depth_decay, self.p.refill_tau_s)
            self.fut_models[sym] = DepthModel(
                random.Random(f"{seed}:{sym}:perpbook"), self.p.levels, spec.perp_level_ticks,
                spec.perp_touch_qty / float(spec.perp_step), spec.depth_decay, self.p.refill_tau_s)
        self.rates: dict[str, BorrowRate] = {
            a: BorrowRate(s, random.Random(f"{seed}:{a}:rate")) for a, s in self.assets.items()}
        self.rate_mult: dict[str, float] = {a: 1.0 for a in self.assets}
        self.pool_saved: dict[str, Decimal] = {}
        self.accounts: dict[str, Account] = {}
        self.by_key: dict[str, str] = {}
        self.funding_history: dict[str, list[dict[str, Any]]] = {s: [] for s in self.specs}
        self.liquidations: list[dict[str, Any]] = []
        self._init_matching()
        now = self.now_ms()
        self.next_funding_ms = {s: self._next_boundary(now, sp.funding_interval_h * HOUR_MS)
                                for s, sp in self.specs.items()}
        self.next_hour_ms = self._next_boundary(now, HOUR_MS)
        self._genesis()
        self._refresh_books(0.0)
        for b in list(self.spot_books.values()) + list(self.fut_books.values()):
            b.publish()  # the state at t=0 is the baseline; diffs start after it
        key, secret = cfg.api_key, cfg.api_secret
        if not key:
            h = hashlib.sha256(f"basisd-sim:{cfg.name}:{seed}".encode()).hexdigest()
            key, secret = "sim" + h[:61], hashlib.sha256(h.encode()).hexdigest()
        self._default = self._new_account(key, secret, dict(cfg.margin_funding),
                                          dict(cfg.futures_funding))

    # ---------------------------------------------------------------- time
    def now_ms(self) -> int:
        return self.epoch0_ms + int(round(self.t * self.speedup * 1000))

    @staticmethod
    def _next_boundary(now: int, period: int) -> int:
        return (now // period + 1) * period

    def _next_id(self) -> int:
        self._seq += 1
        return self._seq

    def drain_events(self) -> list[Event]:
        """Events produced since the last advance()/drain_events() (order calls produce some)."""
        ev, self._events = self._events, []
        return ev

    def emit(self, key: str, payload: dict[str, Any]) -> None:
        self._events.append((key, payload))

    def advance(self, dt_s: float) -> list[Event]:
        remaining = float(dt_s)
        while remaining > 1e-9:
            h = min(self.p.step_s, remaining)
            remaining -= h
            self._step(h)
        return self.drain_events()

    def _step(self, h: float) -> None:
        t0, t1 = self.t, self.t + h
        if self.scenario is not None:
            for regime, edge in self.scenario.crossings(t0, t1):
                self._regime_edge(regime, edge)
        active = self.scenario.active(t0) if self.scenario is not None else []
        for sym, m in self.markets.items():
            drift, basis, theta, vol = 0.0, None, None, 1.0
            for r in active:
                if not r.applies_to_symbol(sym):
                    continue
                if r.kind in ("pump", "crash", "move"):
                    drift += log_drift_per_s(r.pct, r.duration_s)
                elif r.kind in ("basis", "negative_funding", "basis_blowout"):
                    basis, theta = r.basis, r.theta if r.theta is not None else theta
                if r.kind in ("volatility", "basis_blowout") or r.vol_mult != 1.0:
                    vol *= r.vol_mult
            m.step(h, drift, basis, vol, theta)
        for a, br in self.rates.items():
            br.step(h)
            mult = 1.0
            for r in active:
                if r.kind == "borrow_spike" and (not r.assets or a in r.assets):
                    mult *= r.multiplier
            self.rate_mult[a] = mult
        prev_sec = math.floor(t0 + 1e-9)
        self.t = t1
        self._refresh_books(h)
        now = self.now_ms()
        for sym in self.specs:
            while now >= self.next_funding_ms[sym]:
                self._settle_funding(sym, self.next_funding_ms[sym])
                self.next_funding_ms[sym] += self.specs[sym].funding_interval_h * HOUR_MS
        while now >= self.next_hour_ms:
            self._accrue_interest(self.next_hour_ms)
            self.next_hour_ms += HOUR_MS
        self._check_liquidations()
        self._publish_market(math.floor(t1 + 1e-9) != prev_sec)

    def _regime_edge(self, r: Regime, edge: str) -> None:
        if r.kind == "borrow_pool":
            for a in r.assets or tuple(self.assets):
                if edge == "start":
                    self.pool_saved.setdefault(a, self.pool_available(a))
                    self.set_pool(a, Decimal(r.amount))
                elif a in self.pool_saved:
                    self.set_pool(a, self.pool_saved.pop(a))
        elif r.kind == "fault" and edge == "start":
            self.inject_fault(r.fault, **r.params)

    # ---------------------------------------------------------------- books
    def _refresh_books(self, h: float) -> None:
        for sym, spec in self.specs.items():
            m = self.markets[sym]
            for book, model, tick, mid, mkt in (
                (self.spot_books[sym], self.spot_models[sym], spec.spot_tick, m.mid, "spot"),
                (self.fut_books[sym], self.fut_models[sym], spec.perp_tick, m.perp_mid, "futures"),
            ):
                if h > 0:
                    model.refresh(h)
                bids, asks = model.levels_for(mid / float(tick))
                self._match_resting(mkt, sym, bids, asks, model)
                self._overlay(mkt, sym, bids, asks)
                book.replace(bids, asks)

    def _publish_market(self, second_tick: bool) -> None:
        now = self.now_ms()
        for sym, spec in self.specs.items():
            low = sym.lower()
            for mkt, book, tick, step in (
                ("spot", self.spot_books[sym], spec.spot_tick, spec.spot_step),
                ("fut", self.fut_books[sym], spec.perp_tick, spec.perp_step),
            ):
                top_before = (book._pub_bids and max(book._pub_bids),
                              book._pub_asks and min(book._pub_asks))
                bb0 = book._pub_bids.get(top_before[0]) if top_before[0] else None
                ba0 = book._pub_asks.get(top_before[1]) if top_before[1] else None
                diff = book.publish()
                if diff is None:
                    continue
                U, u, pu, b, a = diff
                b = self.faults.crossing_bids(mkt, sym, b, book.best_ask())
                fmt = self._fmt_levels(mkt, tick, step)
                if self.faults.take_skip_diff(mkt, sym):
                    pass  # the ids are consumed: subscribers see a gap, as on a lossy feed
                elif mkt == "spot":
                    self.emit(f"spot:{low}@depth@100ms", {
                        "e": "depthUpdate", "E": now, "s": sym, "U": U, "u": u,
                        "b": fmt(b), "a": fmt(a)})
                else:
                    self.emit(f"fut:{low}@depth@100ms", {
                        "e": "depthUpdate", "E": now, "T": now, "s": sym, "U": U, "u": u,
                        "pu": pu, "b": fmt(b), "a": fmt(a)})
                bb, ba = book.best_bid(), book.best_ask()
                if bb is None or ba is None:
                    continue
                if (bb[0], bb[1], ba[0], ba[1]) != (top_before[0], bb0, top_before[1], ba0):
                    tk = {"u": u, "s": sym, "b": fmt([bb])[0][0], "B": fmt([bb])[0][1],
                          "a": fmt([ba])[0][0], "A": fmt([ba])[0][1]}
                    if mkt == "spot":
                        self.emit(f"spot:{low}@bookTicker", tk)
                    else:
                        self.emit(f"fut:{low}@bookTicker",
                                  {"e": "bookTicker", **tk, "E": now, "T": now})
            if second_tick:
                pi = self._premium_index_one(sym)
                self.emit(f"fut:{low}@markPrice@1s", {
                    "e": "markPriceUpdate", "E": now, "s": sym, "p": pi["markPrice"],
                    "i": pi["indexPrice"], "P": pi["estimatedSettlePrice"],
                    "r": pi["lastFundingRate"], "T": pi["nextFundingTime"]})

    @staticmethod
    def _fmt_levels(mkt: str, tick: Decimal, step: Decimal) -> Any:
        if mkt == "spot":
            def f(levels: list[tuple[int, int]]) -> list[list[str]]:
                return [[f"{p * tick:.8f}", f"{q * step:.8f}"] for p, q in levels]
        else:
            pd, qd = refdata.decimals(tick), refdata.decimals(step)

            def f(levels: list[tuple[int, int]]) -> list[list[str]]:
                return [[f"{p * tick:.{pd}f}", f"{q * step:.{qd}f}"] for p, q in levels]
        return f

    # ---------------------------------------------------------------- market data (REST)
    def _spec(self, symbol: str | None) -> SymbolSpec:
        if not symbol:
            raise err(-1102, "symbol")
        spec = self.specs.get(symbol.upper())
        if spec is None:
            raise err(-1121)
        return spec

    def spot_exchange_info(self) -> dict[str, Any]:
        return refdata.spot_exchange_info(list(self.specs.values()), self.now_ms())

    def futures_exchange_info(self) -> dict[str, Any]:
        return refdata.futures_exchange_info(list(self.specs.values()), self.now_ms())

    def funding_info(self) -> list[dict[str, Any]]:
        return refdata.funding_info(list(self.specs.values()))

    @staticmethod
    def _limit(limit: int | str | None, default: int) -> int:
        try:
            n = int(limit) if limit not in (None, "") else default
        except (TypeError, ValueError):
            raise err(-1100) from None
        return max(1, min(n, 5000))

    def spot_depth(self, symbol: str, limit: int | str | None = 100) -> dict[str, Any]:
        spec = self._spec(symbol)
        book = self.spot_books[spec.symbol]
        n = self._limit(limit, 100)
        f = self._fmt_levels("spot", spec.spot_tick, spec.spot_step)
        return {"lastUpdateId": book.snapshot_id(), "bids": f(book.sorted_bids(n)),
                "asks": f(book.sorted_asks(n))}

    def futures_depth(self, symbol: str, limit: int | str | None = 500) -> dict[str, Any]:
        spec = self._spec(symbol)
        book = self.fut_books[spec.symbol]
        n = self._limit(limit, 500)
        f = self._fmt_levels("fut", spec.perp_tick, spec.perp_step)
        now = self.now_ms()
        return {"lastUpdateId": book.snapshot_id(), "E": now, "T": now,
                "bids": f(book.sorted_bids(n)), "asks": f(book.sorted_asks(n))}

    def _ticker(self, spec: SymbolSpec) -> dict[str, Any]:
        book = self.spot_books[spec.symbol]
        bb, ba = book.best_bid() or (0, 0), book.best_ask() or (0, 0)
        t, s = spec.spot_tick, spec.spot_step
        return {"symbol": spec.symbol, "bidPrice": f"{bb[0] * t:.8f}", "bidQty": f"{bb[1] * s:.8f}",
                "askPrice": f"{ba[0] * t:.8f}", "askQty": f"{ba[1] * s:.8f}"}

    def spot_book_ticker(self, symbol: str | None = None) -> Any:
        if symbol:
            return self._ticker(self._spec(symbol))
        return [self._ticker(s) for s in self.specs.values()]

    def futures_book_ticker(self, symbol: str | None = None) -> Any:
        def one(spec: SymbolSpec) -> dict[str, Any]:
            book = self.fut_books[spec.symbol]
            bb, ba = book.best_bid() or (0, 0), book.best_ask() or (0, 0)
            t, s = spec.perp_tick, spec.perp_step
            pd, qd = refdata.decimals(t), refdata.decimals(s)
            return {"symbol": spec.symbol, "bidPrice": f"{bb[0] * t:.{pd}f}",
                    "bidQty": f"{bb[1] * s:.{qd}f}", "askPrice": f"{ba[0] * t:.{pd}f}",
                    "askQty": f"{ba[1] * s:.{qd}f}", "time": self.now_ms(),
                    "lastUpdateId": book.update_id}
        if symbol:
            return one(self._spec(symbol))
        return [one(s) for s in self.specs.values()]

    def _premium_index_one(self, sym: str) -> dict[str, Any]:
        m = self.markets[sym]
        return {"symbol": sym, "markPrice": f"{m.mark_price():.8f}",
                "indexPrice": f"{m.index_price():.8f}",
                "estimatedSettlePrice": f"{m.mark_price():.8f}",
                # Binance's naming: lastFundingRate here is the predicted rate of the coming
                # settlement; interestRate the per-interval interest component.
                "lastFundingRate": f"{m.predicted_rate(self.p):.8f}",
                "interestRate": f"{self._interest_per_interval(sym):.8f}",
                "nextFundingTime": self.next_funding_ms[sym], "time": self.now_ms()}

    def _interest_per_interval(self, sym: str) -> Decimal:
        return self.p.funding_interest_8h * self.specs[sym].funding_interval_h / 8

    def premium_index(self, symbol: str | None = None) -> Any:
        if symbol:
            return self._premium_index_one(self._spec(symbol).symbol)
        return [self._premium_index_one(s) for s in self.specs]

    def funding_rate_history(self, symbol: str | None = None,
                             limit: int | str | None = 100) -> list[dict[str, Any]]:
        n = self._limit(limit, 100)
        if symbol:
            return self.funding_history[self._spec(symbol).symbol][-n:]
        rows = [r for h in self.funding_history.values() for r in h]
        return sorted(rows, key=lambda r: r["fundingTime"])[-n:]

    def leverage_brackets(self, account: str | None = None, symbol: str | None = None) -> Any:
        specs = [self._spec(symbol)] if symbol else list(self.specs.values())
        return refdata.leverage_brackets(specs, symbol)

    def mid(self, symbol: str) -> Decimal:
        """Spot mid (index) as Decimal, for valuing margin assets."""
        return self.markets[symbol].index_price()

    def asset_price(self, asset: str) -> Decimal:
        if asset == "USDT":
            return Decimal(1)
        return self.markets[asset + "USDT"].index_price()

    # ---------------------------------------------------------------- accounts
    def _genesis(self) -> None:
        legs = [(HOUSE, a, "free", v) for a, v in self.p.house_funding.items()]
        legs += [(HOUSE, a, "free", Decimal(10**9)) for a in self.assets
                 if a not in self.p.house_funding]
        legs += [(POOL, a, "free", s.pool) for a, s in self.assets.items()]
        self.ledger_.post(self.now_ms(), "genesis", "genesis", legs, genesis=True)
        self.genesis_totals = self.ledger_.coin_totals()

    def _new_account(self, key: str, secret: str, margin: dict[str, str],
                     futures: dict[str, str]) -> tuple[str, str]:
        acct_id = f"a{len(self.accounts) + 1}"
        self.accounts[acct_id] = Account(acct_id, key, secret)
        self.by_key[key] = acct_id
        legs = []
        for a, v in margin.items():
            legs += [(acct_id, a, "free", Decimal(v)), (HOUSE, a, "free", -Decimal(v))]
        for a, v in futures.items():
            legs += [(acct_id, a, "fwallet", Decimal(v)), (HOUSE, a, "free", -Decimal(v))]
        self.ledger_.post(self.now_ms(), "deposit", acct_id, legs)
        return key, secret

    def default_account(self) -> tuple[str, str]:
        return self._default

    def account_for_key(self, api_key: str) -> str | None:
        return self.by_key.get(api_key)

    def create_account(self, funding: dict[str, str],
                       futures_funding: dict[str, str] | None = None) -> tuple[str, str]:
        """A funded account: `funding` goes to the cross-margin wallet, `futures_funding` to the
        USD-M wallet. Returns (api_key, api_secret)."""
        n = len(self.accounts) + 1
        h = hashlib.sha256(f"basisd-sim:{self.cfg.name}:{self.seed}:acct{n}".encode()).hexdigest()
        return self._new_account("sim" + h[:61], hashlib.sha256(h.encode()).hexdigest(),
                                 funding, futures_funding or {})

    def _acct(self, acct: str) -> Account:
        a = self.accounts.get(acct)
        if a is None:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        return a

    # ---------------------------------------------------------------- faults
    def inject_fault(self, kind: str, **kw: Any) -> None:
        """skip_diff(symbol, market="spot"|"futures", n=1); reject_next(market, n, code, msg=None);
        fill_fraction(market, fraction) (1 clears); borrow_pool(asset, amount)."""
        if kind == "borrow_pool":
            self.set_pool(str(kw["asset"]).upper(), Decimal(str(kw["amount"])))
            return
        if kind == "skip_diff":
            sym = self._spec(str(kw["symbol"])).symbol
            self.faults.skip_diff(self.faults.market(str(kw.get("market", "spot"))), sym,
                                  int(kw.get("n", 1)))
            return
        self.faults.inject(kind, **kw)

    def pool_available(self, asset: str) -> Decimal:
        return self.ledger_.get(POOL, asset, "free")

    def set_pool(self, asset: str, amount: Decimal) -> None:
        """Sets the lendable pool of `asset`; the difference moves to/from the house."""
        d = amount - self.pool_available(asset)
        self.ledger_.post(self.now_ms(), "deposit", f"pool:{asset}",
                          [(POOL, asset, "free", d), (HOUSE, asset, "free", -d)])

    # ---------------------------------------------------------------- checks
    def ledger(self) -> list[dict[str, Any]]:
        """Every balance change: txn, time, account, asset, bucket, delta (str), cause, ref."""
        return [{**e, "delta": str(e["delta"])} for e in self.ledger_.entries]

    def totals_by_asset(self) -> dict[str, Decimal]:
        """Coins per asset over every account (users, house, pool); constant after genesis."""
        return self.ledger_.coin_totals()

    def claims_imbalance(self) -> dict[str, Decimal]:
        """receivable - (borrowed + interest) per asset; all zero when claims are conserved."""
        return self.ledger_.claim_imbalance()

    def liquidation_log(self) -> list[dict[str, Any]]:
        return list(self.liquidations)

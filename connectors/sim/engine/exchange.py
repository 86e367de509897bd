"""The facade the server calls: `Exchange(cfg, seed, scenario)`. Pure: no I/O, no wall clock;
time moves only through `advance(dt_s)`.

The facade owns the components, each one concern given the shared `VenueState` and the other
components it calls: market_data (books, public events and views), matching (resting orders),
margin (valuation, borrow/repay, interest), margin_orders, futures, transfers, liquidation.
Here live only the clock loop (scenario regimes, funding and interest boundaries), accounts,
faults, the conservation checks, and one delegating method per endpoint the server serves."""
from __future__ import annotations

import hashlib
import math
from decimal import Decimal
from typing import Any

from connectors.sim.config import SimVenueConfig
from connectors.sim.engine.faults import Faults
from connectors.sim.engine.futures import Futures
from connectors.sim.engine.ledger import Ledger
from connectors.sim.engine.liquidation import Liquidation
from connectors.sim.engine.margin import Margin
from connectors.sim.engine.margin_orders import MarginOrders
from connectors.sim.engine.market_data import MarketData
from connectors.sim.engine.matching import Matching
from connectors.sim.engine.params import AssetSpec, EngineParams, SymbolSpec, log_drift_per_s
from connectors.sim.engine.scenario import Regime, Scenario
from connectors.sim.engine.state import Account, Order
from connectors.sim.engine.transfers import Transfers
from connectors.sim.engine.venue_state import HOUR_MS, HOUSE, POOL, Event, VenueState

__all__ = ["Event", "Exchange"]

Params = dict[str, str]
Rows = list[dict[str, Any]]


class Exchange:
    def __init__(self, cfg: SimVenueConfig, seed: int, scenario: Scenario | None = None,
                 params: EngineParams | None = None) -> None:
        self.scenario = scenario
        self.state = state = VenueState(cfg, seed, params or EngineParams())
        self.matching = Matching(state.specs)
        self.market_data = MarketData(state, self.matching)
        self.margin = Margin(state)
        self.margin_orders = MarginOrders(state, self.matching, self.margin)
        self.futures = Futures(state, self.matching)
        self.transfers = Transfers(state, self.margin, self.futures)
        self.liquidation = Liquidation(state, self.margin, self.margin_orders, self.futures)
        self.pool_saved: dict[str, Decimal] = {}   # pools a borrow_pool regime replaced
        self._genesis()
        self.market_data.refresh_books(0.0, self._fill_resting)
        for b in list(state.spot_books.values()) + list(state.fut_books.values()):
            b.publish()  # the state at t=0 is the baseline; diffs start after it
        key, secret = cfg.api_key, cfg.api_secret
        if not key:
            h = hashlib.sha256(f"basisd-sim:{cfg.name}:{seed}".encode()).hexdigest()
            key, secret = "sim" + h[:61], hashlib.sha256(h.encode()).hexdigest()
        self._default = self._new_account(key, secret, dict(cfg.margin_funding),
                                          dict(cfg.futures_funding))

    # ---------------------------------------------------------------- shared state, read-only
    # (the server, tests and rigs read these; the components share `self.state`)
    @property
    def cfg(self) -> SimVenueConfig:
        return self.state.cfg

    @property
    def seed(self) -> int:
        return self.state.seed

    @property
    def p(self) -> EngineParams:
        return self.state.p

    @property
    def t(self) -> float:
        """Scenario seconds since start."""
        return self.state.t

    @property
    def specs(self) -> dict[str, SymbolSpec]:
        return self.state.specs

    @property
    def assets(self) -> dict[str, AssetSpec]:
        return self.state.assets

    @property
    def accounts(self) -> dict[str, Account]:
        return self.state.accounts

    @property
    def ledger_(self) -> Ledger:
        return self.state.ledger

    @property
    def faults(self) -> Faults:
        return self.state.faults

    # ---------------------------------------------------------------- time
    def now_ms(self) -> int:
        return self.state.now_ms()

    def drain_events(self) -> list[Event]:
        """Events produced since the last advance()/drain_events() (order calls produce some)."""
        return self.state.drain_events()

    def emit(self, key: str, payload: dict[str, Any]) -> None:
        self.state.emit(key, payload)

    def advance(self, dt_s: float) -> list[Event]:
        remaining = float(dt_s)
        while remaining > 1e-9:
            h = min(self.p.step_s, remaining)
            remaining -= h
            self._step(h)
        return self.drain_events()

    def _step(self, h: float) -> None:
        state = self.state
        t0, t1 = state.t, state.t + h
        if self.scenario is not None:
            for regime, edge in self.scenario.crossings(t0, t1):
                self._regime_edge(regime, edge)
        active = self.scenario.active(t0) if self.scenario is not None else []
        for sym, m in state.markets.items():
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
        for a, br in state.rates.items():
            br.step(h)
            mult = 1.0
            for r in active:
                if r.kind == "borrow_spike" and (not r.assets or a in r.assets):
                    mult *= r.multiplier
            state.rate_mult[a] = mult
        prev_sec = math.floor(t0 + 1e-9)
        state.t = t1
        self.market_data.refresh_books(h, self._fill_resting)
        now = state.now_ms()
        for sym in state.specs:
            while now >= state.next_funding_ms[sym]:
                self.futures.settle_funding(sym, state.next_funding_ms[sym])
                state.next_funding_ms[sym] += state.specs[sym].funding_interval_h * HOUR_MS
        while now >= state.next_hour_ms:
            self.margin.accrue_interest(state.next_hour_ms)
            state.next_hour_ms += HOUR_MS
        self.liquidation.check()
        self.market_data.publish(math.floor(t1 + 1e-9) != prev_sec)

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

    def _fill_resting(self, o: Order, qty: Decimal) -> None:
        """A resting order the refreshed book traded through."""
        if o.market == "spot":
            self.margin_orders.maker_fill(o, qty)
        else:
            self.futures.maker_fill(o, qty)

    # ---------------------------------------------------------------- market data (REST)
    def spot_exchange_info(self) -> dict[str, Any]:
        return self.market_data.spot_exchange_info()

    def futures_exchange_info(self) -> dict[str, Any]:
        return self.market_data.futures_exchange_info()

    def funding_info(self) -> Rows:
        return self.market_data.funding_info()

    def spot_depth(self, symbol: str, limit: int | str | None = 100) -> dict[str, Any]:
        return self.market_data.spot_depth(symbol, limit)

    def futures_depth(self, symbol: str, limit: int | str | None = 500) -> dict[str, Any]:
        return self.market_data.futures_depth(symbol, limit)

    def spot_book_ticker(self, symbol: str | None = None) -> Any:
        return self.market_data.spot_book_ticker(symbol)

    def futures_book_ticker(self, symbol: str | None = None) -> Any:
        return self.market_data.futures_book_ticker(symbol)

    def premium_index(self, symbol: str | None = None) -> Any:
        return self.market_data.premium_index(symbol)

    def funding_rate_history(self, symbol: str | None = None,
                             limit: int | str | None = 100) -> Rows:
        return self.market_data.funding_rate_history(symbol, limit)

    def leverage_brackets(self, account: str | None = None, symbol: str | None = None) -> Any:
        return self.market_data.leverage_brackets(account, symbol)

    def mid(self, symbol: str) -> Decimal:
        """Spot mid (index) as Decimal, for valuing margin assets."""
        return self.state.markets[symbol].index_price()

    def asset_price(self, asset: str) -> Decimal:
        return self.state.asset_price(asset)

    # ---------------------------------------------------------------- cross margin
    def margin_values(self, acct: str) -> tuple[Decimal, Decimal]:
        return self.margin.margin_values(acct)

    def margin_level(self, acct: str) -> Decimal:
        return self.margin.margin_level(acct)

    def margin_borrow_repay(self, acct: str, params: Params) -> dict[str, Any]:
        return self.margin.margin_borrow_repay(acct, params)

    def margin_borrow_repay_history(self, acct: str, params: Params) -> dict[str, Any]:
        return self.margin.margin_borrow_repay_history(acct, params)

    def margin_interest_history(self, acct: str, params: Params) -> dict[str, Any]:
        return self.margin.margin_interest_history(acct, params)

    def margin_next_hourly_interest_rate(self, acct: str | None,
                                         params: Params) -> list[dict[str, str]]:
        return self.margin.margin_next_hourly_interest_rate(acct, params)

    def margin_trade_coeff(self, acct: str, params: Params | None = None) -> dict[str, str]:
        return self.margin.margin_trade_coeff(acct, params)

    def margin_max_borrowable(self, acct: str, params: Params) -> dict[str, str]:
        return self.margin.margin_max_borrowable(acct, params)

    def margin_account(self, acct: str, params: Params | None = None) -> dict[str, Any]:
        return self.margin.margin_account(acct, params)

    def margin_new_order(self, acct: str, params: Params) -> dict[str, Any]:
        return self.margin_orders.margin_new_order(acct, params)

    def margin_get_order(self, acct: str, params: Params) -> dict[str, Any]:
        return self.margin_orders.margin_get_order(acct, params)

    def margin_cancel_order(self, acct: str, params: Params) -> dict[str, Any]:
        return self.margin_orders.margin_cancel_order(acct, params)

    def margin_open_orders(self, acct: str, params: Params | None = None) -> Rows:
        return self.margin_orders.margin_open_orders(acct, params)

    def margin_all_orders(self, acct: str, params: Params) -> Rows:
        return self.margin_orders.margin_all_orders(acct, params)

    def margin_my_trades(self, acct: str, params: Params) -> Rows:
        return self.margin_orders.margin_my_trades(acct, params)

    def asset_transfer(self, acct: str, params: Params) -> dict[str, Any]:
        return self.transfers.asset_transfer(acct, params)

    # ---------------------------------------------------------------- USD-M futures
    def futures_risk(self, acct: str) -> dict[str, Decimal]:
        return self.futures.futures_risk(acct)

    def futures_max_withdraw(self, acct: str) -> Decimal:
        return self.futures.futures_max_withdraw(acct)

    def futures_new_order(self, acct: str, params: Params) -> dict[str, Any]:
        return self.futures.futures_new_order(acct, params)

    def futures_cancel_order(self, acct: str, params: Params) -> dict[str, Any]:
        return self.futures.futures_cancel_order(acct, params)

    def futures_get_order(self, acct: str, params: Params) -> dict[str, Any]:
        return self.futures.futures_get_order(acct, params)

    def futures_open_orders(self, acct: str, params: Params | None = None) -> Rows:
        return self.futures.futures_open_orders(acct, params)

    def futures_all_orders(self, acct: str, params: Params) -> Rows:
        return self.futures.futures_all_orders(acct, params)

    def futures_user_trades(self, acct: str, params: Params) -> Rows:
        return self.futures.futures_user_trades(acct, params)

    def futures_income(self, acct: str, params: Params | None = None) -> Rows:
        return self.futures.futures_income(acct, params)

    def futures_change_leverage(self, acct: str, params: Params) -> dict[str, Any]:
        return self.futures.futures_change_leverage(acct, params)

    def futures_position_risk(self, acct: str, params: Params | None = None) -> Rows:
        return self.futures.futures_position_risk(acct, params)

    def futures_account(self, acct: str, params: Params | None = None) -> dict[str, Any]:
        return self.futures.futures_account(acct, params)

    def futures_balance(self, acct: str, params: Params | None = None) -> Rows:
        return self.futures.futures_balance(acct, params)

    # ---------------------------------------------------------------- accounts
    def _genesis(self) -> None:
        state = self.state
        legs = [(HOUSE, a, "free", v) for a, v in state.p.house_funding.items()]
        legs += [(HOUSE, a, "free", Decimal(10**9)) for a in state.assets
                 if a not in state.p.house_funding]
        legs += [(POOL, a, "free", s.pool) for a, s in state.assets.items()]
        state.ledger.post(state.now_ms(), "genesis", "genesis", legs, genesis=True)
        self.genesis_totals = state.ledger.coin_totals()

    def _new_account(self, key: str, secret: str, margin: dict[str, str],
                     futures: dict[str, str]) -> tuple[str, str]:
        state = self.state
        acct_id = f"a{len(state.accounts) + 1}"
        state.accounts[acct_id] = Account(acct_id, key, secret)
        state.by_key[key] = acct_id
        legs = []
        for a, v in margin.items():
            legs += [(acct_id, a, "free", Decimal(v)), (HOUSE, a, "free", -Decimal(v))]
        for a, v in futures.items():
            legs += [(acct_id, a, "fwallet", Decimal(v)), (HOUSE, a, "free", -Decimal(v))]
        state.ledger.post(state.now_ms(), "deposit", acct_id, legs)
        return key, secret

    def default_account(self) -> tuple[str, str]:
        return self._default

    def account_for_key(self, api_key: str) -> str | None:
        return self.state.by_key.get(api_key)

    def create_account(self, funding: dict[str, str],
                       futures_funding: dict[str, str] | None = None) -> tuple[str, str]:
        """A funded account: `funding` goes to the cross-margin wallet, `futures_funding` to the
        USD-M wallet. Returns (api_key, api_secret)."""
        n = len(self.accounts) + 1
        h = hashlib.sha256(f"basisd-sim:{self.cfg.name}:{self.seed}:acct{n}".encode()).hexdigest()
        return self._new_account("sim" + h[:61], hashlib.sha256(h.encode()).hexdigest(),
                                 funding, futures_funding or {})

    def _bal(self, acct: str, asset: str, bucket: str = "free") -> Decimal:
        """One ledger bucket of one account (tests read balances through this)."""
        return self.state.bal(acct, asset, bucket)

    # ---------------------------------------------------------------- faults
    def inject_fault(self, kind: str, **kw: Any) -> None:
        """skip_diff(symbol, market="spot"|"futures", n=1); reject_next(market, n, code, msg=None);
        fill_fraction(market, fraction) (1 clears); borrow_pool(asset, amount)."""
        if kind == "borrow_pool":
            self.set_pool(str(kw["asset"]).upper(), Decimal(str(kw["amount"])))
            return
        if kind == "skip_diff":
            sym = self.state.spec(str(kw["symbol"])).symbol
            self.faults.skip_diff(self.faults.market(str(kw.get("market", "spot"))), sym,
                                  int(kw.get("n", 1)))
            return
        self.faults.inject(kind, **kw)

    def pool_available(self, asset: str) -> Decimal:
        return self.margin.pool_available(asset)

    def set_pool(self, asset: str, amount: Decimal) -> None:
        """Sets the lendable pool of `asset`; the difference moves to/from the house."""
        self.margin.set_pool(asset, amount)

    # ---------------------------------------------------------------- checks
    def ledger(self) -> Rows:
        """Every balance change: txn, time, account, asset, bucket, delta (str), cause, ref."""
        return [{**e, "delta": str(e["delta"])} for e in self.ledger_.entries]

    def totals_by_asset(self) -> dict[str, Decimal]:
        """Coins per asset over every account (users, house, pool); constant after genesis."""
        return self.ledger_.coin_totals()

    def claims_imbalance(self) -> dict[str, Decimal]:
        """receivable - (borrowed + interest) per asset; all zero when claims are conserved."""
        return self.ledger_.claim_imbalance()

    def liquidation_log(self) -> Rows:
        return list(self.state.liquidations)

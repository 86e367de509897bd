"""Done-when 1 and 2 on the embedded exchange's engine (connectors.sim.engine.Exchange, manual
time, no network): an open 3x reverse basis through pump +40 % / crash -40 % in 60 s, 20 seeds
each. Watchdog on: zero liquidations and the pair within its residual budget throughout; watchdog
off: liquidated (the test bites). Collateral moves precede trims when collateral is free.

The glue below plays the connector (engine state -> hub, the same field mapping as
connectors/binance: futures free = availableBalance, margin balances with borrowed + interest,
the venue's liquidationPrice) and the legging engine (a trim = margin BUY AUTO_REPAY + perp SELL
reduceOnly of the same fraction, both at market). The full stack over the network (BinanceVenue
+ LeggingEngine) is the lead's wiring; see the report.
"""
from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import pytest

from connectors.sim.config import SimVenueConfig
from connectors.sim.engine.exchange import Exchange
from connectors.sim.engine.scenario import load_scenario
from daemon.hub import Balance, Hub, Instrument, MarginAccount, Mark, PerpPosition
from daemon.pairs import Pair, State, make_legs
from daemon.watchdog import Watchdog
from daemon.watchdog_config import WatchdogConfig

V, SYM = "sim-a", "BTCUSDT"
SEEDS = range(20)
NOTIONAL = 196_000.0          # 3x on 100k collateral: liabilities just under 2 x net equity
RESIDUAL_BUDGET = 0.01        # coins of unhedged exposure per coin of the original size


def _q(x: float, step: str = "0.001") -> str:
    return str(Decimal(repr(x)).quantize(Decimal(step), rounding=ROUND_DOWN))


class SimPair:
    def __init__(self, seed: int, scenario: str, watchdog: bool) -> None:
        cfg = SimVenueConfig(name=V, symbols=(SYM,), scenario="", speedup=480.0,
                             margin_funding={"USDT": "100000"},
                             futures_funding={"USDT": str(int(NOTIONAL / 3 * 1.02))})
        self.ex = Exchange(cfg, seed, load_scenario(scenario))
        key, _secret = self.ex.default_account()
        acct = self.ex.account_for_key(key)
        assert acct is not None
        self.acct = acct
        self.hub = Hub()
        for market in ("spot", "perp"):
            self.hub.set_instrument(Instrument(venue=V, market=market, symbol=SYM, base="BTC", quote="USDT",
                                               tick_size=0.01, step_size=0.001))
        self.ex.futures_change_leverage(acct, {"symbol": SYM, "leverage": "3"})
        price = float(self.ex._premium_index_one(SYM)["markPrice"])
        self.qty0 = float(_q(NOTIONAL / price))
        self.ex.margin_new_order(acct, {"symbol": SYM, "side": "SELL", "type": "MARKET",
                                        "quantity": _q(self.qty0), "sideEffectType": "MARGIN_BUY"})
        self.ex.futures_new_order(acct, {"symbol": SYM, "side": "BUY", "type": "MARKET",
                                         "quantity": _q(self.qty0)})
        self.pair = Pair(id="rb1", type="reverse_basis", symbol=SYM,
                         legs=make_legs("reverse_basis", SYM, {"spot": V, "perp": V}),
                         target_qty=self.qty0, notional_usd=NOTIONAL, execution="taker", state=State.OPEN)
        self.calls: list[str] = []
        self.worst_residual = 0.0
        self.watchdog: Watchdog | None = None
        self.feed()
        if watchdog:
            wcfg = WatchdogConfig(margin_transfer_out_level=1.5, net_apr_grace_s=86_400)
            self.watchdog = Watchdog(self.hub, wcfg, lambda: [self.pair], self)
            brackets = self.ex.leverage_brackets(acct, SYM)
            rows = brackets["brackets"] if isinstance(brackets, dict) else brackets[0]["brackets"]
            self.watchdog.set_brackets(V, SYM, rows)
            self.watchdog.start()
            self.feed()

    # -- the connector's side: engine -> hub ---------------------------------------------------
    def feed(self) -> None:
        ex, hub, acct = self.ex, self.hub, self.acct
        m = ex.margin_account(acct)
        for a in m["userAssets"]:
            hub.set_balance(Balance(venue=V, wallet="margin", asset=a["asset"], free=float(a["free"]),
                                    locked=float(a["locked"]), borrowed=float(a["borrowed"]),
                                    interest=float(a["interest"])))
        hub.set_margin_account(MarginAccount(venue=V, margin_level=float(m["marginLevel"] or 999)))
        f = ex.futures_account(acct)
        for a in f["assets"]:
            if a["asset"] == "USDT":
                wallet, avail = float(a["walletBalance"]), float(a["maxWithdrawAmount"])
                hub.set_balance(Balance(venue=V, wallet="futures", asset="USDT", free=avail,
                                        locked=max(0.0, wallet - avail)))
        for r in ex.futures_position_risk(acct, {"symbol": SYM}):
            hub.set_position(PerpPosition(venue=V, symbol=SYM, qty=float(r["positionAmt"]),
                                          entry_price=float(r["entryPrice"]),
                                          liquidation_price=float(r["liquidationPrice"])))
        pi = ex._premium_index_one(SYM)
        hub.set_mark(Mark(venue=V, symbol=SYM, mark_price=float(pi["markPrice"]),
                          index_price=float(pi["indexPrice"]), funding_rate=float(pi["lastFundingRate"]),
                          next_funding_ms=int(pi["nextFundingTime"]), interval_h=8.0, ts_ms=ex.now_ms()))
        btc = hub.balances.get((V, "margin", "BTC"))
        pos = hub.positions.get((V, SYM))
        if btc is not None and pos is not None:
            residual = abs(pos.qty - btc.liability + btc.free + btc.locked)
            self.worst_residual = max(self.worst_residual, residual)

    # -- the legging engine's side: RiskActions ------------------------------------------------
    def transfer(self, venue: str, direction: str, asset: str, amount: float) -> None:
        kind = "MARGIN_UMFUTURE" if direction == "margin_to_futures" else "UMFUTURE_MARGIN"
        self.ex.asset_transfer(self.acct, {"type": kind, "asset": asset, "amount": _q(amount, "0.00000001")})
        self.calls.append("transfer")

    def _trim(self, qty: float) -> None:
        if qty <= 0:
            return
        self.ex.margin_new_order(self.acct, {"symbol": SYM, "side": "BUY", "type": "MARKET",
                                             "quantity": _q(qty), "sideEffectType": "AUTO_REPAY"})
        self.ex.futures_new_order(self.acct, {"symbol": SYM, "side": "SELL", "type": "MARKET",
                                              "quantity": _q(qty), "reduceOnly": "true"})

    def deleverage(self, pair_id: str, fraction: float) -> None:
        cut = float(_q(self.pair.target_qty * fraction)) + 0.001
        cut = min(cut, self.pair.target_qty)
        self._trim(cut)
        self.pair.target_qty = round(self.pair.target_qty - cut, 3)
        self.calls.append("deleverage")

    def unwind(self, pair_id: str) -> None:
        self._trim(self.pair.target_qty)
        self.pair.target_qty = 0.0
        self.pair.state = State.CLOSED
        self.calls.append("unwind")

    def close(self, pair_id: str) -> None:
        self.unwind(pair_id)

    def rehedge(self, pair_id: str, qty: float, reduce_only: bool) -> None:
        self.calls.append("rehedge")

    def run(self, seconds: float = 85.0, step: float = 0.5) -> None:
        t = 0.0
        while t < seconds and not self.ex.liquidation_log():
            self.ex.advance(step)
            self.ex.drain_events()
            t += step
            self.feed()


@pytest.mark.parametrize("scenario", ["pump", "crash"])
def test_watchdog_off_the_pair_is_liquidated(scenario: str) -> None:
    liquidated = 0
    for seed in SEEDS:
        sp = SimPair(seed, scenario, watchdog=False)
        sp.run()
        liquidated += bool(sp.ex.liquidation_log())
    assert liquidated == len(SEEDS)


@pytest.mark.parametrize("scenario", ["pump", "crash"])
def test_watchdog_on_no_liquidation_and_hedged_throughout(scenario: str) -> None:
    for seed in SEEDS:
        sp = SimPair(seed, scenario, watchdog=True)
        sp.run()
        assert sp.ex.liquidation_log() == [], (scenario, seed, sp.calls)
        assert sp.worst_residual <= RESIDUAL_BUDGET * sp.qty0, (scenario, seed, sp.worst_residual)
        assert sp.watchdog is not None
        assert "deleverage" in sp.calls or "transfer" in sp.calls, (scenario, seed)
        if "transfer" in sp.calls and "deleverage" in sp.calls and scenario == "crash":
            # the margin account has free collateral in a crash: it moves before any trim
            assert sp.calls.index("transfer") < sp.calls.index("deleverage"), (seed, sp.calls)
        assert sp.watchdog.reaction.count >= 1

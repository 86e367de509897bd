"""Hypothesis: random orders, cancels, transfers, borrows/repays with funding and interest running
(speedup 3600: one scenario second = one venue hour). Coins are conserved exactly, claims balance,
and no user balance goes negative without a matching liability."""
from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.sim.engine import BinanceError, Exchange, SimVenueConfig, load_scenario

SYMS = ["BTCUSDT", "ETHUSDT"]
QTY = {"BTCUSDT": ["0.001", "0.01", "0.05", "0.3"], "ETHUSDT": ["0.01", "0.2", "1", "5"]}

op = st.one_of(
    st.tuples(st.just("margin"), st.sampled_from(SYMS), st.sampled_from(["BUY", "SELL"]),
              st.sampled_from(["MARKET", "LIMIT", "LIMIT_MAKER"]),
              st.sampled_from(["GTC", "IOC", "FOK"]), st.integers(0, 3),
              st.sampled_from(["NO_SIDE_EFFECT", "MARGIN_BUY", "AUTO_REPAY", "AUTO_BORROW_REPAY"]),
              st.integers(-30, 30)),
    st.tuples(st.just("futures"), st.sampled_from(SYMS), st.sampled_from(["BUY", "SELL"]),
              st.sampled_from(["MARKET", "LIMIT"]), st.sampled_from(["GTC", "IOC", "FOK", "GTX"]),
              st.integers(0, 3), st.booleans(), st.integers(-30, 30)),
    st.tuples(st.just("transfer"), st.sampled_from(["MARGIN_UMFUTURE", "UMFUTURE_MARGIN"]),
              st.sampled_from(["1", "250.5", "5000"])),
    st.tuples(st.just("borrow"), st.sampled_from(["BORROW", "REPAY"]),
              st.sampled_from(["BTC", "ETH", "USDT"]), st.sampled_from(["0.001", "0.1", "500"])),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("advance"), st.floats(0.1, 3.0)),
    st.tuples(st.just("leverage"), st.sampled_from(SYMS), st.sampled_from(["2", "5", "20"])),
)


def _check(ex: Exchange, genesis: dict[str, Decimal]) -> None:
    assert ex.totals_by_asset() == genesis
    assert all(v == 0 for v in ex.claims_imbalance().values())
    for acct in ex.accounts:
        for asset in ex.assets:
            for bucket in ("free", "locked", "borrowed", "interest"):
                assert ex.ledger_.get(acct, asset, bucket) >= 0, (acct, asset, bucket)
        r = ex.futures_risk(acct)
        # cross wallet may dip below zero only while open profit covers it
        assert r["wallet"] >= 0 or r["margin"] >= 0


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**16), st.lists(op, min_size=60, max_size=120))
def test_conservation_under_random_activity(seed: int, ops: list[tuple]) -> None:
    cfg = SimVenueConfig(speedup=3600.0, margin_funding={"USDT": "20000", "BTC": "0.2"},
                         futures_funding={"USDT": "20000"})
    ex = Exchange(cfg, seed, load_scenario("default"))
    acct = ex.account_for_key(ex.default_account()[0])
    other = ex.account_for_key(ex.create_account({"USDT": "5000"}, {"USDT": "3000"})[0])
    genesis = ex.totals_by_asset()
    assert genesis == ex.genesis_totals
    n_ok = 0
    for i, o in enumerate(ops):
        who = acct if i % 3 else other
        try:
            n_ok += _do(ex, who, o)
        except BinanceError:
            pass
        _check(ex, genesis)
    ex.advance(5.0)
    _check(ex, genesis)
    assert n_ok > 0
    causes = {e["cause"] for e in ex.ledger()}
    assert {"deposit", "genesis"} <= causes


def _px(ex: Exchange, market: str, sym: str, side: str, off: int) -> str:
    if market == "spot":
        bt = ex.spot_book_ticker(sym)
        tick = Decimal("0.01")
    else:
        bt = ex.futures_book_ticker(sym)
        tick = ex.specs[sym].perp_tick
    ref = Decimal(bt["bidPrice"] if side == "BUY" else bt["askPrice"])
    return str((ref * (1 + Decimal(off) / 1000) / tick).to_integral_value() * tick)


def _do(ex: Exchange, acct: str, o: tuple) -> int:
    kind = o[0]
    if kind == "margin":
        _, sym, side, typ, tif, qi, se, off = o
        p = {"symbol": sym, "side": side, "type": typ, "quantity": QTY[sym][qi],
             "sideEffectType": se}
        if typ != "MARKET":
            p["price"] = _px(ex, "spot", sym, side, off)
            if typ == "LIMIT":
                p["timeInForce"] = tif
        ex.margin_new_order(acct, p)
    elif kind == "futures":
        _, sym, side, typ, tif, qi, ro, off = o
        p = {"symbol": sym, "side": side, "type": typ, "quantity": QTY[sym][qi],
             "reduceOnly": "true" if ro else "false"}
        if typ == "LIMIT":
            p["price"], p["timeInForce"] = _px(ex, "fut", sym, side, off), tif
        ex.futures_new_order(acct, p)
    elif kind == "transfer":
        ex.asset_transfer(acct, {"type": o[1], "asset": "USDT", "amount": o[2]})
    elif kind == "borrow":
        ex.margin_borrow_repay(acct, {"type": o[1], "asset": o[2], "amount": o[3]})
    elif kind == "cancel":
        opens = [x for x in ex.accounts[acct].orders.values() if x.is_open]
        if not opens:
            return 0
        x = opens[o[1] % len(opens)]
        params = {"symbol": x.symbol, "orderId": str(x.order_id)}
        if x.market == "spot":
            ex.margin_cancel_order(acct, params)
        else:
            ex.futures_cancel_order(acct, params)
    elif kind == "advance":
        ex.advance(o[1])
    elif kind == "leverage":
        ex.futures_change_leverage(acct, {"symbol": o[1], "leverage": o[2]})
    return 1

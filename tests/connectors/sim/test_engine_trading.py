"""Engine trading through the facade: reverse basis collects funding and pays interest in the coin;
unprotected pump / crash liquidate the weak leg; Binance error codes for post-only and the pool."""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_UP, Decimal

import pytest

from connectors.sim.engine import BinanceError, Exchange, SimVenueConfig, load_scenario

Q8 = Decimal("0.00000001")


def _venue(scenario: str, margin: str, futures: str, seed: int = 11) -> tuple[Exchange, str]:
    cfg = SimVenueConfig(margin_funding={"USDT": margin}, futures_funding={"USDT": futures})
    ex = Exchange(cfg, seed, load_scenario(scenario))
    return ex, ex.account_for_key(ex.default_account()[0])  # type: ignore[return-value]


def _open_reverse_basis(ex: Exchange, acct: str, qty: str) -> None:
    r = ex.margin_new_order(acct, {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                   "quantity": qty, "sideEffectType": "MARGIN_BUY",
                                   "newClientOrderId": "rb-spot-1"})
    assert r["status"] == "FILLED" and r["marginBuyBorrowAsset"] == "BTC"
    f = ex.futures_new_order(acct, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                    "quantity": qty, "newOrderRespType": "RESULT"})
    assert f["status"] == "FILLED" and Decimal(f["executedQty"]) == Decimal(qty)


def test_reverse_basis_collects_funding_and_pays_interest_in_the_coin() -> None:
    ex, acct = _venue("negative_funding", "100000", "100000")
    ex.advance(2.0)
    _open_reverse_basis(ex, acct, "0.5")
    events = ex.drain_events() + ex.advance(185.0)   # > 24 venue hours: 3 BTC settlements
    fees = [e[1] for e in events if e[0] == f"user:{acct}:futures"
            and e[1]["e"] == "ACCOUNT_UPDATE" and e[1]["a"]["m"] == "FUNDING_FEE"]
    history = {r["fundingTime"]: r for r in ex.funding_rate_history("BTCUSDT")}
    assert len(fees) == 3
    for ev in fees:
        h = history[ev["T"]]
        rate, mark = Decimal(h["fundingRate"]), Decimal(h["markPrice"])
        assert rate < 0
        expected = (Decimal("0.5") * mark * abs(rate)).quantize(Q8, ROUND_HALF_EVEN)
        assert Decimal(ev["a"]["B"][0]["bc"]) == expected > 0
    income = ex.futures_income(acct, {"incomeType": "FUNDING_FEE"})
    assert sum(Decimal(r["income"]) for r in income) == sum(
        Decimal(e["a"]["B"][0]["bc"]) for e in fees)
    # interest: hourly on the venue clock, in BTC, principal x that hour's rate
    rows = ex.margin_interest_history(acct, {"asset": "BTC", "size": "1000"})["rows"]
    periodic = [r for r in rows if r["type"] == "PERIODIC"]
    assert len(periodic) == 24 or len(periodic) == 25
    times = sorted(r["interestAccuredTime"] for r in periodic)
    assert all(b - a == 3_600_000 for a, b in zip(times, times[1:]))
    for r in rows:
        assert Decimal(r["interest"]) == (Decimal(r["principal"]) * Decimal(r["interestRate"])
                                          ).quantize(Q8, ROUND_UP) > 0
    btc = next(a for a in ex.margin_account(acct)["userAssets"] if a["asset"] == "BTC")
    assert Decimal(btc["borrowed"]) == Decimal("0.5")
    assert Decimal(btc["interest"]) == sum(Decimal(r["interest"]) for r in rows)
    assert Decimal(btc["netAsset"]) == -(Decimal("0.5") + Decimal(btc["interest"]))
    liab = [e[1] for e in events if e[1].get("e") == "USER_LIABILITY_CHANGE"]
    assert len([x for x in liab if x["t"] == "INTEREST"]) == len(periodic)
    # closing: buy back the liability with AUTO_REPAY clears principal and interest
    owed = Decimal(btc["borrowed"]) + Decimal(btc["interest"])
    step = Decimal("0.00001")
    qty = (owed / step).to_integral_value(rounding=ROUND_UP) * step
    ex.margin_new_order(acct, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                               "quantity": str(qty), "sideEffectType": "AUTO_REPAY"})
    btc = next(a for a in ex.margin_account(acct)["userAssets"] if a["asset"] == "BTC")
    assert Decimal(btc["borrowed"]) == 0 and Decimal(btc["interest"]) == 0
    assert ex.totals_by_asset() == ex.genesis_totals


def test_pump_force_liquidates_the_unprotected_margin_short() -> None:
    ex, acct = _venue("pump", "31000", "100000")
    ex.advance(1.0)
    _open_reverse_basis(ex, acct, "1")
    ml0 = Decimal(ex.margin_account(acct)["marginLevel"])
    assert Decimal("1.4") < ml0 < Decimal("1.6")
    assert ex.margin_trade_coeff(acct)["forceLiquidationBar"] == "1.1"
    events = ex.drain_events() + ex.advance(90.0)
    liq = [x for x in ex.liquidation_log() if x["kind"] == "margin"]
    assert len(liq) == 1
    assert Decimal("1.0") < liq[0]["marginLevel"] <= Decimal("1.1")
    reports = [e[1] for e in events if e[0] == f"user:{acct}:margin"
               and e[1]["e"] == "executionReport" and e[1]["c"].startswith("autoclose-")]
    assert any(r["S"] == "BUY" and r["X"] == "FILLED" for r in reports)
    acc = ex.margin_account(acct)
    assert all(Decimal(a["borrowed"]) == 0 and Decimal(a["interest"]) == 0
               for a in acc["userAssets"])
    assert all(Decimal(a["free"]) >= 0 for a in acc["userAssets"])
    assert not [x for x in ex.liquidation_log() if x["kind"] == "futures"]  # the long survives
    assert ex.totals_by_asset() == ex.genesis_totals
    assert all(v == 0 for v in ex.claims_imbalance().values())


def test_crash_liquidates_the_perp_long_at_maintenance_margin() -> None:
    ex, acct = _venue("crash", "100000", "20500")
    assert ex.futures_change_leverage(acct, {"symbol": "BTCUSDT", "leverage": "3"})[
        "leverage"] == 3
    ex.advance(1.0)
    _open_reverse_basis(ex, acct, "1")
    liq_px = Decimal(ex.futures_position_risk(acct, {"symbol": "BTCUSDT"})[0]["liquidationPrice"])
    entry = Decimal(ex.futures_position_risk(acct, {"symbol": "BTCUSDT"})[0]["entryPrice"])
    assert entry * Decimal("0.6") < liq_px < entry * Decimal("0.72")   # ~ entry x (1 - 1/3 + mmr)
    events = ex.drain_events() + ex.advance(90.0)
    liq = [x for x in ex.liquidation_log() if x["kind"] == "futures"]
    assert len(liq) == 1
    assert liq[0]["marginBalance"] <= liq[0]["maintMargin"]
    ups = [e[1]["o"] for e in events if e[0] == f"user:{acct}:futures"
           and e[1]["e"] == "ORDER_TRADE_UPDATE" and e[1]["o"]["c"].startswith("autoclose-")]
    assert ups and ups[-1]["X"] == "FILLED" and ups[-1]["S"] == "SELL"
    assert Decimal(ups[-1]["L"]) == pytest.approx(liq_px, rel=Decimal("0.01"))
    assert any(e[1]["e"] == "MARGIN_CALL" for e in events if e[0] == f"user:{acct}:futures")
    pos = ex.futures_position_risk(acct, {"symbol": "BTCUSDT"})[0]
    assert Decimal(pos["positionAmt"]) == 0
    assert Decimal(ex.futures_balance(acct)[0]["balance"]) >= 0
    assert not [x for x in ex.liquidation_log() if x["kind"] == "margin"]
    assert ex.totals_by_asset() == ex.genesis_totals


def test_post_only_rejections_pool_and_faults() -> None:
    ex, acct = _venue("default", "100000", "100000")
    ex.advance(0.5)
    bt = ex.futures_book_ticker("BTCUSDT")
    with pytest.raises(BinanceError) as e:
        ex.futures_new_order(acct, {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                    "timeInForce": "GTX", "price": bt["askPrice"],
                                    "quantity": "0.01"})
    assert e.value.code == -5022
    sbt = ex.spot_book_ticker("BTCUSDT")
    with pytest.raises(BinanceError) as e:
        ex.margin_new_order(acct, {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT_MAKER",
                                   "price": sbt["bidPrice"], "quantity": "0.01"})
    assert (e.value.code, e.value.msg) == (-2010, "Order would immediately match and take.")
    # a post-only bid at the touch rests and shows in the book
    r = ex.futures_new_order(acct, {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                    "timeInForce": "GTX", "price": bt["bidPrice"],
                                    "quantity": "0.01", "newClientOrderId": "chase-1"})
    assert r["status"] == "NEW"
    with pytest.raises(BinanceError) as e:
        ex.futures_new_order(acct, {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                    "timeInForce": "GTX", "price": bt["bidPrice"],
                                    "quantity": "0.01", "newClientOrderId": "chase-1"})
    assert e.value.code == -4116
    ex.inject_fault("borrow_pool", asset="BTC", amount="0")
    with pytest.raises(BinanceError) as e:
        ex.margin_borrow_repay(acct, {"asset": "BTC", "amount": "0.1", "type": "BORROW"})
    assert e.value.code == -3045
    ex.inject_fault("reject_next", market="futures", n=1, code=-1008)
    with pytest.raises(BinanceError) as e:
        ex.futures_new_order(acct, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                    "quantity": "0.01"})
    assert e.value.code == -1008
    ex.inject_fault("fill_fraction", market="margin", fraction="0.5")
    r = ex.margin_new_order(acct, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                   "quantity": "0.2"})
    assert r["status"] == "EXPIRED" and Decimal(r["executedQty"]) == Decimal("0.1")
    with pytest.raises(BinanceError) as e:
        ex.margin_new_order(acct, {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                   "timeInForce": "GTC", "price": "100.001", "quantity": "1"})
    assert (e.value.code, e.value.msg) == (-1013, "Filter failure: PRICE_FILTER")


def test_resting_limit_fills_when_the_market_trades_through() -> None:
    ex, acct = _venue("crash", "100000", "100000")
    ex.advance(20.0)
    bid = Decimal(ex.spot_book_ticker("BTCUSDT")["bidPrice"])
    px = (bid * Decimal("0.97")).quantize(Decimal("0.01"))
    r = ex.margin_new_order(acct, {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                   "timeInForce": "GTC", "price": str(px), "quantity": "0.5"})
    assert r["status"] == "NEW"
    usdt = next(a for a in ex.margin_account(acct)["userAssets"] if a["asset"] == "USDT")
    assert Decimal(usdt["locked"]) == px * Decimal("0.5") * Decimal("1.001")
    events = ex.advance(30.0)
    o = ex.margin_get_order(acct, {"symbol": "BTCUSDT", "orderId": str(r["orderId"])})
    assert o["status"] == "FILLED"
    trades = [e[1] for e in events if e[1].get("e") == "executionReport" and e[1]["x"] == "TRADE"]
    assert trades and all(t["m"] is True and Decimal(t["L"]) == px for t in trades)
    usdt = next(a for a in ex.margin_account(acct)["userAssets"] if a["asset"] == "USDT")
    assert Decimal(usdt["locked"]) == 0
    assert ex.totals_by_asset() == ex.genesis_totals

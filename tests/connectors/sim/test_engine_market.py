"""Engine market data: determinism for (seed, scenario), diff sequencing, snapshot + diffs."""
from __future__ import annotations

from decimal import Decimal

from connectors.sim.engine import Exchange, SimVenueConfig, load_scenario

CFG = SimVenueConfig()


def _market_events(seed: int, scenario: str, seconds: float) -> list[tuple[str, dict]]:
    ex = Exchange(CFG, seed, load_scenario(scenario))
    ev = ex.advance(seconds)
    return [e for e in ev if not e[0].startswith("user:")]


def test_same_seed_same_scenario_identical_market_data() -> None:
    a = _market_events(7, "default", 20.0)
    b = _market_events(7, "default", 20.0)
    c = _market_events(8, "default", 20.0)
    marks = [e[1]["p"] for e in a if "markPrice" in e[0]]
    assert len(marks) == 2 * 20  # one per scenario second per symbol
    assert a == b
    assert a != c
    assert marks != [e[1]["p"] for e in c if "markPrice" in e[0]]


def _apply(book: dict[str, dict[Decimal, Decimal]], diff: dict) -> None:
    for side, key in (("bids", "b"), ("asks", "a")):
        for p, q in diff[key]:
            if Decimal(q) == 0:
                book[side].pop(Decimal(p), None)
            else:
                book[side][Decimal(p)] = Decimal(q)


def _engine_book(snap: dict) -> dict[str, dict[Decimal, Decimal]]:
    return {s: {Decimal(p): Decimal(q) for p, q in snap[s]} for s in ("bids", "asks")}


def test_diffs_chain_and_snapshot_plus_diffs_rebuilds_the_book() -> None:
    ex = Exchange(CFG, 3, load_scenario("default"))
    acct = ex.account_for_key(ex.default_account()[0])
    ex.advance(1.0)
    spot_snap = ex.spot_depth("BTCUSDT", 5000)
    fut_snap = ex.futures_depth("BTCUSDT", 1000)
    spot = _engine_book(spot_snap)
    fut = _engine_book(fut_snap)
    L_s, L_f = spot_snap["lastUpdateId"], fut_snap["lastUpdateId"]
    prev_s = prev_f = None
    for i in range(120):
        if i == 40:  # a taker consumes depth between steps: snapshot and diffs must agree
            ex.margin_new_order(acct, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                       "quantity": "1"})
            ex.futures_new_order(acct, {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                        "quantity": "5"})
        for key, d in ex.advance(0.1):
            if key == "spot:btcusdt@depth@100ms":
                if prev_s is None:   # Binance spot rule for the first diff
                    assert d["U"] <= L_s + 1 <= d["u"]
                else:
                    assert d["U"] == prev_s + 1
                prev_s = d["u"]
                _apply(spot, d)
            elif key == "fut:btcusdt@depth@100ms":
                if prev_f is None:   # Binance futures rule for the first diff
                    assert d["U"] <= L_f <= d["u"]
                else:
                    assert d["pu"] == prev_f
                prev_f = d["u"]
                _apply(fut, d)
    assert prev_s is not None and prev_f is not None
    assert spot == _engine_book(ex.spot_depth("BTCUSDT", 5000))
    assert fut == _engine_book(ex.futures_depth("BTCUSDT", 1000))
    best_bid = max(spot["bids"])
    assert best_bid < min(spot["asks"])
    assert len(spot["bids"]) >= 40 and len(fut["asks"]) >= 40
    # depth thins away from the touch
    bids = sorted(spot["bids"].items(), reverse=True)
    near = sum(q for _, q in bids[1:11])
    far = sum(q for _, q in bids[-10:])
    assert near > far


def test_skip_diff_fault_makes_a_visible_gap() -> None:
    ex = Exchange(CFG, 4, None)
    us = [d for k, d in ex.advance(0.5) if k == "fut:ethusdt@depth@100ms"]
    ex.inject_fault("skip_diff", symbol="ETHUSDT", market="futures")
    us += [d for k, d in ex.advance(1.0) if k == "fut:ethusdt@depth@100ms"]
    gaps = [b for a, b in zip(us, us[1:]) if b["pu"] != a["u"]]
    assert len(gaps) == 1


def test_funding_intervals_and_formula() -> None:
    ex = Exchange(CFG, 5, load_scenario("negative_funding"))
    info = {r["symbol"]: r["fundingIntervalHours"] for r in ex.funding_info()}
    assert info == {"BTCUSDT": 8, "ETHUSDT": 4}
    ex.advance(125.0)  # 1000 venue minutes
    btc = ex.funding_rate_history("BTCUSDT")
    eth = ex.funding_rate_history("ETHUSDT")
    assert len(eth) >= 2 * len(btc) - 1 and len(btc) >= 2
    for r in btc:
        assert r["fundingTime"] % (8 * 3_600_000) == 0
        # premium ~ -0.2 %: rate = P + clamp(0.01 % - P, +-0.05 %) = P + 0.05 %
        assert Decimal("-0.0020") < Decimal(r["fundingRate"]) < Decimal("-0.0010")
    pi = ex.premium_index("BTCUSDT")
    assert Decimal(pi["markPrice"]) < Decimal(pi["indexPrice"])

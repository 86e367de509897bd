"""One scenario, three readers: pre-flight (before the orders), strategy sizing (before the
intent) and the watchdog (after the fills) find the same liquidation price for each leg, because
all three reach daemon/risk/perp.py and daemon/risk/margin.py with the same defaults."""
from __future__ import annotations

import math

import pytest

from connectors.types import Balance, PerpPosition
from daemon.core.pairs import Pair, State, make_legs
from daemon.hub import Hub
from daemon.legging.config import LeggingConfig
from daemon.legging.preflight import check
from daemon.opportunity.config import StrategyConfig
from daemon.opportunity.strategy import (
    Collateral, liq_floor_cap, margin_entry_distance, perp_entry_distance,
)
from daemon.risk.config import WatchdogConfig
from daemon.risk.perp import Bracket
from daemon.risk.watchdog import Watchdog
from tests.daemon.opportunity.hubkit import NOW_MS, add_borrow, add_market
from tests.daemon.opportunity.test_strategy import opp
from tests.daemon.risk.test_watchdog import Recorder

V, SYM = "v", "BTCUSDT"
MARK = 50_000.0
C, W, Q = 20_000.0, 20_000.0, 1.0        # margin collateral, futures wallet, coins per leg
LEGS = make_legs("reverse_basis", SYM, {"spot": V, "perp": V})
TIERS = [{"bracket": 1, "initialLeverage": 125, "notionalCap": 50_000, "notionalFloor": 0,
          "maintMarginRatio": 0.004, "cum": 0},
         {"bracket": 2, "initialLeverage": 100, "notionalCap": 600_000, "notionalFloor": 50_000,
          "maintMarginRatio": 0.005, "cum": 50}]


def before() -> Hub:
    hub = Hub()
    add_market(hub, V, SYM, interval_h=8.0, mark=MARK)
    add_borrow(hub, V, "BTC", 0.00001)
    hub.set_balance(Balance(venue=V, wallet="margin", asset="USDT", free=C))
    hub.set_balance(Balance(venue=V, wallet="futures", asset="USDT", free=W))
    return hub


def filled(hub: Hub, sold_at: float, bought_at: float) -> None:
    """Both legs filled at the touch pre-flight planned with."""
    hub.set_balance(Balance(venue=V, wallet="margin", asset="USDT", free=C + Q * sold_at))
    hub.set_balance(Balance(venue=V, wallet="margin", asset="BTC", borrowed=Q))
    hub.set_position(PerpPosition(venue=V, symbol=SYM, qty=Q, entry_price=bought_at, leverage=3))


def watched(hub: Hub, brackets: list[dict[str, float]] | None = None) -> dict[str, dict[str, float]]:
    pair = Pair(id="p1", type="reverse_basis", symbol=SYM, legs=LEGS, target_qty=Q,
                notional_usd=Q * MARK, execution="taker", state=State.OPEN)
    wd = Watchdog(hub, WatchdogConfig(), lambda: [pair], Recorder())
    if brackets is not None:
        wd.set_brackets(V, SYM, brackets)
    wd.start()
    hub.set_mark(hub.marks[(V, SYM)])       # one hub event: the watchdog evaluates the pair
    return {g["leg"]: g for g in wd.status()["pairs"]["p1"]["legs"]}


def test_preflight_strategy_and_watchdog_agree_on_both_liquidation_prices() -> None:
    hub = before()
    spot, perp = check(hub, LeggingConfig(), LEGS, Q, NOW_MS)
    filled(hub, spot.touch, perp.touch)
    legs = watched(hub)
    assert legs["margin"]["liq_price"] == pytest.approx(spot.liq_price, rel=1e-12)
    assert legs["perp"]["liq_price"] == pytest.approx(perp.liq_price, rel=1e-12)
    # Strategy sizing prices a leg at 1 (distances scale with price): the same leg, scaled to the
    # touch, liquidates at the same price.
    cfg = StrategyConfig()
    d_margin = margin_entry_distance(cfg, Q * spot.touch, C)
    d_perp = perp_entry_distance(cfg, +1.0, Q * perp.touch, W)
    assert spot.touch * (1 + d_margin) == pytest.approx(spot.liq_price, rel=1e-12)
    assert perp.touch * (1 - d_perp) == pytest.approx(perp.liq_price, rel=1e-12)
    # And the margin cap it sizes to is the very notional at which that leg sits on the floor.
    # (The perp's floor never binds before its initial margin N <= W L does: at N = W L the
    # cross distance equals the isolated one, which the leverage check already held >= floor.)
    at_floor = StrategyConfig(liq_distance_floor_pct=d_margin * 100)
    cap, binding = liq_floor_cap(at_floor, opp(venues={"spot": V, "perp": V}),
                                 {V: Collateral(margin_free_usd=C, futures_free_usd=1e9)})
    assert binding == "margin collateral on v" and cap == pytest.approx(Q * spot.touch, rel=1e-6)


def test_preflight_and_watchdog_use_the_venues_tiers_alike() -> None:
    hub = before()
    tiers = tuple(Bracket(**t) for t in TIERS)      # type: ignore[arg-type]
    perp = check(hub, LeggingConfig(), LEGS, Q, NOW_MS, brackets=lambda v, s: tiers)[1]
    untiered = check(hub, LeggingConfig(), LEGS, Q, NOW_MS)[1]
    filled(hub, MARK, perp.touch)
    assert watched(hub, TIERS)["perp"]["liq_price"] == pytest.approx(perp.liq_price, rel=1e-12)
    # The notional at the liquidation price (~30 000) is in the first tier (0.4 %), not the 1 %
    # fallback: LP = (q ask - W) / (q (1 - 0.004)).
    assert perp.liq_price == pytest.approx((perp.touch - W) / 0.996)
    assert untiered.liq_price is not None and perp.liq_price is not None
    assert not math.isclose(perp.liq_price, untiered.liq_price)

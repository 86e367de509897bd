"""Pre-flight liquidation distances: thin wrappers over daemon/risk, the whole account as the
venue judges it, the venue's tiers and bar when known, one fallback otherwise."""
from __future__ import annotations

import pytest

from connectors.types import Balance, MarginAccount, PerpPosition
from daemon.core.pairs import make_legs
from daemon.hub import Hub
from daemon.legging.config import LeggingConfig
from daemon.legging.preflight import (
    PreflightError, check, perp_liq_distance_pct, spot_short_liq_distance_pct,
)
from daemon.risk.margin import FORCE_LIQUIDATION_BAR
from daemon.risk.perp import FALLBACK_MMR, Bracket
from tests.daemon.opportunity.hubkit import NOW_MS, add_borrow, add_market

V, SYM = "v", "BTCUSDT"
BID, ASK = 49_999.9, 50_000.1       # hubkit: one level each side, one tick around the mark
CFG = LeggingConfig(liq_distance_floor_pct=15.0)
TIERS = (Bracket(bracket=1, initialLeverage=125, notionalCap=50_000, notionalFloor=0,
                 maintMarginRatio=0.004, cum=0),
         Bracket(bracket=2, initialLeverage=100, notionalCap=600_000, notionalFloor=50_000,
                 maintMarginRatio=0.005, cum=50))


def hub_with(margin_usdt: float = 40_000.0, futures_usdt: float = 20_000.0) -> Hub:
    hub = Hub()
    add_market(hub, V, SYM, interval_h=8.0, mark=50_000.0)
    add_borrow(hub, V, "BTC", 0.00001)
    hub.set_balance(Balance(venue=V, wallet="margin", asset="USDT", free=margin_usdt))
    hub.set_balance(Balance(venue=V, wallet="futures", asset="USDT", free=futures_usdt))
    return hub


LEGS = make_legs("reverse_basis", SYM, {"spot": V, "perp": V})


def test_the_defaults_are_the_risk_modules_own() -> None:
    from daemon.opportunity.config import StrategyConfig
    from daemon.risk.config import WatchdogConfig

    assert WatchdogConfig().fallback_mmr == FALLBACK_MMR
    assert StrategyConfig().perp_mmr_pct == FALLBACK_MMR * 100.0
    assert StrategyConfig().margin_liq_bar == FORCE_LIQUIDATION_BAR


def test_spot_short_wrapper_is_the_margin_books_distance() -> None:
    # Alone in the account: ML(P) = (C + q P0) / (q P) meets the bar at P = (C + q P0) / (bar q),
    # so the distance is (C + q P0) / (bar q P0) - 1: the old closed form, now from MarginBook.
    c, q, p = 1_000.0, 1.0, 3_000.0
    assert spot_short_liq_distance_pct(c, q, p) == pytest.approx(((c + q * p) / (1.1 * q * p) - 1) * 100)
    assert spot_short_liq_distance_pct(c, q, p, bar=1.05) == pytest.approx(
        ((c + q * p) / (1.05 * q * p) - 1) * 100)
    assert spot_short_liq_distance_pct(c, 0.0, p) == 100.0


def test_perp_wrapper_is_perp_liq_price() -> None:
    # A long of q at P on wallet W: W + q (LP - P) = q LP mmr  =>  LP = (qP - W) / (q (1 - mmr)),
    # distance = (W - mmr N) / (N (1 - mmr)) with N = qP. The old closed form (W - mmr N) / N
    # dropped the (1 - mmr) (maintenance is charged at the liquidation price, not the entry):
    # 10 000 on 50 000 at 0.4 % is 19.68 %, not 19.6 %.
    w, q, p = 10_000.0, 1.0, 50_000.0
    assert perp_liq_distance_pct(w, q, p, 0.004) == pytest.approx((w - 0.004 * q * p) / (q * p * 0.996) * 100)
    assert perp_liq_distance_pct(w, q, p, 0.004) == pytest.approx(19.6787, abs=1e-4)
    # A short: LP = (W + N) / (q (1 + mmr)); distance = (W - mmr N) / (N (1 + mmr)).
    assert perp_liq_distance_pct(w, -q, p, 0.004) == pytest.approx((w - 0.004 * q * p) / (q * p * 1.004) * 100)
    # The venue's tiers replace the fallback: 60 000 notional falls in the 0.5 % tier (cum 50).
    lp = (1.2 * p - w - 50) / (1.2 * 0.995)
    assert perp_liq_distance_pct(w, 1.2, p, brackets=TIERS) == pytest.approx((1 - lp / p) * 100)
    # A wallet covering the whole notional: no price liquidates the long.
    assert perp_liq_distance_pct(60_000, q, p) == 100.0
    assert perp_liq_distance_pct(w, 0.0, p) == 100.0


def test_check_reports_both_legs_from_the_risk_functions() -> None:
    hub = hub_with()
    spot, perp = check(hub, CFG, LEGS, 1.0, NOW_MS)
    # Margin: 40 000 + the sale at the bid against 1 BTC owed -> (C + q bid) / (1.1 q).
    assert spot.touch == BID and spot.liq_price == pytest.approx((40_000 + BID) / 1.1)
    assert spot.liq_distance_pct == pytest.approx(((40_000 + BID) / (1.1 * BID) - 1) * 100)
    # Perp long at the ask on 20 000, the fallback tier: LP = (q ask - W) / (q (1 - mmr)).
    assert perp.touch == ASK
    assert perp.liq_price == pytest.approx((ASK - 20_000) / (1 - FALLBACK_MMR))
    assert perp.liq_distance_pct == pytest.approx((1 - perp.liq_price / ASK) * 100)
    # With the venue's tiers the perp uses them: the tier is the one of the notional at the
    # liquidation price (~30 000: the first, 0.4 %), not of the entry notional.
    tiered = check(hub, CFG, LEGS, 1.0, NOW_MS, brackets=lambda v, s: TIERS)[1]
    assert tiered.liq_price == pytest.approx((ASK - 20_000) / 0.996)
    # 2 BTC on the same wallet liquidate at ~40 000 (80 000 notional): the 0.5 % tier, cum 50.
    two = check(hub, CFG, LEGS, 2.0, NOW_MS, brackets=lambda v, s: TIERS)[1]
    assert two.liq_price == pytest.approx((2 * ASK - 20_000 - 50) / (2 * 0.995))


def test_check_judges_the_whole_margin_account_with_the_venues_bar() -> None:
    alone = check(hub_with(), CFG, LEGS, 1.0, NOW_MS)[0]
    # Another pair's ETH short on the same account brings BTC's liquidation nearer.
    hub = hub_with()
    add_market(hub, V, "ETHUSDT", interval_h=8.0, mark=3_000.0)
    hub.set_balance(Balance(venue=V, wallet="margin", asset="ETH", borrowed=5.0))
    shared = check(hub, CFG, LEGS, 1.0, NOW_MS)[0]
    # A_o + h P = bar (L_o + l P) with ETH owed at its mark (3 000 +- 0 moves alone): the BTC
    # price where the account meets 1.1 is (40 000 + bid - 1.1 * 5 * 3 000) / (1.1 * 1).
    assert shared.liq_price == pytest.approx((40_000 + BID - 1.1 * 15_000) / 1.1)
    assert shared.liq_distance_pct < alone.liq_distance_pct
    # The venue's own force-liquidation bar wins over the default.
    hub = hub_with()
    hub.set_margin_account(MarginAccount(venue=V, margin_level=999.0, force_liquidation_bar=1.2))
    assert check(hub, CFG, LEGS, 1.0, NOW_MS)[0].liq_price == pytest.approx((40_000 + BID) / 1.2)


def test_an_increase_counts_the_position_already_held() -> None:
    # 1 BTC already short on margin (its proceeds in USDT) and 1 BTC long on the perp at 48 000.
    hub = hub_with(margin_usdt=40_000.0 + 50_000.0)
    hub.set_balance(Balance(venue=V, wallet="margin", asset="BTC", borrowed=1.0))
    hub.set_position(PerpPosition(venue=V, symbol=SYM, qty=1.0, entry_price=48_000.0))
    spot, perp = check(hub, CFG, LEGS, 1.0, NOW_MS, (1.0, 1.0))
    assert spot.liq_price == pytest.approx((90_000 + BID) / (1.1 * 2))
    # 2 BTC at the average entry 49 000.05 on the 20 000 wallet.
    entry = (48_000 + ASK) / 2
    assert perp.liq_price == pytest.approx((2 * entry - 20_000) / (2 * (1 - FALLBACK_MMR)))
    # What the engine knows but the account does not show yet is counted too (the same answer).
    fresh = check(hub_with(margin_usdt=40_000.0), CFG, LEGS, 1.0, NOW_MS, (1.0, 1.0))
    assert fresh[0].liq_price == pytest.approx((40_000 + 2 * BID) / (1.1 * 2))
    assert fresh[1].liq_price == pytest.approx((2 * ASK - 20_000) / (2 * (1 - FALLBACK_MMR)))


def test_check_refuses_below_the_floor_with_the_margin_level() -> None:
    with pytest.raises(PreflightError) as err:
        check(hub_with(margin_usdt=4_000.0), CFG, LEGS, 1.0, NOW_MS)
    # ML = (4 000 + bid) / bid = 1.08 after the sale: already beyond the bar.
    assert "spot leg would start 0.0% from liquidation (margin level 1.08)" in err.value.reason
    with pytest.raises(PreflightError) as err:
        check(hub_with(futures_usdt=5_000.0), CFG, LEGS, 1.0, NOW_MS)
    assert "perp leg would start 9.1% from liquidation" in err.value.reason


def test_the_issues_increase_is_judged_account_wide_and_refused_below_the_floor() -> None:
    """Issue 11's case, at this hub's 50 000: a 1 BTC short on 25 000 collateral (its 50 000
    proceeds held in USDT) increased to 2 BTC. Counting the earlier proceeds as collateral and
    the old short as absent gave (75 000 + 2 x 50 000) / (1.1 x 2) -> 59.1 % and passed a 15 %
    floor. The account as the venue judges it after the sale holds 25 000 + 50 000 + bid USDT
    against 2 BTC owed: ML = 1.1 at (75 000 + bid) / 2.2, 13.6 % away: refused."""
    hub = hub_with(margin_usdt=75_000.0, futures_usdt=200_000.0)
    hub.set_balance(Balance(venue=V, wallet="margin", asset="BTC", borrowed=1.0))
    hub.set_position(PerpPosition(venue=V, symbol=SYM, qty=1.0, entry_price=50_000.0))
    liq = (75_000.0 + BID) / (1.1 * 2)
    expected_pct = (liq / BID - 1.0) * 100.0
    assert expected_pct == pytest.approx(13.6, abs=0.05)
    with pytest.raises(PreflightError) as err:
        check(hub, CFG, LEGS, 1.0, NOW_MS, (1.0, 1.0))
    assert f"spot leg would start {expected_pct:.1f}% from liquidation" in err.value.reason
    assert "floor 15" in err.value.reason
    # The same increase on twice the collateral clears the floor, at the account-wide figure.
    hub = hub_with(margin_usdt=100_000.0, futures_usdt=200_000.0)
    hub.set_balance(Balance(venue=V, wallet="margin", asset="BTC", borrowed=1.0))
    spot, _ = check(hub, CFG, LEGS, 1.0, NOW_MS, (1.0, 1.0))
    assert spot.liq_price == pytest.approx((100_000.0 + BID) / (1.1 * 2))

"""Scanner over a hand-filled hub: net APR by hand, own funding intervals, ranking, blockers."""
from __future__ import annotations

import math
import random

import pytest

from daemon.core import economics as ec
from daemon.opportunity.funding_feed import FundingStats
from connectors.types import Health, InstrumentKey, book_stream
from daemon.hub import Hub
from daemon.opportunity.scanner import Opportunity, Scanner, scan
from daemon.opportunity.config import ScannerConfig, VenueFees

from .hubkit import NOW_MS, add_borrow, add_market

CFG = ScannerConfig(default_fees=VenueFees(spot_taker_pct=0.1, perp_taker_pct=0.05),
                    holding_hours=168.0, quote_size_usd=10_000.0, slippage_cap_bps=20.0)


def _find(opps: list[Opportunity], type_: str, symbol: str) -> Opportunity:
    matches = [o for o in opps if o.type == type_ and o.symbol == symbol]
    assert len(matches) == 1, matches
    return matches[0]


def test_reverse_basis_net_apr_by_hand_on_a_4h_symbol() -> None:
    hub = Hub()
    # ETH funds every 4 h at -0.02 % per interval; BTC every 8 h at the same rate.
    add_market(hub, "a", "ETHUSDT", interval_h=4, mark=2000.0, index=2002.0, rate=-0.0002)
    add_market(hub, "a", "BTCUSDT", interval_h=8, mark=50_000.0, index=50_010.0, rate=-0.0002)
    add_borrow(hub, "a", "ETH", hourly=0.00001)
    add_borrow(hub, "a", "BTC", hourly=0.00001)
    opps = scan(hub, CFG, {}, NOW_MS)

    eth = _find(opps, "reverse_basis", "ETHUSDT")
    # By hand: 0.0002 x 6 settlements/day x 365 = 43.8 % earned; borrow 0.001 %/h x 8760 = 8.76 %,
    # stressed x1.5 = 13.14 %; fees 2 x (0.1 % spot + 0.05 % perp) = 0.3 % over the 168 h
    # fallback (no fit) -> 0.3 % x 8760/168 = 15.642857 %; slippage from the mid: the touch is
    # one tick (0.1) from the 2000 mid, 0.5 bps on each of the 4 fills = 2 bps over 168 h.
    assert eth.interval_h == 4
    assert eth.model == "apr_only" and eth.holding_hours == 168.0
    assert eth.apr.funding_apr == pytest.approx(0.438, abs=1e-12)
    assert eth.current_funding_apr == eth.apr.funding_apr       # no fit: today's rate
    assert eth.apr.borrow_apr == pytest.approx(0.0876 * 1.5, abs=1e-12)
    assert eth.apr.fee_apr == pytest.approx(0.003 * 8760 / 168, abs=1e-12)
    assert eth.slippage_bps == pytest.approx(2.0, abs=1e-9)
    assert eth.apr.slippage_apr == pytest.approx(0.0002 * 8760 / 168, abs=1e-12)
    assert eth.apr.net_apr == pytest.approx(
        0.438 - 0.1314 - 0.003 * 8760 / 168 - 0.0002 * 8760 / 168, abs=1e-12)
    assert eth.basis_bps == pytest.approx((2000.0 - 2002.0) / 2002.0 * 1e4)
    assert eth.ok and eth.borrow_available is True

    btc = _find(opps, "reverse_basis", "BTCUSDT")
    # The same rate on an 8 h symbol earns half as much: a scanner assuming 8 h everywhere would
    # under-price ETH by 2x.
    assert btc.apr.funding_apr == pytest.approx(0.219, abs=1e-12)
    assert btc.apr.funding_apr * 2 == pytest.approx(eth.apr.funding_apr)
    # Ranking: ETH reverse basis first; the basis trades pay on negative funding and rank last.
    assert opps[0].type == "reverse_basis" and opps[0].symbol == "ETHUSDT"
    assert all(o.apr.net_apr < 0 for o in opps if o.type == "basis")

    d = eth.to_dict()
    for k in ("type", "symbol", "venues", "funding_rate", "interval_h", "next_funding_ms",
              "funding_apr_pct", "borrow_apr_pct", "fee_apr_pct", "slippage_apr_pct",
              "net_apr_pct", "zscore", "basis_bps", "depth_usd", "expected_duration_h",
              "borrow_available", "model", "current_funding_apr_pct"):
        assert k in d
    assert d["net_apr_pct"] == pytest.approx(eth.apr.net_apr * 100, abs=1e-5)
    assert d["venues"] == {"spot": "a", "perp": "a"}
    assert d["model"] == "apr_only"
    assert d["next_funding_ms"] % (4 * 3_600_000) == 0 and d["next_funding_ms"] > NOW_MS


def test_slippage_and_depth_from_the_book() -> None:
    hub = Hub()
    # Size 10 000 USD at mark 2000 = 5 ETH. Perp asks 2 @ 2000.0 then 100 @ 2001.0:
    # VWAP (2 x 2000 + 3 x 2001)/5 = 2000.6 -> 3 bps over the touch on the entry buy.
    add_market(hub, "a", "ETHUSDT", interval_h=8, mark=2000.0, rate=-0.0003,
               perp_asks=[(2000.0, 2.0), (2001.0, 100.0)])
    add_borrow(hub, "a", "ETH", hourly=0.0)
    eth = _find(scan(hub, CFG, {}, NOW_MS), "reverse_basis", "ETHUSDT")
    # From the mid, so the spread is charged: perp mid (1999.9 + 2000.0)/2 = 1999.95, the entry
    # buy pays 2000.6 - 1999.95 = 0.65 and the exit sell 0.05; the spot book sits one tick
    # either side of its 2000 mid, 0.1 on each fill.
    perp_mid, spot_mid = 1999.95, 2000.0
    expected_bps = ((2000.6 - perp_mid) / perp_mid + (perp_mid - 1999.9) / perp_mid
                    + 2 * 0.1 / spot_mid) * 1e4
    assert eth.slippage_bps == pytest.approx(expected_bps, abs=1e-9)
    assert eth.slippage_bps == pytest.approx(4.5, abs=1e-3)
    assert eth.apr.slippage_apr == pytest.approx(expected_bps / 1e4 * 8760 / 168, abs=1e-12)
    # Depth within a 20 bps slippage cap on the perp ask: a mean distance of up to 4 USD from
    # the 2000 touch is allowed and all 102 ETH sit within 1 USD, so the whole side counts;
    # the spot bid holds 1000 ETH, so the perp ask is the thinner entry leg.
    perp_book = hub.books[InstrumentKey("a", "perp", "ETHUSDT")]
    assert perp_book.qty_within_slippage("buy", 20.0) == pytest.approx(102.0)
    assert eth.depth_usd == pytest.approx(102.0 * 2000.0)


def test_thin_book_unhealthy_book_and_missing_borrow_are_not_ok_and_rank_last() -> None:
    hub = Hub()
    add_market(hub, "a", "ETHUSDT", interval_h=8, mark=2000.0, rate=-0.001, depth_qty=1.0)
    add_market(hub, "a", "BTCUSDT", interval_h=8, mark=50_000.0, rate=-0.0001)
    add_market(hub, "a", "SOLUSDT", interval_h=8, mark=100.0, rate=-0.002)
    add_borrow(hub, "a", "ETH", hourly=0.0)
    add_borrow(hub, "a", "BTC", hourly=0.0)          # SOL: no borrow rate at all
    hub.set_health("a", book_stream(InstrumentKey("a", "spot", "BTCUSDT")), Health.RESYNCING)
    opps = [o for o in scan(hub, CFG, {}, NOW_MS) if o.type == "reverse_basis"]
    eth, btc, sol = (_find(opps, "reverse_basis", s) for s in ("ETHUSDT", "BTCUSDT", "SOLUSDT"))
    assert not eth.ok and any("too thin" in r for r in eth.reasons)
    assert eth.apr.slippage_apr > 0            # charged the cap, never free
    assert not btc.ok and any("resyncing" in r for r in btc.reasons)
    assert not sol.ok and sol.borrow_available is False
    assert all(not o.ok for o in opps)


def test_borrow_cap_below_the_size_blocks() -> None:
    hub = Hub()
    add_market(hub, "a", "ETHUSDT", interval_h=8, mark=2000.0, rate=-0.001)
    add_borrow(hub, "a", "ETH", hourly=0.0, max_borrowable=4.0)   # size needs 5 ETH
    eth = _find(scan(hub, CFG, {}, NOW_MS), "reverse_basis", "ETHUSDT")
    assert eth.borrow_available is False and not eth.ok and eth.max_borrowable == 4.0


def test_stale_book_is_not_ok() -> None:
    hub = Hub()
    add_market(hub, "a", "ETHUSDT", interval_h=8, mark=2000.0, rate=-0.001)
    add_borrow(hub, "a", "ETH", hourly=0.0)
    later = NOW_MS + CFG.book_max_age_ms + 1
    eth = _find(scan(hub, CFG, {}, later), "reverse_basis", "ETHUSDT")
    assert not eth.ok and any("ago" in r for r in eth.reasons)


def test_long_short_uses_each_venues_interval_and_keeps_the_earning_direction() -> None:
    hub = Hub()
    add_market(hub, "a", "BTCUSDT", interval_h=8, mark=50_000.0, rate=0.0001, spot=False)
    add_market(hub, "b", "BTCUSDT", interval_h=4, mark=50_050.0, rate=0.0003, spot=False)
    opps = scan(hub, CFG, {}, NOW_MS)
    ls = [o for o in opps if o.type == "long_short"]
    assert len(ls) == 1
    o = ls[0]
    assert o.venues == {"long": "a", "short": "b"}
    # short b earns 0.03 % x 6 x 365 = 65.7 %, long a pays 0.01 % x 3 x 365 = 10.95 %
    assert o.apr.funding_apr == pytest.approx(0.657 - 0.1095, abs=1e-12)
    assert o.apr.borrow_apr == 0.0
    # fees: 2 x (0.05 % + 0.05 %) perp taker round trip
    assert o.round_trip_fee == pytest.approx(0.002)
    assert o.basis_bps == pytest.approx(10.0)
    assert o.interval_h == 4 and o.long_interval_h == 8


def test_per_venue_fees_and_maker_mode() -> None:
    hub = Hub()
    add_market(hub, "a", "ETHUSDT", interval_h=8, mark=2000.0, rate=-0.0003)
    add_borrow(hub, "a", "ETH", hourly=0.0)
    cfg = ScannerConfig(fees={"a": VenueFees(spot_maker_pct=0.02, perp_maker_pct=-0.005)},
                        fee_mode="maker", holding_hours=100.0)
    eth = _find(scan(hub, cfg, {}, NOW_MS), "reverse_basis", "ETHUSDT")
    assert eth.round_trip_fee == pytest.approx(2 * (0.0002 - 0.00005))
    assert eth.apr.fee_apr == pytest.approx(2 * (0.0002 - 0.00005) * 8760 / 100)


def _ou_path(n: int, mu: float, b: float, sd: float, seed: int = 3) -> list[float]:
    rng = random.Random(seed)
    x = [mu]
    for _ in range(n - 1):
        x.append(mu + b * (x[-1] - mu) + rng.gauss(0.0, sd))
    return x


def test_zscore_and_expected_duration_from_the_fit() -> None:
    fit = ec.fit_ou(_ou_path(400, 0.0001, 0.7, 0.0001), 8.0)
    stats = {("a", "ETHUSDT"): FundingStats(venue="a", symbol="ETHUSDT", interval_h=8.0,
                                            samples=400, fit=fit, last_settled_rate=-0.0004,
                                            last_settled_ms=NOW_MS - 3_600_000)}
    hub = Hub()
    add_market(hub, "a", "ETHUSDT", interval_h=8, mark=2000.0, rate=-0.0005)
    add_borrow(hub, "a", "ETH", hourly=0.0)
    cfg = ScannerConfig(holding="expected", min_holding_hours=24, max_holding_hours=720)
    eth = _find(scan(hub, cfg, stats, NOW_MS), "reverse_basis", "ETHUSDT")
    assert eth.zscore == pytest.approx((-0.0005 - fit.mu) / fit.sigma_f)
    assert eth.zscore < -2
    # The strategy's exit (defaults: band mu - 0.5 sigma_F, flip above 0): the lower level is
    # met first on the mean path from -0.05 %.
    level = min(fit.mu - 0.5 * fit.sigma_f, 0.0)
    expected = math.log((fit.mu + 0.0005) / (fit.mu - level)) / fit.theta
    assert eth.expected_duration_h == pytest.approx(expected)
    hold = min(max(expected, 24), 720)
    assert eth.holding_hours == pytest.approx(hold)
    # Funding is what the rate is expected to pay over that hold, not today's -0.05 %.
    mean_rate = fit.mu + (-0.0005 - fit.mu) * (1 - math.exp(-fit.theta * hold)) / (fit.theta * hold)
    assert eth.model == "ou"
    assert eth.apr.funding_apr == pytest.approx(-mean_rate * 3 * 365, rel=1e-12)
    assert eth.current_funding_apr == pytest.approx(0.0005 * 3 * 365, rel=1e-12)
    assert 0 < eth.apr.funding_apr < eth.current_funding_apr
    assert eth.apr.fee_apr == pytest.approx(eth.round_trip_fee * 8760 / hold, rel=1e-12)
    assert eth.last_settled_rate == -0.0004        # from history when the mark has none
    # A fit made on an 8 h grid says nothing about a symbol now funding every 4 h.
    hub2 = Hub()
    add_market(hub2, "a", "ETHUSDT", interval_h=4, mark=2000.0, rate=-0.0005)
    add_borrow(hub2, "a", "ETH", hourly=0.0)
    eth4 = _find(scan(hub2, cfg, stats, NOW_MS), "reverse_basis", "ETHUSDT")
    assert eth4.zscore is None and eth4.holding_hours == cfg.holding_hours
    assert eth4.model == "apr_only"


def test_scanner_shell_caches_by_tick() -> None:
    hub = Hub()
    add_market(hub, "a", "ETHUSDT", interval_h=8, mark=2000.0, rate=-0.0003)
    add_borrow(hub, "a", "ETH", hourly=0.0)
    clock = [NOW_MS]
    sc = Scanner(hub, ScannerConfig(tick_s=1.0), clock_ms=lambda: clock[0])
    first = sc.opportunities()
    assert sc.latest_ms == NOW_MS and first
    add_market(hub, "a", "BTCUSDT", interval_h=8, mark=50_000.0, rate=-0.0003)
    assert sc.opportunities() is first            # within the tick: cached
    clock[0] += 1_001
    assert len(sc.opportunities()) > len(first)

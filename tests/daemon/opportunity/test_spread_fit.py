"""Long/short mean reversion is fitted on the funding spread itself: venues' funding co-moves, so
combining two separate fits as if independent overstates the spread's noise."""
from __future__ import annotations

import math
import random

import pytest

from daemon.core import economics as ec
from daemon.opportunity.funding_feed import FundingStore, fit_spread, spread_samples
from daemon.core.funding_history import normalise
from daemon.hub import Hub
from daemon.opportunity.scanner import scan
from daemon.opportunity.config import ScannerConfig
from tests.daemon.opportunity.hubkit import NOW_MS, add_market

H = 3_600_000
T0 = 1_700_006_400_000 // (8 * H) * (8 * H)


def _series(symbol: str, interval_h: int, rates: list[float], start: int = T0):
    step = interval_h * H
    return normalise(symbol, [(start + i * step, r) for i, r in enumerate(rates)], interval_h)


def test_windows_nest_the_finer_interval_and_skip_incomplete_ones() -> None:
    long = _series("BTCUSDT", 4, [0.0001] * 11)           # 5.5 windows of 8 h: the last is partial
    short = _series("BTCUSDT", 8, [0.0005] * 6)
    window_h, values = spread_samples(long, short)
    assert window_h == 8.0
    assert values == pytest.approx([0.0003] * 5)           # 0.0005 - 2 x 0.0001, complete windows only
    assert spread_samples(_series("BTCUSDT", 3, [0.0] * 8), short) is None   # 3 h does not nest in 8 h


def test_spread_fit_recovers_the_spread_process_under_a_common_factor() -> None:
    rng = random.Random(5)
    n, mu, b, sd = 3000, 0.0002, 0.8, 0.00005
    common, x = 0.0, mu
    long_rates, short_rates = [], []
    for _ in range(n):
        common += rng.gauss(0.0, 0.0003)                   # both venues drift together (no reversion)
        x = mu + b * (x - mu) + rng.gauss(0.0, sd)
        long_rates.append(common + rng.gauss(0.0, 1e-6))
        short_rates.append(common + x)
    fit = fit_spread(_series("BTCUSDT", 8, long_rates), _series("BTCUSDT", 8, short_rates), 30)
    assert fit is not None and fit.fit is not None and fit.samples == n
    theta = -math.log(b) / 8.0
    assert fit.fit.theta == pytest.approx(theta, rel=0.1)
    assert fit.fit.mu == pytest.approx(mu, rel=0.1)
    assert fit.fit.sigma_f == pytest.approx(sd / math.sqrt(1 - b * b), rel=0.1)
    # each venue alone drifts with the common factor: no usable mean reversion there
    try:
        alone = ec.fit_ou(long_rates, 8.0)
        assert alone.half_life_hours > 20 * fit.fit.half_life_hours
    except ec.NoMeanReversion:
        pass


def test_store_caches_and_forgets_spread_fits() -> None:
    store = FundingStore(min_history=3)
    for venue, rates in (("a", [0.0001, 0.0002, 0.0001, 0.0003, 0.0002]),
                         ("b", [0.0004, 0.0002, 0.0005, 0.0003, 0.0006])):
        store.set_interval((venue, "BTCUSDT"), 8.0)
        store.add_points((venue, "BTCUSDT"), [(T0 + i * 8 * H, r) for i, r in enumerate(rates)])
    fits = store.spread_fits()
    assert set(fits) == {(("a", "BTCUSDT"), ("b", "BTCUSDT")), (("b", "BTCUSDT"), ("a", "BTCUSDT"))}
    ab = fits[(("a", "BTCUSDT"), ("b", "BTCUSDT"))]
    assert ab.samples == 5
    store.add_points(("a", "BTCUSDT"), [(T0 + 5 * 8 * H, 0.0001)])
    store.add_points(("b", "BTCUSDT"), [(T0 + 5 * 8 * H, 0.0001)])
    assert store.spread_fits()[(("a", "BTCUSDT"), ("b", "BTCUSDT"))].samples == 6


def test_scanner_scores_long_short_on_the_spread_fit() -> None:
    rng = random.Random(9)
    spread = [0.0001]
    for _ in range(499):
        spread.append(0.0001 + 0.7 * (spread[-1] - 0.0001) + rng.gauss(0.0, 0.00005))
    fit = fit_spread(_series("BTCUSDT", 8, [0.0] * 500), _series("BTCUSDT", 8, spread), 30)
    assert fit is not None and fit.fit is not None
    hub = Hub()
    add_market(hub, "a", "BTCUSDT", interval_h=8, mark=50_000.0, rate=0.0001, spot=False)
    add_market(hub, "b", "BTCUSDT", interval_h=4, mark=50_000.0, rate=0.0003, spot=False)
    spreads = {(("a", "BTCUSDT"), ("b", "BTCUSDT")): fit}
    opp = [o for o in scan(hub, ScannerConfig(), {}, NOW_MS, spreads) if o.type == "long_short"][0]
    assert opp.venues == {"long": "a", "short": "b"}
    # per 8 h window now: short b pays 2 x 0.03 %, long a 0.01 % -> spread 0.05 %
    assert opp.zscore == pytest.approx((0.0005 - fit.fit.mu) / fit.fit.sigma_f)
    without = [o for o in scan(hub, ScannerConfig(), {}, NOW_MS) if o.type == "long_short"][0]
    assert without.zscore is None

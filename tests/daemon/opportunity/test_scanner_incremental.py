"""The scanner's pass is incremental (daemon/opportunity/incremental.py) and gives what the full
pass gives: fed generated sequences of hub changes, time passing and new funding fits,
`Scanner.refresh` returns exactly `scan(...)` over the same hub after every step, while
repricing only the candidates a change touched. `candidates()` is linear and keeps the order of
the pairwise comparison it replaces."""
from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.types import Borrow, Health, Instrument, InstrumentKey, Mark, book_stream
from daemon.core import economics as ec
from daemon.core.book import ASK, BID
from daemon.core.economics import TradeType
from daemon.hub import Hub
from daemon.opportunity.config import ScannerConfig, VenueFees
from daemon.opportunity.funding_feed import FundingStats
from daemon.opportunity.scanner import Scanner, candidates, scan
from tests.daemon.opportunity.hubkit import NOW_MS, add_borrow, add_market

VENUES = ("a", "b")
SYMBOLS = ("C0USDT", "C1USDT", "C2USDT")
CFG = ScannerConfig(default_fees=VenueFees(spot_taker_pct=0.1, perp_taker_pct=0.05), holding="expected",
                    quote_size_usd=10_000.0, slippage_cap_bps=20.0, book_max_age_ms=5_000,
                    cross_venue_basis=True)
BOOKS = tuple(InstrumentKey(v, m, s) for v in VENUES for m in ("spot", "perp") for s in SYMBOLS)


def fit(rate: float, interval_h: float, seed: int) -> FundingStats:
    hist, f = [], rate
    for k in range(60):
        f = 0.0001 + 0.8 * (f - 0.0001) + 0.00005 * (((k * 7919 + seed * 104729) % 200) / 100 - 1)
        hist.append(f)
    return FundingStats(venue="", symbol="", interval_h=interval_h, samples=len(hist),
                        fit=ec.fit_ou(hist, interval_h))


class Rig:
    def __init__(self) -> None:
        self.hub = Hub()
        self.now = NOW_MS
        self.stats: dict[tuple[str, str], FundingStats] = {}
        for i, sym in enumerate(SYMBOLS):
            for v in VENUES:
                add_market(self.hub, v, sym, interval_h=4.0 if i == 0 else 8.0, mark=100.0 + i,
                           rate=0.0001 * (i - 1), depth_qty=60.0, now_ms=self.now)
                add_borrow(self.hub, v, sym[:-4], 1e-5)
                self.stats[(v, sym)] = fit(0.0001 * (i - 1), 4.0 if i == 0 else 8.0, i)
        self.scanner = Scanner(self.hub, CFG, lambda: self.stats, clock_ms=lambda: self.now)

    def apply(self, ev: tuple[Any, ...]) -> None:
        hub, kind = self.hub, ev[0]
        if kind == "book":
            key = BOOKS[ev[1]]
            side = BID if ev[2] else ASK
            hub.books[key].apply_levels(side, [(ev[3] if side == BID else ev[3] + 1.0, ev[4])])
            hub.book_changed(key)
        elif kind == "touch":
            key = BOOKS[ev[1]]
            hub.touch(key.venue, book_stream(key), self.now)
        elif kind == "mark":
            hub.set_mark(Mark(venue=ev[1], symbol=SYMBOLS[ev[2]], mark_price=ev[3], index_price=100.0,
                              funding_rate=ev[4], next_funding_ms=NOW_MS + 3_600_000, interval_h=8.0,
                              ts_ms=self.now))
        elif kind == "borrow":
            hub.set_borrow(Borrow(venue=ev[1], asset=SYMBOLS[ev[2]][:-4], hourly_rate=ev[3],
                                  max_borrowable=ev[4], ts_ms=self.now))
        elif kind == "health":
            key = BOOKS[ev[1]]
            hub.set_health(key.venue, book_stream(key), Health.HEALTHY if ev[2] else Health.STALE)
        elif kind == "clock":
            self.now += ev[1]
        elif kind == "stats":
            key = (ev[1], SYMBOLS[ev[2]])
            self.stats[key] = fit(ev[3], self.stats[key].interval_h, ev[2] + 7)
        elif kind == "instrument":
            sym = f"N{ev[1]}USDT"
            add_market(self.hub, ev[2], sym, interval_h=8.0, mark=50.0, depth_qty=300.0, now_ms=self.now)


_px = st.floats(95.0, 106.0).map(lambda x: round(x, 1))
EVENT = st.one_of(
    st.tuples(st.just("book"), st.integers(0, len(BOOKS) - 1), st.booleans(), _px,
              st.sampled_from([0.0, 5.0, 60.0, 500.0])),
    st.tuples(st.just("touch"), st.integers(0, len(BOOKS) - 1)),
    st.tuples(st.just("mark"), st.sampled_from(VENUES), st.integers(0, 2), _px,
              st.sampled_from([-0.001, -0.0001, 0.0, 0.0002, 0.001])),
    st.tuples(st.just("borrow"), st.sampled_from(VENUES), st.integers(0, 2), st.sampled_from([1e-6, 5e-5]),
              st.sampled_from([None, 1.0, 1e9])),
    st.tuples(st.just("health"), st.integers(0, len(BOOKS) - 1), st.booleans()),
    st.tuples(st.just("clock"), st.sampled_from([0, 1_000, 4_000, 6_000])),
    st.tuples(st.just("stats"), st.sampled_from(VENUES), st.integers(0, 2),
              st.sampled_from([-0.0005, 0.0, 0.0004])),
    st.tuples(st.just("instrument"), st.integers(0, 2), st.sampled_from(VENUES)),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(EVENT, min_size=1, max_size=30))
def test_the_incremental_pass_ranks_what_the_full_pass_ranks(events: list[tuple[Any, ...]]) -> None:
    rig = Rig()
    assert rig.scanner.refresh() == scan(rig.hub, CFG, rig.stats, rig.now)
    for ev in events:
        rig.apply(ev)
        got = rig.scanner.refresh()
        assert got == scan(rig.hub, CFG, rig.stats, rig.now), ev
    assert rig.hub.subscriber_errors == 0, rig.hub.last_subscriber_error


def test_a_pass_reprices_only_what_changed() -> None:
    rig = Rig()
    first = rig.scanner.refresh()
    inc = rig.scanner._pass
    n = len(candidates(rig.hub, CFG))
    assert inc.repriced == n and len(first) > 0
    rig.now += 1_000
    again = rig.scanner.refresh()
    assert inc.repriced == n                     # nothing changed: nothing repriced, only stamped
    assert [o.ts_ms for o in again] == [rig.now] * len(again) and [o.ts_ms for o in first] == [NOW_MS] * len(first)
    key = InstrumentKey("a", "spot", "C1USDT")
    rig.hub.books[key].apply_levels(BID, [(100.5, 1.0)])
    rig.hub.book_changed(key)
    rig.scanner.refresh()
    # basis and reverse basis on a (same venue) and b's perp against a's spot (cross venue)
    touching = [c for c in candidates(rig.hub, CFG) if key in (c[2], c[3])]
    assert inc.repriced == n + len(touching) == n + 4
    rig.now += 5_001                              # every book's last message is now too old
    aged = rig.scanner.refresh()
    assert all(not o.ok and any("ms ago" in r for r in o.reasons) for o in aged)
    assert aged == scan(rig.hub, CFG, rig.stats, rig.now)


def _pairwise(hub: Hub, cfg: ScannerConfig) -> list[tuple[Any, ...]]:
    """candidates() as it was: every perp against every spot and every perp."""
    types = {TradeType(t) for t in cfg.types}
    perps = [i for i in hub.instruments.values() if i.market == "perp"]
    spots = [i for i in hub.instruments.values() if i.market == "spot"]
    out: list[tuple[Any, ...]] = []
    for perp in perps:
        for spot in spots:
            if (spot.base, spot.quote) != (perp.base, perp.quote):
                continue
            if spot.venue != perp.venue and not cfg.cross_venue_basis:
                continue
            for t in (TradeType.BASIS, TradeType.REVERSE_BASIS):
                if t in types:
                    out.append((t, perp.symbol, spot.key, perp.key))
    if TradeType.LONG_SHORT in types:
        for a in perps:
            for b in perps:
                if a.venue != b.venue and (a.base, a.quote) == (b.base, b.quote):
                    out.append((TradeType.LONG_SHORT, b.symbol, a.key, b.key))
    return out


INSTRUMENT = st.builds(lambda v, m, base, quote: Instrument(venue=v, market=m, symbol=base + quote, base=base,
                                                            quote=quote, tick_size=0.1, step_size=0.1),
                       st.sampled_from(["a", "b", "c"]), st.sampled_from(["spot", "perp"]),
                       st.sampled_from(["X", "Y", "Z"]), st.sampled_from(["USDT", "USDC"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(INSTRUMENT, max_size=30), st.booleans(),
       st.sets(st.sampled_from(["basis", "reverse_basis", "long_short"]), min_size=1))
def test_candidates_are_the_pairwise_ones_in_the_same_order(insts: list[Instrument], cross: bool,
                                                            types: set[str]) -> None:
    hub = Hub()
    for inst in insts:
        hub.set_instrument(inst)
    cfg = ScannerConfig(cross_venue_basis=cross, types=sorted(types))
    assert candidates(hub, cfg) == _pairwise(hub, cfg)

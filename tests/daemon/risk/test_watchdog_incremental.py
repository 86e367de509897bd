"""A book frame (daemon/risk/quiet.py) or a mark (daemon/risk/markpass.py) re-evaluates only what it
can change, and that changes no decision: fed the same generated event sequences, the watchdog and
a reference that re-evaluates every pair on the venue on every frame and mark (the behaviour
before) take the same actions, journal the same steps, hold the same assessments and answer
`allows` alike after every event."""
from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.types import Balance, Health, Instrument, InstrumentKey, MarginAccount, Mark, PerpPosition, book_stream
from daemon.core.book import ASK, BID
from daemon.core.pairs import Pair, State, make_legs
from daemon.hub import Hub
from daemon.risk.config import WatchdogConfig
from daemon.risk.watchdog import Watchdog
from tests.daemon.risk.test_watchdog import Recorder

A, B = "a", "b"
# (id, type, symbol, venues)
PAIRS = (("p0", "reverse_basis", "C0USDT", {"spot": A, "perp": A}),
         ("p1", "reverse_basis", "C1USDT", {"spot": A, "perp": A}),
         ("p2", "basis", "C2USDT", {"spot": A, "perp": A}),
         ("p3", "long_short", "C3USDT", {"long": A, "short": B}),
         ("p4", "reverse_basis", "C4USDT", {"spot": B, "perp": B}))
SYMBOLS = ("C0USDT", "C1USDT", "C2USDT", "C3USDT", "C4USDT", "EUSDT")   # E: priced by its spot book
BOOKS = tuple(InstrumentKey(v, m, s) for v in (A, B) for m in ("spot", "perp") for s in SYMBOLS)


class Side:
    """One hub, its pairs and a watchdog over them; `full`: every frame is a full pass."""

    def __init__(self, full: bool, margin_usdt: float = 3_000.0, futures_usdt: float = 1_500.0) -> None:
        self.now = 1_000.0
        hub = self.hub = Hub()
        for v in (A, B):
            for s in SYMBOLS:
                for m in ("spot", "perp"):
                    hub.set_instrument(Instrument(venue=v, market=m, symbol=s, base=s[:-4], quote="USDT",
                                                  tick_size=0.01, step_size=0.001))
                    key = InstrumentKey(v, m, s)
                    hub.book(key).load_snapshot([(99.99, 5.0), (99.5, 5.0)], [(100.01, 5.0), (100.5, 5.0)],
                                                last_update_id=1)
                    hub.set_health(v, book_stream(key), Health.HEALTHY)
            hub.set_margin_account(MarginAccount(venue=v, margin_level=5.0))
            hub.set_balance(Balance(venue=v, wallet="futures", asset="USDT", free=futures_usdt, locked=500.0))
        hub.set_balance(Balance(venue=A, wallet="margin", asset="USDT", free=margin_usdt))
        hub.set_balance(Balance(venue=A, wallet="margin", asset="C0", borrowed=10.0))
        hub.set_balance(Balance(venue=A, wallet="margin", asset="C1", borrowed=10.0, interest=0.01))
        hub.set_balance(Balance(venue=A, wallet="margin", asset="C2", free=10.0))
        hub.set_balance(Balance(venue=A, wallet="margin", asset="E", free=4.0))
        hub.set_balance(Balance(venue=B, wallet="margin", asset="USDT", free=2_000.0))
        hub.set_balance(Balance(venue=B, wallet="margin", asset="C4", borrowed=10.0))
        for v, s, q in ((A, "C0USDT", 10.0), (A, "C1USDT", 10.0), (A, "C2USDT", -10.0),
                        (A, "C3USDT", 5.0), (B, "C3USDT", -5.0), (B, "C4USDT", 10.0)):
            hub.set_position(PerpPosition(venue=v, symbol=s, qty=q, entry_price=100.0, leverage=3))
            hub.set_mark(mark(v, s, 100.0, -0.0003 if q > 0 else 0.0003))
        self.pairs = [Pair(id=pid, type=t, symbol=s, legs=make_legs(t, s, venues), target_qty=5.0 if t == "long_short" else 10.0,
                           notional_usd=1_000.0, execution="taker", state=State.OPEN)
                      for pid, t, s, venues in PAIRS]
        self.actions = Recorder()
        self.wd = Watchdog(hub, WatchdogConfig(net_apr_grace_s=60.0), lambda: self.pairs, self.actions,
                           clock=lambda: self.now, wall_ms=lambda: 0)
        if full:      # the reference: no frame and no mark is ever narrowed
            self.wd.quiet.frame = lambda *_a: None  # type: ignore[method-assign]
            self.wd.marks.frame = lambda *_a: None  # type: ignore[method-assign]
        self.wd.start()

    def apply(self, ev: tuple[Any, ...]) -> None:
        hub, kind = self.hub, ev[0]
        if kind == "top" or kind == "deep":
            key = BOOKS[ev[1]]
            px = ev[2] if kind == "top" else 90.0
            side = BID if ev[3] else ASK
            hub.books[key].apply_levels(side, [(px if side == BID else px + 0.5, ev[4])])
            hub.book_changed(key)
        elif kind == "mark":
            hub.set_mark(mark(ev[1], SYMBOLS[ev[2]], ev[3], ev[4]))
        elif kind == "balance":
            hub.set_balance(Balance(venue=ev[1], wallet="margin", asset=ev[2], free=ev[3], borrowed=ev[4]))
        elif kind == "position":
            hub.set_position(PerpPosition(venue=ev[1], symbol=SYMBOLS[ev[2]], qty=ev[3], entry_price=100.0,
                                          liquidation_price=ev[4], leverage=3))
        elif kind == "health":
            key = BOOKS[ev[1]]
            hub.set_health(key.venue, book_stream(key), Health.HEALTHY if ev[2] else Health.STALE)
        elif kind == "state":
            pair = self.pairs[ev[1]]
            pair.state = ev[2]
            hub.set_pair(pair)
        elif kind == "clock":
            self.now += ev[1]
        elif kind == "tick":
            self.wd.evaluate_all()
        elif kind == "halt":
            self.wd.halt(ev[1]) if ev[1] != "resume" else self.wd.resume()

    def picture(self) -> tuple[Any, ...]:
        status = self.wd.status()
        return (list(self.actions.calls), status["steps"], status["pairs"], status["halt"],
                [self.wd.allows("open", p.id) for p in self.pairs])


def mark(venue: str, symbol: str, price: float, funding: float) -> Mark:
    return Mark(venue=venue, symbol=symbol, mark_price=price, index_price=price, funding_rate=funding,
                next_funding_ms=0, interval_h=8.0, ts_ms=0)


_price = st.floats(60.0, 160.0).map(lambda x: round(x, 2))
EVENT = st.one_of(
    st.tuples(st.sampled_from(["top", "deep"]), st.integers(0, len(BOOKS) - 1), _price, st.booleans(),
              st.sampled_from([0.0, 1.0, 3.0])),
    st.tuples(st.just("top"), st.integers(0, len(BOOKS) - 1), _price, st.booleans(), st.just(2.0)),
    st.tuples(st.just("mark"), st.sampled_from([A, B]), st.integers(0, 4), _price,
              st.sampled_from([-0.001, -0.0003, 0.0, 0.0003, 0.001])),
    st.tuples(st.just("balance"), st.sampled_from([A, B]), st.sampled_from(["USDT", "C0", "C1", "C4", "E"]),
              st.sampled_from([0.0, 4.0, 500.0, 3_000.0]), st.sampled_from([0.0, 9.0, 10.0, 12.0])),
    st.tuples(st.just("position"), st.sampled_from([A, B]), st.integers(0, 4),
              st.sampled_from([-10.0, -5.0, 0.0, 5.0, 10.0, 11.0]), st.sampled_from([0.0, 40.0, 150.0])),
    st.tuples(st.just("health"), st.integers(0, len(BOOKS) - 1), st.booleans()),
    st.tuples(st.just("state"), st.integers(0, len(PAIRS) - 1),
              st.sampled_from([State.OPEN, State.OPEN, State.ADJUSTING, State.CLOSING, State.CLOSED])),
    st.tuples(st.just("clock"), st.sampled_from([0.5, 2.0, 31.0, 70.0])),
    st.tuples(st.just("tick")),
    st.tuples(st.just("halt"), st.sampled_from(["reduce_only", "flatten", "resume"])),
)
# Book frames dominate a real stream: most sequences are mostly frames between rarer events.
FRAMES = st.tuples(st.sampled_from(["top", "deep"]), st.integers(0, len(BOOKS) - 1), _price, st.booleans(),
                   st.sampled_from([1.0, 2.0]))


# Marks on thin accounts (see the test): each coin's moves cross the other pairs' ladder steps.
MARKS = st.tuples(st.just("mark"), st.sampled_from([A, B]), st.integers(0, 4),
                  st.sampled_from([88.0, 92.0, 96.0, 99.99, 100.0, 100.01, 104.0, 108.0, 112.0, 116.0]),
                  st.sampled_from([-0.0003, -0.0003, 0.0003]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(EVENT, FRAMES, FRAMES), min_size=1, max_size=40))
def test_frames_skipped_change_no_decision(events: list[tuple[Any, ...]]) -> None:
    _same_pictures(events)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(EVENT, MARKS, MARKS, MARKS), min_size=1, max_size=40))
def test_marks_narrowed_change_no_decision(events: list[tuple[Any, ...]]) -> None:
    # thin collateral on both wallets: a mark of one coin moves the other pairs' margin and perp
    # legs across steps (warn, collateral, deleverage) both ways
    _same_pictures(events, margin_usdt=1_300.0, futures_usdt=0.0)


def test_a_mark_re_evaluates_the_pairs_whose_steps_it_moves() -> None:
    inc, full = Side(False, 1_300.0, 0.0), Side(True, 1_300.0, 0.0)
    for side in (inc, full):
        side.apply(("mark", A, 0, 100.0, -0.0003))        # a full pass over venue a
    before = inc.wd.evaluations
    inc.apply(("mark", A, 1, 100.01, -0.0003))            # moves no pair's step, not even p1's
    full.apply(("mark", A, 1, 100.01, -0.0003))
    assert inc.wd.evaluations == before and inc.picture() == full.picture()
    inc.apply(("mark", A, 1, 100.01, -0.001))             # p1's funding moved: its net APR
    full.apply(("mark", A, 1, 100.01, -0.001))
    assert inc.wd.evaluations == before + 1 and inc.picture() == full.picture()
    before += 1
    levels = {pid: dict(s.levels) for pid, s in inc.wd.state.items()}
    inc.apply(("mark", A, 1, 116.0, -0.0003))             # C1 up: the account's excess falls
    full.apply(("mark", A, 1, 116.0, -0.0003))
    moved = {pid for pid, s in inc.wd.state.items() if s.levels != levels[pid]} - {"p1"}
    assert moved and inc.wd.evaluations <= before + 1 + 4 and inc.picture() == full.picture()


def _same_pictures(events: list[tuple[Any, ...]], **kw: float) -> None:
    inc, full = Side(full=False, **kw), Side(full=True, **kw)
    assert inc.picture() == full.picture()
    for ev in events:
        inc.apply(ev)
        full.apply(ev)
        assert inc.picture() == full.picture(), ev
    assert inc.hub.subscriber_errors == 0 and full.hub.subscriber_errors == 0, inc.hub.last_subscriber_error


def test_a_frame_that_prices_nothing_costs_no_evaluation_and_one_that_does_re_evaluates() -> None:
    side = Side(full=False)
    wd, hub = side.wd, side.hub
    hub.set_mark(mark(A, "C0USDT", 100.0, -0.0003))     # a full pass over venue a
    before = wd.evaluations
    perp = InstrumentKey(A, "perp", "C0USDT")
    for qty in (1.0, 2.0, 3.0):
        hub.books[perp].apply_levels(BID, [(99.99, qty)])
        hub.book_changed(perp)
    assert wd.evaluations == before and wd.status()["book_frames_skipped"] == 3
    # the spot book pricing coin E (no mark): a frame that moves its mid re-evaluates venue a ...
    e_book = InstrumentKey(A, "spot", "EUSDT")
    hub.books[e_book].apply_levels(ASK, [(100.01, 0.0)])       # best ask -> 100.5: the mid moves
    hub.book_changed(e_book)
    assert wd.evaluations == before + 4                        # p0, p1, p2, p3 have a leg on a
    # ... and one that leaves its mid alone does not
    hub.books[e_book].apply_levels(BID, [(99.5, 7.0)])
    hub.book_changed(e_book)
    assert wd.evaluations == before + 4
    # a pair changing state: the next frame is a full pass again
    side.pairs[1].state = State.CLOSING
    hub.set_pair(side.pairs[1])
    hub.book_changed(perp)
    assert wd.evaluations == before + 8
    # p1 is closing (loud): every frame re-evaluates it, and only it
    hub.book_changed(perp)
    assert wd.evaluations == before + 9
    assert side.actions.calls == [] and hub.subscriber_errors == 0


def test_an_action_sent_on_a_frame_has_the_pairs_after_it_read_afresh() -> None:
    # p1's perp reads the venue's liquidation price (75: 25 % away, the warn step); p0 is closed on
    # a frame for its net APR, and the close makes the venue's figures for the wallet's positions
    # stale (they describe the account before it): p1, quiet until then, is judged on its own
    # formula in that same frame, as a full pass would judge it.
    sides = [Side(full=False), Side(full=True)]
    for side in sides:
        hub = side.hub
        hub.set_position(PerpPosition(venue=A, symbol="C1USDT", qty=10.0, entry_price=100.0,
                                      liquidation_price=75.0, leverage=3))
        hub.set_mark(mark(A, "C0USDT", 100.0, 0.001))      # p0's perp long now pays: APR below floor
        side.now += 61.0
        frame = InstrumentKey(A, "perp", "C2USDT")
        hub.book_changed(frame)
    inc, full = sides
    assert inc.actions.calls == full.actions.calls == [("close", "p0")]
    assert inc.picture() == full.picture()
    assert [(s["pair_id"], s["detail"]) for s in inc.wd.status()["steps"] if s["step"] == "level"
            and s["pair_id"] == "p1"][-1][1] == {"leg": "perp:a", "from": "warn", "to": "ok"}

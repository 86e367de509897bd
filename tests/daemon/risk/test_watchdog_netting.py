"""The watchdog over netted venue state on a hand-built hub: pairs own shares of one venue
position and one coin liability; the venue position is judged as the venue judges it, the pairs
on its side are trimmed by one fraction, the others are left alone; every action has a reason;
the same decision is not journaled twice."""
from __future__ import annotations

from typing import Any

from connectors.types import Balance, PerpPosition
from daemon.core.pairs import Pair, State, make_legs, open_targets
from daemon.risk.config import WatchdogConfig
from daemon.risk.interfaces import call_action
from daemon.risk.watchdog import Watchdog

from tests.daemon.risk.test_watchdog import SYM, V, Clock, Recorder, mark, setup

W = "w"          # the other venue of the long/short


def _pair(pid: str, pair_type: str, qty: float, venues: dict[str, str]) -> Pair:
    p = Pair(id=pid, type=pair_type, symbol=SYM, legs=make_legs(pair_type, SYM, venues),  # type: ignore[arg-type]
             target_qty=qty, notional_usd=qty * 50_000, execution="taker", state=State.OPEN)
    p.targets = open_targets(p, qty)
    return p


def netted(position: float, wallet: float = 100_000 / 3, books: dict[str, tuple[float, float]] | None = None,
           **kw: Any) -> tuple[Any, Watchdog, Recorder, Clock, list[Pair]]:
    """rb1 (1.2) and rb2 (0.8) short spot / long perp on V, ls long W / short V (0.5): V's one
    position is +1.5, its one BTC liability 2.0."""
    hub, wd, rec, _p, clock = setup()
    wd.stop()
    hub.set_position(PerpPosition(venue=V, symbol=SYM, qty=position, entry_price=50_000, leverage=3, **kw))
    hub.set_balance(Balance(venue=V, wallet="futures", asset="USDT", locked=wallet))
    pairs = [_pair("rb1", "reverse_basis", 1.2, {"spot": V, "perp": V}),
             _pair("rb2", "reverse_basis", 0.8, {"spot": V, "perp": V}),
             _pair("ls", "long_short", 0.5, {"long": W, "short": V})]
    rows: list[dict[str, Any]] = []
    wd = Watchdog(hub, WatchdogConfig(), lambda: pairs, rec, clock=clock, journal=rows.append,
                  wall_ms=lambda: 10 * 86_400_000 + int(clock.t * 1000),
                  exposures=lambda p: (books if books is not None else {}).get(p.id, p.targets))
    wd.set_brackets(V, SYM, [{"bracket": 1, "initialLeverage": 125, "notionalCap": 1e9,
                              "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0}])
    wd.start()
    wd.rows = rows  # type: ignore[attr-defined]
    return hub, wd, rec, clock, pairs


def test_pairs_sharing_one_position_and_one_liability_are_left_alone() -> None:
    hub, wd, rec, _clock, _pairs = netted(1.5)
    hub.set_mark(mark(50_000))
    hub.set_mark(mark(50_500))
    assert rec.calls == []
    st = wd.status()["pairs"]
    assert [st[p]["hedge_gap"] for p in ("rb1", "rb2")] == [0.0, 0.0]
    shares = {p: next(g["share"] for g in st[p]["legs"] if g["leg"] == "perp" and g["venue"] == V)
              for p in ("rb1", "rb2", "ls")}
    assert shares == {"rb1": 1.2, "rb2": 0.8, "ls": -0.5}
    assert sum(shares.values()) == hub.positions[(V, SYM)].qty


def test_a_venue_liquidation_price_on_the_wrong_side_is_not_a_distance() -> None:
    # REST still says the liquidation price of a short the netted position once was
    hub, wd, rec, _clock, _pairs = netted(1.5, liquidation_price=90_000_000.0)
    hub.set_mark(mark(50_000))
    assert "unwind" not in rec.kinds()
    for pid in ("rb1", "rb2", "ls"):
        for g in wd.status()["pairs"][pid]["legs"]:
            assert g["distance"] == "inf" or g["distance"] > 0, (pid, g)


def test_a_weak_venue_position_trims_the_pairs_on_its_side_by_one_fraction() -> None:
    # a thin futures wallet: the +1.5 net long is near liquidation on a fall
    hub, wd, rec, _clock, _pairs = netted(1.5, wallet=9_000)
    hub.set_mark(mark(48_000))
    trims = {c[1]: c[2] for c in rec.calls if c[0] == "deleverage"}
    assert set(trims) == {"rb1", "rb2"}, rec.calls          # the short of ls would grow the long
    assert trims["rb1"] == trims["rb2"] > 0
    reasons = [r["detail"].get("reason") for r in wd.rows if r["step"] in ("deleverage", "unwind", "transfer")]  # type: ignore[attr-defined]
    assert reasons and all(reasons)
    assert all("venue net 1.5" in r for r in reasons if "perp leg" in r)


def test_the_same_decision_is_journaled_once_until_something_changes() -> None:
    # interest the pairs' books have booked (1.23 + 0.82 owed) and the perps do not cover yet
    books = {"rb1": (-1.23, 1.2), "rb2": (-0.82, 0.8)}
    hub, wd, rec, clock, _pairs = netted(1.5, books=books)
    hub.set_balance(Balance(venue=V, wallet="margin", asset="BTC", borrowed=2.0, interest=0.05))
    assert ("rehedge", "rb1") in [(c[0], c[1]) for c in rec.calls]
    rows = wd.rows  # type: ignore[attr-defined]
    n = len([r for r in rows if r["step"] == "rehedge"])
    for _ in range(5):
        clock.t += 2.0                       # past settle_s: decided again, identically
        hub.set_mark(mark(50_000))
    assert len([c for c in rec.calls if c[0] == "rehedge"]) > n
    assert len([r for r in rows if r["step"] == "rehedge"]) == n
    assert all(r["detail"]["reason"] for r in rows if r["step"] == "rehedge")
    assert wd.status()["pairs"]["rb1"]["repeats_not_journaled"] >= 1
    clock.t += 2.0
    books.update(rb1=(-1.25, 1.2), rb2=(-0.84, 0.8))       # another hour of interest booked
    hub.set_balance(Balance(venue=V, wallet="margin", asset="BTC", borrowed=2.0, interest=0.09))
    assert len([r for r in rows if r["step"] == "rehedge"]) > n     # a new figure is news


def test_the_watchdogs_reason_reaches_the_engines_operation() -> None:
    from daemon.risk.actions import EngineRiskActions
    from daemon.risk.ladder import Unwind

    class Engine:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str, str]] = []

        def liquidate_now(self, pid: str, reason: str = "") -> None:
            self.calls.append(("liquidate", pid, reason))

        def decrease_now(self, pid: str, fraction: float, reason: str = "") -> None:
            self.calls.append(("decrease", pid, reason))

    hub, _wd, _rec, clock, pairs = netted(1.5)
    engine = Engine()
    wd = Watchdog(hub, WatchdogConfig(), lambda: pairs, EngineRiskActions(engine, {}), clock=clock)
    call_action(wd.actions, Unwind(pair_id="rb1", reason="perp leg on v 4.00% from liquidation: at the unwind step"))
    assert engine.calls == [("liquidate", "rb1", "perp leg on v 4.00% from liquidation: at the unwind step")]
    EngineRiskActions(engine, {}).deleverage("rb2", 0.2)      # no reason noted: still one
    assert engine.calls[-1] == ("decrease", "rb2", "watchdog: deleverage")

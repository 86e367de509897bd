"""Issue 11, strategy rules in the pure `decide`: never a pair that offsets an open one, never a
long/short with both legs on one venue account."""
from __future__ import annotations

from daemon.opportunity.strategy import OpenIntent, StrategyState, decide
from daemon.opportunity.config import StrategyConfig

from tests.daemon.opportunity.test_strategy import NOW, held, opp

CFG = StrategyConfig(enabled=True, entry_confirm=1, max_open_pairs=10)


def _decide(opps, pairs):  # type: ignore[no-untyped-def]
    return decide(CFG, opps, pairs, StrategyState(), now_ms=NOW)


def test_the_opposite_long_short_of_an_open_one_is_not_opened() -> None:
    first = opp(type_="long_short", symbol="BTCUSDT", venues={"long": "sim-b", "short": "sim-a"})
    opposite = opp(type_="long_short", symbol="BTCUSDT", venues={"long": "sim-a", "short": "sim-b"})
    d = _decide([first, opposite], [])
    # in one decision: the first opens, the second offsets the one just decided
    assert [i.venues for i in d.intents if isinstance(i, OpenIntent)] == [{"long": "sim-b", "short": "sim-a"}]
    d = _decide([opposite], [held(first, "ls1")])
    assert d.intents == []
    why = " ".join(d.blocked.values())
    assert "offset open pair ls1" in why and "net to zero" in why


def test_a_basis_against_an_open_reverse_basis_on_the_same_venue_is_not_opened() -> None:
    rb = opp(type_="reverse_basis", symbol="BTCUSDT", venues={"spot": "a", "perp": "a"})
    basis = opp(0.0005, type_="basis", symbol="BTCUSDT", venues={"spot": "a", "perp": "a"})
    assert any(isinstance(i, OpenIntent) for i in _decide([basis], []).intents)   # alone it opens
    d = _decide([basis], [held(rb, "rb1")])
    assert not any(isinstance(i, OpenIntent) for i in d.intents)
    assert any("offset open pair rb1" in v for v in d.blocked.values())


def test_pairs_that_do_not_offset_still_open() -> None:
    first = opp(type_="long_short", symbol="BTCUSDT", venues={"long": "sim-b", "short": "sim-a"})
    other_symbol = opp(type_="long_short", symbol="ETHUSDT", venues={"long": "sim-a", "short": "sim-b"})
    other_venue = opp(type_="long_short", symbol="BTCUSDT", venues={"long": "sim-a", "short": "sim-c"})
    d = decide(StrategyConfig(enabled=True, entry_confirm=1, max_opens_per_decision=5), [other_symbol, other_venue],
               [held(first, "ls1")], StrategyState(), now_ms=NOW)
    assert sorted(i.symbol for i in d.intents if isinstance(i, OpenIntent)) == ["BTCUSDT", "ETHUSDT"]


def test_a_closed_pair_does_not_block_its_opposite() -> None:
    first = opp(type_="long_short", symbol="BTCUSDT", venues={"long": "sim-b", "short": "sim-a"})
    opposite = opp(type_="long_short", symbol="BTCUSDT", venues={"long": "sim-a", "short": "sim-b"})
    gone = held(first, "ls1")
    gone = type(gone)(**{**{f: getattr(gone, f) for f in gone.__struct_fields__}, "state": "closed"})
    d = _decide([opposite], [gone])
    assert len([i for i in d.intents if isinstance(i, OpenIntent)]) == 1


def test_a_long_short_on_one_venue_account_is_never_opened() -> None:
    same = opp(type_="long_short", symbol="BTCUSDT", venues={"long": "sim-a", "short": "sim-a"})
    d = _decide([same], [])
    assert d.intents == []
    assert any("venues.short" in v and "two venue accounts" in v for v in d.blocked.values())

from __future__ import annotations

import orjson

from connectors.types import Balance, Health, Instrument, InstrumentKey, Mark, book_stream
from daemon.hub import BOOK, HEALTH, MARK, Hub


def _hub_with_book() -> tuple[Hub, InstrumentKey]:
    hub = Hub()
    inst = Instrument(venue="v", market="perp", symbol="BTCUSDT", base="BTC", quote="USDT",
                      tick_size=0.1, step_size=0.001, funding_interval_h=4.0)
    hub.set_instrument(inst)
    return hub, inst.key


def test_subscribers_run_synchronously_in_priority_order() -> None:
    hub, key = _hub_with_book()
    calls: list[tuple[str, str]] = []
    hub.subscribe(lambda kind, item: calls.append(("scanner", kind)), priority=50)
    hub.subscribe(lambda kind, item: calls.append(("watchdog", kind)), priority=10)
    unsubscribe = hub.subscribe(lambda kind, item: calls.append(("legging", kind)), priority=20)
    hub.book(key).load_snapshot([("100.0", "1")], [("100.1", "2")])
    hub.book_changed(key)
    # delivered before book_changed returned: no queue hop
    assert calls == [("watchdog", BOOK), ("legging", BOOK), ("scanner", BOOK)]
    unsubscribe()
    calls.clear()
    hub.set_mark(Mark(venue="v", symbol="BTCUSDT", mark_price=100.0, index_price=100.05,
                      funding_rate=-0.0003, next_funding_ms=1, interval_h=4.0, ts_ms=1))
    assert calls == [("watchdog", MARK), ("scanner", MARK)]


def test_a_failing_subscriber_is_counted_and_does_not_stop_the_others() -> None:
    hub, key = _hub_with_book()
    seen: list[str] = []

    def broken(kind: str, item: object) -> None:
        raise ZeroDivisionError("bug")

    hub.subscribe(broken, priority=1)
    hub.subscribe(lambda kind, item: seen.append(kind), priority=2)
    hub.book_changed(key)
    assert seen == [BOOK]
    assert hub.subscriber_errors == 1 and "ZeroDivisionError" in hub.last_subscriber_error


def test_book_ready_fails_closed() -> None:
    hub, key = _hub_with_book()
    ok, why = hub.book_ready(key)
    assert not ok and "down" in why
    hub.set_health("v", book_stream(key), Health.HEALTHY)
    ok, why = hub.book_ready(key)
    assert not ok and "empty" in why
    book = hub.book(key)
    book.load_snapshot([("100.0", "1")], [("100.1", "2")])
    hub.touch("v", book_stream(key), 1_000)
    assert hub.book_ready(key, max_age_ms=500, now_ms=1_200) == (True, "")
    ok, why = hub.book_ready(key, max_age_ms=500, now_ms=2_000)
    assert not ok and "1000 ms ago" in why
    book.set_level(0, "100.2", 1)      # bid above ask
    ok, why = hub.book_ready(key)
    assert not ok and "crossed" in why
    book.set_level(0, "100.2", 0)
    hub.set_health("v", book_stream(key), Health.RESYNCING, "gap")
    ok, why = hub.book_ready(key)
    assert not ok and "resyncing" in why


def test_health_transitions_are_published_once() -> None:
    hub, key = _hub_with_book()
    events: list[object] = []
    hub.subscribe(lambda kind, item: events.append(item) if kind == HEALTH else None)
    hub.set_health("v", "perp:mark", Health.HEALTHY)
    hub.set_health("v", "perp:mark", Health.HEALTHY)
    hub.set_health("v", "perp:mark", Health.STALE, "no frame for 10 s")
    assert len(events) == 2
    assert hub.health("v", "perp:mark") is Health.STALE
    assert hub.health("v", "nothing") is Health.DOWN


def test_snapshot_is_json_ready_and_consistent() -> None:
    hub, key = _hub_with_book()
    hub.book(key).load_snapshot([("100.0", "1"), ("99.9", "3")], [("100.1", "2")])
    hub.set_health("v", book_stream(key), Health.HEALTHY)
    snap = hub.snapshot()
    data = orjson.loads(orjson.dumps(snap))
    book = data["books"]["v:perp:BTCUSDT"]
    assert book["bid"] == [100.0, 1.0] and book["ask"] == [100.1, 2.0] and not book["crossed"]
    assert data["instruments"][0]["funding_interval_h"] == 4.0
    assert data["streams"]["v"]["perp:BTCUSDT:book"]["health"] == "healthy"


def test_pairs_are_published_on_every_state_change() -> None:
    from daemon.core.pairs import Event, Pair, make_legs
    from daemon.hub import PAIR

    hub = Hub()
    seen: list[str] = []
    hub.subscribe(lambda kind, item: seen.append(item.state.value) if kind == PAIR else None)
    pair = Pair(id="p1", type="reverse_basis", symbol="BTCUSDT",
                legs=make_legs("reverse_basis", "BTCUSDT", {"spot": "v", "perp": "v"}),
                target_qty=0.1, notional_usd=6000.0, execution="taker")
    hub.set_pair(pair)
    pair.apply(Event.HEDGED, 1)
    hub.set_pair(pair)
    assert seen == ["opening", "open"]
    assert hub.snapshot()["pairs"]["p1"]["state"] == "open"


def test_balances_from_one_message_are_all_stored_before_any_is_published() -> None:
    """A sale's coin leaving and its USDT arriving are one venue message: no subscriber may read
    the account between the two."""
    hub = Hub()
    seen: list[tuple[float, float]] = []

    def reader(kind: str, item: object) -> None:
        if kind == "balance":
            btc = hub.balances[("v", "margin", "BTC")]
            usdt = hub.balances.get(("v", "margin", "USDT"))
            seen.append((btc.free, usdt.free if usdt else 0.0))
    hub.subscribe(reader)
    hub.set_balances([Balance(venue="v", wallet="margin", asset="BTC", free=0.0, borrowed=1.0),
                      Balance(venue="v", wallet="margin", asset="USDT", free=50_000.0)])
    assert seen == [(0.0, 50_000.0), (0.0, 50_000.0)]

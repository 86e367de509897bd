"""The watchdog shell on a real hub: same-call reaction, ordering, suppression, halts, journal, API."""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest

from daemon.ops.admin import AdminServer
from daemon.core.halt import HaltMode
from connectors.types import Balance, Health, Instrument, MarginAccount, Mark, PerpPosition
from daemon.hub import Hub
from daemon.core.pairs import Pair, State, make_legs
from daemon.risk.api import risk_routes
from daemon.risk.watchdog import PRIORITY, Watchdog
from daemon.risk.config import WatchdogConfig

V, SYM = "v", "BTCUSDT"


class Recorder:
    """RiskActions that record every call; optionally return a future the test resolves."""

    def __init__(self, pending: bool = False) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.pending = pending
        self.futures: list[asyncio.Future[Any]] = []

    def _ret(self) -> asyncio.Future[Any] | None:
        if not self.pending:
            return None
        fut = asyncio.get_running_loop().create_future()
        self.futures.append(fut)
        return fut

    def transfer(self, venue: str, direction: str, asset: str, amount: float) -> Any:
        self.calls.append(("transfer", venue, direction, asset, amount))
        return self._ret()

    def deleverage(self, pair_id: str, fraction: float) -> Any:
        self.calls.append(("deleverage", pair_id, fraction))
        return self._ret()

    def unwind(self, pair_id: str) -> Any:
        self.calls.append(("unwind", pair_id))
        return self._ret()

    def close(self, pair_id: str) -> Any:
        self.calls.append(("close", pair_id))
        return self._ret()

    def rehedge(self, pair_id: str, qty: float, reduce_only: bool) -> Any:
        self.calls.append(("rehedge", pair_id, qty, reduce_only))
        return self._ret()

    def kinds(self) -> list[str]:
        return [c[0] for c in self.calls]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def mark(price: float, rate: float = -0.0003) -> Mark:
    return Mark(venue=V, symbol=SYM, mark_price=price, index_price=price, funding_rate=rate,
                next_funding_ms=0, interval_h=8.0, ts_ms=0)


def setup(futures_free: float = 0.0, collateral: float = 50_000, cfg: WatchdogConfig | None = None,
          pending: bool = False) -> tuple[Hub, Watchdog, Recorder, Pair, Clock]:
    """An open 3x reverse basis: 2 BTC borrowed and sold at 50000 on 50000 USDT collateral (ML 1.5),
    2 BTC perp long on a 33333 USDT wallet plus `futures_free` spare."""
    hub = Hub()
    hub.set_instrument(Instrument(venue=V, market="spot", symbol=SYM, base="BTC", quote="USDT",
                                  tick_size=0.01, step_size=0.00001))
    hub.set_instrument(Instrument(venue=V, market="perp", symbol=SYM, base="BTC", quote="USDT",
                                  tick_size=0.1, step_size=0.001))
    hub.set_margin_account(MarginAccount(venue=V, margin_level=1.5))
    hub.set_balance(Balance(venue=V, wallet="margin", asset="USDT", free=collateral + 100_000))
    hub.set_balance(Balance(venue=V, wallet="margin", asset="BTC", borrowed=2.0))
    hub.set_balance(Balance(venue=V, wallet="futures", asset="USDT", free=futures_free,
                            locked=100_000 / 3))
    hub.set_position(PerpPosition(venue=V, symbol=SYM, qty=2.0, entry_price=50_000, leverage=3))
    hub.set_mark(mark(50_000))
    pair = Pair(id="p1", type="reverse_basis", symbol=SYM, legs=make_legs("reverse_basis", SYM,
                {"spot": V, "perp": V}), target_qty=2.0, notional_usd=100_000, execution="taker",
                state=State.OPEN)
    rec = Recorder(pending)
    clock = Clock()
    wd = Watchdog(hub, cfg or WatchdogConfig(), lambda: [pair], rec, clock=clock,
                  wall_ms=lambda: 10 * 86_400_000 + int(clock.t * 1000))
    wd.set_brackets(V, SYM, [{"bracket": 1, "initialLeverage": 125, "notionalCap": 50_000,
                              "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0},
                             {"bracket": 2, "initialLeverage": 100, "notionalCap": 600_000,
                              "notionalFloor": 50_000, "maintMarginRatio": 0.005, "cum": 50}])
    wd.start()
    return hub, wd, rec, pair, clock


async def test_the_protective_request_leaves_in_the_same_call_as_the_crossing_mark() -> None:
    hub, wd, rec, _pair, _clock = setup(futures_free=40_000)
    loop = asyncio.get_running_loop()
    passes = 0

    def tick() -> None:
        nonlocal passes
        passes += 1
    later: list[str] = []
    hub.subscribe(lambda kind, _item: later.append(rec.kinds()[-1] if rec.calls else "-"), 20)
    assert rec.calls == []
    loop.call_soon(tick)
    hub.set_mark(mark(50_000 * 1.13))          # crosses the collateral step of the margin leg
    # the transfer was written inside set_mark: before any other loop callback ran, and before
    # the priority-20 subscriber (the legging engine's slot) saw the frame
    assert passes == 0
    assert rec.kinds() == ["transfer"]
    assert rec.calls[0][1:4] == (V, "futures_to_margin", "USDT")
    assert later == ["transfer"]
    assert wd.reaction.count == 1 and 0 < wd.reaction.sum < 1.0
    await asyncio.sleep(0)
    assert passes == 1


def test_watchdog_subscribes_first() -> None:
    hub = Hub()
    seen: list[str] = []
    hub.subscribe(lambda k, i: seen.append("legging"), 20)
    wd = Watchdog(hub, WatchdogConfig(), lambda: [], Recorder())
    wd.start()
    hub.subscribe(lambda k, i: seen.append("scanner"), 50)
    assert hub._subscribers[0][0] == PRIORITY == 10
    assert hub._subscribers[0][1] == wd.on_event
    wd.stop()
    assert all(cb != wd.on_event for _p, cb in hub._subscribers)


def test_disabled_watchdog_does_not_subscribe() -> None:
    hub = Hub()
    wd = Watchdog(hub, WatchdogConfig(enabled=False), lambda: [], Recorder())
    wd.start()
    assert hub._subscribers == []


def test_calm_market_sends_nothing() -> None:
    hub, wd, rec, _pair, _clock = setup()
    for p in (49_000, 51_000, 52_500, 47_000):
        hub.set_mark(mark(p))
    assert rec.calls == []
    # every mark was judged: by an evaluation, or narrowed to none (no step moved: markpass.py)
    assert wd.evaluations >= 1 and wd.evaluations + wd.marks.frames_narrowed >= 4
    legs = wd.status()["pairs"]["p1"]["legs"]
    assert [g["leg"] for g in legs] == ["margin", "perp"]


def test_collateral_moves_before_trims_on_a_pump() -> None:
    hub, wd, rec, _pair, clock = setup(futures_free=15_000)
    price = 50_000.0
    for _ in range(40):                   # +1 % per frame; the test plays the venue's replies
        price *= 1.01
        hub.set_mark(mark(price))
        clock.t += 2.0                    # past settle_s: the next frame may act again
        for call in list(rec.calls):
            if call[0] == "transfer" and call not in applied:
                applied.append(call)
                usdt = hub.balances[(V, "margin", "USDT")]
                fut = hub.balances[(V, "futures", "USDT")]
                hub.set_balance(Balance(venue=V, wallet="futures", asset="USDT",
                                        free=max(fut.free - call[4], 0.0), locked=fut.locked))
                hub.set_balance(Balance(venue=V, wallet="margin", asset="USDT", free=usdt.free + call[4]))
        if "deleverage" in rec.kinds() or "unwind" in rec.kinds():
            break
    kinds = rec.kinds()
    assert "transfer" in kinds and "deleverage" in kinds
    assert kinds.index("transfer") < kinds.index("deleverage")
    assert "unwind" not in kinds
    steps = [s["step"] for s in wd.steps]
    assert "transfer" in steps and "deleverage" in steps and "level" in steps


applied: list[tuple[Any, ...]] = []


async def test_in_flight_actions_are_not_repeated_until_the_venue_answers() -> None:
    hub, wd, rec, _pair, clock = setup(pending=True)
    hub.set_mark(mark(50_000 * 1.20))                       # deleverage step, nothing free
    assert rec.kinds() == ["deleverage"]
    for _ in range(5):
        hub.set_mark(mark(50_000 * 1.205))
        clock.t += 5
    assert rec.kinds() == ["deleverage"]                     # still in flight
    rec.futures[0].set_result(None)
    await asyncio.sleep(0)
    hub.set_mark(mark(50_000 * 1.205))
    assert rec.kinds() == ["deleverage"]                     # answered, waiting for the account
    # the trim's buy-back repaid part of the loan (a liability that did not fall would keep
    # the margin account settling until settle_s: test_watchdog_settle.py)
    hub.set_balance(Balance(venue=V, wallet="margin", asset="BTC", borrowed=1.99))
    assert rec.kinds() == ["deleverage"]                     # half the picture: still waiting
    hub.set_position(PerpPosition(venue=V, symbol=SYM, qty=2.0, entry_price=50_000, leverage=3))
    assert rec.kinds() == ["deleverage", "deleverage"]       # both legs' updates are in
    assert wd.status()["pairs"]["p1"]["in_flight"] == ["deleverage"]


def test_unwind_at_the_last_step() -> None:
    hub, wd, rec, _pair, _clock = setup()
    hub.set_mark(mark(50_000 * 1.33))
    assert rec.kinds() == ["unwind"]
    hub.set_mark(mark(50_000 * 1.34))
    assert rec.kinds() == ["unwind"]
    assert wd.status()["pairs"]["p1"]["unwound"] is True


def test_crash_moves_collateral_to_the_futures_wallet() -> None:
    hub, _wd, rec, _pair, _clock = setup(collateral=150_000)
    hub.set_mark(mark(50_000 * 0.82))
    assert rec.calls and rec.calls[0][:3] == ("transfer", V, "margin_to_futures")


def test_stale_leg_takes_no_new_risk_and_is_reduced_after_the_timeout() -> None:
    hub, wd, rec, _pair, clock = setup()
    hub.set_health(V, "perp:BTCUSDT:book", Health.HEALTHY)
    assert wd.allows("open", "p1")
    hub.set_health(V, "perp:BTCUSDT:book", Health.STALE, "silent")
    assert not wd.allows("increase", "p1") and not wd.allows("open", "p1")
    assert wd.allows("decrease", "p1")
    assert rec.calls == []
    clock.t += WatchdogConfig().stale_timeout_s + 1
    wd.evaluate_all()                                        # the slow tick: no frame arrives
    assert rec.kinds() == ["deleverage"] and rec.calls[0][2] == WatchdogConfig().stale_reduce_fraction
    hub.set_health(V, "perp:BTCUSDT:book", Health.HEALTHY)
    assert wd.allows("open", "p1")


def test_net_apr_floor_closes_after_the_grace() -> None:
    hub, _wd, rec, _pair, clock = setup()
    hub.set_mark(mark(50_000, rate=0.0005))                  # funding flipped: reverse basis pays
    assert rec.calls == []
    clock.t += WatchdogConfig().net_apr_grace_s + 1
    hub.set_mark(mark(50_000, rate=0.0005))
    assert rec.kinds() == ["close"]


def test_interest_growth_rehedges() -> None:
    hub, _wd, rec, _pair, _clock = setup()
    hub.set_balance(Balance(venue=V, wallet="margin", asset="BTC", borrowed=2.0, interest=0.01))
    assert rec.calls == [("rehedge", "p1", pytest.approx(0.01), False)]


def test_halt_modes() -> None:
    hub, wd, rec, _pair, _clock = setup()
    wd.halt("no_new")
    assert not wd.allows("open") and wd.allows("rehedge_up") and wd.allows("decrease")
    wd.halt(HaltMode.REDUCE_ONLY)
    assert not wd.allows("rehedge_up")
    hub.set_balance(Balance(venue=V, wallet="margin", asset="BTC", borrowed=2.0, interest=0.01))
    assert rec.calls[-1] == ("rehedge", "p1", pytest.approx(0.01), True)
    wd.halt("flatten")
    assert rec.kinds()[-1] == "unwind"
    n = len(rec.calls)
    hub.set_mark(mark(50_100))
    assert len(rec.calls) == n                               # not repeated
    wd.resume()
    assert wd.allows("open")
    assert [s["step"] for s in wd.steps if s["step"] in ("halt", "resume")] == ["halt"] * 3 + ["resume"]


def test_daily_loss_limit_halts_automatically() -> None:
    cfg = WatchdogConfig(daily_loss_limit=1_000.0)
    hub, wd, _rec, _pair, _clock = setup(cfg=cfg)
    assert wd.halt_state.mode is HaltMode.NONE
    hub.set_balance(Balance(venue=V, wallet="futures", asset="USDT", locked=100_000 / 3 - 1_500))
    assert wd.halt_state.mode is HaltMode.REDUCE_ONLY and wd.halt_state.automatic
    assert not wd.allows("open")
    wd.resume()
    hub.set_mark(mark(50_000))
    assert wd.halt_state.mode is HaltMode.NONE               # lifted for the rest of the day


def test_status_is_json_ready() -> None:
    hub, wd, _rec, _pair, _clock = setup(futures_free=40_000)
    hub.set_mark(mark(50_000 * 1.13))
    doc = orjson.loads(orjson.dumps(wd.status()))
    assert doc["pairs"]["p1"]["legs"][0]["level"] == "collateral"
    assert doc["reaction_s"]["count"] == 1
    assert any(s["step"] == "transfer" for s in doc["steps"])
    assert "basisd_watchdog_reaction_seconds_bucket" in "\n".join(wd.reaction.render())


def test_a_failing_action_is_counted_and_journaled() -> None:
    hub, wd, rec, _pair, _clock = setup()

    def boom(pair_id: str, fraction: float) -> None:
        raise RuntimeError("venue down")
    rec.deleverage = boom  # type: ignore[method-assign]
    hub.set_mark(mark(50_000 * 1.20))
    assert wd.action_errors == 1 and "venue down" in wd.last_error
    assert wd.steps[-1]["step"] == "deleverage_failed"
    assert hub.subscriber_errors == 0


# -- admin API --------------------------------------------------------------------------------------

class _Log:
    def error(self, *a: Any, **k: Any) -> None:
        pass

    info = warning = error


async def test_halt_modes_through_the_admin_api(tmp_path: Any) -> None:
    hub, wd, rec, _pair, _clock = setup()
    sock = str(tmp_path / "a.sock")
    server = AdminServer(sock, group=None, max_body=65536, status=wd.status, log=_Log())
    server.add_routes(risk_routes(wd))
    await server.start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=sock)) as s:
            async def post(path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
                async with s.post(f"http://basisd{path}", data=None if body is None else orjson.dumps(body)) as r:
                    return r.status, await r.json()

            st, doc = await post("/v1/halt", {"mode": "no_new"})
            assert st == 200 and doc["halt"]["mode"] == "no_new"
            assert not wd.allows("open") and wd.allows("increase") is False and wd.allows("rehedge_up")
            st, doc = await post("/v1/halt", {"mode": "reduce_only", "reason": "maintenance"})
            assert st == 200 and doc["halt"]["reason"] == "maintenance"
            assert not wd.allows("rehedge_up")
            st, doc = await post("/v1/halt", {"mode": "flatten"})
            assert st == 400 and doc["field"] == "confirm" and "unwind" not in rec.kinds()
            st, doc = await post("/v1/halt", {"mode": "flatten", "confirm": True})
            assert st == 200 and rec.kinds() == ["unwind"]
            for bad, field in (({"mode": "stop"}, "mode"), ({}, "mode"), ({"mode": 3}, "mode"),
                               ({"mode": "none"}, "mode"), ({"mode": "no_new", "x": 1}, "x"),
                               ({"mode": "no_new", "reason": 5}, "reason")):
                st, doc = await post("/v1/halt", bad)
                assert st == 400 and doc["field"] == field, bad
            async with s.post("http://basisd/v1/halt", data=b"{nope") as r:
                assert r.status == 400
            st, doc = await post("/v1/resume")
            assert st == 200 and doc["halt"]["mode"] == "none" and wd.allows("open")
            st, doc = await post("/v1/resume", {"force": True})
            assert st == 400 and doc["field"] == "force"
            async with s.get("http://basisd/v1/status") as r:
                assert (await r.json())["halt"]["mode"] == "none"
    finally:
        await server.stop()


def test_margin_level_comes_from_fresh_balances_not_the_venues_stale_figure() -> None:
    """The connector refreshes MarginAccount.margin_level by REST once a minute; the watchdog must
    read the account from the balances and marks the streams keep fresh."""
    hub, wd, rec, _pair, _clock = setup(futures_free=40_000)
    hub.set_margin_account(MarginAccount(venue=V, margin_level=999.0))    # stale and rosy
    hub.set_mark(mark(50_000 * 1.13))   # ML = 150000 / (2 * 56500) = 1.33: the collateral step
    st = wd.status()["pairs"]["p1"]["legs"]
    margin = next(g for g in st if g["leg"] == "margin")
    assert margin["distance"] == pytest.approx(150_000 / 1.1 / 2 / 56_500 - 1, rel=1e-6)
    assert rec.kinds() == ["transfer"]
    # and a stale, alarming figure does not make it act either
    hub2, wd2, rec2, _p2, _c2 = setup(futures_free=40_000)
    hub2.set_margin_account(MarginAccount(venue=V, margin_level=1.11))
    hub2.set_mark(mark(50_000))
    assert rec2.kinds() == []

"""The margin account between the watchdog's trim of a reverse basis (a buy-back with AUTO_REPAY)
and the liability it repays (risk_ladder.MarginHold), on the hub alone: the venue reports the
USDT spent first; read as it stands the account is far under its bar, so the ladder must neither
unwind nor trim again nor re-hedge on it until the liability update arrives, and no longer than
settle_s after the trim completed."""
from __future__ import annotations

import asyncio

from connectors.types import Balance, PerpPosition
from daemon.risk.interfaces import borrowed_coin as _borrowed
from .test_watchdog import SYM, V, mark, setup

PUMP = 60_000.0          # +20 %: ML 1.5 -> 1.25, the deleverage step, nothing free to move


def half_reported_trim(hub, rec) -> float:  # type: ignore[no-untyped-def]
    """The venue's reports of the trim rec holds, but the liability: coins bought back."""
    bought = 2.0 * rec.calls[0][2]
    usdt = hub.balances[(V, "margin", "USDT")]
    hub.set_balance(Balance(venue=V, wallet="margin", asset="USDT", free=usdt.free - bought * PUMP))
    hub.set_position(PerpPosition(venue=V, symbol=SYM, qty=2.0 - bought, entry_price=50_000,
                                  leverage=3))
    return bought


async def test_half_reported_buy_back_neither_unwinds_nor_trims_again() -> None:
    hub, wd, rec, _pair, clock = setup(pending=True)
    hub.set_mark(mark(PUMP))
    assert rec.kinds() == ["deleverage"]
    d0 = wd.steps[-1]["distances"][f"margin:{V}"]
    bought = half_reported_trim(hub, rec)
    rec.futures[0].set_result(None)
    await asyncio.sleep(0)
    for _ in range(3):
        hub.set_mark(mark(PUMP))
        clock.t += 0.2                       # inside settle_s
    assert rec.kinds() == ["deleverage"]     # no unwind, no second trim, no re-hedge
    assert wd.status()["pairs"]["p1"]["margin_settling"]
    assert min(s["distances"][f"margin:{V}"] for s in wd.steps if s.get("distances")) >= d0
    # the liability update: the account is whole again, and better off than before the trim
    hub.set_balance(Balance(venue=V, wallet="margin", asset="BTC", borrowed=2.0 - bought))
    st = wd.status()["pairs"]["p1"]
    assert not st["margin_settling"] and rec.kinds() == ["deleverage"]
    assert st["legs"][0]["leg"] == "margin" and st["legs"][0]["distance"] > d0


async def test_the_hold_ends_settle_s_after_the_trim_whatever_the_venue_says() -> None:
    hub, wd, rec, _pair, clock = setup(pending=True)
    hub.set_mark(mark(PUMP))
    half_reported_trim(hub, rec)
    clock.t += 30.0                          # in flight: held however long it takes
    hub.set_mark(mark(PUMP))
    assert rec.kinds() == ["deleverage"]
    rec.futures[0].set_result(None)
    await asyncio.sleep(0)
    clock.t += wd.cfg.settle_s + 0.1         # completed, and no liability update came
    hub.set_mark(mark(PUMP))
    # what the hub says is all there is: read as it stands the account is past the bar
    assert not wd.status()["pairs"]["p1"]["margin_settling"]
    assert rec.kinds() == ["deleverage", "unwind"]


def test_only_a_borrowed_coin_is_held() -> None:
    hub, _wd, _rec, pair, _clock = setup()
    assert _borrowed(hub, pair) == (V, "BTC")
    for leg in pair.legs:           # a basis: spot bought, perp sold; nothing owed to settle
        leg.side = "BUY" if leg.market == "spot_margin" else "SELL"
    assert _borrowed(hub, pair) is None

"""Issue 13, Done-when 3: pairs whose legs sit on venues of different dialects of the embedded
exchange open through the legging engine, collect funding attributed to the pair equal to each
venue's own ledger, and close flat.

(a) long/short: the long perp on a Binance-dialect venue, the short perp on a Bybit one;
(b) reverse basis: OKX cross spot margin (borrow and sell) against a Binance-dialect perp.

Binance funding is read from its income history; Bybit's from the `execution` topic's Funding
settlements (split by leg size); OKX interest from the rises of the account's accrued
interest. 9600x: a funding interval (8 h) every 3 s of wall time."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from daemon.core.attribution import UNIT

from tests.daemon.legging.sim_rig import Rig, sim_rig, wait_until

SYMBOL = "BTCUSDT"


def _units(x: Decimal | float) -> int:
    return int((Decimal(x if isinstance(x, Decimal) else repr(x)) / UNIT).to_integral_value())


def _funding_rows(rig: Rig, venue: str) -> list[dict]:
    acct = rig.account(venue)
    return [e for e in rig.exchange(venue).ledger_.entries
            if e["account"] == acct and e["cause"] == "funding" and e["bucket"] == "fwallet"]


def _settlements(rig: Rig, venue: str) -> int:
    return len({e["ref"] for e in _funding_rows(rig, venue)})


async def _open(rig: Rig, pair_type: str, venues: dict[str, str]) -> str:
    pid = await rig.engine.open_pair(pair_type, SYMBOL, 10_000, "taker", venues)
    await rig.engine.wait_idle(pid, 30)
    view = rig.engine.view(pid)
    assert view["state"] == "open", view["reason"]
    return pid


async def _close(rig: Rig, pid: str) -> None:
    await rig.engine.close(pid, "taker")
    await rig.engine.wait_idle(pid, 30)
    view = rig.engine.view(pid)
    assert view["state"] == "closed", view["reason"]


async def test_long_short_binance_long_bybit_short(tmp_path: Path) -> None:
    async with sim_rig(tmp_path, venues=("sim-a", "sim-bybit"), speedup=9600.0,
                       dialects={"sim-bybit": "bybit"}) as rig:
        pid = await _open(rig, "long_short", {"long": "sim-a", "short": "sim-bybit"})
        rt = rig.engine.pairs[pid]
        qty = rt.pair.target_qty
        assert rig.perp_amt("sim-a") == Decimal(repr(qty))
        assert rig.perp_amt("sim-bybit") == -Decimal(repr(qty))

        n0 = {v: _settlements(rig, v) for v in ("sim-a", "sim-bybit")}
        await wait_until(lambda: all(_settlements(rig, v) >= n0[v] + 2 for v in n0), 30,
                         "two settlements on each venue with the pair open")
        await _close(rig, pid)
        assert rig.perp_amt("sim-a") == 0 and rig.perp_amt("sim-bybit") == 0

        ledger = {v: sum(_units(e["delta"]) for e in _funding_rows(rig, v))
                  for v in ("sim-a", "sim-bybit")}
        assert ledger["sim-a"] != 0 and ledger["sim-bybit"] != 0
        long_book, short_book = rt.books
        # every settlement each venue booked is on the pair's leg there, to the 1e-8 unit
        await wait_until(lambda: (_units(long_book.funding), _units(short_book.funding))
                         == (ledger["sim-a"], ledger["sim-bybit"]), 10,
                         "each leg's funding equal to its venue's ledger")
        assert rig.engine.events.income.unattributed == []


async def test_reverse_basis_okx_spot_margin_binance_perp(tmp_path: Path) -> None:
    async with sim_rig(tmp_path, venues=("sim-a", "sim-okx"), speedup=9600.0,
                       dialects={"sim-okx": "okx"}) as rig:
        pid = await _open(rig, "reverse_basis", {"spot": "sim-okx", "perp": "sim-a"})
        rt = rig.engine.pairs[pid]
        qty = Decimal(repr(rt.pair.target_qty))
        assert rig.perp_amt("sim-a") == qty
        assert rig.balance("sim-okx", "BTC", "borrowed") >= qty      # the spot leg borrowed
        assert rig.perp_amt("sim-okx") == 0

        n0 = _settlements(rig, "sim-a")
        await wait_until(lambda: _settlements(rig, "sim-a") >= n0 + 2, 30,
                         "two settlements on the perp venue with the pair open")
        await _close(rig, pid)
        assert rig.perp_amt("sim-a") == 0
        await wait_until(lambda: rig.balance("sim-okx", "BTC", "borrowed")
                         + rig.balance("sim-okx", "BTC", "interest") == 0, 10,
                         "the OKX liability repaid")

        assert rt.alerts == []
        ledger = sum(_units(e["delta"]) for e in _funding_rows(rig, "sim-a"))
        assert ledger != 0 and _funding_rows(rig, "sim-okx") == []
        income = rig.engine.events.income
        await wait_until(lambda: _units(rt.books[1].funding) == ledger, 10,
                         "the perp leg's funding equal to the Binance ledger")
        assert income.attributed_units.get(("sim-a", "funding", "USDT")) == ledger
        assert income.unattributed == [] and rt.books[0].funding == 0
        # the OKX borrow's interest, seen as rises of the account's accrued interest, is the
        # spot leg's, equal to the OKX ledger's interest rows
        acct = rig.account("sim-okx")
        interest = sum(_units(e["delta"]) for e in rig.exchange("sim-okx").ledger_.entries
                       if e["account"] == acct and e["cause"] == "interest"
                       and e["bucket"] == "interest" and e["asset"] == "BTC")
        assert interest > 0 and _units(rt.books[0].interest_coin) == interest

"""Issue 11, Done-when 2: with BTC and ETH pairs open on one venue at once, and two pairs on one
symbol, every funding and interest payment in the embedded exchange's ledger is attributed to
the pairs, and the pairs' sums per venue equal the ledger exactly (in the venue's 1e-8 units)."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from daemon.core.attribution import UNIT

from tests.daemon.legging.sim_rig import Rig, sim_rig, wait_until


def _units(x: Decimal | float) -> int:
    return int((Decimal(x if isinstance(x, Decimal) else repr(x)) / UNIT).to_integral_value())


def _ledger_entries(rig: Rig, cause: str, bucket: str) -> list[dict]:
    acct = rig.account()
    return [e for e in rig.exchange().ledger_.entries
            if e["account"] == acct and e["cause"] == cause and e["bucket"] == bucket]


async def test_funding_and_interest_attributed_per_symbol_exactly(tmp_path: Path) -> None:
    # 9600x: a funding interval (8 h) every 3 s of wall time, interest hourly every 0.375 s.
    async with sim_rig(tmp_path, speedup=9600.0, symbols=("BTCUSDT", "ETHUSDT")) as rig:
        eng = rig.engine
        pids = [await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, "taker"),
                await eng.open_pair("reverse_basis", "BTCUSDT", 5_000, "taker"),
                await eng.open_pair("reverse_basis", "ETHUSDT", 8_000, "taker")]
        for pid in pids:
            await eng.wait_idle(pid, 30)
            assert eng.view(pid)["state"] == "open", eng.view(pid)["reason"]

        def settlements(sym: str) -> int:
            return len({e["ref"] for e in _ledger_entries(rig, "funding", "fwallet")
                        if e["ref"].startswith(f"funding:{sym}:")})
        n0 = {s: settlements(s) for s in ("BTCUSDT", "ETHUSDT")}
        await wait_until(lambda: all(settlements(s) >= n0[s] + 2 for s in n0), 30,
                         "two settlements per symbol with all three pairs open")
        for pid in pids:
            await eng.close(pid, "taker")
        for pid in pids:
            await eng.wait_idle(pid, 30)
            assert eng.view(pid)["state"] == "closed", eng.view(pid)["reason"]
        await wait_until(lambda: all(rig.balance("sim-a", c, "borrowed")
                                     + rig.balance("sim-a", c, "interest") == 0
                                     for c in ("BTC", "ETH")), 10, "liabilities repaid")
        assert rig.perp_amt("sim-a", "BTCUSDT") == 0 and rig.perp_amt("sim-a", "ETHUSDT") == 0

        funding = _ledger_entries(rig, "funding", "fwallet")
        interest = _ledger_entries(rig, "interest", "interest")
        ledger = {("funding", "USDT"): sum(_units(e["delta"]) for e in funding)}
        for coin in ("BTC", "ETH"):
            ledger[("interest", coin)] = sum(_units(e["delta"]) for e in interest
                                             if e["asset"] == coin)
        income = eng.events.income

        def attributed(kind: str, asset: str) -> int:
            return income.attributed_units.get(("sim-a", kind, asset), 0)
        await wait_until(lambda: all(attributed(k, a) == v for (k, a), v in ledger.items()),
                         10, "every ledger row read and attributed")
        assert income.unattributed == []
        assert ledger[("funding", "USDT")] != 0
        assert ledger[("interest", "BTC")] > 0 and ledger[("interest", "ETH")] > 0

        # What the pairs show adds up to the ledger exactly, per kind and coin
        books = {pid: eng.pairs[pid].books for pid in pids}
        assert sum(_units(b[1].funding) for b in books.values()) == ledger[("funding", "USDT")]
        btc, btc2, eth = pids
        assert _units(books[btc][0].interest_coin) + _units(books[btc2][0].interest_coin) \
            == ledger[("interest", "BTC")]
        assert _units(books[eth][0].interest_coin) == ledger[("interest", "ETH")]
        # each symbol's funding went to its own pairs: ETH's pair got exactly the ETH rows
        eth_rows = sum(_units(e["delta"]) for e in funding if ":ETHUSDT:" in e["ref"])
        assert _units(books[eth][1].funding) == eth_rows != 0
        # and the two BTC pairs shared BTC's rows by size (the same sizes through every row)
        f1, f2 = books[btc][1].funding, books[btc2][1].funding
        q1, q2 = books[btc][1].bought_qty, books[btc2][1].bought_qty
        assert f1 and f2 and abs(f1 / f2 - q1 / q2) < 0.02 * (q1 / q2), (f1, f2, q1, q2)


async def test_pair_view_values_spot_at_the_spot_book_and_perp_at_the_mark() -> None:
    """The basis-move example through the engine's view: the perp mark is not the spot price."""
    from connectors.types import InstrumentKey, Mark
    from daemon.legging.engine import LeggingEngine
    from tests.daemon.legging.legging_fakes import FakeVenue, make_hub
    from tests.daemon.legging.test_legging_engine import CFG

    hub = make_hub()
    eng = LeggingEngine(hub, {"sim-a": FakeVenue(hub)}, CFG, None)
    await eng.start()
    try:
        pid = await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, "taker")
        await eng.wait_idle(pid, 10)
        books = eng.pairs[pid].books
        spot_mid = hub.books[InstrumentKey("sim-a", "spot", "BTCUSDT")].mid()
        assert spot_mid is not None
        # the perp marks 1 % under the spot book (backwardation): each leg at its own price
        mark = spot_mid * 0.99
        hub.set_mark(Mark(venue="sim-a", symbol="BTCUSDT", mark_price=mark, index_price=spot_mid,
                          funding_rate=-0.0003, next_funding_ms=0, interval_h=8.0, ts_ms=0))
        pnl = eng.view(pid)["pnl"]
        want = books[0].qty * (spot_mid - books[0].avg_price) \
            + books[1].qty * (mark - books[1].avg_price)
        assert abs(pnl["unrealised"] - want) < 1e-9
        # spot at the perp mark would have shown the short spot leg gaining ~1 % of its notional
        wrong = books[0].qty * (mark - books[0].avg_price) + books[1].qty * (mark - books[1].avg_price)
        assert wrong - want > 0.009 * abs(books[0].qty) * spot_mid
    finally:
        await eng.stop()

"""Issue 11, Done-when 3 on the embedded exchange: a spot fee paid in the coin (Binance's default
on a buy) and one paid in BNB are each booked once, at their value at the fill, checked against
the sim's own trades and ledger."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from daemon.core.accounting import cash_flow

from tests.daemon.legging.sim_rig import Rig, sim_rig, wait_until

BNB_PRICE = "600"


def _trades(rig: Rig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    a = rig.exchange().accounts[rig.account()]
    return a.margin_trades, a.futures_trades


def _ledger_fees(rig: Rig, asset: str) -> Decimal:
    return -rig.ledger_sum("sim-a", asset, {"fee"}, {"free", "locked", "fwallet"})


def _fee_value(t: dict[str, Any]) -> float:
    """A trade's fee in USDT at its fill: coin at the fill price, BNB at the venue's price."""
    fee, asset = float(t["commission"]), t["commissionAsset"]
    return fee * {"USDT": 1.0, "BTC": float(t["price"]), "BNB": float(BNB_PRICE)}[asset]


@pytest.mark.parametrize("mode", ["received", "bnb"])
async def test_fee_in_coin_or_bnb_booked_once_at_fill_value(tmp_path: Path, mode: str) -> None:
    kw: dict[str, Any] = {"spot_fee_asset": mode, "bnb_price": BNB_PRICE}
    if mode == "bnb":
        kw["margin_funding"] = {"USDT": "100000", "BNB": "5"}
    async with sim_rig(tmp_path, speedup=480.0, venue_kw=kw) as rig:
        eng = rig.engine
        usdt0 = rig.balance("sim-a", "USDT", "free") + rig.balance("sim-a", "USDT", "fwallet")
        pid = await eng.open_pair("reverse_basis", "BTCUSDT", 10_000, "taker")
        await eng.wait_idle(pid, 30)
        assert eng.view(pid)["state"] == "open", eng.view(pid)["reason"]
        await eng.close(pid, "taker")
        await eng.wait_idle(pid, 30)
        v = eng.view(pid)
        assert v["state"] == "closed", v["reason"]
        await wait_until(lambda: rig.balance("sim-a", "BTC", "borrowed")
                         + rig.balance("sim-a", "BTC", "interest") == 0, 5, "liability repaid")

        spot_trades, perp_trades = _trades(rig)
        by_asset: dict[str, Decimal] = {}
        for t in spot_trades + perp_trades:
            by_asset[t["commissionAsset"]] = by_asset.get(t["commissionAsset"], Decimal(0)) \
                + Decimal(t["commission"])
        # the trades the sim reports are what its ledger charged, asset by asset
        for asset, total in by_asset.items():
            assert _ledger_fees(rig, asset) == total, asset
        if mode == "received":
            assert by_asset.get("BTC", 0) > 0          # the closing buy paid in the coin
        else:
            assert by_asset.get("BNB", 0) > 0 and "BTC" not in by_asset
            assert rig.balance("sim-a", "BNB", "free") == Decimal("5") - by_asset["BNB"]

        spot, perp = eng.pairs[pid].books
        want = sum(_fee_value(t) for t in spot_trades + perp_trades)
        assert v["pnl"]["fees"] == pytest.approx(want, abs=1e-6)       # once, at fill value
        assert spot.fee_coin == pytest.approx(float(by_asset.get("BTC", 0)), abs=1e-12)
        assert spot.fee_other.get("BNB", 0.0) == pytest.approx(float(by_asset.get("BNB", 0)),
                                                                abs=1e-12)
        # quote cash the books say moved = the sim's USDT (fees in kind moved no USDT)
        usdt1 = rig.balance("sim-a", "USDT", "free") + rig.balance("sim-a", "USDT", "fwallet")
        cash = cash_flow(spot) + cash_flow(perp)
        assert cash == pytest.approx(float(usdt1 - usdt0), abs=0.01)
        # coins: the spot book holds exactly what the margin wallet holds net of liabilities
        btc_net = rig.balance("sim-a", "BTC", "free") - rig.balance("sim-a", "BTC", "borrowed") \
            - rig.balance("sim-a", "BTC", "interest")
        assert spot.qty == pytest.approx(float(btc_net), abs=1e-9)
        # a closed pair ends flat or shows (and journals) the coins left on it
        dust = [(d["asset"], d["market"], d["amount"]) for d in v["dust"]]
        assert dust == ([("BTC", "spot_margin", spot.qty)] if abs(spot.qty) > 1e-12 else [])
        assert perp.qty == 0.0
        if dust:      # journaled at the close, naming the coin and the amount
            import orjson

            def record() -> list[dict[str, Any]]:
                rows = eng.journal.query("SELECT value FROM kv WHERE key = ?", (f"dust:{pid}",))
                return orjson.loads(rows[0][0])["dust"] if rows else []
            await wait_until(lambda: bool(record()), 5, "dust journaled")
            assert [(d["asset"], d["venue"]) for d in record()] == [("BTC", "sim-a")]
            assert record()[0]["amount"] == pytest.approx(spot.qty, abs=1e-8)
        # and net PnL of the closed pair = the USDT it made less the coins it left (at the mark)
        mark = eng.executor.mark(eng.pairs[pid], 0) or 0.0
        assert v["pnl"]["net"] == pytest.approx(
            float(usdt1 - usdt0) + float(btc_net) * mark
            - (float(by_asset.get("BNB", 0)) * float(BNB_PRICE)), abs=0.02)

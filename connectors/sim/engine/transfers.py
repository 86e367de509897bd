"""Transfers between the cross-margin wallet and the USD-M wallet (`POST /sapi/v1/asset/transfer`):
one account's coins move between its two wallets, each side sending its own update event."""
from __future__ import annotations

from typing import Any

from connectors.sim.engine.errors import BinanceError, err
from connectors.sim.engine.futures import Futures
from connectors.sim.engine.margin import Margin, f8
from connectors.sim.engine.matching import Q8, dec_param
from connectors.sim.engine.venue_state import VenueState


class Transfers:
    def __init__(self, venue: VenueState, margin: Margin, futures: Futures) -> None:
        self.venue = venue
        self.margin = margin
        self.futures = futures

    def asset_transfer(self, acct: str, params: dict[str, str]) -> dict[str, Any]:
        self.venue.acct(acct)
        kind = (params.get("type") or "").upper()
        asset = (params.get("asset") or "").upper()
        if not asset:
            raise err(-1102, "asset")
        amount = dec_param(params, "amount")
        assert amount is not None
        if amount <= 0 or amount != amount.quantize(Q8):
            raise err(-1102, "amount")
        src, dst = {"MARGIN_UMFUTURE": ("free", "fwallet"), "MAIN_UMFUTURE": ("free", "fwallet"),
                    "UMFUTURE_MARGIN": ("fwallet", "free"),
                    "UMFUTURE_MAIN": ("fwallet", "free")}.get(kind, (None, None))
        if src is None:
            raise BinanceError(400, -1102, "Mandatory parameter 'type' was not sent, was "
                               "empty/null, or malformed.")
        if asset not in self.venue.assets:
            raise err(-5013)
        if src == "free":
            if self.venue.bal(acct, asset) < amount:
                raise err(-5013)
            assets, liab = self.margin.margin_values(acct)
            after = assets - amount * self.venue.asset_price(asset)
            # With liabilities outstanding Binance caps transfer-out; we keep ML >= normalBar.
            if liab > 0 and after / liab < self.venue.p.normal_bar:
                raise err(-3020)
        else:
            if asset != "USDT" or amount > self.futures.futures_max_withdraw(acct):
                raise err(-5013)
        now = self.venue.now_ms()
        tran = self.venue.next_id()
        self.venue.ledger.post(now, "transfer", f"{kind}:{tran}",
                               [(acct, asset, src, -amount), (acct, asset, dst, amount)])
        self.venue.acct(acct).transfers.append({"tranId": tran, "type": kind, "asset": asset,
                                           "amount": f8(amount), "timestamp": now})
        self.venue.emit(f"user:{acct}:margin", {"e": "balanceUpdate", "E": now, "a": asset,
                                          "d": f8(amount if dst == "free" else -amount), "T": now})
        self.margin.position_event(acct, [asset])
        self.futures.balance_event(acct, "WITHDRAW" if src == "fwallet" else "DEPOSIT",
                                   amount if dst == "fwallet" else -amount)
        return {"tranId": tran}

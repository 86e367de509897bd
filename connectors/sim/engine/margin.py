"""Cross margin: valuation, the lendable pool, borrow and repay, hourly interest in the coin,
account views. Orders are in margin_orders.py, wallet transfers in transfers.py."""
from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from connectors.sim.engine.errors import BinanceError, err
from connectors.sim.engine.matching import Q8, dec_param
from connectors.sim.engine.venue_state import HOUSE, POOL, VenueState

ZERO = Decimal(0)
SIDE_EFFECTS = ("NO_SIDE_EFFECT", "MARGIN_BUY", "AUTO_REPAY", "AUTO_BORROW_REPAY")


def f8(x: Decimal) -> str:
    return f"{x:.8f}"


class Margin:
    """The cross-margin account: valuation, the borrow pool, borrow/repay and interest, and the
    margin account's REST views and events."""

    def __init__(self, venue: VenueState) -> None:
        self.venue = venue

    # ------------------------------------------------------------ balances & valuation
    def margin_values(self, acct: str) -> tuple[Decimal, Decimal]:
        """(total asset value, total liability incl. interest) in USDT at index prices."""
        assets = liab = ZERO
        for a in self.venue.assets:
            px = self.venue.asset_price(a)
            assets += (self.venue.bal(acct, a) + self.venue.bal(acct, a, "locked")) * px
            liab += self.venue.liability(acct, a) * px
        return assets, liab

    def margin_level(self, acct: str) -> Decimal:
        assets, liab = self.margin_values(acct)
        return Decimal(999) if liab == 0 else assets / liab

    def max_borrowable(self, acct: str, asset: str) -> Decimal:
        assets, liab = self.margin_values(acct)
        room = (assets - liab) * (self.venue.p.margin_max_leverage - 1) - liab
        px = self.venue.asset_price(asset)
        by_margin = max(ZERO, room / px)
        by_limit = max(ZERO, self.venue.assets[asset].borrow_limit
                       - self.venue.bal(acct, asset, "borrowed"))
        amt = min(by_margin, by_limit, max(ZERO, self.pool_available(asset)))
        return amt.quantize(Q8, ROUND_DOWN)

    # ------------------------------------------------------------ the lendable pool
    def pool_available(self, asset: str) -> Decimal:
        return self.venue.ledger.get(POOL, asset, "free")

    def set_pool(self, asset: str, amount: Decimal) -> None:
        """Sets the lendable pool of `asset`; the difference moves to/from the house."""
        d = amount - self.pool_available(asset)
        self.venue.ledger.post(self.venue.now_ms(), "deposit", f"pool:{asset}",
                               [(POOL, asset, "free", d), (HOUSE, asset, "free", -d)])

    # ------------------------------------------------------------ borrow / repay / interest
    def borrow(self, acct: str, asset: str, amount: Decimal, ref: str) -> None:
        if amount <= 0:
            return
        if self.pool_available(asset) < amount:
            raise err(-3045)
        if amount > self.max_borrowable(acct, asset):
            raise err(-3006)
        now = self.venue.now_ms()
        self.venue.ledger.post(now, "borrow", ref, [
            (acct, asset, "free", amount), (POOL, asset, "free", -amount),
            (acct, asset, "borrowed", amount), (POOL, asset, "receivable", amount)])
        rate = self.venue.rates[asset].hourly(self.venue.rate_mult[asset])
        # Binance charges the first hour at borrow time (type ON_BORROW), then hourly.
        interest = (amount * rate).quantize(Q8, ROUND_UP)
        self._post_interest(acct, asset, amount, interest, rate, "ON_BORROW", now)
        a = self.venue.acct(acct)
        tran = self.venue.next_id()
        a.borrow_repay.append({"type": "BORROW", "isolatedSymbol": "", "amount": f8(amount),
                               "asset": asset, "interest": "0", "principal": f8(amount),
                               "status": "CONFIRMED", "timestamp": now, "txId": tran})
        self._liability_event(acct, asset, "BORROW", amount, interest)

    def _post_interest(self, acct: str, asset: str, principal: Decimal,
                       interest: Decimal, rate: Decimal, kind: str, now: int) -> None:
        if interest <= 0:
            return
        self.venue.ledger.post(now, "interest", f"{kind}:{acct}:{asset}", [
            (acct, asset, "interest", interest), (HOUSE, asset, "receivable", interest)])
        self.venue.acct(acct).interest_history.append({
            "txId": self.venue.next_id(), "interestAccuredTime": now, "asset": asset,
            "rawAsset": asset, "principal": f8(principal), "interest": f8(interest),
            "interestRate": f8(rate), "type": kind, "isolatedSymbol": ""})

    def repay(self, acct: str, asset: str, amount: Decimal, ref: str,
              strict: bool = True) -> Decimal:
        """Repays interest first, then principal; returns the amount repaid."""
        interest = self.venue.bal(acct, asset, "interest")
        borrowed = self.venue.bal(acct, asset, "borrowed")
        if strict and amount > interest + borrowed:
            raise err(-3015)
        amount = min(amount, interest + borrowed, self.venue.bal(acct, asset))
        if amount <= 0:
            if strict:
                raise err(-3041)
            return ZERO
        pi = min(amount, interest)
        pp = amount - pi
        now = self.venue.now_ms()
        self.venue.ledger.post(now, "repay", ref, [
            (acct, asset, "free", -amount), (HOUSE, asset, "free", pi), (POOL, asset, "free", pp),
            (acct, asset, "interest", -pi), (HOUSE, asset, "receivable", -pi),
            (acct, asset, "borrowed", -pp), (POOL, asset, "receivable", -pp)])
        self.venue.acct(acct).borrow_repay.append({
            "type": "REPAY", "isolatedSymbol": "", "amount": f8(amount), "asset": asset,
            "interest": f8(pi), "principal": f8(pp), "status": "CONFIRMED", "timestamp": now,
            "txId": self.venue.next_id()})
        self._liability_event(acct, asset, "REPAY", pp, pi)
        return amount

    def accrue_interest(self, at_ms: int) -> None:
        for acct in self.venue.accounts:
            for asset in self.venue.assets:
                b = self.venue.bal(acct, asset, "borrowed")
                if b <= 0:
                    continue
                rate = self.venue.rates[asset].hourly(self.venue.rate_mult[asset])
                i = (b * rate).quantize(Q8, ROUND_UP)
                self._post_interest(acct, asset, b, i, rate, "PERIODIC", at_ms)
                self._liability_event(acct, asset, "INTEREST", ZERO, i)

    def _liability_event(self, acct: str, asset: str, kind: str, p: Decimal,
                         i: Decimal) -> None:
        self.venue.emit(f"user:{acct}:margin", {
            "e": "USER_LIABILITY_CHANGE", "E": self.venue.now_ms(), "a": asset, "t": kind,
            "p": f8(p), "i": f8(i),
            "l": f8(self.venue.liability(acct, asset))})
        self.position_event(acct, [asset])

    def position_event(self, acct: str, assets: list[str]) -> None:
        now = self.venue.now_ms()
        self.venue.emit(f"user:{acct}:margin", {
            "e": "outboundAccountPosition", "E": now, "u": now,
            "B": [{"a": a, "f": f8(self.venue.bal(acct, a)),
                   "l": f8(self.venue.bal(acct, a, "locked"))}
                  for a in dict.fromkeys(assets)]})

    # ------------------------------------------------------------ REST: borrow/repay & views
    def _margin_asset(self, params: dict[str, str]) -> str:
        asset = (params.get("asset") or "").upper()
        if not asset:
            raise err(-1102, "asset")
        if asset not in self.venue.assets:
            raise BinanceError(400, -3027, "Not a valid margin asset.")
        return asset

    def margin_borrow_repay(self, acct: str, params: dict[str, str]) -> dict[str, Any]:
        self.venue.acct(acct)
        asset = self._margin_asset(params)
        kind = (params.get("type") or "").upper()
        amount = dec_param(params, "amount")
        assert amount is not None
        if amount <= 0:
            raise err(-1102, "amount")
        if params.get("isIsolated", "FALSE").upper() == "TRUE":
            raise BinanceError(400, -11001, "Isolated margin account does not exist.")
        ref = f"{kind.lower()}:{self.venue.next_id()}"
        if kind == "BORROW":
            self.borrow(acct, asset, amount.quantize(Q8, ROUND_DOWN), ref)
        elif kind == "REPAY":
            self.repay(acct, asset, amount, ref)
        else:
            raise err(-1102, "type")
        return {"tranId": self.venue.acct(acct).borrow_repay[-1]["txId"]}

    def margin_borrow_repay_history(self, acct: str,
                                    params: dict[str, str]) -> dict[str, Any]:
        kind = (params.get("type") or "").upper()
        asset = (params.get("asset") or "").upper()
        rows = [r for r in self.venue.acct(acct).borrow_repay
                if (not kind or r["type"] == kind) and (not asset or r["asset"] == asset)]
        rows = list(reversed(rows))[: int(params.get("size") or 10)]
        return {"rows": rows, "total": len(rows)}

    def margin_interest_history(self, acct: str,
                                params: dict[str, str]) -> dict[str, Any]:
        """Binance: newest first, `size` (max 100) per page `current`, startTime/endTime
        inclusive."""
        asset = (params.get("asset") or "").upper()
        start, end = int(params.get("startTime") or 0), int(params.get("endTime") or 0)
        rows = [r for r in self.venue.acct(acct).interest_history
                if (not asset or r["asset"] == asset) and r["interestAccuredTime"] >= start
                and (not end or r["interestAccuredTime"] <= end)]
        size = min(100, int(params.get("size") or 10))
        first = (max(1, int(params.get("current") or 1)) - 1) * size
        page = list(reversed(rows))[first:first + size]
        return {"rows": page, "total": len(rows)}

    def margin_next_hourly_interest_rate(self, acct: str | None,
                                         params: dict[str, str]) -> list[dict[str, str]]:
        names = [a.strip().upper() for a in (params.get("assets") or "").split(",") if a.strip()]
        if not names:
            raise err(-1102, "assets")
        out = []
        for a in names:
            if a not in self.venue.assets:
                raise BinanceError(400, -3027, "Not a valid margin asset.")
            out.append({"asset": a, "nextHourlyInterestRate":
                        f8(self.venue.rates[a].hourly(self.venue.rate_mult[a]))})
        return out

    def margin_trade_coeff(self, acct: str,
                           params: dict[str, str] | None = None) -> dict[str, str]:
        self.venue.acct(acct)
        p = self.venue.p
        return {"normalBar": str(p.normal_bar), "marginCallBar": str(p.margin_call_bar),
                "forceLiquidationBar": str(p.force_liquidation_bar)}

    def margin_max_borrowable(self, acct: str, params: dict[str, str]) -> dict[str, str]:
        self.venue.acct(acct)
        asset = self._margin_asset(params)
        return {"amount": f8(self.max_borrowable(acct, asset)),
                "borrowLimit": f8(self.venue.assets[asset].borrow_limit)}

    def margin_account(self, acct: str,
                       params: dict[str, str] | None = None) -> dict[str, Any]:
        self.venue.acct(acct)
        assets, liab = self.margin_values(acct)
        btc = self.venue.asset_price("BTC") if "BTC" in self.venue.assets else Decimal(1)
        ml = self.margin_level(acct)
        rows = []
        for a in self.venue.assets:
            free, locked = self.venue.bal(acct, a), self.venue.bal(acct, a, "locked")
            borrowed = self.venue.bal(acct, a, "borrowed")
            interest = self.venue.bal(acct, a, "interest")
            rows.append({"asset": a, "borrowed": f8(borrowed), "free": f8(free),
                         "interest": f8(interest), "locked": f8(locked),
                         "netAsset": f8(free + locked - borrowed - interest)})
        return {
            "created": True, "borrowEnabled": True, "marginLevel": f8(ml),
            "collateralMarginLevel": f8(ml),
            "totalAssetOfBtc": f8(assets / btc), "totalLiabilityOfBtc": f8(liab / btc),
            "totalNetAssetOfBtc": f8((assets - liab) / btc),
            "TotalCollateralValueInUSDT": f8(assets), "totalOpenOrderLossInUsdt": "0.00000000",
            "tradeEnabled": True, "transferInEnabled": True, "transferOutEnabled": True,
            "accountType": "MARGIN_1", "userAssets": rows}

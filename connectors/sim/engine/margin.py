"""Cross margin: orders with side effects (MARGIN_BUY, AUTO_REPAY, AUTO_BORROW_REPAY), borrow and
repay, hourly interest in the coin, account views, transfers. Fees are charged in the QUOTE asset
(USDT) for simplicity, on both sides; so a buy of exactly the liability repays it exactly."""
from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import TYPE_CHECKING, Any

from connectors.sim.engine.errors import BinanceError, err
from connectors.sim.engine.matching import Q8, dec_param


if TYPE_CHECKING:
    from connectors.sim.engine.exchange import Exchange

ZERO = Decimal(0)
HOUSE, POOL = "house", "pool"
SIDE_EFFECTS = ("NO_SIDE_EFFECT", "MARGIN_BUY", "AUTO_REPAY", "AUTO_BORROW_REPAY")


def f8(x: Decimal) -> str:
    return f"{x:.8f}"


class MarginMixin:
    # ------------------------------------------------------------ balances & valuation
    def _bal(self: Exchange, acct: str, asset: str, bucket: str = "free") -> Decimal:
        return self.ledger_.get(acct, asset, bucket)

    def _margin_assets(self: Exchange) -> list[str]:
        return list(self.assets)

    def margin_values(self: Exchange, acct: str) -> tuple[Decimal, Decimal]:
        """(total asset value, total liability incl. interest) in USDT at index prices."""
        assets = liab = ZERO
        for a in self.assets:
            px = self.asset_price(a)
            assets += (self._bal(acct, a) + self._bal(acct, a, "locked")) * px
            liab += (self._bal(acct, a, "borrowed") + self._bal(acct, a, "interest")) * px
        return assets, liab

    def margin_level(self: Exchange, acct: str) -> Decimal:
        assets, liab = self.margin_values(acct)
        return Decimal(999) if liab == 0 else assets / liab

    def _max_borrowable(self: Exchange, acct: str, asset: str) -> Decimal:
        assets, liab = self.margin_values(acct)
        room = (assets - liab) * (self.p.margin_max_leverage - 1) - liab
        px = self.asset_price(asset)
        by_margin = max(ZERO, room / px)
        by_limit = max(ZERO, self.assets[asset].borrow_limit - self._bal(acct, asset, "borrowed"))
        amt = min(by_margin, by_limit, max(ZERO, self.pool_available(asset)))
        return amt.quantize(Q8, ROUND_DOWN)

    # ------------------------------------------------------------ borrow / repay / interest
    def _borrow(self: Exchange, acct: str, asset: str, amount: Decimal, ref: str) -> None:
        if amount <= 0:
            return
        if self.pool_available(asset) < amount:
            raise err(-3045)
        if amount > self._max_borrowable(acct, asset):
            raise err(-3006)
        now = self.now_ms()
        self.ledger_.post(now, "borrow", ref, [
            (acct, asset, "free", amount), (POOL, asset, "free", -amount),
            (acct, asset, "borrowed", amount), (POOL, asset, "receivable", amount)])
        rate = self.rates[asset].hourly(self.rate_mult[asset])
        # Binance charges the first hour at borrow time (type ON_BORROW), then hourly.
        interest = (amount * rate).quantize(Q8, ROUND_UP)
        self._post_interest(acct, asset, amount, interest, rate, "ON_BORROW", now)
        a = self._acct(acct)
        tran = self._next_id()
        a.borrow_repay.append({"type": "BORROW", "isolatedSymbol": "", "amount": f8(amount),
                               "asset": asset, "interest": "0", "principal": f8(amount),
                               "status": "CONFIRMED", "timestamp": now, "txId": tran})
        self._liability_event(acct, asset, "BORROW", amount, interest)

    def _post_interest(self: Exchange, acct: str, asset: str, principal: Decimal,
                       interest: Decimal, rate: Decimal, kind: str, now: int) -> None:
        if interest <= 0:
            return
        self.ledger_.post(now, "interest", f"{kind}:{acct}:{asset}", [
            (acct, asset, "interest", interest), (HOUSE, asset, "receivable", interest)])
        self._acct(acct).interest_history.append({
            "txId": self._next_id(), "interestAccuredTime": now, "asset": asset,
            "rawAsset": asset, "principal": f8(principal), "interest": f8(interest),
            "interestRate": f8(rate), "type": kind, "isolatedSymbol": ""})

    def _repay(self: Exchange, acct: str, asset: str, amount: Decimal, ref: str,
               strict: bool = True) -> Decimal:
        """Repays interest first, then principal; returns the amount repaid."""
        interest = self._bal(acct, asset, "interest")
        borrowed = self._bal(acct, asset, "borrowed")
        if strict and amount > interest + borrowed:
            raise err(-3015)
        amount = min(amount, interest + borrowed, self._bal(acct, asset))
        if amount <= 0:
            if strict:
                raise err(-3041)
            return ZERO
        pi = min(amount, interest)
        pp = amount - pi
        now = self.now_ms()
        self.ledger_.post(now, "repay", ref, [
            (acct, asset, "free", -amount), (HOUSE, asset, "free", pi), (POOL, asset, "free", pp),
            (acct, asset, "interest", -pi), (HOUSE, asset, "receivable", -pi),
            (acct, asset, "borrowed", -pp), (POOL, asset, "receivable", -pp)])
        self._acct(acct).borrow_repay.append({
            "type": "REPAY", "isolatedSymbol": "", "amount": f8(amount), "asset": asset,
            "interest": f8(pi), "principal": f8(pp), "status": "CONFIRMED", "timestamp": now,
            "txId": self._next_id()})
        self._liability_event(acct, asset, "REPAY", pp, pi)
        return amount

    def _accrue_interest(self: Exchange, at_ms: int) -> None:
        for acct in self.accounts:
            for asset in self.assets:
                b = self._bal(acct, asset, "borrowed")
                if b <= 0:
                    continue
                rate = self.rates[asset].hourly(self.rate_mult[asset])
                i = (b * rate).quantize(Q8, ROUND_UP)
                self._post_interest(acct, asset, b, i, rate, "PERIODIC", at_ms)
                self._liability_event(acct, asset, "INTEREST", ZERO, i)

    def _liability_event(self: Exchange, acct: str, asset: str, kind: str, p: Decimal,
                         i: Decimal) -> None:
        self.emit(f"user:{acct}:margin", {
            "e": "USER_LIABILITY_CHANGE", "E": self.now_ms(), "a": asset, "t": kind,
            "p": f8(p), "i": f8(i),
            "l": f8(self._bal(acct, asset, "borrowed") + self._bal(acct, asset, "interest"))})
        self._position_event(acct, [asset])

    def _position_event(self: Exchange, acct: str, assets: list[str]) -> None:
        now = self.now_ms()
        self.emit(f"user:{acct}:margin", {
            "e": "outboundAccountPosition", "E": now, "u": now,
            "B": [{"a": a, "f": f8(self._bal(acct, a)), "l": f8(self._bal(acct, a, "locked"))}
                  for a in dict.fromkeys(assets)]})

    # ------------------------------------------------------------ REST: borrow/repay & views
    def _margin_asset(self: Exchange, params: dict[str, str]) -> str:
        asset = (params.get("asset") or "").upper()
        if not asset:
            raise err(-1102, "asset")
        if asset not in self.assets:
            raise BinanceError(400, -3027, "Not a valid margin asset.")
        return asset

    def margin_borrow_repay(self: Exchange, acct: str, params: dict[str, str]) -> dict[str, Any]:
        self._acct(acct)
        asset = self._margin_asset(params)
        kind = (params.get("type") or "").upper()
        amount = dec_param(params, "amount")
        assert amount is not None
        if amount <= 0:
            raise err(-1102, "amount")
        if params.get("isIsolated", "FALSE").upper() == "TRUE":
            raise BinanceError(400, -11001, "Isolated margin account does not exist.")
        ref = f"{kind.lower()}:{self._next_id()}"
        if kind == "BORROW":
            self._borrow(acct, asset, amount.quantize(Q8, ROUND_DOWN), ref)
        elif kind == "REPAY":
            self._repay(acct, asset, amount, ref)
        else:
            raise err(-1102, "type")
        return {"tranId": self._acct(acct).borrow_repay[-1]["txId"]}

    def margin_borrow_repay_history(self: Exchange, acct: str,
                                    params: dict[str, str]) -> dict[str, Any]:
        kind = (params.get("type") or "").upper()
        asset = (params.get("asset") or "").upper()
        rows = [r for r in self._acct(acct).borrow_repay
                if (not kind or r["type"] == kind) and (not asset or r["asset"] == asset)]
        rows = list(reversed(rows))[: int(params.get("size") or 10)]
        return {"rows": rows, "total": len(rows)}

    def margin_interest_history(self: Exchange, acct: str,
                                params: dict[str, str]) -> dict[str, Any]:
        asset = (params.get("asset") or "").upper()
        rows = [r for r in self._acct(acct).interest_history if not asset or r["asset"] == asset]
        rows = list(reversed(rows))[: int(params.get("size") or 10)]
        return {"rows": rows, "total": len(rows)}

    def margin_next_hourly_interest_rate(self: Exchange, acct: str | None,
                                         params: dict[str, str]) -> list[dict[str, str]]:
        names = [a.strip().upper() for a in (params.get("assets") or "").split(",") if a.strip()]
        if not names:
            raise err(-1102, "assets")
        out = []
        for a in names:
            if a not in self.assets:
                raise BinanceError(400, -3027, "Not a valid margin asset.")
            out.append({"asset": a, "nextHourlyInterestRate":
                        f8(self.rates[a].hourly(self.rate_mult[a]))})
        return out

    def margin_trade_coeff(self: Exchange, acct: str,
                           params: dict[str, str] | None = None) -> dict[str, str]:
        self._acct(acct)
        return {"normalBar": str(self.p.normal_bar), "marginCallBar": str(self.p.margin_call_bar),
                "forceLiquidationBar": str(self.p.force_liquidation_bar)}

    def margin_max_borrowable(self: Exchange, acct: str, params: dict[str, str]) -> dict[str, str]:
        self._acct(acct)
        asset = self._margin_asset(params)
        return {"amount": f8(self._max_borrowable(acct, asset)),
                "borrowLimit": f8(self.assets[asset].borrow_limit)}

    def margin_account(self: Exchange, acct: str,
                       params: dict[str, str] | None = None) -> dict[str, Any]:
        self._acct(acct)
        assets, liab = self.margin_values(acct)
        btc = self.asset_price("BTC") if "BTC" in self.assets else Decimal(1)
        ml = self.margin_level(acct)
        rows = []
        for a in self.assets:
            free, locked = self._bal(acct, a), self._bal(acct, a, "locked")
            borrowed, interest = self._bal(acct, a, "borrowed"), self._bal(acct, a, "interest")
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

    # ------------------------------------------------------------ transfers
    def asset_transfer(self: Exchange, acct: str, params: dict[str, str]) -> dict[str, Any]:
        self._acct(acct)
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
        if asset not in self.assets:
            raise err(-5013)
        if src == "free":
            if self._bal(acct, asset) < amount:
                raise err(-5013)
            assets, liab = self.margin_values(acct)
            after = assets - amount * self.asset_price(asset)
            # With liabilities outstanding Binance caps transfer-out; we keep ML >= normalBar.
            if liab > 0 and after / liab < self.p.normal_bar:
                raise err(-3020)
        else:
            if asset != "USDT" or amount > self.futures_max_withdraw(acct):
                raise err(-5013)
        now = self.now_ms()
        tran = self._next_id()
        self.ledger_.post(now, "transfer", f"{kind}:{tran}",
                          [(acct, asset, src, -amount), (acct, asset, dst, amount)])
        self._acct(acct).transfers.append({"tranId": tran, "type": kind, "asset": asset,
                                           "amount": f8(amount), "timestamp": now})
        self.emit(f"user:{acct}:margin", {"e": "balanceUpdate", "E": now, "a": asset,
                                          "d": f8(amount if dst == "free" else -amount), "T": now})
        self._position_event(acct, [asset])
        self._futures_balance_event(acct, "WITHDRAW" if src == "fwallet" else "DEPOSIT",
                                    amount if dst == "fwallet" else -amount)
        return {"tranId": tran}

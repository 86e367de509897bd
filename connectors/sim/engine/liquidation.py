"""Forced liquidation. Cross margin: at marginLevel <= forceLiquidationBar, open orders are
cancelled, surplus coins sold, every liability bought back at the touch and repaid, a liquidation
fee charged; a USDT deficit left over is covered by the house (insurance). USD-M: when margin
balance <= maintenance margin, every position is closed at the mark and the remaining margin up to
the clearance fee goes to the house; a negative wallet is topped up to zero by the house.
Liquidation orders carry client ids "autoclose-<n>"."""
from __future__ import annotations

from decimal import ROUND_UP, Decimal
from typing import TYPE_CHECKING

from connectors.sim.engine.matching import Q8, fee_of
from connectors.sim.engine.state import Order

if TYPE_CHECKING:
    from connectors.sim.engine.exchange import Exchange

ZERO = Decimal(0)
HOUSE = "house"


class LiquidationMixin:
    def _maker_fill(self: Exchange, o: Order, qty: Decimal) -> None:
        if o.market == "spot":
            self._spot_fill(o, o.price, qty, maker=True)
            self._position_event(o.account, [self.specs[o.symbol].base, "USDT"])
        else:
            self._fut_maker_fill(o, qty)

    def _check_liquidations(self: Exchange) -> None:
        for acct in list(self.accounts):
            assets, liab = self.margin_values(acct)
            if liab > 0 and assets / liab <= self.p.force_liquidation_bar:
                self._liquidate_margin(acct, assets / liab)
            a = self.accounts[acct]
            if any(p.amt != 0 for p in a.positions.values()):
                r = self.futures_risk(acct)
                if r["margin"] <= r["mm"]:
                    self._liquidate_futures(acct, r["margin"], r["mm"])
                elif r["margin"] <= r["mm"] * 2 and not a.margin_call_sent:
                    a.margin_call_sent = True
                    self._margin_call(acct, r["wallet"])
                elif r["margin"] > r["mm"] * 2:
                    a.margin_call_sent = False

    def _autoclose_order(self: Exchange, acct: str, market: str, sym: str, side: str,
                         qty: Decimal, price: Decimal) -> Order:
        oid = self._next_id()
        now = self.now_ms()
        o = Order(market, acct, sym, oid, f"autoclose-{now}{oid}", side,
                  "LIMIT" if market == "spot" else "LIQUIDATION", "IOC", price, qty, now,
                  orig_type="LIQUIDATION", update_ms=now,
                  reduce_only=market == "futures")
        self._acct(acct).orders[oid] = o
        return o

    def _touch(self: Exchange, sym: str, is_buy: bool) -> Decimal:
        spec = self.specs[sym]
        book = self.spot_books[sym]
        lvl = book.best_ask() if is_buy else book.best_bid()
        if lvl is None:
            return self.markets[sym].index_price()
        return Decimal(lvl[0]) * spec.spot_tick

    def _liquidate_margin(self: Exchange, acct: str, level: Decimal) -> None:
        a = self._acct(acct)
        for o in [o for o in a.orders.values() if o.market == "spot" and o.is_open]:
            self._cancel(o)
        self.liquidations.append({"account": acct, "kind": "margin", "time": self.now_ms(),
                                  "t": self.t, "marginLevel": level})
        fee_total = ZERO
        touched: list[str] = ["USDT"]
        # 1) surplus coins -> USDT, 2) buy back each coin liability, 3) repay everything.
        for asset in self.assets:
            if asset == "USDT":
                continue
            sym = asset + "USDT"
            if sym not in self.specs:
                continue
            step = self.specs[sym].spot_step
            liab = self._bal(acct, asset, "borrowed") + self._bal(acct, asset, "interest")
            free = self._bal(acct, asset)
            touched.append(asset)
            if free > liab:
                qty = ((free - liab) / step).to_integral_value(rounding="ROUND_DOWN") * step
                if qty > 0:
                    o = self._autoclose_order(acct, "spot", sym, "SELL", qty,
                                              self._touch(sym, False))
                    self._exec_report(o, "NEW")
                    self._spot_fill(o, o.price, qty, maker=False)
                    fee_total += fee_of(o.price * qty, self.p.margin_liquidation_fee)
            elif liab > free:
                qty = ((liab - free) / step).to_integral_value(rounding=ROUND_UP) * step
                o = self._autoclose_order(acct, "spot", sym, "BUY", qty, self._touch(sym, True))
                self._exec_report(o, "NEW")
                self._spot_fill(o, o.price, qty, maker=False)
                fee_total += fee_of(o.price * qty, self.p.margin_liquidation_fee)
            if self._bal(acct, asset, "borrowed") + self._bal(acct, asset, "interest") > 0:
                self._repay(acct, asset, self._bal(acct, asset, "borrowed")
                            + self._bal(acct, asset, "interest"), f"liq:{acct}", strict=False)
        now = self.now_ms()
        if fee_total > 0:
            self.ledger_.post(now, "liquidation", f"liqfee:{acct}", [
                (acct, "USDT", "free", -fee_total), (HOUSE, "USDT", "free", fee_total)])
        usdt_liab = self._bal(acct, "USDT", "borrowed") + self._bal(acct, "USDT", "interest")
        if usdt_liab > 0:
            self._repay(acct, "USDT", usdt_liab, f"liq:{acct}", strict=False)
        self._cover_deficit(acct, "free")
        left = self._bal(acct, "USDT", "borrowed") + self._bal(acct, "USDT", "interest")
        if left > 0:
            self._repay(acct, "USDT", left, f"liq:{acct}", strict=False)
        self._position_event(acct, touched)

    def _cover_deficit(self: Exchange, acct: str, bucket: str) -> None:
        short = -self._bal(acct, "USDT", bucket)
        if short > 0:
            self.ledger_.post(self.now_ms(), "insurance", f"insurance:{acct}", [
                (acct, "USDT", bucket, short), (HOUSE, "USDT", "free", -short)])

    def _liquidate_futures(self: Exchange, acct: str, margin: Decimal, mm: Decimal) -> None:
        a = self._acct(acct)
        for o in [o for o in a.orders.values() if o.market == "futures" and o.is_open]:
            self._cancel(o)
        self.liquidations.append({"account": acct, "kind": "futures", "time": self.now_ms(),
                                  "t": self.t, "marginBalance": margin, "maintMargin": mm})
        syms = []
        clearance = ZERO
        for sym, pos in a.positions.items():
            if pos.amt == 0:
                continue
            syms.append(sym)
            mark = self._mark(sym)
            qty = abs(pos.amt)
            o = self._autoclose_order(acct, "futures", sym, "SELL" if pos.amt > 0 else "BUY",
                                      qty, mark)
            self._fut_order_event(o, "NEW")
            self._fut_fill(o, mark, qty, maker=False, liquidation=True)
            clearance += (qty * mark * self.p.futures_liquidation_fee).quantize(Q8)
        wallet = self._bal(acct, "USDT", "fwallet")
        fee = min(clearance, max(ZERO, wallet))
        if fee > 0:
            self.ledger_.post(self.now_ms(), "liquidation", f"liqfee:{acct}", [
                (acct, "USDT", "fwallet", -fee), (HOUSE, "USDT", "free", fee)])
        self._cover_deficit(acct, "fwallet")
        self._futures_account_event(acct, "ORDER", syms)

    def _margin_call(self: Exchange, acct: str, wallet: Decimal) -> None:
        a = self._acct(acct)
        ps = []
        for sym, pos in a.positions.items():
            if pos.amt == 0:
                continue
            mark = self._mark(sym)
            ps.append({"s": sym, "ps": "BOTH", "pa": str(pos.amt), "mt": "CROSSED", "iw": "0",
                       "mp": f"{mark:.8f}", "up": f"{self._upnl(pos, mark):.8f}",
                       "mm": f"{self._maint(sym, abs(pos.amt) * mark):.8f}"})
        self.emit(f"user:{acct}:futures", {"e": "MARGIN_CALL", "E": self.now_ms(),
                                           "cw": f"{wallet:.8f}", "p": ps})

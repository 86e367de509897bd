"""Forced liquidation. Cross margin: at marginLevel <= forceLiquidationBar, open orders are
cancelled, surplus coins sold, every liability bought back at the touch and repaid, a liquidation
fee charged; a USDT deficit left over is covered by the house (insurance). USD-M: when margin
balance <= maintenance margin, every position is closed at the mark and the remaining margin up to
the clearance fee goes to the house; a negative wallet is topped up to zero by the house.
Liquidation orders carry client ids "autoclose-<n>"."""
from __future__ import annotations

from decimal import ROUND_UP, Decimal

from connectors.sim.engine.futures import Futures
from connectors.sim.engine.margin import Margin
from connectors.sim.engine.margin_orders import MarginOrders
from connectors.sim.engine.matching import Q8, fee_of
from connectors.sim.engine.state import Order
from connectors.sim.engine.venue_state import HOUSE, VenueState

ZERO = Decimal(0)


class Liquidation:
    """Checked after every engine step: liquidates, or sends the USD-M margin call."""

    def __init__(self, venue: VenueState, margin: Margin, margin_orders: MarginOrders,
                 futures: Futures) -> None:
        self.venue = venue
        self.margin = margin
        self.margin_orders = margin_orders
        self.futures = futures

    def check(self) -> None:
        for acct in list(self.venue.accounts):
            assets, liab = self.margin.margin_values(acct)
            if liab > 0 and assets / liab <= self.venue.p.force_liquidation_bar:
                self._liquidate_margin(acct, assets / liab)
            a = self.venue.accounts[acct]
            if any(p.amt != 0 for p in a.positions.values()):
                r = self.futures.futures_risk(acct)
                if r["margin"] <= r["mm"]:
                    self._liquidate_futures(acct, r["margin"], r["mm"])
                elif r["margin"] <= r["mm"] * 2 and not a.margin_call_sent:
                    a.margin_call_sent = True
                    self._margin_call(acct, r["wallet"])
                elif r["margin"] > r["mm"] * 2:
                    a.margin_call_sent = False

    def _autoclose_order(self, acct: str, market: str, sym: str, side: str,
                         qty: Decimal, price: Decimal) -> Order:
        oid = self.venue.next_id()
        now = self.venue.now_ms()
        o = Order(market, acct, sym, oid, f"autoclose-{now}{oid}", side,
                  "LIMIT" if market == "spot" else "LIQUIDATION", "IOC", price, qty, now,
                  orig_type="LIQUIDATION", update_ms=now,
                  reduce_only=market == "futures")
        self.venue.acct(acct).orders[oid] = o
        return o

    def _touch(self, sym: str, is_buy: bool) -> Decimal:
        spec = self.venue.specs[sym]
        book = self.venue.spot_books[sym]
        lvl = book.best_ask() if is_buy else book.best_bid()
        if lvl is None:
            return self.venue.markets[sym].index_price()
        return Decimal(lvl[0]) * spec.spot_tick

    def _liquidate_margin(self, acct: str, level: Decimal) -> None:
        a = self.venue.acct(acct)
        for o in [o for o in a.orders.values() if o.market == "spot" and o.is_open]:
            self.margin_orders.cancel(o)
        self.venue.liquidations.append({"account": acct, "kind": "margin",
                                        "time": self.venue.now_ms(), "t": self.venue.t,
                                        "marginLevel": level})
        fee_total = ZERO
        touched: list[str] = ["USDT"]
        # 1) surplus coins -> USDT, 2) buy back each coin liability, 3) repay everything.
        for asset in self.venue.assets:
            if asset == "USDT":
                continue
            sym = asset + "USDT"
            if sym not in self.venue.specs:
                continue
            step = self.venue.specs[sym].spot_step
            liab = self.venue.liability(acct, asset)
            free = self.venue.bal(acct, asset)
            touched.append(asset)
            if free > liab:
                qty = ((free - liab) / step).to_integral_value(rounding="ROUND_DOWN") * step
                if qty > 0:
                    o = self._autoclose_order(acct, "spot", sym, "SELL", qty,
                                              self._touch(sym, False))
                    self.margin_orders.exec_report(o, "NEW")
                    self.margin_orders.spot_fill(o, o.price, qty, maker=False)
                    fee_total += fee_of(o.price * qty, self.venue.p.margin_liquidation_fee)
            elif liab > free:
                qty = ((liab - free) / step).to_integral_value(rounding=ROUND_UP) * step
                o = self._autoclose_order(acct, "spot", sym, "BUY", qty, self._touch(sym, True))
                self.margin_orders.exec_report(o, "NEW")
                self.margin_orders.spot_fill(o, o.price, qty, maker=False)
                fee_total += fee_of(o.price * qty, self.venue.p.margin_liquidation_fee)
            if self.venue.liability(acct, asset) > 0:
                self.margin.repay(acct, asset, self.venue.liability(acct, asset), f"liq:{acct}",
                                  strict=False)
        now = self.venue.now_ms()
        if fee_total > 0:
            self.venue.ledger.post(now, "liquidation", f"liqfee:{acct}", [
                (acct, "USDT", "free", -fee_total), (HOUSE, "USDT", "free", fee_total)])
        usdt_liab = self.venue.liability(acct, "USDT")
        if usdt_liab > 0:
            self.margin.repay(acct, "USDT", usdt_liab, f"liq:{acct}", strict=False)
        self._cover_deficit(acct, "free")
        left = self.venue.liability(acct, "USDT")
        if left > 0:
            self.margin.repay(acct, "USDT", left, f"liq:{acct}", strict=False)
        self.margin.position_event(acct, touched)

    def _cover_deficit(self, acct: str, bucket: str) -> None:
        short = -self.venue.bal(acct, "USDT", bucket)
        if short > 0:
            self.venue.ledger.post(self.venue.now_ms(), "insurance", f"insurance:{acct}", [
                (acct, "USDT", bucket, short), (HOUSE, "USDT", "free", -short)])

    def _liquidate_futures(self, acct: str, margin: Decimal, mm: Decimal) -> None:
        a = self.venue.acct(acct)
        for o in [o for o in a.orders.values() if o.market == "futures" and o.is_open]:
            self.futures.cancel(o)
        self.venue.liquidations.append({"account": acct, "kind": "futures",
                                        "time": self.venue.now_ms(), "t": self.venue.t,
                                        "marginBalance": margin, "maintMargin": mm})
        syms = []
        clearance = ZERO
        for sym, pos in a.positions.items():
            if pos.amt == 0:
                continue
            syms.append(sym)
            mark = self.futures.mark(sym)
            qty = abs(pos.amt)
            o = self._autoclose_order(acct, "futures", sym, "SELL" if pos.amt > 0 else "BUY",
                                      qty, mark)
            self.futures.order_event(o, "NEW")
            self.futures.fill(o, mark, qty, maker=False, liquidation=True)
            clearance += (qty * mark * self.venue.p.futures_liquidation_fee).quantize(Q8)
        wallet = self.venue.bal(acct, "USDT", "fwallet")
        fee = min(clearance, max(ZERO, wallet))
        if fee > 0:
            self.venue.ledger.post(self.venue.now_ms(), "liquidation", f"liqfee:{acct}", [
                (acct, "USDT", "fwallet", -fee), (HOUSE, "USDT", "free", fee)])
        self._cover_deficit(acct, "fwallet")
        self.futures.account_event(acct, "ORDER", syms)

    def _margin_call(self, acct: str, wallet: Decimal) -> None:
        a = self.venue.acct(acct)
        ps = []
        for sym, pos in a.positions.items():
            if pos.amt == 0:
                continue
            mark = self.futures.mark(sym)
            ps.append({"s": sym, "ps": "BOTH", "pa": str(pos.amt), "mt": "CROSSED", "iw": "0",
                       "mp": f"{mark:.8f}", "up": f"{self.futures.upnl(pos, mark):.8f}",
                       "mm": f"{self.futures.maint(sym, abs(pos.amt) * mark):.8f}"})
        self.venue.emit(f"user:{acct}:futures", {"e": "MARGIN_CALL", "E": self.venue.now_ms(),
                                           "cw": f"{wallet:.8f}", "p": ps})

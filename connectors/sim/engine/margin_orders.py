"""Cross-margin orders: validation with Binance's filters and codes, taker walks, resting
LIMIT/LIMIT_MAKER orders with locked funds, side effects, executionReports."""
from __future__ import annotations

from decimal import ROUND_UP, Decimal
from typing import TYPE_CHECKING, Any

from connectors.sim.engine.errors import BinanceError, err
from connectors.sim.engine.margin import SIDE_EFFECTS, ZERO, f8
from connectors.sim.engine.matching import Q8, consume, dec_param, fee_of, walk
from connectors.sim.engine.state import Order

if TYPE_CHECKING:
    from connectors.sim.engine.exchange import Exchange

HOUSE = "house"


class MarginOrdersMixin:
    def margin_new_order(self: Exchange, acct: str, params: dict[str, str]) -> dict[str, Any]:
        a = self._acct(acct)
        spec = self._spec(params.get("symbol"))
        sym, base, quote = spec.symbol, spec.base, spec.quote
        side = (params.get("side") or "").upper()
        if not side:
            raise err(-1102, "side")
        if side not in ("BUY", "SELL"):
            raise err(-1117)
        typ = (params.get("type") or "").upper()
        if not typ:
            raise err(-1102, "type")
        if typ not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
            raise err(-1116)
        se = (params.get("sideEffectType") or "NO_SIDE_EFFECT").upper()
        if se not in SIDE_EFFECTS:
            raise BinanceError(400, -1100, "Illegal characters found in parameter "
                               "'sideEffectType'; legal range is '" + "|".join(SIDE_EFFECTS) + "'.")
        if (params.get("isIsolated") or "FALSE").upper() == "TRUE":
            raise BinanceError(400, -11001, "Isolated margin account does not exist.")
        cid = params.get("newClientOrderId") or ""
        if cid and any(o.client_id == cid and o.is_open for o in a.orders.values()
                       if o.market == "spot"):
            raise BinanceError(400, -2010, "Duplicate order sent.")
        tif = ""
        price = ZERO
        tick, step = spec.spot_tick, spec.spot_step
        if typ in ("LIMIT", "LIMIT_MAKER"):
            price = dec_param(params, "price") or ZERO
            if price <= 0 or price % tick != 0:
                raise err(-1013, msg="Filter failure: PRICE_FILTER")
            if typ == "LIMIT":
                tif = (params.get("timeInForce") or "").upper()
                if not tif:
                    raise err(-1102, "timeInForce")
                if tif not in ("GTC", "IOC", "FOK"):
                    raise err(-1115)
            else:
                tif = "GTC"
        quote_qty = dec_param(params, "quoteOrderQty", required=False) if typ == "MARKET" else None
        qty = dec_param(params, "quantity", required=quote_qty is None)
        if qty is not None and (qty < step or qty % step != 0 or qty > spec.spot_max_qty):
            raise err(-1013)
        if quote_qty is not None and qty is None and quote_qty <= 0:
            raise err(-1102, "quoteOrderQty")
        is_buy = side == "BUY"
        book = self.spot_books[sym]
        overlay = self._overlay_for("spot", sym, is_buy)
        if typ == "MARKET":
            est = Decimal(repr(self.markets[sym].mid))
            if (qty * est if qty is not None else quote_qty) < spec.spot_min_notional:  # type: ignore[operator]
                raise err(-1013, msg="Filter failure: NOTIONAL")
            lots = None if qty is None else int(qty / step)
            fills = walk(book, overlay, is_buy, lots, None, quote_qty if qty is None else None,
                         tick, step)
        else:
            if qty * price < spec.spot_min_notional:  # type: ignore[operator]
                raise err(-1013, msg="Filter failure: NOTIONAL")
            lots = int(qty / step)  # type: ignore[operator]
            fills = walk(book, overlay, is_buy, lots, int(price / tick), None, tick, step)
            if typ == "LIMIT_MAKER" and fills:
                raise BinanceError(400, -2010, "Order would immediately match and take.")
        self.faults.check_reject("spot")
        frac = self.faults.fraction("spot")
        if frac < 1:
            total = sum(q for _, q in fills) if lots is None else lots
            fills = _trim(fills, int(total * frac))
        filled_lots = sum(q for _, q in fills)
        if tif == "FOK" and filled_lots < (lots or 0):
            fills, filled_lots = [], 0
        rests = typ in ("LIMIT", "LIMIT_MAKER") and tif == "GTC" and filled_lots < (lots or 0)
        rest_qty = (Decimal(lots or 0) - filled_lots) * step if rests else ZERO
        notional = sum((Decimal(p) * tick * Decimal(q) * step for p, q in fills), ZERO)
        fees = sum((fee_of(Decimal(p) * tick * Decimal(q) * step, self.p.spot_taker_fee)
                    for p, q in fills), ZERO)
        rest_lock = ZERO
        if is_buy:
            rest_lock = rest_qty * price + fee_of(rest_qty * price, self.p.spot_maker_fee)
            need_asset, need = quote, notional + fees + rest_lock
        else:
            need_asset, need = base, Decimal(filled_lots) * step + rest_qty
        short = need - self._bal(acct, need_asset)
        borrow = ZERO
        if short > 0:
            if se not in ("MARGIN_BUY", "AUTO_BORROW_REPAY"):
                raise err(-2010)
            borrow = short.quantize(Q8, ROUND_UP)
            if borrow > self._max_borrowable(acct, need_asset):
                if self.pool_available(need_asset) < borrow:
                    raise err(-3045)
                raise err(-2010)
        now = self.now_ms()
        oid = self._next_id()
        o = Order("spot", acct, sym, oid, cid or f"sim-{oid}", side, typ, tif, price,
                  qty if qty is not None else ZERO, now, side_effect=se,
                  quote_order_qty=quote_qty or ZERO, update_ms=now)
        if qty is None:  # quoteOrderQty market order: origQty is what the walk could buy
            o.orig_qty = Decimal(filled_lots) * step
        a.orders[oid] = o
        if borrow > 0:
            self._borrow(acct, need_asset, borrow, f"order:{oid}")
        self._exec_report(o, "NEW")
        consume(book, self.spot_models[sym], is_buy, fills)
        for p, q in fills:
            self._spot_fill(o, Decimal(p) * tick, Decimal(q) * step, maker=False)
        if rests:
            o.locked_asset = quote if is_buy else base
            o.locked = rest_lock if is_buy else rest_qty
            self.ledger_.post(now, "lock", f"order:{oid}", [
                (acct, o.locked_asset, "free", -o.locked), (acct, o.locked_asset, "locked", o.locked)])
            self._rest(o)
        elif o.remaining > 0 or (o.executed == 0 and o.status == "NEW"):
            o.status = "EXPIRED"
            self._exec_report(o, "EXPIRED")
        self._position_event(acct, [base, quote])
        resp = self._margin_order_json(o, params.get("newOrderRespType")
                                       or ("FULL" if typ in ("MARKET", "LIMIT") else "ACK"))
        if borrow > 0 and resp.get("status") is not None:
            resp["marginBuyBorrowAmount"] = f8(borrow)
            resp["marginBuyBorrowAsset"] = need_asset
        return resp

    def _spot_fill(self: Exchange, o: Order, price: Decimal, qty: Decimal, maker: bool) -> None:
        spec = self.specs[o.symbol]
        base, quote, acct = spec.base, spec.quote, o.account
        notional = price * qty
        fee = fee_of(notional, self.p.spot_maker_fee if maker else self.p.spot_taker_fee)
        now = self.now_ms()
        ref = f"order:{o.order_id}"
        src = "locked" if maker else "free"
        if o.side == "BUY":
            legs = [(acct, quote, src, -notional), (HOUSE, quote, "free", notional),
                    (HOUSE, base, "free", -qty), (acct, base, "free", qty)]
            fee_leg = [(acct, quote, src, -fee), (HOUSE, quote, "free", fee)]
            if maker:
                o.locked -= notional + fee
        else:
            legs = [(acct, base, src, -qty), (HOUSE, base, "free", qty),
                    (HOUSE, quote, "free", -notional), (acct, quote, "free", notional)]
            fee_leg = [(acct, quote, "free", -fee), (HOUSE, quote, "free", fee)]
            if maker:
                o.locked -= qty
        self.ledger_.post(now, "fill", ref, legs)
        self.ledger_.post(now, "fee", ref, fee_leg)
        o.executed += qty
        o.cum_quote += notional
        o.status = "FILLED" if o.remaining <= 0 else "PARTIALLY_FILLED"
        o.update_ms = now
        tid = self._next_id()
        trade = {"symbol": o.symbol, "id": tid, "orderId": o.order_id, "price": f8(price),
                 "qty": f8(qty), "quoteQty": f8(notional), "commission": f8(fee),
                 "commissionAsset": quote, "time": now, "isBuyer": o.side == "BUY",
                 "isMaker": maker, "isBestMatch": True, "isIsolated": False}
        o.fills.append(trade)
        self._acct(acct).margin_trades.append(trade)
        self._exec_report(o, "TRADE", last=(price, qty, fee, tid, maker))
        if o.status == "FILLED" and o.locked > 0:
            self._unlock(o)
        if o.side_effect in ("AUTO_REPAY", "AUTO_BORROW_REPAY"):
            got = base if o.side == "BUY" else quote
            liab = self._bal(acct, got, "borrowed") + self._bal(acct, got, "interest")
            if liab > 0:
                self._repay(acct, got, min(liab, self._bal(acct, got)), ref, strict=False)

    def _unlock(self: Exchange, o: Order) -> None:
        if o.locked > 0:
            self.ledger_.post(self.now_ms(), "unlock", f"order:{o.order_id}", [
                (o.account, o.locked_asset, "locked", -o.locked),
                (o.account, o.locked_asset, "free", o.locked)])
        o.locked = ZERO

    def _exec_report(self: Exchange, o: Order, x: str, last: tuple[Any, ...] | None = None,
                     orig_cid: str = "") -> None:
        now = self.now_ms()
        price, qty, fee, tid, maker = last or (ZERO, ZERO, ZERO, -1, False)
        self.emit(f"user:{o.account}:margin", {
            "e": "executionReport", "E": now, "s": o.symbol, "c": o.client_id, "S": o.side,
            "o": o.type, "f": o.tif or "GTC", "q": f8(o.orig_qty), "p": f8(o.price),
            "P": "0.00000000", "F": "0.00000000", "g": -1, "C": orig_cid, "x": x,
            "X": o.status, "r": "NONE", "i": o.order_id, "l": f8(qty), "z": f8(o.executed),
            "L": f8(price), "n": f8(fee), "N": self.specs[o.symbol].quote if last else None,
            "T": now, "t": tid, "I": self._next_id(), "w": o.is_open and o.type != "MARKET",
            "m": maker, "M": False, "O": o.time_ms, "Z": f8(o.cum_quote), "Y": f8(price * qty),
            "Q": f8(o.quote_order_qty), "W": o.time_ms, "V": "NONE"})

    def _margin_order_json(self: Exchange, o: Order, resp_type: str = "RESULT") -> dict[str, Any]:
        out: dict[str, Any] = {"symbol": o.symbol, "orderId": o.order_id,
                               "clientOrderId": o.client_id, "transactTime": o.time_ms,
                               "isIsolated": False}
        if resp_type.upper() == "ACK":
            return out
        out.update({"price": f8(o.price), "origQty": f8(o.orig_qty),
                    "executedQty": f8(o.executed), "cummulativeQuoteQty": f8(o.cum_quote),
                    "status": o.status, "timeInForce": o.tif or "GTC", "type": o.type,
                    "side": o.side, "selfTradePreventionMode": "NONE"})
        if resp_type.upper() == "FULL":
            out["fills"] = [{"price": t["price"], "qty": t["qty"], "commission": t["commission"],
                             "commissionAsset": t["commissionAsset"], "tradeId": t["id"]}
                            for t in o.fills]
        return out

    def _find_order(self: Exchange, acct: str, market: str, params: dict[str, str]) -> Order:
        a = self._acct(acct)
        sym = self._spec(params.get("symbol")).symbol
        oid, cid = params.get("orderId"), params.get("origClientOrderId")
        if not oid and not cid:
            raise BinanceError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be "
                               "sent, but both were empty/null!")
        found = None
        if oid:
            try:
                found = a.orders.get(int(oid))
            except ValueError:
                raise err(-1102, "orderId") from None
        else:
            for o in reversed(a.orders.values()):  # latest wins: client ids may be reused
                if o.client_id == cid and o.market == market:
                    found = o
                    break
        if found is None or found.market != market or found.symbol != sym:
            raise err(-2013)
        return found

    def margin_get_order(self: Exchange, acct: str, params: dict[str, str]) -> dict[str, Any]:
        return self._margin_order_view(self._find_order(acct, "spot", params))

    def _margin_order_view(self: Exchange, o: Order) -> dict[str, Any]:
        return {"clientOrderId": o.client_id, "cummulativeQuoteQty": f8(o.cum_quote),
                "executedQty": f8(o.executed), "icebergQty": "0.00000000",
                "isWorking": o.is_open, "orderId": o.order_id, "origQty": f8(o.orig_qty),
                "price": f8(o.price), "side": o.side, "status": o.status,
                "stopPrice": "0.00000000", "symbol": o.symbol, "isIsolated": False,
                "time": o.time_ms, "timeInForce": o.tif or "GTC", "type": o.type,
                "selfTradePreventionMode": "NONE", "updateTime": o.update_ms}

    def margin_cancel_order(self: Exchange, acct: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            o = self._find_order(acct, "spot", params)
        except BinanceError as e:
            if e.code == -2013:
                raise err(-2011) from None
            raise
        if not o.is_open:
            raise err(-2011)
        self._cancel(o)
        self._position_event(acct, [self.specs[o.symbol].base, self.specs[o.symbol].quote])
        return {"symbol": o.symbol, "isIsolated": False, "orderId": o.order_id,
                "origClientOrderId": o.client_id,
                "clientOrderId": params.get("newClientOrderId") or f"cancel-{o.order_id}",
                "price": f8(o.price), "origQty": f8(o.orig_qty), "executedQty": f8(o.executed),
                "cummulativeQuoteQty": f8(o.cum_quote), "status": o.status,
                "timeInForce": o.tif or "GTC", "type": o.type, "side": o.side}

    def _cancel(self: Exchange, o: Order) -> None:
        o.status = "CANCELED"
        o.update_ms = self.now_ms()
        self._unrest(o)
        if o.market == "spot":
            self._unlock(o)
            self._exec_report(o, "CANCELED")
        else:
            self._fut_order_event(o, "CANCELED")

    def _orders_of(self: Exchange, acct: str, market: str, symbol: str | None, *,
                   open_only: bool) -> list[Order]:
        """The account's orders of one market, as openOrders (symbol optional, open only) and
        allOrders (symbol required: -1102 without it) list them."""
        sym = self._spec(symbol).symbol if symbol or not open_only else None
        return [o for o in self._acct(acct).orders.values()
                if o.market == market and (not open_only or o.is_open)
                and (sym is None or o.symbol == sym)]

    def margin_open_orders(self: Exchange, acct: str,
                           params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return [self._margin_order_view(o) for o in
                self._orders_of(acct, "spot", (params or {}).get("symbol"), open_only=True)]

    def margin_all_orders(self: Exchange, acct: str,
                          params: dict[str, str]) -> list[dict[str, Any]]:
        return [self._margin_order_view(o) for o in
                self._orders_of(acct, "spot", params.get("symbol"), open_only=False)]

    def margin_my_trades(self: Exchange, acct: str, params: dict[str, str]) -> list[dict[str, Any]]:
        sym = self._spec(params.get("symbol")).symbol
        n = int(params.get("limit") or 500)
        return [t for t in self._acct(acct).margin_trades if t["symbol"] == sym][-n:]


def _trim(fills: list[tuple[int, int]], max_lots: int) -> list[tuple[int, int]]:
    out = []
    left = max_lots
    for p, q in fills:
        if left <= 0:
            break
        out.append((p, min(q, left)))
        left -= min(q, left)
    return out

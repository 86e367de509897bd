"""Cross-margin orders: validation with Binance's filters and codes, taker walks, resting
LIMIT/LIMIT_MAKER orders with locked funds, side effects (MARGIN_BUY, AUTO_REPAY,
AUTO_BORROW_REPAY), executionReports. Fees are charged in the QUOTE asset (USDT) for simplicity,
on both sides; so a buy of exactly the liability repays it exactly."""
from __future__ import annotations

from decimal import ROUND_UP, Decimal
from typing import Any

from connectors.sim.engine.errors import BinanceError, err
from connectors.sim.engine.margin import SIDE_EFFECTS, ZERO, Margin, f8
from connectors.sim.engine.matching import Q8, Matching, consume, dec_param, fee_of, trim, walk
from connectors.sim.engine.orders import find_open_order, find_order, orders_of
from connectors.sim.engine.state import Order
from connectors.sim.engine.venue_state import HOUSE, VenueState


class MarginOrders:
    """Orders on the cross-margin account (the spot books)."""

    def __init__(self, venue: VenueState, matching: Matching, margin: Margin) -> None:
        self.venue = venue
        self.matching = matching
        self.margin = margin

    def margin_new_order(self, acct: str, params: dict[str, str]) -> dict[str, Any]:
        a = self.venue.acct(acct)
        spec = self.venue.spec(params.get("symbol"))
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
        book = self.venue.spot_books[sym]
        overlay = self.matching.overlay_for("spot", sym, is_buy)
        if typ == "MARKET":
            est = Decimal(repr(self.venue.markets[sym].mid))
            notional_est = qty * est if qty is not None else quote_qty
            if notional_est < spec.spot_min_notional:  # type: ignore[operator]
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
        self.venue.faults.check_reject("spot")
        frac = self.venue.faults.fraction("spot")
        if frac < 1:
            total = sum(q for _, q in fills) if lots is None else lots
            fills = trim(fills, int(total * frac))
        filled_lots = sum(q for _, q in fills)
        if tif == "FOK" and filled_lots < (lots or 0):
            fills, filled_lots = [], 0
        rests = typ in ("LIMIT", "LIMIT_MAKER") and tif == "GTC" and filled_lots < (lots or 0)
        rest_qty = (Decimal(lots or 0) - filled_lots) * step if rests else ZERO
        notional = sum((Decimal(p) * tick * Decimal(q) * step for p, q in fills), ZERO)
        fees = sum((fee_of(Decimal(p) * tick * Decimal(q) * step, self.venue.p.spot_taker_fee)
                    for p, q in fills), ZERO)
        rest_lock = ZERO
        if is_buy:
            rest_lock = rest_qty * price + fee_of(rest_qty * price, self.venue.p.spot_maker_fee)
            need_asset, need = quote, notional + fees + rest_lock
        else:
            need_asset, need = base, Decimal(filled_lots) * step + rest_qty
        short = need - self.venue.bal(acct, need_asset)
        borrow = ZERO
        if short > 0:
            if se not in ("MARGIN_BUY", "AUTO_BORROW_REPAY"):
                raise err(-2010)
            borrow = short.quantize(Q8, ROUND_UP)
            if borrow > self.margin.max_borrowable(acct, need_asset):
                if self.margin.pool_available(need_asset) < borrow:
                    raise err(-3045)
                raise err(-2010)
        now = self.venue.now_ms()
        oid = self.venue.next_id()
        o = Order("spot", acct, sym, oid, cid or f"sim-{oid}", side, typ, tif, price,
                  qty if qty is not None else ZERO, now, side_effect=se,
                  quote_order_qty=quote_qty or ZERO, update_ms=now)
        if qty is None:  # quoteOrderQty market order: origQty is what the walk could buy
            o.orig_qty = Decimal(filled_lots) * step
        a.orders[oid] = o
        if borrow > 0:
            self.margin.borrow(acct, need_asset, borrow, f"order:{oid}")
        self.exec_report(o, "NEW")
        consume(book, self.venue.spot_models[sym], is_buy, fills)
        for p, q in fills:
            self.spot_fill(o, Decimal(p) * tick, Decimal(q) * step, maker=False)
        if rests:
            o.locked_asset = quote if is_buy else base
            o.locked = rest_lock if is_buy else rest_qty
            self.venue.ledger.post(now, "lock", f"order:{oid}", [
                (acct, o.locked_asset, "free", -o.locked),
                (acct, o.locked_asset, "locked", o.locked)])
            self.matching.rest(o)
        elif o.remaining > 0 or (o.executed == 0 and o.status == "NEW"):
            o.status = "EXPIRED"
            self.exec_report(o, "EXPIRED")
        self.margin.position_event(acct, [base, quote])
        resp = self._margin_order_json(o, params.get("newOrderRespType")
                                       or ("FULL" if typ in ("MARKET", "LIMIT") else "ACK"))
        if borrow > 0 and resp.get("status") is not None:
            resp["marginBuyBorrowAmount"] = f8(borrow)
            resp["marginBuyBorrowAsset"] = need_asset
        return resp

    def maker_fill(self, o: Order, qty: Decimal) -> None:
        """A resting order the market traded through."""
        self.spot_fill(o, o.price, qty, maker=True)
        self.margin.position_event(o.account, [self.venue.specs[o.symbol].base, "USDT"])

    def spot_fill(self, o: Order, price: Decimal, qty: Decimal, maker: bool) -> None:
        spec = self.venue.specs[o.symbol]
        base, quote, acct = spec.base, spec.quote, o.account
        notional = price * qty
        p = self.venue.p
        fee = fee_of(notional, p.spot_maker_fee if maker else p.spot_taker_fee)
        now = self.venue.now_ms()
        ref = f"order:{o.order_id}"
        src = "locked" if maker else "free"
        fee_asset, fee_amt = self.fee_charge(acct, o.side, base, quote, qty, fee,
                                             p.spot_maker_fee if maker else p.spot_taker_fee)
        if o.side == "BUY":
            legs = [(acct, quote, src, -notional), (HOUSE, quote, "free", notional),
                    (HOUSE, base, "free", -qty), (acct, base, "free", qty)]
            if maker:
                o.locked -= notional + fee   # the lock covered a quote fee: what is left unlocks
        else:
            legs = [(acct, base, src, -qty), (HOUSE, base, "free", qty),
                    (HOUSE, quote, "free", -notional), (acct, quote, "free", notional)]
            if maker:
                o.locked -= qty
        # a quote fee on a resting buy comes out of its lock; any other out of the free balance
        fee_src = src if (o.side == "BUY" and fee_asset == quote) else "free"
        fee_leg = [(acct, fee_asset, fee_src, -fee_amt), (HOUSE, fee_asset, "free", fee_amt)]
        self.venue.ledger.post(now, "fill", ref, legs)
        if maker and o.side == "BUY" and fee_asset != quote and fee > 0:
            # the quote locked for the fee was not spent: back to free
            self.venue.ledger.post(now, "unlock", ref, [(acct, quote, "locked", -fee),
                                                        (acct, quote, "free", fee)])
        self.venue.ledger.post(now, "fee", ref, fee_leg)
        fee = fee_amt
        o.executed += qty
        o.cum_quote += notional
        o.status = "FILLED" if o.remaining <= 0 else "PARTIALLY_FILLED"
        o.update_ms = now
        tid = self.venue.next_id()
        trade = {"symbol": o.symbol, "id": tid, "orderId": o.order_id, "price": f8(price),
                 "qty": f8(qty), "quoteQty": f8(notional), "commission": f8(fee),
                 "commissionAsset": fee_asset, "time": now, "isBuyer": o.side == "BUY",
                 "isMaker": maker, "isBestMatch": True, "isIsolated": False}
        o.fills.append(trade)
        self.venue.acct(acct).margin_trades.append(trade)
        self.exec_report(o, "TRADE", last=(price, qty, fee, tid, maker), fee_asset=fee_asset)
        if o.status == "FILLED" and o.locked > 0:
            self._unlock(o)
        if o.side_effect in ("AUTO_REPAY", "AUTO_BORROW_REPAY"):
            got = base if o.side == "BUY" else quote
            liab = self.venue.liability(acct, got)
            if liab > 0:
                self.margin.repay(acct, got, min(liab, self.venue.bal(acct, got)), ref,
                                  strict=False)

    def _unlock(self, o: Order) -> None:
        if o.locked > 0:
            self.venue.ledger.post(self.venue.now_ms(), "unlock", f"order:{o.order_id}", [
                (o.account, o.locked_asset, "locked", -o.locked),
                (o.account, o.locked_asset, "free", o.locked)])
        o.locked = ZERO

    def fee_charge(self, acct: str, side: str, base: str, quote: str, qty: Decimal,
                   quote_fee: Decimal, rate: Decimal) -> tuple[str, Decimal]:
        """(asset, amount) of the fee whose value in the quote is `quote_fee`, by the venue's
        fee mode (config.SimVenueConfig.spot_fee_asset)."""
        mode = self.venue.cfg.spot_fee_asset
        if mode == "bnb" and quote_fee > 0:
            cfg = self.venue.cfg
            bnb = (quote_fee * (1 - Decimal(cfg.bnb_discount)) / Decimal(cfg.bnb_price)
                   ).quantize(Q8, ROUND_UP)
            if self.venue.bal(acct, "BNB") >= bnb:
                return "BNB", bnb
        if mode in ("bnb", "received") and side == "BUY":
            return base, fee_of(qty, rate)     # the coin received
        return quote, quote_fee

    def exec_report(self, o: Order, x: str, last: tuple[Any, ...] | None = None,
                    orig_cid: str = "", fee_asset: str = "") -> None:
        now = self.venue.now_ms()
        price, qty, fee, tid, maker = last or (ZERO, ZERO, ZERO, -1, False)
        self.venue.emit(f"user:{o.account}:margin", {
            "e": "executionReport", "E": now, "s": o.symbol, "c": o.client_id, "S": o.side,
            "o": o.type, "f": o.tif or "GTC", "q": f8(o.orig_qty), "p": f8(o.price),
            "P": "0.00000000", "F": "0.00000000", "g": -1, "C": orig_cid, "x": x,
            "X": o.status, "r": "NONE", "i": o.order_id, "l": f8(qty), "z": f8(o.executed),
            "L": f8(price), "n": f8(fee), "N": (fee_asset or self.venue.specs[o.symbol].quote) if last else None,
            "T": now, "t": tid, "I": self.venue.next_id(), "w": o.is_open and o.type != "MARKET",
            "m": maker, "M": False, "O": o.time_ms, "Z": f8(o.cum_quote), "Y": f8(price * qty),
            "Q": f8(o.quote_order_qty), "W": o.time_ms, "V": "NONE"})

    def _margin_order_json(self, o: Order, resp_type: str = "RESULT") -> dict[str, Any]:
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

    def margin_get_order(self, acct: str, params: dict[str, str]) -> dict[str, Any]:
        return self._margin_order_view(find_order(self.venue, acct, "spot", params))

    def _margin_order_view(self, o: Order) -> dict[str, Any]:
        return {"clientOrderId": o.client_id, "cummulativeQuoteQty": f8(o.cum_quote),
                "executedQty": f8(o.executed), "icebergQty": "0.00000000",
                "isWorking": o.is_open, "orderId": o.order_id, "origQty": f8(o.orig_qty),
                "price": f8(o.price), "side": o.side, "status": o.status,
                "stopPrice": "0.00000000", "symbol": o.symbol, "isIsolated": False,
                "time": o.time_ms, "timeInForce": o.tif or "GTC", "type": o.type,
                "selfTradePreventionMode": "NONE", "updateTime": o.update_ms}

    def margin_cancel_order(self, acct: str, params: dict[str, str]) -> dict[str, Any]:
        o = find_open_order(self.venue, acct, "spot", params)
        self.cancel(o)
        spec = self.venue.specs[o.symbol]
        self.margin.position_event(acct, [spec.base, spec.quote])
        return {"symbol": o.symbol, "isIsolated": False, "orderId": o.order_id,
                "origClientOrderId": o.client_id,
                "clientOrderId": params.get("newClientOrderId") or f"cancel-{o.order_id}",
                "price": f8(o.price), "origQty": f8(o.orig_qty), "executedQty": f8(o.executed),
                "cummulativeQuoteQty": f8(o.cum_quote), "status": o.status,
                "timeInForce": o.tif or "GTC", "type": o.type, "side": o.side}

    def cancel(self, o: Order) -> None:
        o.status = "CANCELED"
        o.update_ms = self.venue.now_ms()
        self.matching.unrest(o)
        self._unlock(o)
        self.exec_report(o, "CANCELED")

    def margin_open_orders(self, acct: str,
                           params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return [self._margin_order_view(o) for o in
                orders_of(self.venue, acct, "spot", (params or {}).get("symbol"), open_only=True)]

    def margin_all_orders(self, acct: str,
                          params: dict[str, str]) -> list[dict[str, Any]]:
        return [self._margin_order_view(o) for o in
                orders_of(self.venue, acct, "spot", params.get("symbol"), open_only=False)]

    def margin_my_trades(self, acct: str, params: dict[str, str]) -> list[dict[str, Any]]:
        sym = self.venue.spec(params.get("symbol")).symbol
        n = int(params.get("limit") or 500)
        return [t for t in self.venue.acct(acct).margin_trades if t["symbol"] == sym][-n:]


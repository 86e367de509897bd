"""USD-M futures, one-way mode, cross margin: orders (LIMIT/MARKET; GTC/IOC/FOK/GTX; reduceOnly),
positions with exact cost basis, tiered maintenance margin, funding settlement, account views.
The house is the counterparty of every fill, so realised PnL and fees are ledger transfers."""
from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from connectors.sim.engine import refdata
from connectors.sim.engine.errors import BinanceError, err
from connectors.sim.engine.matching import Q8, Matching, consume, dec_param, fee_of, trim, walk
from connectors.sim.engine.orders import find_open_order, find_order, orders_of
from connectors.sim.engine.state import Order, Position
from connectors.sim.engine.venue_state import HOUSE, VenueState

if TYPE_CHECKING:
    from connectors.sim.engine.params import Bracket

ZERO = Decimal(0)
DEFAULT_LEVERAGE = 20


def s8(x: Decimal) -> str:
    return f"{x:.8f}"


def _sign(x: Decimal) -> int:
    return (x > 0) - (x < 0)


class Futures:
    """The USD-M account of every user: risk, orders, fills, funding, views and events."""

    def __init__(self, venue: VenueState, matching: Matching) -> None:
        self.venue = venue
        self.matching = matching

    # ------------------------------------------------------------ risk maths
    def lev(self, acct: str, sym: str) -> int:
        return self.venue.acct(acct).leverage.get(sym, DEFAULT_LEVERAGE)

    def mark(self, sym: str) -> Decimal:
        return self.venue.markets[sym].mark_price()

    @staticmethod
    def upnl(pos: Position, mark: Decimal) -> Decimal:
        return pos.amt * mark - _sign(pos.amt) * pos.cost

    def _bracket(self, sym: str, notional: Decimal) -> Bracket:
        return refdata.bracket_for(self.venue.specs[sym].brackets, notional)

    def maint(self, sym: str, notional: Decimal) -> Decimal:
        b = self._bracket(sym, notional)
        return max(ZERO, notional * b.mmr - b.cum)

    def _open_order_im(self, acct: str) -> Decimal:
        return sum((o.remaining * o.price / self.lev(acct, o.symbol)
                    for o in self.venue.acct(acct).orders.values()
                    if o.market == "futures" and o.is_open and not o.reduce_only), ZERO)

    def futures_risk(self, acct: str) -> dict[str, Decimal]:
        """wallet, upnl, margin balance, position IM, open-order IM, maintenance margin."""
        a = self.venue.acct(acct)
        wallet = self.venue.bal(acct, "USDT", "fwallet")
        upnl = pim = mm = ZERO
        for sym, pos in a.positions.items():
            if pos.amt == 0:
                continue
            mark = self.mark(sym)
            notional = abs(pos.amt) * mark
            upnl += self.upnl(pos, mark)
            pim += notional / self.lev(acct, sym)
            mm += self.maint(sym, notional)
        oim = self._open_order_im(acct)
        return {"wallet": wallet, "upnl": upnl, "margin": wallet + upnl, "pim": pim, "oim": oim,
                "mm": mm, "available": wallet + upnl - pim - oim}

    def futures_max_withdraw(self, acct: str) -> Decimal:
        r = self.futures_risk(acct)
        return max(ZERO, min(r["wallet"], r["available"])).quantize(Q8, ROUND_DOWN)

    def _liq_price(self, acct: str, sym: str) -> Decimal:
        """Cross: the mark at which margin balance == maintenance margin, other positions held."""
        a = self.venue.acct(acct)
        pos = a.positions.get(sym)
        if pos is None or pos.amt == 0:
            return ZERO
        r = self.futures_risk(acct)
        mark = self.mark(sym)
        notional = abs(pos.amt) * mark
        b = self._bracket(sym, notional)
        others_upnl = r["upnl"] - self.upnl(pos, mark)
        others_mm = r["mm"] - self.maint(sym, notional)
        w = r["wallet"] + others_upnl - others_mm
        q = abs(pos.amt)
        if pos.amt > 0:   # w + q(P - E) = qPm - cum
            px = (pos.cost - w - b.cum) / (q * (1 - b.mmr))
        else:             # w + q(E - P) = qPm - cum
            px = (w + pos.cost + b.cum) / (q * (1 + b.mmr))
        return max(ZERO, px)

    # ------------------------------------------------------------ orders
    def futures_new_order(self, acct: str, params: dict[str, str]) -> dict[str, Any]:
        a = self.venue.acct(acct)
        spec = self.venue.spec(params.get("symbol"))
        sym = spec.symbol
        side = (params.get("side") or "").upper()
        if not side:
            raise err(-1102, "side")
        if side not in ("BUY", "SELL"):
            raise err(-1117)
        typ = (params.get("type") or "").upper()
        if not typ:
            raise err(-1102, "type")
        if typ not in ("LIMIT", "MARKET"):
            raise err(-1116)
        ps = (params.get("positionSide") or "BOTH").upper()
        if ps != "BOTH":
            raise BinanceError(400, -4061, "Order's position side does not match user's setting.")
        reduce_only = (params.get("reduceOnly") or "false").lower() == "true"
        cid = params.get("newClientOrderId") or ""
        if cid and any(o.client_id == cid and o.is_open for o in a.orders.values()
                       if o.market == "futures"):
            raise BinanceError(400, -4116, "ClientOrderId is duplicated.")
        tick, step = spec.perp_tick, spec.perp_step
        qty = dec_param(params, "quantity")
        assert qty is not None
        if qty <= 0:
            raise err(-4003)
        if qty % step != 0:
            raise err(-1111)
        if qty > spec.perp_max_qty:
            raise BinanceError(400, -4005, "Quantity greater than max quantity.")
        price, tif = ZERO, ""
        if typ == "LIMIT":
            tif = (params.get("timeInForce") or "").upper()
            if not tif:
                raise err(-1102, "timeInForce")
            if tif not in ("GTC", "IOC", "FOK", "GTX"):
                raise err(-1115)
            price = dec_param(params, "price") or ZERO
            if price <= 0:
                raise err(-1102, "price")
            if price % tick != 0:
                raise BinanceError(400, -4014, "Price not increased by tick size.")
        mark = self.mark(sym)
        if not reduce_only and qty * (price or mark) < spec.perp_min_notional:
            raise err(-4164, spec.perp_min_notional)
        pos = a.position(sym)
        sgn = 1 if side == "BUY" else -1
        lots = int(qty / step)
        if reduce_only:
            if pos.amt == 0 or _sign(pos.amt) == sgn:
                raise err(-2022)
            lots = min(lots, int(abs(pos.amt) / step))
        is_buy = side == "BUY"
        book = self.venue.fut_books[sym]
        fills = walk(book, self.matching.overlay_for("fut", sym, is_buy), is_buy, lots,
                     int(price / tick) if typ == "LIMIT" else None)
        if tif == "GTX" and fills:
            raise err(-5022)
        self.venue.faults.check_reject("fut")
        frac = self.venue.faults.fraction("fut")
        if frac < 1:
            fills = trim(fills, int(lots * frac))
        filled = sum(q for _, q in fills)
        if tif == "FOK" and filled < lots:
            fills, filled = [], 0
        rests = typ == "LIMIT" and tif in ("GTC", "GTX") and filled < lots
        # margin check on the exposure this order adds (reducing orders always pass)
        fill_qty = Decimal(filled) * step
        projected = pos.amt + sgn * fill_qty
        if not reduce_only and abs(projected) > abs(pos.amt) or rests and not reduce_only:
            lev = self.lev(acct, sym)
            risk = self.futures_risk(acct)
            notional_fill = sum((Decimal(p) * tick * Decimal(q) * step for p, q in fills), ZERO)
            fee = notional_fill * self.venue.p.fut_taker_fee
            cur_im = abs(pos.amt) * mark / lev
            new_im = abs(projected) * mark / lev
            rest_im = (Decimal(lots - filled) * step * price / lev) if rests else ZERO
            upnl_shift = sgn * fill_qty * mark - notional_fill * sgn  # fill vs mark slippage
            if risk["available"] - fee + upnl_shift - (new_im - cur_im) - rest_im < 0:
                raise err(-2019)
            cap = max(b.cap for b in spec.brackets if b.initial_leverage >= lev)
            exposure = abs(projected) + (Decimal(lots - filled) * step if rests else ZERO)
            if exposure * mark > cap:
                raise err(-2027)
        now = self.venue.now_ms()
        oid = self.venue.next_id()
        o = Order("futures", acct, sym, oid, cid or f"sim-{oid}", side, typ, tif, price,
                  Decimal(lots) * step if reduce_only else qty, now, reduce_only=reduce_only,
                  orig_type=typ, update_ms=now)
        a.orders[oid] = o
        self.order_event(o, "NEW")
        consume(book, self.venue.fut_models[sym], is_buy, fills)
        for p, q in fills:
            self.fill(o, Decimal(p) * tick, Decimal(q) * step, maker=False)
        if rests:
            self.matching.rest(o)
        elif o.remaining > 0:
            o.status = "EXPIRED"
            self.order_event(o, "EXPIRED")
        if fills:
            self.account_event(acct, "ORDER", [sym])
        resp = self._order_json(o)
        if (params.get("newOrderRespType") or "ACK").upper() == "ACK":
            resp.update({"status": "NEW", "executedQty": "0", "cumQty": "0", "cumQuote": "0",
                         "avgPrice": "0.00"})
        return resp

    def fill(self, o: Order, price: Decimal, qty: Decimal, maker: bool,
             liquidation: bool = False) -> Decimal:
        acct, sym = o.account, o.symbol
        pos = self.venue.acct(acct).position(sym)
        sgn = 1 if o.side == "BUY" else -1
        realized = ZERO
        rest = qty
        if pos.amt != 0 and _sign(pos.amt) != sgn:
            close = min(qty, abs(pos.amt))
            portion = pos.cost if close == abs(pos.amt) else (
                pos.cost * close / abs(pos.amt)).quantize(Q8, ROUND_HALF_EVEN)
            realized = (price * close - portion) * _sign(pos.amt)
            pos.cost -= portion
            pos.amt += sgn * close
            rest = qty - close
        if rest > 0:
            pos.amt += sgn * rest
            pos.cost += price * rest
        now = self.venue.now_ms()
        pos.update_ms = now
        notional = price * qty
        fee = ZERO if liquidation else fee_of(
            notional, self.venue.p.fut_maker_fee if maker else self.venue.p.fut_taker_fee)
        ref = f"order:{o.order_id}"
        cause = "liquidation" if liquidation else "fill"
        self.venue.ledger.post(now, cause, ref, [(acct, "USDT", "fwallet", realized),
                                                (HOUSE, "USDT", "free", -realized)])
        self.venue.ledger.post(now, "fee", ref, [(acct, "USDT", "fwallet", -fee),
                                                (HOUSE, "USDT", "free", fee)])
        o.executed += qty
        o.cum_quote += notional
        o.status = "FILLED" if o.remaining <= 0 else "PARTIALLY_FILLED"
        o.update_ms = now
        tid = self.venue.next_id()
        trade = {"buyer": o.side == "BUY", "commission": s8(fee), "commissionAsset": "USDT",
                 "id": tid, "maker": maker, "orderId": o.order_id, "price": str(price),
                 "qty": str(qty), "quoteQty": str(notional), "realizedPnl": s8(realized),
                 "side": o.side, "positionSide": "BOTH", "symbol": sym, "time": now}
        o.fills.append(trade)
        a = self.venue.acct(acct)
        a.futures_trades.append(trade)
        if realized:
            a.income.append({"symbol": sym, "incomeType": "REALIZED_PNL", "income": s8(realized),
                             "asset": "USDT", "info": "", "time": now, "tranId": tid,
                             "tradeId": str(tid)})
        if fee:
            a.income.append({"symbol": sym, "incomeType": "COMMISSION", "income": s8(-fee),
                             "asset": "USDT", "info": "", "time": now, "tranId": tid,
                             "tradeId": str(tid)})
        self.order_event(o, "CALCULATED" if liquidation else "TRADE",
                         last=(price, qty, fee, tid, maker, realized))
        if o.status == "FILLED":
            self.matching.unrest(o)
        return realized

    def maker_fill(self, o: Order, qty: Decimal) -> None:
        if o.reduce_only:
            pos = self.venue.acct(o.account).position(o.symbol)
            room = abs(pos.amt) if pos.amt and _sign(pos.amt) != (1 if o.side == "BUY" else -1) \
                else ZERO
            if room <= 0:
                o.status = "EXPIRED"
                self.matching.unrest(o)
                self.order_event(o, "EXPIRED")
                return
            qty = min(qty, room)
        self.fill(o, o.price, qty, maker=True)
        self.account_event(o.account, "ORDER", [o.symbol])

    def _order_json(self, o: Order) -> dict[str, Any]:
        spec = self.venue.specs[o.symbol]
        pd = refdata.decimals(spec.perp_tick)
        avg = (o.cum_quote / o.executed) if o.executed else ZERO
        return {"clientOrderId": o.client_id, "cumQty": str(o.executed),
                "cumQuote": str(o.cum_quote), "executedQty": str(o.executed),
                "orderId": o.order_id, "avgPrice": f"{avg:.{pd + 3}f}" if o.executed else "0.00",
                "origQty": str(o.orig_qty), "price": str(o.price), "reduceOnly": o.reduce_only,
                "side": o.side, "positionSide": "BOTH", "status": o.status, "stopPrice": "0",
                "closePosition": False, "symbol": o.symbol, "timeInForce": o.tif or "GTC",
                "type": o.type, "origType": o.orig_type or o.type, "updateTime": o.update_ms,
                "time": o.time_ms, "workingType": "CONTRACT_PRICE", "priceProtect": False,
                "priceMatch": "NONE", "selfTradePreventionMode": "NONE", "goodTillDate": 0}

    def order_event(self, o: Order, x: str,
                    last: tuple[Any, ...] | None = None) -> None:
        now = self.venue.now_ms()
        price, qty, fee, tid, maker, rp = last or (ZERO, ZERO, ZERO, 0, False, ZERO)
        avg = (o.cum_quote / o.executed) if o.executed else ZERO
        self.venue.emit(f"user:{o.account}:futures", {
            "e": "ORDER_TRADE_UPDATE", "E": now, "T": now, "o": {
                "s": o.symbol, "c": o.client_id, "S": o.side, "o": o.type, "f": o.tif or "GTC",
                "q": str(o.orig_qty), "p": str(o.price), "ap": str(avg), "sp": "0", "x": x,
                "X": o.status, "i": o.order_id, "l": str(qty), "z": str(o.executed),
                "L": str(price), "N": "USDT", "n": s8(fee), "T": now, "t": tid, "b": "0",
                "a": "0", "m": maker, "R": o.reduce_only, "wt": "CONTRACT_PRICE",
                "ot": o.orig_type or o.type, "ps": "BOTH", "cp": False, "rp": s8(rp),
                "pP": False, "si": 0, "ss": 0, "V": "NONE", "pm": "NONE", "gtd": 0}})

    def account_event(self, acct: str, reason: str, symbols: list[str],
                      balance_change: Decimal = ZERO) -> None:
        a = self.venue.acct(acct)
        w = self.venue.bal(acct, "USDT", "fwallet")
        positions = []
        for sym in symbols:
            pos = a.position(sym)
            mark = self.mark(sym)
            positions.append({"s": sym, "pa": str(pos.amt), "ep": str(pos.entry),
                              "bep": str(pos.entry), "cr": "0",
                              "up": s8(self.upnl(pos, mark)), "mt": "cross", "iw": "0",
                              "ps": "BOTH"})
        now = self.venue.now_ms()
        self.venue.emit(f"user:{acct}:futures", {
            "e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {
                "m": reason, "B": [{"a": "USDT", "wb": s8(w), "cw": s8(w),
                                    "bc": s8(balance_change)}], "P": positions}})

    def balance_event(self, acct: str, reason: str, change: Decimal) -> None:
        self.account_event(acct, reason, [], change)

    def futures_cancel_order(self, acct: str, params: dict[str, str]) -> dict[str, Any]:
        o = find_open_order(self.venue, acct, "futures", params)
        self.cancel(o)
        return self._order_json(o)

    def cancel(self, o: Order) -> None:
        o.status = "CANCELED"
        o.update_ms = self.venue.now_ms()
        self.matching.unrest(o)
        self.order_event(o, "CANCELED")

    def futures_get_order(self, acct: str, params: dict[str, str]) -> dict[str, Any]:
        return self._order_json(find_order(self.venue, acct, "futures", params))

    def futures_open_orders(self, acct: str,
                            params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return [self._order_json(o) for o in
                orders_of(self.venue, acct, "futures", (params or {}).get("symbol"),
                          open_only=True)]

    def futures_all_orders(self, acct: str,
                           params: dict[str, str]) -> list[dict[str, Any]]:
        """GET /fapi/v1/allOrders: every order of the symbol, open and final."""
        return [self._order_json(o) for o in
                orders_of(self.venue, acct, "futures", params.get("symbol"), open_only=False)]

    def futures_user_trades(self, acct: str,
                            params: dict[str, str]) -> list[dict[str, Any]]:
        sym = self.venue.spec(params.get("symbol")).symbol
        n = int(params.get("limit") or 500)
        return [t for t in self.venue.acct(acct).futures_trades if t["symbol"] == sym][-n:]

    def futures_income(self, acct: str,
                       params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Binance: oldest first from startTime (inclusive) up to `limit` rows; without a
        start, the latest `limit` rows."""
        p = params or {}
        kind, sym = p.get("incomeType"), p.get("symbol")
        start, end = int(p.get("startTime") or 0), int(p.get("endTime") or 0)
        limit = min(1000, int(p.get("limit") or 100))
        rows = [r for r in self.venue.acct(acct).income
                if (not kind or r["incomeType"] == kind) and (not sym or r["symbol"] == sym)
                and r["time"] >= start and (not end or r["time"] <= end)]
        return rows[:limit] if start else rows[-limit:]

    def futures_change_leverage(self, acct: str,
                                params: dict[str, str]) -> dict[str, Any]:
        a = self.venue.acct(acct)
        spec = self.venue.spec(params.get("symbol"))
        raw = params.get("leverage")
        if not raw:
            raise err(-1102, "leverage")
        try:
            lev = int(raw)
        except ValueError:
            raise err(-1102, "leverage") from None
        if not 1 <= lev <= spec.brackets[0].initial_leverage:
            raise err(-4028, lev)
        cap = max(b.cap for b in spec.brackets if b.initial_leverage >= lev)
        pos = a.position(spec.symbol)
        if abs(pos.amt) * self.mark(spec.symbol) > cap:
            raise BinanceError(400, -2027, "Exceeded the maximum allowable position at "
                               "current leverage.")
        a.leverage[spec.symbol] = lev
        return {"leverage": lev, "maxNotionalValue": str(int(cap)), "symbol": spec.symbol}

    # ------------------------------------------------------------ views
    def futures_position_risk(self, acct: str,
                              params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        a = self.venue.acct(acct)
        sym = (params or {}).get("symbol")
        syms = [self.venue.spec(sym).symbol] if sym else list(self.venue.specs)
        out = []
        for s in syms:
            pos = a.position(s)
            mark = self.mark(s)
            lev = self.lev(acct, s)
            cap = max(b.cap for b in self.venue.specs[s].brackets if b.initial_leverage >= lev)
            out.append({"entryPrice": str(pos.entry), "breakEvenPrice": str(pos.entry),
                        "marginType": "cross", "isAutoAddMargin": "false",
                        "isolatedMargin": "0.00000000", "leverage": str(lev),
                        "liquidationPrice": s8(self._liq_price(acct, s)),
                        "markPrice": s8(mark), "maxNotionalValue": str(int(cap)),
                        "positionAmt": str(pos.amt), "notional": s8(pos.amt * mark),
                        "isolatedWallet": "0", "symbol": s,
                        "unRealizedProfit": s8(self.upnl(pos, mark)),
                        "positionSide": "BOTH", "updateTime": pos.update_ms})
        return out

    def futures_account(self, acct: str,
                        params: dict[str, str] | None = None) -> dict[str, Any]:
        a = self.venue.acct(acct)
        r = self.futures_risk(acct)
        mw = self.futures_max_withdraw(acct)
        now = self.venue.now_ms()
        positions = []
        for s in self.venue.specs:
            pos = a.position(s)
            mark = self.mark(s)
            lev = self.lev(acct, s)
            notional = abs(pos.amt) * mark
            positions.append({
                "symbol": s, "initialMargin": s8(notional / lev),
                "maintMargin": s8(self.maint(s, notional)),
                "unrealizedProfit": s8(self.upnl(pos, mark)),
                "positionInitialMargin": s8(notional / lev), "openOrderInitialMargin": "0",
                "leverage": str(lev), "isolated": False, "entryPrice": str(pos.entry),
                "maxNotional": str(int(max(b.cap for b in self.venue.specs[s].brackets
                                           if b.initial_leverage >= lev))),
                "bidNotional": "0", "askNotional": "0", "positionSide": "BOTH",
                "positionAmt": str(pos.amt), "updateTime": pos.update_ms})
        asset = {"asset": "USDT", "walletBalance": s8(r["wallet"]),
                 "unrealizedProfit": s8(r["upnl"]), "marginBalance": s8(r["margin"]),
                 "maintMargin": s8(r["mm"]), "initialMargin": s8(r["pim"] + r["oim"]),
                 "positionInitialMargin": s8(r["pim"]), "openOrderInitialMargin": s8(r["oim"]),
                 "crossWalletBalance": s8(r["wallet"]), "crossUnPnl": s8(r["upnl"]),
                 "availableBalance": s8(r["available"]), "maxWithdrawAmount": s8(mw),
                 "marginAvailable": True, "updateTime": now}
        return {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True,
                "updateTime": 0, "multiAssetsMargin": False, "tradeGroupId": -1,
                "totalInitialMargin": s8(r["pim"] + r["oim"]), "totalMaintMargin": s8(r["mm"]),
                "totalWalletBalance": s8(r["wallet"]), "totalUnrealizedProfit": s8(r["upnl"]),
                "totalMarginBalance": s8(r["margin"]),
                "totalPositionInitialMargin": s8(r["pim"]),
                "totalOpenOrderInitialMargin": s8(r["oim"]),
                "totalCrossWalletBalance": s8(r["wallet"]), "totalCrossUnPnl": s8(r["upnl"]),
                "availableBalance": s8(r["available"]), "maxWithdrawAmount": s8(mw),
                "assets": [asset], "positions": positions}

    def futures_balance(self, acct: str,
                        params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        r = self.futures_risk(acct)
        return [{"accountAlias": "SgsR", "asset": "USDT", "balance": s8(r["wallet"]),
                 "crossWalletBalance": s8(r["wallet"]), "crossUnPnl": s8(r["upnl"]),
                 "availableBalance": s8(r["available"]),
                 "maxWithdrawAmount": s8(self.futures_max_withdraw(acct)),
                 "marginAvailable": True, "updateTime": self.venue.now_ms()}]

    # ------------------------------------------------------------ funding
    def settle_funding(self, sym: str, at_ms: int) -> None:
        m = self.venue.markets[sym]
        rate = m.predicted_rate(self.venue.p)
        mark = m.mark_price()
        self.venue.funding_history[sym].append({"symbol": sym, "fundingRate": s8(rate),
                                          "fundingTime": at_ms, "markPrice": s8(mark)})
        m.reset_interval(rate)
        for acct, a in self.venue.accounts.items():
            pos = a.positions.get(sym)
            if pos is None or pos.amt == 0:
                continue
            # rate > 0: longs pay shorts; the house is every user's counterparty.
            amount = -(pos.amt * mark * rate).quantize(Q8, ROUND_HALF_EVEN)
            self.venue.ledger.post(at_ms, "funding", f"funding:{sym}:{at_ms}", [
                (acct, "USDT", "fwallet", amount), (HOUSE, "USDT", "free", -amount)])
            a.income.append({"symbol": sym, "incomeType": "FUNDING_FEE", "income": s8(amount),
                             "asset": "USDT", "info": "FUNDING_FEE", "time": at_ms,
                             "tranId": self.venue.next_id(), "tradeId": ""})
            w = self.venue.bal(acct, "USDT", "fwallet")
            # Binance: a crossed FUNDING_FEE update carries only the balance, no positions.
            self.venue.emit(f"user:{acct}:futures", {
                "e": "ACCOUNT_UPDATE", "E": at_ms, "T": at_ms, "a": {
                    "m": "FUNDING_FEE", "B": [{"a": "USDT", "wb": s8(w), "cw": s8(w),
                                               "bc": s8(amount)}], "P": []}})


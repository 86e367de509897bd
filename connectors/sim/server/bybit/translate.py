"""Pure translation between Bybit v5 shapes and the engine's (Binance-flavoured) calls, views,
events and errors. No I/O; the server modules call these at the edge."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.bybit import constants as C
from connectors.sim.engine.errors import BinanceError

Params = dict[str, str]

_SIDE_IN = {"Buy": "BUY", "Sell": "SELL"}
_SIDE_OUT = {"BUY": "Buy", "SELL": "Sell"}
_STATUS_OUT = {"NEW": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled",
               "CANCELED": "Cancelled", "EXPIRED": "Cancelled", "EXPIRED_IN_MATCH": "Cancelled",
               "REJECTED": "Rejected"}
_TYPE_OUT = {"MARKET": "Market", "LIMIT": "Limit", "LIMIT_MAKER": "Limit"}

# engine (Binance) code -> Bybit retCode, per category
_SPOT_CODES = {-2010: C.SPOT_INSUFFICIENT_BALANCE, -3045: C.SPOT_INSUFFICIENT_BALANCE,
               -3006: C.SPOT_INSUFFICIENT_BALANCE, -3041: C.SPOT_INSUFFICIENT_BALANCE,
               -2013: C.SPOT_ORDER_NOT_FOUND, -2011: C.SPOT_ORDER_NOT_FOUND}
_LINEAR_CODES = {-2019: C.INSUFFICIENT_AVAILABLE, -2027: C.INSUFFICIENT_AVAILABLE,
                 -2022: C.REDUCE_ONLY_REJECTED, -2013: C.ORDER_NOT_FOUND,
                 -2011: C.ORDER_NOT_FOUND, -4116: C.DUPLICATE_LINK_ID}
_COMMON_CODES = {-1021: C.CLOCK_SKEW, -1001: C.SERVER_ERROR, -1000: C.SERVER_ERROR,
                 -3015: C.PARAM_ERROR, -5013: C.WALLET_INSUFFICIENT,
                 -3020: C.WALLET_INSUFFICIENT}


class BybitApiError(Exception):
    """A refusal in Bybit's words: HTTP 200 with this retCode (Bybit's way) unless `http`."""

    def __init__(self, code: int, msg: str, http: int = 200) -> None:
        super().__init__(f"{code} {msg}")
        self.code, self.msg, self.http = code, msg, http


def _f(x: Decimal) -> str:
    """Decimal text without an exponent (Bybit never sends 0E-8)."""
    return format(x, "f")


def ret_code(category: str, exc: BinanceError) -> int:
    if exc.code == -2010 and "Duplicate" in exc.msg:
        return C.DUPLICATE_LINK_ID
    table = _SPOT_CODES if category == C.SPOT else _LINEAR_CODES
    return table.get(exc.code) or _COMMON_CODES.get(exc.code) or C.PARAM_ERROR


def is_post_only_refusal(exc: BinanceError) -> bool:
    return exc.code == -5022 or (exc.code == -2010 and "immediately match" in exc.msg)


def envelope(result: Any, now_ms: int, code: int = C.OK, msg: str = "OK") -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now_ms}


def need(params: Params, name: str) -> str:
    value = params.get(name)
    if value in (None, ""):
        raise BybitApiError(C.PARAM_ERROR, f"params error: {name} is required")
    return str(value)


def category(params: Params, *allowed: str) -> str:
    cat = need(params, "category")
    if cat not in allowed:
        raise BybitApiError(C.PARAM_ERROR, f"params error: category {cat} not supported")
    return cat


# -- orders in -------------------------------------------------------------------------------
def engine_order(params: Params) -> tuple[str, Params]:
    """A Bybit /v5/order/create body -> (category, the engine's new-order params)."""
    cat = category(params, C.SPOT, C.LINEAR)
    side = _SIDE_IN.get(need(params, "side"))
    if side is None:
        raise BybitApiError(C.PARAM_ERROR, "params error: side invalid")
    otype = need(params, "orderType")
    tif = params.get("timeInForce") or ("IOC" if otype == "Market" else "GTC")
    out: Params = {"symbol": need(params, "symbol"), "side": side}
    link = params.get("orderLinkId")
    if link:
        out["newClientOrderId"] = str(link)
    qty = need(params, "qty")
    if otype == "Market":
        out["type"] = "MARKET"
        quote_unit = params.get("marketUnit", "quoteCoin" if side == "BUY" else "baseCoin")
        if cat == C.SPOT and quote_unit == "quoteCoin":
            out["quoteOrderQty"] = qty
        else:
            out["quantity"] = qty
    elif otype == "Limit":
        out["price"] = need(params, "price")
        out["quantity"] = qty
        if tif == "PostOnly":
            out["type"] = "LIMIT_MAKER" if cat == C.SPOT else "LIMIT"
            if cat == C.LINEAR:
                out["timeInForce"] = "GTX"
        else:
            out["type"] = "LIMIT"
            out["timeInForce"] = tif if tif in ("GTC", "IOC", "FOK") else "GTC"
    else:
        raise BybitApiError(C.PARAM_ERROR, "params error: orderType invalid")
    if cat == C.SPOT:
        out["isIsolated"] = "FALSE"
        leverage = str(params.get("isLeverage", "0")) == "1"
        # unified account spot margin: a sell borrows what it lacks, a buy repays the liability
        out["sideEffectType"] = ("NO_SIDE_EFFECT" if not leverage
                                 else "MARGIN_BUY" if side == "SELL" else "AUTO_REPAY")
        out["newOrderRespType"] = "RESULT"
    else:
        if params.get("reduceOnly") in (True, "true", "True", 1, "1"):
            out["reduceOnly"] = "true"
        out["newOrderRespType"] = "RESULT"
    return cat, out


def order_lookup(params: Params) -> Params:
    out: Params = {"symbol": need(params, "symbol")}
    if params.get("orderLinkId"):
        out["origClientOrderId"] = str(params["orderLinkId"])
    elif params.get("orderId"):
        out["orderId"] = str(params["orderId"])
    else:
        raise BybitApiError(C.PARAM_ERROR, "params error: orderId or orderLinkId is required")
    if params.get("category") == C.SPOT:
        out["isIsolated"] = "FALSE"
    return out


# -- orders out ------------------------------------------------------------------------------
def _status(status: str, executed: Decimal) -> str:
    if status in ("CANCELED", "EXPIRED") and executed > 0:
        return "PartiallyFilledCanceled"
    return _STATUS_OUT.get(status, "New")


def order_row(cat: str, o: dict[str, Any]) -> dict[str, Any]:
    """An engine order view (margin or futures) -> Bybit's order row."""
    executed = Decimal(str(o.get("executedQty", "0")))
    value = Decimal(str(o.get("cummulativeQuoteQty") or o.get("cumQuote") or "0"))
    avg = value / executed if executed else Decimal(0)
    tif = o.get("timeInForce", "GTC")
    return {
        "category": cat, "symbol": o["symbol"], "orderId": str(o["orderId"]),
        "orderLinkId": o.get("clientOrderId", ""), "side": _SIDE_OUT.get(o.get("side", ""), ""),
        "orderType": _TYPE_OUT.get(o.get("type", ""), "Limit"),
        "orderStatus": _status(o.get("status", "NEW"), executed),
        "price": str(o.get("price", "0")), "qty": str(o.get("origQty", "0")),
        "cumExecQty": _f(executed), "cumExecValue": _f(value), "avgPrice": _f(avg),
        "cumExecFee": "0", "timeInForce": "PostOnly" if tif == "GTX" or o.get("type") ==
        "LIMIT_MAKER" else tif, "rejectReason": "EC_NoError",
        "reduceOnly": bool(o.get("reduceOnly", False)),
        "createdTime": str(o.get("time") or o.get("transactTime") or o.get("updateTime") or 0),
        "updatedTime": str(o.get("updateTime") or o.get("transactTime") or 0)}


def post_only_cancelled(cat: str, params: Params, order_id: str, now_ms: int) -> dict[str, Any]:
    """What Bybit records for a PostOnly order that would have taken: accepted, then cancelled."""
    return {"category": cat, "symbol": params.get("symbol", ""), "orderId": order_id,
            "orderLinkId": params.get("orderLinkId", ""), "side": params.get("side", ""),
            "orderType": "Limit", "orderStatus": "Cancelled", "price": params.get("price", "0"),
            "qty": params.get("qty", "0"), "cumExecQty": "0", "cumExecValue": "0",
            "avgPrice": "0", "cumExecFee": "0", "timeInForce": "PostOnly",
            "rejectReason": C.POST_ONLY_REASON, "reduceOnly": False,
            "createdTime": str(now_ms), "updatedTime": str(now_ms)}


def order_event_rows(cat: str, ev: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """An engine executionReport (spot) or ORDER_TRADE_UPDATE (linear) -> (order, execution)."""
    o = ev if cat == C.SPOT else ev["o"]
    executed = Decimal(str(o["z"]))
    value = Decimal(str(o["Z"])) if cat == C.SPOT else executed * Decimal(str(o["ap"]))
    row = {"category": cat, "symbol": o["s"], "orderId": str(o["i"]),
           "orderLinkId": (o.get("C") or o["c"]) if cat == C.SPOT and o.get("x") == "CANCELED"
           else o["c"], "side": _SIDE_OUT[o["S"]], "orderType": _TYPE_OUT.get(o["o"], "Limit"),
           "orderStatus": _status(o["X"], executed), "price": str(o["p"]), "qty": str(o["q"]),
           "cumExecQty": _f(executed), "cumExecValue": _f(value),
           "avgPrice": _f(value / executed if executed else Decimal(0)), "cumExecFee": "0",
           "timeInForce": "PostOnly" if o.get("f") == "GTX" or o["o"] == "LIMIT_MAKER"
           else o.get("f", "GTC"), "rejectReason": "EC_NoError",
           "createdTime": str(o["T"]), "updatedTime": str(o["T"])}
    last = Decimal(str(o["l"]))
    if last <= 0:
        return row, None
    price = Decimal(str(o["L"]))
    execution = {"category": cat, "symbol": o["s"], "execId": f"{o['i']}-{o['t']}",
                 "execType": C.EXEC_TRADE, "execPrice": _f(price), "execQty": _f(last),
                 "execValue": _f(price * last), "execFee": str(o.get("n") or "0"),
                 "feeCurrency": o.get("N") or "USDT", "orderId": str(o["i"]),
                 "orderLinkId": row["orderLinkId"], "side": row["side"],
                 "execTime": str(o["T"]), "isMaker": bool(o.get("m", False))}
    return row, execution


def funding_execution(symbol: str, amount: str, at_ms: int) -> dict[str, Any]:
    """A settled funding payment, as Bybit's `execution` topic reports it (execFee > 0: paid)."""
    return {"category": C.LINEAR, "symbol": symbol, "execId": f"funding-{symbol}-{at_ms}",
            "execType": C.EXEC_FUNDING, "execPrice": "0", "execQty": "0", "execValue": "0",
            "execFee": _f(-Decimal(amount)), "feeCurrency": "USDT", "orderId": "",
            "orderLinkId": "", "side": "", "execTime": str(at_ms), "isMaker": False}


# -- account views ---------------------------------------------------------------------------
def unified_account(margin: dict[str, Any], coeff: dict[str, str]) -> dict[str, Any]:
    """The engine's cross-margin account -> Bybit's UNIFIED wallet. The account rates follow the
    engine's bars: accountMMRate reaches 1 when the margin level reaches forceLiquidationBar."""
    level = Decimal(margin["marginLevel"])
    liq_bar = Decimal(coeff.get("forceLiquidationBar", "1.1"))
    call_bar = Decimal(coeff.get("marginCallBar", "1.3"))
    mm_rate = liq_bar / level if level > 0 else Decimal(0)
    im_rate = call_bar / level if level > 0 else Decimal(0)
    coins = []
    for a in margin["userAssets"]:
        free, locked = Decimal(a["free"]), Decimal(a["locked"])
        borrowed, interest = Decimal(a["borrowed"]), Decimal(a["interest"])
        if not (free or locked or borrowed or interest):
            continue
        net = free + locked - borrowed - interest
        coins.append({"coin": a["asset"], "walletBalance": _f(net), "equity": _f(net),
                      "locked": _f(locked), "borrowAmount": _f(borrowed),
                      "accruedInterest": _f(interest), "availableToWithdraw": _f(free),
                      "usdValue": "0"})
    total = margin.get("TotalCollateralValueInUSDT", "0")
    return {"accountType": C.UNIFIED, "accountIMRate": f"{im_rate:.6f}",
            "accountMMRate": f"{mm_rate:.6f}", "totalEquity": total,
            "totalWalletBalance": total, "totalMarginBalance": total,
            "totalAvailableBalance": "0", "totalInitialMargin": "0",
            "totalMaintenanceMargin": "0", "coin": coins}


def contract_account(futures: dict[str, Any]) -> dict[str, Any]:
    coins = [{"coin": a["asset"], "walletBalance": a["walletBalance"],
              "equity": a.get("marginBalance", a["walletBalance"]), "locked": "0",
              "borrowAmount": "0", "accruedInterest": "0",
              "availableToWithdraw": a.get("availableBalance", a["walletBalance"]),
              "usdValue": "0"} for a in futures.get("assets", [])]
    return {"accountType": C.CONTRACT, "accountIMRate": "", "accountMMRate": "",
            "totalEquity": str(futures.get("totalMarginBalance", "0")),
            "totalWalletBalance": str(futures.get("totalWalletBalance", "0")),
            "totalMarginBalance": str(futures.get("totalMarginBalance", "0")),
            "totalAvailableBalance": str(futures.get("availableBalance", "0")),
            "totalInitialMargin": str(futures.get("totalInitialMargin", "0")),
            "totalMaintenanceMargin": str(futures.get("totalMaintMargin", "0")), "coin": coins}


def position_row(r: dict[str, Any]) -> dict[str, Any]:
    amt = Decimal(r["positionAmt"])
    return {"category": C.LINEAR, "symbol": r["symbol"],
            "side": "Buy" if amt > 0 else "Sell" if amt < 0 else "", "size": _f(abs(amt)),
            "avgPrice": r["entryPrice"], "entryPrice": r["entryPrice"],
            "liqPrice": r["liquidationPrice"] if amt else "", "leverage": r["leverage"],
            "unrealisedPnl": r["unRealizedProfit"], "markPrice": r["markPrice"],
            "positionIM": "0", "positionMM": "0", "updatedTime": str(r.get("updateTime", 0))}

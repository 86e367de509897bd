"""Bybit v5 REST of the embedded exchange: `/v5/...` over the engine, Bybit's envelope and
retCodes (HTTP 200 with a non-zero retCode, as Bybit answers), HMAC auth from X-BAPI-* headers.

Auth: `X-BAPI-SIGN` = HMAC-SHA256(secret, timestamp + key + recv_window + payload), payload the
raw query string of a GET or the raw body of a POST; the timestamp must satisfy
`server_time - recv_window <= timestamp < server_time + 1000` on the venue clock or the wall
clock (the venue clock runs `speedup` times faster than any client can follow; see
connectors/sim/server/venue.py)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from connectors.bybit import constants as C
from connectors.bybit.signing import sign_rest
from connectors.sim.engine.errors import BinanceError
from connectors.sim.server.bybit import translate as T
from connectors.sim.server.bybit.translate import BybitApiError, Params

log = logging.getLogger(__name__)
_FUTURE_TOLERANCE_MS = 1000


class BybitVenue(Protocol):
    """What the handlers need from `BybitVenueServer` (venue.py)."""

    name: str
    exchange: Any
    post_only_cancelled: dict[tuple[str, str], dict[str, Any]]

    def server_ms(self) -> int: ...
    def auth_clocks_ms(self) -> tuple[int, ...]: ...
    def secret_for_key(self, api_key: str) -> str | None: ...
    def flush_events(self) -> None: ...
    def publish_private(self, account: str, topic: str, rows: list[dict[str, Any]]) -> None: ...
    def next_order_id(self) -> str: ...


Handler = Callable[[BybitVenue, Params, str], Any]


def _authenticate(venue: BybitVenue, request: web.Request, payload: str) -> str:
    key = request.headers.get(C.H_API_KEY, "")
    account = venue.exchange.account_for_key(key) if key else None
    if account is None:
        raise BybitApiError(C.INVALID_KEY, "API key is invalid.", http=401)
    ts_text = request.headers.get(C.H_TIMESTAMP, "")
    window_text = request.headers.get(C.H_RECV_WINDOW, "5000")
    if not ts_text.isdigit() or not window_text.isdigit():
        raise BybitApiError(C.PARAM_ERROR, "params error: timestamp or recv_window invalid")
    ts, window = int(ts_text), int(window_text)
    if not any(clock - window <= ts < clock + _FUTURE_TOLERANCE_MS
               for clock in venue.auth_clocks_ms()):
        raise BybitApiError(C.CLOCK_SKEW, "invalid request, please check your server timestamp "
                                          "or recv_window param")
    secret = venue.secret_for_key(key) or ""
    if sign_rest(secret, ts_text, key, window_text, payload) != request.headers.get(C.H_SIGN, ""):
        raise BybitApiError(C.BAD_SIGN, "error sign! origin_string[...]")
    return str(account)


def _engine(cat: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except BinanceError as exc:
        raise BybitApiError(T.ret_code(cat, exc), exc.msg) from None


# -- public ----------------------------------------------------------------------------------
def _time(v: BybitVenue, p: Params, acct: str) -> Any:
    now = v.server_ms()
    return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}


def _instruments(v: BybitVenue, p: Params, acct: str) -> Any:
    cat = T.category(p, C.SPOT, C.LINEAR)
    wanted = p.get("symbol")
    rows = []
    for spec in v.exchange.specs.values():
        if wanted and spec.symbol != wanted:
            continue
        spot = cat == C.SPOT
        tick, step = (spec.spot_tick, spec.spot_step) if spot else (spec.perp_tick, spec.perp_step)
        lot = {"minOrderQty": str(step)}
        if spot:
            lot |= {"basePrecision": str(step), "minOrderAmt": str(spec.spot_min_notional)}
        else:
            lot |= {"qtyStep": str(step), "minNotionalValue": str(spec.perp_min_notional)}
        row: dict[str, Any] = {"symbol": spec.symbol, "baseCoin": spec.base,
                               "quoteCoin": spec.quote, "status": "Trading",
                               "priceFilter": {"tickSize": str(tick)}, "lotSizeFilter": lot}
        if spot:
            row["marginTrading"] = "utaOnly"
        else:
            row |= {"contractType": "LinearPerpetual",
                    "fundingInterval": int(spec.funding_interval_h * 60)}
        rows.append(row)
    return {"category": cat, "list": rows, "nextPageCursor": ""}


def _orderbook(v: BybitVenue, p: Params, acct: str) -> Any:
    cat = T.category(p, C.SPOT, C.LINEAR)
    sym = T.need(p, "symbol")
    return v.book_snapshot(cat, sym)  # type: ignore[attr-defined]


def _tickers(v: BybitVenue, p: Params, acct: str) -> Any:
    T.category(p, C.LINEAR)
    syms = [p["symbol"]] if p.get("symbol") else list(v.exchange.specs)
    return {"category": C.LINEAR,
            "list": [v.ticker(s) for s in syms]}  # type: ignore[attr-defined]


# -- trading ---------------------------------------------------------------------------------
def _create(v: BybitVenue, p: Params, acct: str) -> Any:
    cat, params = T.engine_order(p)
    ex = v.exchange
    call = ex.margin_new_order if cat == C.SPOT else ex.futures_new_order
    try:
        o = call(acct, params)
    except BinanceError as exc:
        if not T.is_post_only_refusal(exc):
            raise BybitApiError(T.ret_code(cat, exc), exc.msg) from None
        # Bybit accepts a PostOnly order that would take, then cancels it: an ack, an event
        order_id = v.next_order_id()
        row = T.post_only_cancelled(cat, p, order_id, v.server_ms())
        if p.get("orderLinkId"):
            v.post_only_cancelled[(acct, str(p["orderLinkId"]))] = row
        v.publish_private(acct, "order", [row])
        return {"orderId": order_id, "orderLinkId": p.get("orderLinkId", "")}
    return {"orderId": str(o["orderId"]), "orderLinkId": o.get("clientOrderId", "")}


def _cancel(v: BybitVenue, p: Params, acct: str) -> Any:
    cat = T.category(p, C.SPOT, C.LINEAR)
    ex = v.exchange
    call = ex.margin_cancel_order if cat == C.SPOT else ex.futures_cancel_order
    o = _engine(cat, lambda: call(acct, T.order_lookup(p)))
    return {"orderId": str(o["orderId"]), "orderLinkId": p.get("orderLinkId", "")}


def _realtime(v: BybitVenue, p: Params, acct: str) -> Any:
    cat = T.category(p, C.SPOT, C.LINEAR)
    ex = v.exchange
    if p.get("orderLinkId") or p.get("orderId"):
        cancelled = v.post_only_cancelled.get((acct, str(p.get("orderLinkId", ""))))
        if cancelled is not None:
            return {"category": cat, "list": [cancelled], "nextPageCursor": ""}
        call = ex.margin_get_order if cat == C.SPOT else ex.futures_get_order
        try:
            o = call(acct, T.order_lookup(p))
        except BinanceError:
            return {"category": cat, "list": [], "nextPageCursor": ""}
        return {"category": cat, "list": [T.order_row(cat, o)], "nextPageCursor": ""}
    call = ex.margin_open_orders if cat == C.SPOT else ex.futures_open_orders
    rows = _engine(cat, lambda: call(acct, {"symbol": p["symbol"]} if p.get("symbol") else {}))
    return {"category": cat, "list": [T.order_row(cat, o) for o in rows], "nextPageCursor": ""}


def _history(v: BybitVenue, p: Params, acct: str) -> Any:
    cat = T.category(p, C.SPOT, C.LINEAR)
    ex = v.exchange
    call = ex.margin_all_orders if cat == C.SPOT else ex.futures_all_orders
    q = {"symbol": T.need(p, "symbol"), "startTime": p.get("startTime") or "0", "limit": "500"}
    rows = _engine(cat, lambda: call(acct, q))
    return {"category": cat, "list": [T.order_row(cat, o) for o in rows], "nextPageCursor": ""}


# -- account ---------------------------------------------------------------------------------
def _wallet(v: BybitVenue, p: Params, acct: str) -> Any:
    kind = p.get("accountType", C.UNIFIED)
    return {"list": [v.wallet_view(acct, kind)]}  # type: ignore[attr-defined]


def _positions(v: BybitVenue, p: Params, acct: str) -> Any:
    T.category(p, C.LINEAR)
    q = {"symbol": p["symbol"]} if p.get("symbol") else {}
    rows = v.exchange.futures_position_risk(acct, q)
    return {"category": C.LINEAR, "list": [T.position_row(r) for r in rows],
            "nextPageCursor": ""}


def _collateral(v: BybitVenue, p: Params, acct: str) -> Any:
    ex = v.exchange
    coins = [p["currency"]] if p.get("currency") else sorted(ex.assets)
    margin = {a["asset"]: a for a in ex.margin_account(acct)["userAssets"]}
    rows = []
    for coin in coins:
        rate = _engine(C.SPOT, lambda c=coin: ex.margin_next_hourly_interest_rate(
            acct, {"assets": c, "isIsolated": "FALSE"}))[0]["nextHourlyInterestRate"]
        mb = _engine(C.SPOT, lambda c=coin: ex.margin_max_borrowable(acct, {"asset": c}))
        rows.append({"currency": coin, "hourlyBorrowRate": rate,
                     "maxBorrowingAmount": mb["borrowLimit"], "availableToBorrow": mb["amount"],
                     "borrowAmount": margin.get(coin, {}).get("borrowed", "0"),
                     "borrowable": True, "marginCollateral": True, "collateralRatio": "1"})
    return {"list": rows}


def _repay(v: BybitVenue, p: Params, acct: str) -> Any:
    coin, amount = T.need(p, "coin"), T.need(p, "amount")
    _engine(C.SPOT, lambda: v.exchange.margin_borrow_repay(
        acct, {"asset": coin, "amount": amount, "type": "REPAY", "isIsolated": "FALSE"}))
    return {"resultStatus": "SU"}


def _set_leverage(v: BybitVenue, p: Params, acct: str) -> Any:
    T.category(p, C.LINEAR)
    _engine(C.LINEAR, lambda: v.exchange.futures_change_leverage(
        acct, {"symbol": T.need(p, "symbol"), "leverage": T.need(p, "buyLeverage")}))
    return {}


def _transfer(v: BybitVenue, p: Params, acct: str) -> Any:
    src, dst = T.need(p, "fromAccountType"), T.need(p, "toAccountType")
    kind = {(C.UNIFIED, C.CONTRACT): "MARGIN_UMFUTURE",
            (C.CONTRACT, C.UNIFIED): "UMFUTURE_MARGIN"}.get((src, dst))
    if kind is None:
        raise BybitApiError(C.PARAM_ERROR, "params error: account types")
    _engine(C.SPOT, lambda: v.exchange.asset_transfer(
        acct, {"type": kind, "asset": T.need(p, "coin"), "amount": T.need(p, "amount")}))
    return {"transferId": p.get("transferId", ""), "status": "SUCCESS"}


PUBLIC: dict[tuple[str, str], Handler] = {
    ("GET", C.MARKET_TIME): _time, ("GET", C.INSTRUMENTS_INFO): _instruments,
    ("GET", C.ORDERBOOK): _orderbook, ("GET", C.TICKERS): _tickers}
PRIVATE: dict[tuple[str, str], Handler] = {
    ("POST", C.ORDER_CREATE): _create, ("POST", C.ORDER_CANCEL): _cancel,
    ("GET", C.ORDER_REALTIME): _realtime, ("GET", C.ORDER_HISTORY): _history,
    ("GET", C.WALLET_BALANCE): _wallet, ("GET", C.POSITION_LIST): _positions,
    ("GET", C.COLLATERAL_INFO): _collateral, ("POST", C.REPAY): _repay,
    ("POST", C.SET_LEVERAGE): _set_leverage, ("POST", C.INTER_TRANSFER): _transfer}


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data, default=str), status=status,
                        content_type="application/json")


def make_handler(venue: BybitVenue, handler: Handler, signed: bool) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        raw_query = request.rel_url.raw_query_string
        raw_body = (await request.read()).decode("utf-8", "replace") if request.can_read_body \
            else ""
        try:
            if raw_body:
                body = orjson.loads(raw_body)
                if not isinstance(body, dict):
                    raise BybitApiError(C.PARAM_ERROR, "params error: body must be an object")
                params: Params = {k: v if isinstance(v, str) else orjson.dumps(v).decode()
                                  if not isinstance(v, (int, float, bool)) else v
                                  for k, v in body.items()}
            else:
                params = dict(parse_qsl(raw_query, keep_blank_values=True))
            account = _authenticate(venue, request, raw_body or raw_query) if signed else ""
            result = handler(venue, params, account)
            venue.flush_events()
        except BybitApiError as exc:
            venue.flush_events()
            return _json(T.envelope({}, venue.server_ms(), exc.code, exc.msg), exc.http)
        except orjson.JSONDecodeError:
            return _json(T.envelope({}, venue.server_ms(), C.PARAM_ERROR, "params error"))
        except Exception:
            log.exception("sim %s: %s %s failed", venue.name, request.method, request.path)
            return _json(T.envelope({}, venue.server_ms(), C.SERVER_ERROR, "Server error."))
        return _json(T.envelope(result, venue.server_ms()))
    return handle


def rest_routes(venue: BybitVenue) -> list[web.RouteDef]:
    out = [web.route(m, path, make_handler(venue, h, False)) for (m, path), h in PUBLIC.items()]
    out += [web.route(m, path, make_handler(venue, h, True)) for (m, path), h in PRIVATE.items()]
    return out

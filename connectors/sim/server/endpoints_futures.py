"""USD-M futures endpoints (/fapi): paths, security and Binance's documented IP weights.

The futures user data stream is Binance's listenKey flow: `POST /fapi/v1/listenKey` returns the
account's active key (creating one if needed) and extends it 60 min, `PUT` keeps alive, `DELETE`
closes; the stream is `/ws/<listenKey>` (legacy) or `/private/ws/<listenKey>` (current) on the
futures websocket port.
"""
from __future__ import annotations

from typing import Any

from connectors.sim.server import auth
from connectors.sim.server.common import (engine_call, listen_key_create, listen_key_delete,
                                          listen_key_keepalive, server_time)
from connectors.sim.server.errors import ApiError
from connectors.sim.server.rest import Ctx, Endpoint

_FAPI_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def _fapi_depth_weight(params: dict[str, str]) -> int:
    limit = auth.int_param(params, "limit", 500) or 500
    if limit <= 50:
        return 2
    if limit <= 100:
        return 5
    if limit <= 500:
        return 10
    return 20


def _depth(ctx: Ctx) -> Any:
    symbol = auth.mandatory(ctx.params, "symbol")
    limit = auth.int_param(ctx.params, "limit", 500) or 500
    if limit not in _FAPI_DEPTH_LIMITS:
        raise ApiError(400, -4021, "Invalid depth limit.")
    return ctx.venue.exchange.futures_depth(symbol, limit)


def _leverage_bracket(ctx: Ctx) -> Any:
    return ctx.venue.exchange.leverage_brackets(ctx.account, ctx.params.get("symbol") or None)


def _funding_rate_history(ctx: Ctx) -> Any:
    fn = getattr(ctx.venue.exchange, "funding_rate_history", None)
    if fn is None:
        return []
    return fn(ctx.params.get("symbol") or None, ctx.params.get("limit") or 100)


def futures_endpoints() -> list[Endpoint]:
    e = engine_call
    return [
        # -- public
        Endpoint("GET", "/fapi/v1/ping", "fapi", "NONE", 1, lambda c: {}),
        Endpoint("GET", "/fapi/v1/time", "fapi", "NONE", 1, server_time),
        Endpoint("GET", "/fapi/v1/exchangeInfo", "fapi", "NONE", 1,
                 lambda c: c.venue.exchange.futures_exchange_info()),
        Endpoint("GET", "/fapi/v1/depth", "fapi", "NONE", _fapi_depth_weight, _depth),
        Endpoint("GET", "/fapi/v1/premiumIndex", "fapi", "NONE",
                 lambda p: 1 if p.get("symbol") else 10,
                 lambda c: c.venue.exchange.premium_index(c.params.get("symbol") or None)),
        Endpoint("GET", "/fapi/v1/fundingInfo", "fapi", "NONE", 1,
                 lambda c: c.venue.exchange.funding_info()),
        Endpoint("GET", "/fapi/v1/fundingRate", "fapi", "NONE", 1, _funding_rate_history),
        # -- signed trading and account
        # Binance: 0 on the IP limit (orders count against the order-rate limits instead)
        Endpoint("POST", "/fapi/v1/order", "fapi", "SIGNED", 0, e("futures_new_order"),
                 order_market="futures"),
        Endpoint("DELETE", "/fapi/v1/order", "fapi", "SIGNED", 1, e("futures_cancel_order"),
                 order_market="futures"),
        Endpoint("GET", "/fapi/v1/order", "fapi", "SIGNED", 1, e("futures_get_order")),
        Endpoint("GET", "/fapi/v1/openOrders", "fapi", "SIGNED",
                 lambda p: 1 if p.get("symbol") else 40, e("futures_open_orders")),
        Endpoint("GET", "/fapi/v1/allOrders", "fapi", "SIGNED", 5, e("futures_all_orders")),
        Endpoint("GET", "/fapi/v1/userTrades", "fapi", "SIGNED", 5, e("futures_user_trades")),
        Endpoint("GET", "/fapi/v2/positionRisk", "fapi", "SIGNED", 5, e("futures_position_risk")),
        Endpoint("GET", "/fapi/v2/account", "fapi", "SIGNED", 5, e("futures_account")),
        Endpoint("GET", "/fapi/v2/balance", "fapi", "SIGNED", 5, e("futures_balance")),
        Endpoint("GET", "/fapi/v1/income", "fapi", "SIGNED", 30, e("futures_income")),
        Endpoint("GET", "/fapi/v1/leverageBracket", "fapi", "SIGNED", 1, _leverage_bracket),
        Endpoint("POST", "/fapi/v1/leverage", "fapi", "SIGNED", 1, e("futures_change_leverage")),
        # -- user data stream
        Endpoint("POST", "/fapi/v1/listenKey", "fapi", "KEY", 1, listen_key_create("futures")),
        Endpoint("PUT", "/fapi/v1/listenKey", "fapi", "KEY", 1, listen_key_keepalive("futures")),
        Endpoint("DELETE", "/fapi/v1/listenKey", "fapi", "KEY", 1, listen_key_delete("futures")),
    ]

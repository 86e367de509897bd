"""Spot public (/api/v3), cross margin and wallet (/sapi) endpoints: paths, security, weights.

Weights are Binance's documented IP request weights; endpoints Binance meters per UID
(order placement, borrow/repay, transfer) weigh 1 here, since UID limits are not modelled.
The margin user data stream follows
Binance's classic cross-margin flow: `POST /sapi/v1/userDataStream` (API key only) returns a
listenKey, `PUT` keeps it alive, `DELETE` closes it; the stream is `/ws/<listenKey>` on the spot
websocket port.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.sim.server import auth
from connectors.sim.server.common import (engine_call, listen_key_create, listen_key_delete,
                                          listen_key_keepalive, server_time)
from connectors.sim.server.errors import ApiError
from connectors.sim.server.rest import Ctx, Endpoint

_SPOT_DEPTH_LIMIT_MAX = 5000


def _spot_depth_weight(params: dict[str, str]) -> int:
    limit = auth.int_param(params, "limit", 100) or 100
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def _depth(ctx: Ctx) -> Any:
    symbol = auth.mandatory(ctx.params, "symbol")
    limit = auth.int_param(ctx.params, "limit", 100) or 100
    if limit > _SPOT_DEPTH_LIMIT_MAX:
        raise ApiError(400, -1100, "Illegal characters found in parameter 'limit'; legal range "
                                   "is '1-5000'.")
    return ctx.venue.exchange.spot_depth(symbol, limit)


def _book_ticker(ctx: Ctx) -> Any:
    return ctx.venue.exchange.spot_book_ticker(ctx.params.get("symbol") or None)


def _ticker_price(ctx: Ctx) -> Any:
    """The fee asset's fixed price (BNBUSDT; config.SimVenueConfig.bnb_price), else a traded
    symbol's spot mid."""
    symbol = auth.mandatory(ctx.params, "symbol").upper()
    cfg = ctx.venue.exchange.cfg
    if symbol == "BNBUSDT":
        return {"symbol": symbol, "price": cfg.bnb_price}
    t = ctx.venue.exchange.spot_book_ticker(symbol)
    mid = (Decimal(t["bidPrice"]) + Decimal(t["askPrice"])) / 2
    return {"symbol": symbol, "price": str(mid)}


def _spot_symbols(ctx: Ctx) -> list[dict[str, Any]]:
    info = ctx.venue.exchange.spot_exchange_info()
    return [s for s in info.get("symbols", []) if s.get("status", "TRADING") == "TRADING"]


def _margin_all_pairs(ctx: Ctx) -> list[dict[str, Any]]:
    return [{"id": 351637150141315861 + i, "symbol": s["symbol"], "base": s["baseAsset"],
             "quote": s["quoteAsset"], "isMarginTrade": True, "isBuyAllowed": True,
             "isSellAllowed": True}
            for i, s in enumerate(_spot_symbols(ctx))]


def _margin_all_assets(ctx: Ctx) -> list[dict[str, Any]]:
    assets = sorted({a for s in _spot_symbols(ctx) for a in (s["baseAsset"], s["quoteAsset"])})
    return [{"assetFullName": a, "assetName": a, "isBorrowable": True, "isMortgageable": True,
             "userMinBorrow": "0", "userMinRepay": "0"} for a in assets]


def _capital_config(ctx: Ctx) -> list[dict[str, Any]]:
    """Wallet coin list (irrelevant to trading: deposits/withdrawals are not simulated)."""
    assets = sorted({a for s in _spot_symbols(ctx) for a in (s["baseAsset"], s["quoteAsset"])})
    return [{"coin": a, "depositAllEnable": False, "withdrawAllEnable": False, "name": a,
             "free": "0", "locked": "0", "freeze": "0", "withdrawing": "0", "ipoing": "0",
             "ipoable": "0", "storage": "0", "isLegalMoney": False, "trading": True,
             "networkList": []} for a in assets]


def spot_endpoints() -> list[Endpoint]:
    e = engine_call
    return [
        # -- spot public
        Endpoint("GET", "/api/v3/ping", "api", "NONE", 1, lambda c: {}),
        Endpoint("GET", "/api/v3/time", "api", "NONE", 1, server_time),
        Endpoint("GET", "/api/v3/exchangeInfo", "api", "NONE", 20,
                 lambda c: c.venue.exchange.spot_exchange_info()),
        Endpoint("GET", "/api/v3/depth", "api", "NONE", _spot_depth_weight, _depth),
        Endpoint("GET", "/api/v3/ticker/bookTicker", "api", "NONE",
                 lambda p: 2 if p.get("symbol") else 4, _book_ticker),
        Endpoint("GET", "/api/v3/ticker/price", "api", "NONE",
                 lambda p: 2 if p.get("symbol") else 4, _ticker_price),
        # -- cross margin (signed)
        Endpoint("POST", "/sapi/v1/margin/order", "sapi", "SIGNED", 6, e("margin_new_order"),
                 order_market="margin"),
        Endpoint("DELETE", "/sapi/v1/margin/order", "sapi", "SIGNED", 10,
                 e("margin_cancel_order"), order_market="margin"),
        Endpoint("GET", "/sapi/v1/margin/order", "sapi", "SIGNED", 10, e("margin_get_order")),
        Endpoint("GET", "/sapi/v1/margin/openOrders", "sapi", "SIGNED", 10,
                 e("margin_open_orders")),
        Endpoint("GET", "/sapi/v1/margin/allOrders", "sapi", "SIGNED", 200,
                 e("margin_all_orders")),
        Endpoint("GET", "/sapi/v1/margin/myTrades", "sapi", "SIGNED", 10, e("margin_my_trades")),
        Endpoint("GET", "/sapi/v1/margin/account", "sapi", "SIGNED", 10, e("margin_account")),
        Endpoint("GET", "/sapi/v1/margin/maxBorrowable", "sapi", "SIGNED", 50,
                 e("margin_max_borrowable")),
        Endpoint("POST", "/sapi/v1/margin/borrow-repay", "sapi", "SIGNED", 1,
                 e("margin_borrow_repay")),
        Endpoint("GET", "/sapi/v1/margin/borrow-repay", "sapi", "SIGNED", 10,
                 e("margin_borrow_repay_history")),
        Endpoint("GET", "/sapi/v1/margin/next-hourly-interest-rate", "sapi", "SIGNED", 100,
                 e("margin_next_hourly_interest_rate")),
        Endpoint("GET", "/sapi/v1/margin/interestHistory", "sapi", "SIGNED", 1,
                 e("margin_interest_history")),
        Endpoint("GET", "/sapi/v1/margin/tradeCoeff", "sapi", "SIGNED", 10,
                 e("margin_trade_coeff")),
        Endpoint("POST", "/sapi/v1/asset/transfer", "sapi", "SIGNED", 1, e("asset_transfer")),
        # -- reference data ccxt reads during load_markets (stubs of the right shape)
        Endpoint("GET", "/sapi/v1/margin/allPairs", "sapi", "KEY", 1, _margin_all_pairs),
        Endpoint("GET", "/sapi/v1/margin/allAssets", "sapi", "KEY", 1, _margin_all_assets),
        Endpoint("GET", "/sapi/v1/margin/isolated/allPairs", "sapi", "SIGNED", 10,
                 lambda c: []),
        Endpoint("GET", "/sapi/v1/capital/config/getall", "sapi", "SIGNED", 10, _capital_config),
        # -- cross-margin user data stream (listenKey flow)
        Endpoint("POST", "/sapi/v1/userDataStream", "sapi", "KEY", 1,
                 listen_key_create("margin")),
        Endpoint("PUT", "/sapi/v1/userDataStream", "sapi", "KEY", 1,
                 listen_key_keepalive("margin")),
        Endpoint("DELETE", "/sapi/v1/userDataStream", "sapi", "KEY", 1,
                 listen_key_delete("margin")),
    ]

"""Reference data shaped like Binance's JSON: exchangeInfo (spot, USD-M), fundingInfo,
leverageBracket."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.sim.engine.params import Bracket, SymbolSpec

SPOT_RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]
FUT_RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
]


def f8(x: Decimal | int | str) -> str:
    """Binance spot style: 8 decimals."""
    return f"{Decimal(x):.8f}"


def decimals(step: Decimal) -> int:
    return max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]


def fmt(x: Decimal, step: Decimal) -> str:
    return f"{x:.{decimals(step)}f}"


def spot_symbol(s: SymbolSpec) -> dict[str, Any]:
    return {
        "symbol": s.symbol, "status": "TRADING",
        "baseAsset": s.base, "baseAssetPrecision": 8,
        "quoteAsset": s.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": False, "ocoAllowed": False, "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False,
        "cancelReplaceAllowed": False, "amendAllowed": False,
        "isSpotTradingAllowed": True, "isMarginTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": f8(s.spot_tick),
             "maxPrice": "1000000.00000000", "tickSize": f8(s.spot_tick)},
            {"filterType": "LOT_SIZE", "minQty": f8(s.spot_step), "maxQty": f8(s.spot_max_qty),
             "stepSize": f8(s.spot_step)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000",
             "maxQty": f8(s.spot_max_qty), "stepSize": "0.00000000"},
            {"filterType": "NOTIONAL", "minNotional": f8(s.spot_min_notional),
             "applyMinToMarket": True, "maxNotional": "9000000.00000000",
             "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        ],
        "permissions": [], "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def spot_exchange_info(specs: list[SymbolSpec], now_ms: int) -> dict[str, Any]:
    return {"timezone": "UTC", "serverTime": now_ms, "rateLimits": SPOT_RATE_LIMITS,
            "exchangeFilters": [], "symbols": [spot_symbol(s) for s in specs]}


def futures_symbol(s: SymbolSpec) -> dict[str, Any]:
    pp, qp = decimals(s.perp_tick), decimals(s.perp_step)
    return {
        "symbol": s.symbol, "pair": s.symbol, "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
        "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
        "baseAsset": s.base, "quoteAsset": s.quote, "marginAsset": s.quote,
        "pricePrecision": pp, "quantityPrecision": qp,
        "baseAssetPrecision": 8, "quotePrecision": 8,
        "underlyingType": "COIN", "underlyingSubType": [], "settlePlan": 0,
        "triggerProtect": "0.0500", "liquidationFee": "0.012000", "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {"minPrice": fmt(s.perp_tick, s.perp_tick), "maxPrice": "4529764",
             "filterType": "PRICE_FILTER", "tickSize": fmt(s.perp_tick, s.perp_tick)},
            {"stepSize": fmt(s.perp_step, s.perp_step), "filterType": "LOT_SIZE",
             "maxQty": fmt(s.perp_max_qty, s.perp_step), "minQty": fmt(s.perp_step, s.perp_step)},
            {"stepSize": fmt(s.perp_step, s.perp_step), "filterType": "MARKET_LOT_SIZE",
             "maxQty": fmt(s.perp_max_qty, s.perp_step), "minQty": fmt(s.perp_step, s.perp_step)},
            {"limit": 200, "filterType": "MAX_NUM_ORDERS"},
            {"limit": 10, "filterType": "MAX_NUM_ALGO_ORDERS"},
            {"notional": str(s.perp_min_notional), "filterType": "MIN_NOTIONAL"},
            {"multiplierDown": "0.5000", "multiplierUp": "1.5000", "multiplierDecimal": "4",
             "filterType": "PERCENT_PRICE"},
        ],
        "orderTypes": ["LIMIT", "MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }


def futures_exchange_info(specs: list[SymbolSpec], now_ms: int) -> dict[str, Any]:
    assets = sorted({s.quote for s in specs})
    return {
        "timezone": "UTC", "serverTime": now_ms, "futuresType": "U_MARGINED",
        "rateLimits": FUT_RATE_LIMITS, "exchangeFilters": [],
        "assets": [{"asset": a, "marginAvailable": True, "autoAssetExchange": "-10000"}
                   for a in assets],
        "symbols": [futures_symbol(s) for s in specs],
    }


def funding_info(specs: list[SymbolSpec]) -> list[dict[str, Any]]:
    return [{"symbol": s.symbol, "adjustedFundingRateCap": "0.02000000",
             "adjustedFundingRateFloor": "-0.02000000",
             "fundingIntervalHours": s.funding_interval_h, "disclaimer": False} for s in specs]


def bracket_json(b: Bracket) -> dict[str, Any]:
    # Binance sends these as JSON numbers, not strings.
    return {"bracket": b.bracket, "initialLeverage": b.initial_leverage,
            "notionalCap": int(b.cap), "notionalFloor": int(b.floor),
            "maintMarginRatio": float(b.mmr), "cum": float(b.cum)}


def leverage_brackets(specs: list[SymbolSpec], symbol: str | None) -> Any:
    rows = [{"symbol": s.symbol, "notionalCoef": 1.0,
             "brackets": [bracket_json(b) for b in s.brackets]} for s in specs]
    if symbol is None:
        return rows
    return rows[0]


def bracket_for(brackets: tuple[Bracket, ...], notional: Decimal) -> Bracket:
    for b in brackets:
        if notional < b.cap:
            return b
    return brackets[-1]

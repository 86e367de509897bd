"""Binance's facts as data, in one place: every base URL, every REST path, the error codes the
connector acts on. Modules name these constants; none spells a path or a code of its own.

Paths are grouped by host family, because each family has its own weight budget
(`rest.BinanceDialect`): spot `/api` and cross margin / wallet `/sapi` on `rest`, USD-M `/fapi`
on `futures_rest` (see config.BinanceUrls). Error classes are chosen from these codes in errors.py.
"""
from __future__ import annotations

# -- base URLs (production defaults from Binance's current docs) -----------------------------
PROD_REST = "https://api.binance.com"
PROD_FUTURES_REST = "https://fapi.binance.com"
PROD_SPOT_WS = "wss://stream.binance.com:9443"
PROD_FUTURES_WS = "wss://fstream.binance.com"
PROD_WS_API = "wss://ws-api.binance.com:443/ws-api/v3"
PROD_MARGIN_RISK_WS = "wss://margin-stream.binance.com"

TESTNET_REST = "https://testnet.binance.vision"
TESTNET_FUTURES_REST = "https://testnet.binancefuture.com"
TESTNET_SPOT_WS = "wss://stream.testnet.binance.vision"
TESTNET_FUTURES_WS = "wss://fstream.binancefuture.com"
TESTNET_WS_API = "wss://ws-api.testnet.binance.vision/ws-api/v3"
# a configured URL containing one of these is a testnet (config.BinanceUrls.from_config)
TESTNET_REST_MARK = "testnet"
TESTNET_FUTURES_MARK = "binancefuture"

# -- REST paths: spot (/api) -------------------------------------------------------------------
SPOT_PING = "/api/v3/ping"
SPOT_TIME = "/api/v3/time"
SPOT_EXCHANGE_INFO = "/api/v3/exchangeInfo"
SPOT_DEPTH = "/api/v3/depth"
SPOT_TICKER_PRICE = "/api/v3/ticker/price"
# assets Binance may charge a fee in besides the pair's own (BNB burn); priced in USDT
FEE_ASSETS = ("BNB",)

# -- REST paths: cross margin, wallet and user data (/sapi) ---------------------------------
MARGIN_ORDER = "/sapi/v1/margin/order"
MARGIN_ALL_ORDERS = "/sapi/v1/margin/allOrders"
MARGIN_OPEN_ORDERS = "/sapi/v1/margin/openOrders"
MARGIN_BORROW_REPAY = "/sapi/v1/margin/borrow-repay"
MARGIN_MAX_BORROWABLE = "/sapi/v1/margin/maxBorrowable"
MARGIN_NEXT_HOURLY_RATE = "/sapi/v1/margin/next-hourly-interest-rate"
MARGIN_TRADE_COEFF = "/sapi/v1/margin/tradeCoeff"
MARGIN_ACCOUNT = "/sapi/v1/margin/account"
MARGIN_INTEREST_HISTORY = "/sapi/v1/margin/interestHistory"
MARGIN_RISK_LISTEN_KEY = "/sapi/v1/margin/listen-key"   # risk stream: liabilities, margin level
MARGIN_USER_DATA_STREAM = "/sapi/v1/userDataStream"    # older listenKey flow (the sim)
MARGIN_LISTEN_TOKEN = "/sapi/v1/userListenToken"       # listenToken flow (production)
ASSET_TRANSFER = "/sapi/v1/asset/transfer"

# -- REST paths: USD-M futures (/fapi) --------------------------------------------------------
FUTURES_PREFIX = "/fapi"       # a path under it is a perp request
FUTURES_TIME = "/fapi/v1/time"
FUTURES_EXCHANGE_INFO = "/fapi/v1/exchangeInfo"
FUTURES_FUNDING_INFO = "/fapi/v1/fundingInfo"
FUTURES_FUNDING_RATE = "/fapi/v1/fundingRate"
FUTURES_LEVERAGE_BRACKET = "/fapi/v1/leverageBracket"
FUTURES_DEPTH = "/fapi/v1/depth"
FUTURES_ORDER = "/fapi/v1/order"
FUTURES_ALL_ORDERS = "/fapi/v1/allOrders"
FUTURES_OPEN_ORDERS = "/fapi/v1/openOrders"
FUTURES_LEVERAGE = "/fapi/v1/leverage"
FUTURES_LISTEN_KEY = "/fapi/v1/listenKey"
FUTURES_POSITION_RISK = "/fapi/v2/positionRisk"
FUTURES_ACCOUNT = "/fapi/v2/account"
FUTURES_INCOME = "/fapi/v1/income"        # incomeType FUNDING_FEE names the symbol

# -- error codes (negative `code` in the JSON error body) ------------------------------------
CLOCK_SKEW = -1021                     # timestamp outside recvWindow
NEW_ORDER_REJECTED = -2010             # incl. duplicate client id, spot LIMIT_MAKER would match
CANCEL_REJECTED = -2011
NO_SUCH_ORDER = -2013
INSUFFICIENT_MARGIN = -2019            # USD-M
POST_ONLY_REJECTED = -5022             # USD-M GTX would take
BORROW_UNAVAILABLE = -3045             # the lending pool has not enough of the asset now
BORROW_LIMIT_EXCEEDED = -3006          # above the account's max borrowable
FILTER_FAILURE = -1013
IP_BANNED = -1003                      # what Binance sends with HTTP 418 (too much weight)
RATE_LIMIT_CODES = frozenset({-1003, -1015})
# refused before processing: safe to send again after backoff
BUSY_CODES = frozenset({-1001, -1004, -1008, -1016})
ORDER_REJECTED_CODES = frozenset({NEW_ORDER_REJECTED, CANCEL_REJECTED, FILTER_FAILURE})
# the venue may or may not have executed the request
UNKNOWN_OUTCOME_CODES = frozenset({-1000, -1006, -1007})
# refuse this leg until something changes (no borrow, no margin, filters, key)
BLOCKING_CODES = frozenset({BORROW_UNAVAILABLE, BORROW_LIMIT_EXCEEDED, INSUFFICIENT_MARGIN,
                            NEW_ORDER_REJECTED, FILTER_FAILURE, -3041, -3044, -2027, -2028})

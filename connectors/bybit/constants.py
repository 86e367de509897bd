"""Bybit v5's facts as data, in one place: base URLs, every REST path and websocket topic the
connector uses, the retCodes it acts on. Modules name these constants; none spells its own.

Every v5 answer is HTTP 200 with `{"retCode": 0, "retMsg": "OK", "result": {...}, "time": ms}`;
a refusal is a non-zero retCode in that same 2xx body (rest.BybitDialect.error_in_body).
"""
from __future__ import annotations

# -- base URLs (Bybit's v5 docs) ----------------------------------------------------------------
PROD_REST = "https://api.bybit.com"
PROD_WS = "wss://stream.bybit.com"          # + /v5/public/spot, /v5/public/linear, /v5/private
TESTNET_REST = "https://api-testnet.bybit.com"
TESTNET_WS = "wss://stream-testnet.bybit.com"

WS_PUBLIC_SPOT = "/v5/public/spot"
WS_PUBLIC_LINEAR = "/v5/public/linear"
WS_PRIVATE = "/v5/private"

# -- categories: the hub's markets in Bybit's words --------------------------------------------
SPOT = "spot"
LINEAR = "linear"
CATEGORY_OF_MARKET = {"spot": SPOT, "perp": LINEAR}
UNIFIED = "UNIFIED"        # the unified trading account
CONTRACT = "CONTRACT"      # a separate derivatives wallet (classic accounts; the embedded venue)

# -- REST paths -------------------------------------------------------------------------------
MARKET_TIME = "/v5/market/time"
INSTRUMENTS_INFO = "/v5/market/instruments-info"
ORDERBOOK = "/v5/market/orderbook"
TICKERS = "/v5/market/tickers"
FUNDING_HISTORY = "/v5/market/funding/history"
ORDER_CREATE = "/v5/order/create"
ORDER_CANCEL = "/v5/order/cancel"
ORDER_REALTIME = "/v5/order/realtime"
ORDER_HISTORY = "/v5/order/history"
WALLET_BALANCE = "/v5/account/wallet-balance"
COLLATERAL_INFO = "/v5/account/collateral-info"
REPAY = "/v5/account/repay"
POSITION_LIST = "/v5/position/list"
SET_LEVERAGE = "/v5/position/set-leverage"
INTER_TRANSFER = "/v5/asset/transfer/inter-transfer"

# -- REST headers -------------------------------------------------------------------------------
H_API_KEY = "X-BAPI-API-KEY"
H_SIGN = "X-BAPI-SIGN"
H_TIMESTAMP = "X-BAPI-TIMESTAMP"
H_RECV_WINDOW = "X-BAPI-RECV-WINDOW"
H_LIMIT_STATUS = "X-Bapi-Limit-Status"     # requests left in the endpoint's window

# -- websocket topics -----------------------------------------------------------------------------
BOOK_DEPTH = 50                            # orderbook.{depth}.{symbol}: 50 on spot and linear
TOPIC_ORDERBOOK = "orderbook"
TOPIC_TICKERS = "tickers"
PRIVATE_TOPICS = ("order", "execution", "position", "wallet")
WS_AUTH_PATH = "GET/realtime"              # signed with `expires` for the private stream

# -- order vocabulary -----------------------------------------------------------------------------
STATUS_TO_HUB = {
    "New": "NEW", "PartiallyFilled": "PARTIALLY_FILLED", "Filled": "FILLED",
    "Cancelled": "CANCELED", "PartiallyFilledCanceled": "CANCELED", "Rejected": "REJECTED",
    "Deactivated": "CANCELED", "Untriggered": "NEW", "Triggered": "NEW",
}
POST_ONLY_REASON = "EC_PostOnlyWillTakeLiquidity"   # rejectReason of a cancelled PostOnly
EXEC_TRADE = "Trade"
EXEC_FUNDING = "Funding"

# -- retCodes --------------------------------------------------------------------------------------
OK = 0
SERVER_TIMEOUT = 10000           # the request may or may not have been executed
PARAM_ERROR = 10001
CLOCK_SKEW = 10002               # timestamp outside recv_window
INVALID_KEY = 10003
BAD_SIGN = 10004
PERMISSION_DENIED = 10005
RATE_LIMITED = 10006
AUTH_FAILED = 10007
IP_BANNED = 10009
SERVER_ERROR = 10016
IP_RATE_LIMITED = 10018
ORDER_NOT_FOUND = 110001
WALLET_INSUFFICIENT = 110004
INSUFFICIENT_AVAILABLE = 110007
INSUFFICIENT_AB = 110012
REDUCE_ONLY_REJECTED = 110017
DUPLICATE_LINK_ID = 110072
SPOT_INSUFFICIENT_BALANCE = 170131   # incl. a spot margin order the account cannot borrow for
SPOT_ORDER_NOT_FOUND = 170213

RATE_LIMIT_CODES = frozenset({RATE_LIMITED, IP_RATE_LIMITED})
NOT_FOUND_CODES = frozenset({ORDER_NOT_FOUND, SPOT_ORDER_NOT_FOUND})
UNKNOWN_OUTCOME_CODES = frozenset({SERVER_TIMEOUT, SERVER_ERROR})
BLOCKING_CODES = frozenset({
    WALLET_INSUFFICIENT, INSUFFICIENT_AVAILABLE, INSUFFICIENT_AB, REDUCE_ONLY_REJECTED,
    DUPLICATE_LINK_ID, SPOT_INSUFFICIENT_BALANCE, PERMISSION_DENIED,
    INVALID_KEY, BAD_SIGN, AUTH_FAILED, IP_BANNED})

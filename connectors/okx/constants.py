"""OKX v5's facts as data, in one place: base URLs, every REST path, websocket channels and the
error codes the connector acts on. Modules name these constants; none spells a path of its own.

Symbols: the daemon names a market "BTCUSDT" (config, hub keys); OKX names the spot instrument
"BTC-USDT" and the USDT-margined perpetual "BTC-USDT-SWAP" (symbols.py maps both ways).
"""
from __future__ import annotations

# -- base URLs (production) --------------------------------------------------------------------
PROD_REST = "https://www.okx.com"
PROD_PUBLIC_WS = "wss://ws.okx.com:8443/ws/v5/public"
PROD_PRIVATE_WS = "wss://ws.okx.com:8443/ws/v5/private"
# demo trading: same hosts, header `x-simulated-trading: 1`, wspap hosts for websockets
DEMO_PUBLIC_WS = "wss://wspap.okx.com:8443/ws/v5/public"
DEMO_PRIVATE_WS = "wss://wspap.okx.com:8443/ws/v5/private"
DEMO_HEADER = "x-simulated-trading"

PUBLIC_WS_PATH = "/ws/v5/public"
PRIVATE_WS_PATH = "/ws/v5/private"

# -- REST paths: public ------------------------------------------------------------------------
TIME = "/api/v5/public/time"
INSTRUMENTS = "/api/v5/public/instruments"
FUNDING_RATE = "/api/v5/public/funding-rate"
MARK_PRICE = "/api/v5/public/mark-price"
BOOKS = "/api/v5/market/books"

# -- REST paths: trade -------------------------------------------------------------------------
ORDER = "/api/v5/trade/order"                    # POST place, GET query
CANCEL_ORDER = "/api/v5/trade/cancel-order"
ORDERS_PENDING = "/api/v5/trade/orders-pending"
ORDERS_HISTORY = "/api/v5/trade/orders-history"

# -- REST paths: account -----------------------------------------------------------------------
BALANCE = "/api/v5/account/balance"
POSITIONS = "/api/v5/account/positions"
INTEREST_RATE = "/api/v5/account/interest-rate"
MAX_LOAN = "/api/v5/account/max-loan"
SET_LEVERAGE = "/api/v5/account/set-leverage"
BORROW_REPAY = "/api/v5/account/spot-manual-borrow-repay"

# -- websocket -----------------------------------------------------------------------------------
CH_BOOKS = "books"
CH_FUNDING = "funding-rate"
CH_MARK = "mark-price"
CH_INDEX = "index-tickers"
CH_ORDERS = "orders"
CH_POSITIONS = "positions"
CH_ACCOUNT = "account"
CH_BALANCE_POSITION = "balance_and_position"
WS_LOGIN_METHOD = "GET"
WS_LOGIN_PATH = "/users/self/verify"
CHECKSUM_DEPTH = 25          # the checksum covers the best 25 levels of each side

# -- instrument types and trade modes -----------------------------------------------------------
SPOT = "SPOT"
SWAP = "SWAP"
TD_CROSS = "cross"           # spot margin with automatic borrow, and swaps, on the cross account
SWAP_SUFFIX = "-SWAP"

# -- codes (strings in every body: `code` top level, `sCode` per order) -------------------------
OK = "0"
OPERATION_FAILED = "1"           # see sCode of each item
BULK_PARTIAL = "2"
SERVICE_UNAVAILABLE = "50001"
ENDPOINT_TIMEOUT = "50004"       # the request may have been processed: outcome unknown
RATE_LIMITED = "50011"
SYSTEM_BUSY = "50013"
SYSTEM_ERROR = "50026"
TIMESTAMP_EXPIRED = "50102"
MISSING_KEY = "50103"
BAD_PASSPHRASE = "50105"
BAD_KEY = "50111"
BAD_TIMESTAMP = "50112"
BAD_SIGN = "50113"
PARAM_ERROR = "51000"
INSTRUMENT_UNKNOWN = "51001"
INSUFFICIENT_BALANCE = "51008"   # incl. an auto-borrow above the account's max loan
DUPLICATE_CLIENT_ID = "51016"
POST_ONLY_WOULD_TAKE = "51019"   # nautilus_okx OKX_POST_ONLY_ERROR_CODE
BELOW_MIN_SIZE = "51020"
LOT_SIZE = "51121"
CANCEL_FAILED = "51400"          # already filled, canceled or unknown
ALREADY_CANCELED = "51401"
ALREADY_DONE = "51402"
NO_SUCH_ORDER = "51603"
BORROW_UNAVAILABLE = "59311"     # the lending pool has not enough of the currency now (sim)

RETRY_CODES = frozenset({SERVICE_UNAVAILABLE, RATE_LIMITED, SYSTEM_BUSY, TIMESTAMP_EXPIRED})
UNKNOWN_OUTCOME_CODES = frozenset({ENDPOINT_TIMEOUT, SYSTEM_ERROR})
AUTH_CODES = frozenset({MISSING_KEY, BAD_PASSPHRASE, BAD_KEY, BAD_TIMESTAMP, BAD_SIGN})
BLOCKING_CODES = frozenset({INSUFFICIENT_BALANCE, BORROW_UNAVAILABLE, BELOW_MIN_SIZE, LOT_SIZE,
                            DUPLICATE_CLIENT_ID, PARAM_ERROR, INSTRUMENT_UNKNOWN, *AUTH_CODES})
FINAL_CANCEL_CODES = frozenset({CANCEL_FAILED, ALREADY_CANCELED, ALREADY_DONE})

# -- order states -> the hub's OrderUpdate.status ------------------------------------------------
STATUS = {"live": "NEW", "partially_filled": "PARTIALLY_FILLED", "filled": "FILLED",
          "canceled": "CANCELED", "mmp_canceled": "CANCELED"}

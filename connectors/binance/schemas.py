"""msgspec Structs named after Binance's own JSON fields, and one precompiled decoder per message.

Numbers Binance sends as strings stay strings where the book needs the exact text (price levels),
and are converted to float once where the hub wants floats. Unknown fields are ignored (Binance adds
fields without notice).
"""
from __future__ import annotations

import msgspec
from msgspec import Raw, Struct

Level = tuple[str, str]


# -- market streams ----------------------------------------------------------------------------
class DepthUpdate(Struct, gc=False):
    """depthUpdate (spot has no `pu`): only the fields the book sync reads. The levels stay the raw
    JSON text `[["price","qty"], ...]`, which the book parses without a Python object per level
    (daemon/core/book.py); it takes decoded lists too."""

    E: int
    s: str
    U: int
    u: int
    b: Raw
    a: Raw
    pu: int | None = None


class BookTicker(Struct, gc=False):
    u: int
    s: str
    b: str
    B: str
    a: str
    A: str
    E: int = 0
    T: int = 0


class MarkPriceUpdate(Struct, gc=False):
    """markPriceUpdate: p mark, i index, P estimated settle price, r funding rate, T next funding."""

    E: int
    s: str
    p: str
    i: str
    r: str
    T: int
    P: str = "0"
    e: str = "markPriceUpdate"


class DepthEnvelope(Struct, gc=False):
    """Combined-stream frame `{"stream": ..., "data": {...}}` on a depth-only connection (the
    stream name is not needed: `data.s` names the symbol)."""

    data: DepthUpdate


class MarkEnvelope(Struct, gc=False):
    stream: str
    data: MarkPriceUpdate


class RawEnvelope(Struct, gc=False):
    """Combined-stream frame of a connection carrying several event types: dispatch on `stream`."""

    stream: str
    data: Raw


class DepthSnapshot(Struct, gc=False):
    lastUpdateId: int
    bids: list[Level]
    asks: list[Level]
    E: int = 0
    T: int = 0


class ApiError(Struct):
    code: int = 0
    msg: str = ""


class TickerPrice(Struct):
    symbol: str
    price: str


class ServerTime(Struct):
    serverTime: int


# -- reference data ----------------------------------------------------------------------------
class SymbolFilter(Struct):
    filterType: str
    tickSize: str | None = None
    stepSize: str | None = None
    minQty: str | None = None
    maxQty: str | None = None
    minNotional: str | None = None
    notional: str | None = None          # USD-M MIN_NOTIONAL uses `notional`


class ExchangeSymbol(Struct):
    symbol: str
    status: str
    baseAsset: str
    quoteAsset: str
    filters: list[SymbolFilter]
    contractType: str | None = None      # USD-M: PERPETUAL, CURRENT_QUARTER, ...
    isMarginTradingAllowed: bool | None = None


class ExchangeInfo(Struct):
    symbols: list[ExchangeSymbol]
    serverTime: int = 0


class FundingInfo(Struct):
    symbol: str
    fundingIntervalHours: int = 8
    adjustedFundingRateCap: str = ""
    adjustedFundingRateFloor: str = ""


class FundingRateRow(Struct, frozen=True):
    """One row of GET /fapi/v1/fundingRate (settled funding history)."""

    symbol: str
    fundingRate: str
    fundingTime: int
    markPrice: str = ""


class Bracket(Struct):
    bracket: int
    initialLeverage: int
    notionalCap: float
    notionalFloor: float
    maintMarginRatio: float
    cum: float = 0.0


class LeverageBracket(Struct):
    symbol: str
    brackets: list[Bracket]


class PremiumIndex(Struct):
    symbol: str
    markPrice: str
    indexPrice: str
    lastFundingRate: str
    nextFundingTime: int
    time: int = 0


# -- trading responses -------------------------------------------------------------------------
class OrderResponse(Struct):
    """Spot/margin and USD-M order (query, place, cancel). Fields differ a little; all optional."""

    symbol: str
    orderId: int
    clientOrderId: str
    status: str = ""
    side: str = ""
    type: str = ""
    price: str = "0"
    origQty: str = "0"
    executedQty: str = "0"
    cummulativeQuoteQty: str = "0"    # spot/margin (sic: Binance's spelling)
    cumQuote: str = "0"               # USD-M
    avgPrice: str = "0"               # USD-M
    timeInForce: str = ""
    reduceOnly: bool = False
    transactTime: int = 0
    updateTime: int = 0
    marginBuyBorrowAmount: str | None = None
    marginBuyBorrowAsset: str | None = None


class MarginUserAsset(Struct):
    asset: str
    free: str
    locked: str
    borrowed: str
    interest: str
    netAsset: str = "0"


class MarginAccountResponse(Struct):
    marginLevel: str
    totalAssetOfBtc: str = "0"
    totalLiabilityOfBtc: str = "0"
    totalNetAssetOfBtc: str = "0"
    tradeEnabled: bool = True
    borrowEnabled: bool = True
    userAssets: list[MarginUserAsset] = []
    totalCollateralValueInUSDT: str | None = None
    marginCallBar: str | None = None       # newer responses carry the account's bars directly
    normalBar: str | None = None


class TradeCoeff(Struct):
    normalBar: str
    marginCallBar: str
    forceLiquidationBar: str


class MaxBorrowable(Struct):
    amount: str
    borrowLimit: str = "0"


class NextHourlyRate(Struct):
    asset: str
    nextHourlyInterestRate: str


class InterestHistoryRow(Struct):
    asset: str
    interest: str
    interestAccuredTime: int = 0     # sic
    type: str = ""
    txId: int = 0
    principal: str = "0"
    interestRate: str = "0"


class InterestHistory(Struct):
    rows: list[InterestHistoryRow] = []
    total: int = 0


class IncomeHistoryRow(Struct):
    """GET /fapi/v1/income: one row (FUNDING_FEE rows name the symbol the fee was paid on)."""
    incomeType: str
    income: str
    time: int
    symbol: str = ""
    asset: str = "USDT"
    tranId: int = 0


class TranId(Struct):
    tranId: int


class PositionRisk(Struct):
    symbol: str
    positionAmt: str
    entryPrice: str = "0"
    markPrice: str = "0"
    unRealizedProfit: str = "0"
    liquidationPrice: str = "0"
    leverage: str = "1"
    positionSide: str = "BOTH"
    notional: str = "0"


class FuturesAsset(Struct):
    asset: str
    walletBalance: str
    availableBalance: str = "0"
    unrealizedProfit: str = "0"
    marginBalance: str = "0"


class FuturesAccount(Struct):
    assets: list[FuturesAsset] = []
    totalWalletBalance: str = "0"
    totalMarginBalance: str = "0"
    availableBalance: str = "0"


class LeverageResponse(Struct):
    symbol: str
    leverage: int
    maxNotionalValue: str = "0"


class ListenKey(Struct):
    listenKey: str


class ListenToken(Struct):
    token: str
    expirationTime: int


# -- user data streams (tagged unions on Binance's event-type field `e`) ----------------------
class _Event(Struct, tag_field="e"):
    pass


class FutOrder(Struct):
    """ORDER_TRADE_UPDATE.o"""

    s: str
    c: str
    S: str
    o: str
    q: str
    p: str
    X: str
    i: int
    z: str = "0"
    ap: str = "0"
    l: str = "0"
    L: str = "0"
    n: str = "0"
    N: str | None = None
    t: int = 0
    x: str = ""
    T: int = 0
    R: bool = False


class FutBalance(Struct):
    a: str
    wb: str
    cw: str = "0"
    bc: str = "0"


class FutPosition(Struct):
    s: str
    pa: str
    ep: str = "0"
    up: str = "0"
    ps: str = "BOTH"


class FutAccountData(Struct):
    m: str
    B: list[FutBalance] = []
    P: list[FutPosition] = []


class OrderTradeUpdate(_Event, tag="ORDER_TRADE_UPDATE"):
    o: FutOrder
    E: int = 0
    T: int = 0


class AccountUpdate(_Event, tag="ACCOUNT_UPDATE"):
    a: FutAccountData
    E: int = 0
    T: int = 0


class MarginCall(_Event, tag="MARGIN_CALL"):
    E: int = 0


class ListenKeyExpired(_Event, tag="listenKeyExpired"):
    E: int | str = 0


class ExecutionReport(_Event, tag="executionReport"):
    """Spot/margin executionReport (c = client id; C = original client id on cancels)."""

    s: str
    c: str
    S: str
    o: str
    q: str
    p: str
    X: str
    i: int
    z: str = "0"
    l: str = "0"
    L: str = "0"
    n: str = "0"
    N: str | None = None
    t: int = -1
    x: str = ""
    Z: str = "0"
    T: int = 0
    E: int = 0
    C: str = ""


class AccountPositionBalance(Struct):
    a: str
    f: str
    l: str


class OutboundAccountPosition(_Event, tag="outboundAccountPosition"):
    B: list[AccountPositionBalance]
    E: int = 0
    u: int = 0


class BalanceUpdate(_Event, tag="balanceUpdate"):
    a: str
    d: str
    E: int = 0
    T: int = 0


class UserLiabilityChange(_Event, tag="USER_LIABILITY_CHANGE"):
    """Margin risk stream: a asset, t BORROW/REPAY/INTEREST..., p principal, i interest."""

    a: str
    t: str
    p: str = "0"
    i: str = "0"
    l: str | None = None     # total liability after the change (when the venue sends it)
    E: int = 0


class MarginLevelStatusChange(_Event, tag="MARGIN_LEVEL_STATUS_CHANGE"):
    l: str
    s: str
    E: int = 0


class StreamTerminated(_Event, tag="eventStreamTerminated"):
    E: int = 0


FutUserEvent = OrderTradeUpdate | AccountUpdate | MarginCall | ListenKeyExpired
MarginUserEvent = (ExecutionReport | OutboundAccountPosition | BalanceUpdate | UserLiabilityChange
                   | MarginLevelStatusChange | StreamTerminated | ListenKeyExpired)


class WsApiEvent(Struct):
    """WS-API push: `{"subscriptionId": n, "event": {...}}`."""

    event: Raw
    subscriptionId: int = 0


class WsApiResponse(Struct):
    id: str | int | None = None
    status: int = 0
    # msgspec cannot decode an object into `Raw | None` (it expects null): a Raw default instead
    result: Raw = Raw(b"null")
    error: ApiError | None = None


# One decoder per message type, built once at import.
DEPTH_ENVELOPE = msgspec.json.Decoder(DepthEnvelope)
MARK_ENVELOPE = msgspec.json.Decoder(MarkEnvelope)
RAW_ENVELOPE = msgspec.json.Decoder(RawEnvelope)
DEPTH_UPDATE = msgspec.json.Decoder(DepthUpdate)
BOOK_TICKER = msgspec.json.Decoder(BookTicker)
MARK_PRICE = msgspec.json.Decoder(MarkPriceUpdate)
DEPTH_SNAPSHOT = msgspec.json.Decoder(DepthSnapshot)
API_ERROR = msgspec.json.Decoder(ApiError)
SERVER_TIME = msgspec.json.Decoder(ServerTime)
EXCHANGE_INFO = msgspec.json.Decoder(ExchangeInfo)
FUNDING_INFO = msgspec.json.Decoder(list[FundingInfo])
FUNDING_RATES = msgspec.json.Decoder(list[FundingRateRow])
LEVERAGE_BRACKETS = msgspec.json.Decoder(list[LeverageBracket])
PREMIUM_INDEX = msgspec.json.Decoder(PremiumIndex)
ORDER = msgspec.json.Decoder(OrderResponse)
ORDERS = msgspec.json.Decoder(list[OrderResponse])
MARGIN_ACCOUNT = msgspec.json.Decoder(MarginAccountResponse)
TRADE_COEFF = msgspec.json.Decoder(TradeCoeff)
MAX_BORROWABLE = msgspec.json.Decoder(MaxBorrowable)
NEXT_HOURLY_RATES = msgspec.json.Decoder(list[NextHourlyRate])
INTEREST_HISTORY = msgspec.json.Decoder(InterestHistory)
INCOME_HISTORY = msgspec.json.Decoder(list[IncomeHistoryRow])
TICKER_PRICE = msgspec.json.Decoder(TickerPrice)
TRAN_ID = msgspec.json.Decoder(TranId)
POSITION_RISK = msgspec.json.Decoder(list[PositionRisk])
FUTURES_ACCOUNT = msgspec.json.Decoder(FuturesAccount)
LEVERAGE = msgspec.json.Decoder(LeverageResponse)
LISTEN_KEY = msgspec.json.Decoder(ListenKey)
LISTEN_TOKEN = msgspec.json.Decoder(ListenToken)
FUT_USER_EVENT = msgspec.json.Decoder(FutUserEvent)
MARGIN_USER_EVENT = msgspec.json.Decoder(MarginUserEvent)
WS_API_EVENT = msgspec.json.Decoder(WsApiEvent)
WS_API_RESPONSE = msgspec.json.Decoder(WsApiResponse)

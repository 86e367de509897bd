"""msgspec Structs named after Bybit v5's own fields, and one precompiled decoder per message.

Numbers arrive as strings (Bybit quotes prices and sizes); they are converted where a record is
built. Fields Bybit sends only sometimes (websocket deltas, category-specific) default to "".
"""
from __future__ import annotations

import msgspec
from msgspec import Struct

Level = tuple[str, str]


class Envelope(Struct, kw_only=True):
    """Every REST answer; `result` is decoded again by the endpoint's own decoder."""
    retCode: int
    retMsg: str = ""
    time: int = 0


class _Result(Struct, kw_only=True):
    retCode: int = 0
    retMsg: str = ""
    time: int = 0


# -- market -------------------------------------------------------------------------------------
class ServerTime(Struct, kw_only=True):
    timeSecond: str = "0"
    timeNano: str = "0"


class ServerTimeResponse(_Result, kw_only=True):
    result: ServerTime


class PriceFilter(Struct, kw_only=True):
    tickSize: str


class LotSizeFilter(Struct, kw_only=True):
    basePrecision: str = ""        # spot
    qtyStep: str = ""              # linear
    minOrderQty: str = "0"
    minOrderAmt: str = "0"         # spot (quote)
    minNotionalValue: str = "0"    # linear (quote)


class InstrumentRow(Struct, kw_only=True):
    symbol: str
    baseCoin: str
    quoteCoin: str
    status: str = "Trading"
    contractType: str = ""
    priceFilter: PriceFilter
    lotSizeFilter: LotSizeFilter
    fundingInterval: int = 480     # minutes (linear)
    marginTrading: str = ""        # spot: "both", "utaOnly", "none"


class InstrumentList(Struct, kw_only=True):
    category: str = ""
    rows: list[InstrumentRow] = msgspec.field(name="list")
    nextPageCursor: str = ""


class InstrumentsResponse(_Result, kw_only=True):
    result: InstrumentList


class OrderbookData(Struct, kw_only=True):
    s: str
    b: list[Level]
    a: list[Level]
    u: int
    seq: int = 0
    ts: int = 0


class OrderbookResponse(_Result, kw_only=True):
    result: OrderbookData


class BookMessage(Struct, kw_only=True):
    """`orderbook.{depth}.{symbol}` on the public websocket: type snapshot | delta."""
    topic: str
    type: str
    ts: int = 0
    cts: int = 0
    data: OrderbookData


class TickerData(Struct, kw_only=True):
    """Linear `tickers`: a delta carries only what changed (the rest stays "")."""
    symbol: str
    markPrice: str = ""
    indexPrice: str = ""
    fundingRate: str = ""
    nextFundingTime: str = ""
    fundingIntervalHour: str = ""
    bid1Price: str = ""
    ask1Price: str = ""
    lastPrice: str = ""


class TickerMessage(Struct, kw_only=True):
    topic: str
    type: str
    ts: int = 0
    cs: int = 0
    data: TickerData


class TickerList(Struct, kw_only=True):
    category: str = ""
    rows: list[TickerData] = msgspec.field(name="list")


class TickersResponse(_Result, kw_only=True):
    result: TickerList


class WsReply(Struct, kw_only=True):
    """A control answer (subscribe, auth, pong)."""
    op: str = ""
    success: bool = True
    ret_msg: str = ""
    conn_id: str = ""
    req_id: str = ""


# -- orders -------------------------------------------------------------------------------------
class OrderAck(Struct, kw_only=True):
    orderId: str
    orderLinkId: str = ""


class OrderAckResponse(_Result, kw_only=True):
    result: OrderAck


class OrderRow(Struct, kw_only=True):
    """One order, as REST lists it and as the private `order` topic pushes it."""
    category: str = ""
    symbol: str
    orderId: str
    orderLinkId: str = ""
    side: str
    orderType: str = ""
    orderStatus: str
    price: str = "0"
    qty: str = "0"
    cumExecQty: str = "0"
    cumExecValue: str = "0"
    cumExecFee: str = "0"
    avgPrice: str = ""
    timeInForce: str = ""
    rejectReason: str = ""
    isLeverage: str = ""
    reduceOnly: bool = False
    createdTime: str = "0"
    updatedTime: str = "0"


class OrderList(Struct, kw_only=True):
    category: str = ""
    rows: list[OrderRow] = msgspec.field(name="list")
    nextPageCursor: str = ""


class OrderListResponse(_Result, kw_only=True):
    result: OrderList


class Execution(Struct, kw_only=True):
    category: str = ""
    symbol: str
    execId: str = ""
    execType: str = "Trade"
    execPrice: str = "0"
    execQty: str = "0"
    execValue: str = "0"
    execFee: str = "0"
    feeCurrency: str = ""
    orderId: str = ""
    orderLinkId: str = ""
    side: str = ""
    execTime: str = "0"
    isMaker: bool = False


# -- account --------------------------------------------------------------------------------------
class WalletCoin(Struct, kw_only=True):
    coin: str
    walletBalance: str = "0"
    equity: str = "0"
    locked: str = "0"
    borrowAmount: str = "0"
    accruedInterest: str = "0"
    usdValue: str = "0"
    availableToWithdraw: str = ""


class WalletAccount(Struct, kw_only=True):
    accountType: str
    accountIMRate: str = ""
    accountMMRate: str = ""
    totalEquity: str = "0"
    totalWalletBalance: str = "0"
    totalMarginBalance: str = "0"
    totalAvailableBalance: str = "0"
    totalInitialMargin: str = "0"
    totalMaintenanceMargin: str = "0"
    coin: list[WalletCoin] = []


class WalletList(Struct, kw_only=True):
    rows: list[WalletAccount] = msgspec.field(name="list")


class WalletResponse(_Result, kw_only=True):
    result: WalletList


class PositionRow(Struct, kw_only=True):
    category: str = ""
    symbol: str
    side: str = ""                 # Buy | Sell | "" (flat)
    size: str = "0"
    avgPrice: str = "0"
    entryPrice: str = ""           # the websocket's name for avgPrice
    liqPrice: str = ""
    leverage: str = "1"
    unrealisedPnl: str = "0"
    markPrice: str = "0"
    positionIM: str = "0"
    positionMM: str = "0"
    updatedTime: str = "0"


class PositionList(Struct, kw_only=True):
    category: str = ""
    rows: list[PositionRow] = msgspec.field(name="list")


class PositionResponse(_Result, kw_only=True):
    result: PositionList


class CollateralRow(Struct, kw_only=True):
    currency: str
    hourlyBorrowRate: str = "0"
    maxBorrowingAmount: str = "0"
    availableToBorrow: str = "0"
    borrowAmount: str = "0"
    borrowable: bool = True
    marginCollateral: bool = True


class CollateralList(Struct, kw_only=True):
    rows: list[CollateralRow] = msgspec.field(name="list")


class CollateralResponse(_Result, kw_only=True):
    result: CollateralList


# -- private websocket ---------------------------------------------------------------------------
class PrivateMessage(Struct, kw_only=True):
    """`order`, `execution`, `position`, `wallet`: the data stays raw, decoded per topic."""
    topic: str = ""
    id: str = ""
    creationTime: int = 0
    data: msgspec.Raw = msgspec.Raw(b"[]")
    op: str = ""                   # a control reply on the same socket
    success: bool = True
    ret_msg: str = ""


ENVELOPE = msgspec.json.Decoder(Envelope)
SERVER_TIME = msgspec.json.Decoder(ServerTimeResponse)
INSTRUMENTS = msgspec.json.Decoder(InstrumentsResponse)
ORDERBOOK = msgspec.json.Decoder(OrderbookResponse)
BOOK_MESSAGE = msgspec.json.Decoder(BookMessage)
TICKER_MESSAGE = msgspec.json.Decoder(TickerMessage)
TICKERS = msgspec.json.Decoder(TickersResponse)
WS_REPLY = msgspec.json.Decoder(WsReply)
ORDER_ACK = msgspec.json.Decoder(OrderAckResponse)
ORDER_LIST = msgspec.json.Decoder(OrderListResponse)
WALLET = msgspec.json.Decoder(WalletResponse)
POSITIONS = msgspec.json.Decoder(PositionResponse)
COLLATERAL = msgspec.json.Decoder(CollateralResponse)
PRIVATE = msgspec.json.Decoder(PrivateMessage)
ORDER_EVENTS = msgspec.json.Decoder(list[OrderRow])
EXECUTION_EVENTS = msgspec.json.Decoder(list[Execution])
POSITION_EVENTS = msgspec.json.Decoder(list[PositionRow])
WALLET_EVENTS = msgspec.json.Decoder(list[WalletAccount])

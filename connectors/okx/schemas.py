"""msgspec Structs named after OKX v5's own JSON fields, and one precompiled decoder per message.

OKX sends numbers as strings. Book levels stay strings (the checksum is over the exact text);
everything else is converted to float once, where the connector builds hub records. Empty strings
are common ("" for a field that does not apply), so numeric fields are read through `num`.
Unknown fields are ignored.
"""
from __future__ import annotations

import msgspec
from msgspec import Raw, Struct

# [px, sz, liquidated orders (deprecated "0"), number of orders]
Level = list[str]


def num(text: str, default: float = 0.0) -> float:
    return float(text) if text else default


# -- envelopes --------------------------------------------------------------------------------------
class RestEnvelope(Struct, gc=False):
    """Every REST answer: `code` "0" on success; `data` a list (decoded per endpoint)."""

    code: str
    msg: str = ""
    data: Raw = Raw(b"[]")


class ItemCode(Struct, gc=False):
    """Per-item result of a trade request."""

    sCode: str = "0"
    sMsg: str = ""
    ordId: str = ""
    clOrdId: str = ""


class WsArg(Struct, gc=False):
    channel: str
    instId: str = ""
    instType: str = ""


class WsEvent(Struct, gc=False):
    """`{"event": "subscribe"|"login"|"error", "code", "msg", "arg"}` control frames."""

    event: str
    code: str = "0"
    msg: str = ""
    arg: WsArg | None = None
    connId: str = ""


# -- public ------------------------------------------------------------------------------------------
class ServerTime(Struct, gc=False):
    ts: str


class InstrumentRow(Struct, gc=False):
    instId: str
    instType: str
    tickSz: str
    lotSz: str
    minSz: str = ""
    baseCcy: str = ""
    quoteCcy: str = ""
    settleCcy: str = ""
    ctVal: str = ""
    ctValCcy: str = ""
    ctType: str = ""
    uly: str = ""
    state: str = "live"


class BookData(Struct, gc=False):
    asks: list[Level]
    bids: list[Level]
    ts: str = "0"
    checksum: int | None = None
    seqId: int | None = None
    prevSeqId: int | None = None


class BookMessage(Struct, gc=False):
    """`books` push: action "snapshot" then "update"s."""

    arg: WsArg
    data: list[BookData]
    action: str = "update"


class FundingRateData(Struct, gc=False):
    """funding-rate channel and /public/funding-rate: `fundingRate` applies at `fundingTime`
    (the coming settlement); `nextFundingRate`/`nextFundingTime` the one after it."""

    instId: str
    fundingRate: str
    fundingTime: str
    nextFundingRate: str = ""
    nextFundingTime: str = ""
    instType: str = "SWAP"
    ts: str = "0"


class MarkPriceData(Struct, gc=False):
    instId: str
    markPx: str
    ts: str = "0"
    instType: str = "SWAP"


class IndexTickerData(Struct, gc=False):
    instId: str
    idxPx: str
    ts: str = "0"


class FundingMessage(Struct, gc=False):
    arg: WsArg
    data: list[FundingRateData]


class MarkMessage(Struct, gc=False):
    arg: WsArg
    data: list[MarkPriceData]


class IndexMessage(Struct, gc=False):
    arg: WsArg
    data: list[IndexTickerData]


class ChannelOnly(Struct, gc=False):
    """Dispatch on `arg.channel` (or `event`) before decoding a frame fully."""

    arg: WsArg | None = None
    event: str = ""


# -- private -------------------------------------------------------------------------------------------
class OrderData(Struct, gc=False):
    """An order (REST query and the `orders` channel; the channel adds the last fill)."""

    instId: str
    ordId: str
    clOrdId: str
    side: str
    ordType: str
    state: str
    sz: str
    px: str = ""
    accFillSz: str = "0"
    avgPx: str = ""
    fillSz: str = ""
    fillPx: str = ""
    tradeId: str = ""
    fillFee: str = ""
    fillFeeCcy: str = ""
    fee: str = ""
    feeCcy: str = ""
    instType: str = ""
    tdMode: str = ""
    reduceOnly: str = "false"
    uTime: str = "0"
    cTime: str = "0"


class BalanceDetail(Struct, gc=False):
    ccy: str
    cashBal: str = ""
    availBal: str = ""
    frozenBal: str = ""
    eq: str = ""
    liab: str = ""
    interest: str = ""
    crossLiab: str = ""
    maxLoan: str = ""


class AccountData(Struct, gc=False):
    details: list[BalanceDetail]
    totalEq: str = ""
    mgnRatio: str = ""
    uTime: str = "0"


class PositionData(Struct, gc=False):
    instId: str
    pos: str
    instType: str = "SWAP"
    avgPx: str = ""
    liqPx: str = ""
    lever: str = ""
    upl: str = ""
    mgnMode: str = "cross"
    posSide: str = "net"
    uTime: str = "0"


class InterestRateData(Struct, gc=False):
    ccy: str
    interestRate: str


class MaxLoanData(Struct, gc=False):
    instId: str = ""
    mgnMode: str = ""
    mgnCcy: str = ""
    maxLoan: str = ""
    ccy: str = ""
    side: str = ""


class OrdersMessage(Struct, gc=False):
    arg: WsArg
    data: list[OrderData]


class AccountMessage(Struct, gc=False):
    arg: WsArg
    data: list[AccountData]


class PositionsMessage(Struct, gc=False):
    arg: WsArg
    data: list[PositionData]


REST_ENVELOPE = msgspec.json.Decoder(RestEnvelope)
ITEM_CODES = msgspec.json.Decoder(list[ItemCode])
SERVER_TIME = msgspec.json.Decoder(list[ServerTime])
INSTRUMENTS = msgspec.json.Decoder(list[InstrumentRow])
BOOK_DATA = msgspec.json.Decoder(list[BookData])
FUNDING_ROWS = msgspec.json.Decoder(list[FundingRateData])
ORDERS = msgspec.json.Decoder(list[OrderData])
ACCOUNTS = msgspec.json.Decoder(list[AccountData])
POSITIONS = msgspec.json.Decoder(list[PositionData])
INTEREST_RATES = msgspec.json.Decoder(list[InterestRateData])
MAX_LOANS = msgspec.json.Decoder(list[MaxLoanData])

CHANNEL_ONLY = msgspec.json.Decoder(ChannelOnly)
WS_EVENT = msgspec.json.Decoder(WsEvent)
BOOK_MESSAGE = msgspec.json.Decoder(BookMessage)
FUNDING_MESSAGE = msgspec.json.Decoder(FundingMessage)
MARK_MESSAGE = msgspec.json.Decoder(MarkMessage)
INDEX_MESSAGE = msgspec.json.Decoder(IndexMessage)
ORDERS_MESSAGE = msgspec.json.Decoder(OrdersMessage)
ACCOUNT_MESSAGE = msgspec.json.Decoder(AccountMessage)
POSITIONS_MESSAGE = msgspec.json.Decoder(PositionsMessage)

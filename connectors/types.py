"""The normalised records a connector hands to the hub, whatever the venue's dialect.

Keys: instruments and books are keyed by `InstrumentKey(venue, market, symbol)` with market
"spot" or "perp"; marks by `(venue, symbol)` (perp); balances by `(venue, wallet, asset)` with
wallet "margin" or "futures". Quantities are in coins (a venue quoting contracts converts with
`Instrument.contract_size`), prices in the quote coin.
"""
from __future__ import annotations

from enum import Enum
from typing import Literal, NamedTuple

from msgspec import Struct

Market = Literal["spot", "perp"]


class InstrumentKey(NamedTuple):
    venue: str
    market: str
    symbol: str


class Health(str, Enum):
    HEALTHY = "healthy"
    RESYNCING = "resyncing"
    STALE = "stale"
    DOWN = "down"


class Instrument(Struct, frozen=True, kw_only=True):
    venue: str
    market: str
    symbol: str
    base: str
    quote: str
    tick_size: float
    step_size: float
    min_qty: float = 0.0
    min_notional: float = 0.0
    contract_size: float = 1.0   # coins per contract (OKX ctVal); 1 for Binance
    funding_interval_h: float = 8.0   # perp only: the venue's own interval for this symbol

    @property
    def key(self) -> InstrumentKey:
        return InstrumentKey(self.venue, self.market, self.symbol)


class Mark(Struct, kw_only=True):
    """Perp mark/index and the predicted funding for the coming settlement."""

    venue: str
    symbol: str
    mark_price: float
    index_price: float
    funding_rate: float          # predicted rate for next_funding_ms
    next_funding_ms: int
    interval_h: float
    ts_ms: int
    last_settled_rate: float | None = None


class Borrow(Struct, kw_only=True):
    venue: str
    asset: str
    hourly_rate: float
    max_borrowable: float | None = None
    ts_ms: int = 0


class Balance(Struct, kw_only=True):
    venue: str
    wallet: str
    asset: str
    free: float = 0.0
    locked: float = 0.0
    borrowed: float = 0.0
    interest: float = 0.0

    @property
    def liability(self) -> float:
        return self.borrowed + self.interest

    @property
    def net(self) -> float:
        return self.free + self.locked - self.borrowed - self.interest


class MarginAccount(Struct, kw_only=True):
    venue: str
    margin_level: float
    total_asset_usdt: float = 0.0
    total_liability_usdt: float = 0.0
    margin_call_bar: float = 1.3
    force_liquidation_bar: float = 1.1
    ts_ms: int = 0


class PerpPosition(Struct, kw_only=True):
    venue: str
    symbol: str
    qty: float                   # signed, base units (one-way mode)
    entry_price: float = 0.0
    liquidation_price: float = 0.0
    leverage: float = 1.0
    unrealized_pnl: float = 0.0
    ts_ms: int = 0


class OrderUpdate(Struct, kw_only=True):
    venue: str
    market: str
    symbol: str
    client_id: str
    order_id: int | str
    side: str                    # BUY / SELL
    status: str                  # NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, REJECTED
    qty: float
    price: float = 0.0
    filled_qty: float = 0.0
    avg_price: float = 0.0
    last_fill_qty: float = 0.0
    last_fill_price: float = 0.0
    fee: float = 0.0
    fee_asset: str = ""
    fee_quote: float | None = None   # a third-asset fee's value in the quote at the fill (BNB)
    trade_id: int | str | None = None
    ts_ms: int = 0

    @property
    def is_final(self) -> bool:
        return self.status in ("FILLED", "CANCELED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH")


class FundingFee(Struct, kw_only=True):
    venue: str
    symbol: str
    asset: str
    amount: float                # signed: > 0 received
    ts_ms: int


class InterestCharge(Struct, kw_only=True):
    venue: str
    asset: str
    amount: float                # coin units charged
    ts_ms: int


class IncomeRow(Struct, kw_only=True, frozen=True):
    """One settlement from the venue's own history (funding income or margin interest), with the
    amount as the venue's exact decimal string: attribution splits it without rounding loss."""

    venue: str
    kind: Literal["funding", "interest"]
    tx_id: str                   # unique per (venue, kind)
    symbol: str                  # funding: the perp symbol; interest: ""
    asset: str                   # funding: the settlement asset (USDT); interest: the coin
    amount: str                  # funding: signed, > 0 received; interest: coin charged, > 0
    ts_ms: int


def book_stream(key: InstrumentKey) -> str:
    """The health-stream name of a book: `spot:BTCUSDT:book`."""
    return f"{key.market}:{key.symbol}:book"


OrderType = Literal["MARKET", "LIMIT", "LIMIT_MAKER"]

# How the legging engine acts on a failed request, whatever the venue:
#   unknown  the venue may have executed it: resolve by client id, never send again blindly
#   postonly a post-only order would have crossed: re-quote
#   retry    refused before execution: the same request may be sent again after backoff
#   block    the venue will keep refusing this leg (no borrow, no margin, bad filters)
#   error    anything else
ErrorKind = Literal["unknown", "postonly", "retry", "block", "error"]


class OrderRequest(Struct, frozen=True, kw_only=True):
    """A venue-neutral order, as the legging engine builds it; each venue translates it."""

    venue: str
    market: str                      # "spot_margin" | "perp"
    symbol: str
    side: str                        # BUY | SELL
    order_type: OrderType
    qty: float
    client_id: str
    price: float | None = None
    time_in_force: str | None = None  # IOC | GTC | GTX (post-only)
    side_effect: str | None = None    # MARGIN_BUY | AUTO_REPAY (cross margin)
    reduce_only: bool = False

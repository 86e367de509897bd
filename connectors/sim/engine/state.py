"""Mutable per-account state that is not coins (coins live in the ledger): orders, positions,
leverage, histories."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)


@dataclass
class Order:
    market: str                 # "spot" (cross margin) | "futures"
    account: str
    symbol: str
    order_id: int
    client_id: str
    side: str                   # BUY | SELL
    type: str                   # LIMIT | MARKET | LIMIT_MAKER
    tif: str                    # GTC | IOC | FOK | GTX ("" for MARKET)
    price: Decimal              # 0 for MARKET
    orig_qty: Decimal
    time_ms: int
    side_effect: str = "NO_SIDE_EFFECT"
    reduce_only: bool = False
    orig_type: str = ""
    quote_order_qty: Decimal = ZERO
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    update_ms: int = 0
    locked_asset: str = ""
    locked: Decimal = ZERO      # still locked for the resting remainder (spot)
    fills: list[dict[str, Any]] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


@dataclass
class Position:
    amt: Decimal = ZERO         # signed, one-way mode
    cost: Decimal = ZERO        # sum of |qty| x fill price of the open amount (exact)
    update_ms: int = 0

    @property
    def entry(self) -> Decimal:
        return self.cost / abs(self.amt) if self.amt else ZERO


@dataclass
class Account:
    account_id: str
    api_key: str
    api_secret: str
    leverage: dict[str, int] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)     # every order, both markets
    margin_trades: list[dict[str, Any]] = field(default_factory=list)
    futures_trades: list[dict[str, Any]] = field(default_factory=list)
    borrow_repay: list[dict[str, Any]] = field(default_factory=list)
    interest_history: list[dict[str, Any]] = field(default_factory=list)
    income: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    liquidated: bool = False
    margin_call_sent: bool = False

    def position(self, symbol: str) -> Position:
        p = self.positions.get(symbol)
        if p is None:
            p = self.positions[symbol] = Position()
        return p

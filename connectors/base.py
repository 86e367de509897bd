"""The two contracts between connectors and the daemon, so neither imports the other's insides.

- `StateHub`: what a connector writes market and account state into (the daemon's hub satisfies
  it structurally; connectors never import `daemon`).
- `Venue`: what the legging engine, recovery and the watchdog's actions call on a venue. Each
  venue folder provides one (Binance: `connectors.binance.legs.BinanceLegVenue`), including its
  own error classifier, so the engine never reads a connector's exception types.
"""
from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from connectors.types import (
    Balance, Borrow, ErrorKind, FundingFee, Health, IncomeRow, Instrument, InstrumentKey,
    InterestCharge, MarginAccount, Mark, OrderRequest, OrderUpdate, PerpPosition,
)


# The sides of a book, as the hub's order book numbers them (daemon/core/book.py: BID, ASK).
BID = 0
ASK = 1

# A venue's price levels as sent: [[price, qty, ...], ...] in decimal text (or that JSON array's
# raw bytes, msgspec.Raw, which the book parses itself).
Levels = Sequence[Sequence[str]]


class BookLike(Protocol):
    """What a venue's book sequencing (each venue's pure `sync.py`) does to the hub's book."""

    last_update_id: int
    ts_ms: int

    def apply_levels(self, side: int, levels: Any) -> Any: ...
    def apply_update(self, bids: Any, asks: Any, update_id: int, ts_ms: int) -> bool:
        """Both sides of one diff, then its update id and time; answers "is the book crossed"."""
    def load_snapshot(self, bids: Any, asks: Any) -> Any: ...
    def clear(self) -> Any: ...
    def is_crossed(self) -> bool: ...
    def levels(self, side: int, n: int) -> list[tuple[float, float]]: ...


class StateHub(Protocol):
    """The writes (and the few reads of current state) a connector makes on the daemon's hub."""

    instruments: Mapping[InstrumentKey, Instrument]
    balances: Mapping[tuple[str, str, str], Balance]
    borrow: Mapping[tuple[str, str], Borrow]
    positions: Mapping[tuple[str, str], PerpPosition]
    margin_accounts: Mapping[str, MarginAccount]
    orders: Mapping[tuple[str, str], OrderUpdate]

    def book(self, key: InstrumentKey) -> Any: ...
    def book_changed(self, key: InstrumentKey, msg_ms: int = 0) -> None:
        """After a change to the book of `key`; `msg_ms` also records the frame's arrival as
        `touch` would (one call per depth frame instead of two)."""
    def set_instrument(self, inst: Instrument) -> None: ...
    def set_mark(self, mark: Mark) -> None: ...
    def set_borrow(self, borrow: Borrow) -> None: ...
    def set_balance(self, balance: Balance) -> None: ...
    def set_balances(self, balances: Iterable[Balance]) -> None: ...
    def set_margin_account(self, account: MarginAccount) -> None: ...
    def set_position(self, position: PerpPosition) -> None: ...
    def order_update(self, update: OrderUpdate) -> None: ...
    def funding_fee(self, fee: FundingFee) -> None: ...
    def interest_charge(self, charge: InterestCharge) -> None: ...
    def set_health(self, venue: str, stream: str, health: Health, reason: str = "") -> None: ...
    def touch(self, venue: str, stream: str, ts_ms: int) -> None: ...


class Venue(Protocol):
    """One venue as the daemon trades it. `prepare` builds and signs without I/O (both legs are
    prepared before either is sent); the reads serve recovery and unknown-outcome resolution,
    and the holdings reads (positions, margin wallet, open orders) the reconciliation of the
    journal with the venue on every start and reconnect."""

    name: str

    def prepare(self, req: OrderRequest) -> Any:
        """Build and sign the request; no I/O."""

    async def send(self, prepared: Any) -> OrderUpdate:
        """Write it; returns the venue's acknowledgement (status and cumulative fill)."""

    async def cancel(self, market: str, symbol: str, client_id: str) -> OrderUpdate | None:
        """Cancel by client id; None if the venue does not know the order."""

    async def query(self, market: str, symbol: str, client_id: str) -> OrderUpdate | None:
        """The order by client id; None if the venue never accepted it."""

    async def orders_since(self, market: str, symbol: str, since_ms: int) -> list[OrderUpdate]:
        """Every order of the account on `symbol` created since `since_ms` (open and closed)."""

    async def open_orders(self, market: str, symbol: str) -> list[OrderUpdate]:
        """The account's orders still working on `symbol` (every client id, ours or not)."""

    async def perp_positions(self) -> dict[str, float]:
        """Signed net position per perp symbol as the venue holds it now (non-zero only)."""

    async def margin_balances(self) -> dict[str, Balance]:
        """The cross-margin wallet per asset as the venue holds it now (coins and liability)."""

    async def max_borrowable(self, asset: str) -> float | None:
        """Cross-margin max borrowable now, or None if unknown."""

    async def repay(self, asset: str, amount: float) -> None:
        """Repay `amount` of a cross-margin liability from the free balance."""

    def error_kind(self, exc: BaseException) -> ErrorKind:
        """The venue's one error classifier, as the engine acts on it (see `ErrorKind`)."""


class SendsNow(Protocol):
    """Optional on a `Venue`: the engine's synchronous entry points (`decrease_now`,
    `liquidate_now`) write through it when the venue has it, else through a `send` task."""

    def send_now(self, prepared: Any) -> Awaitable[OrderUpdate]:
        """Write the request before returning where possible; the awaitable's `written_ns`
        (perf_counter_ns; 0 = it left from a task instead) says when. Resolves like `send`."""


class StagesNow(Protocol):
    """Optional on a `Venue`, preferred to `SendsNow`: `send_now` split at the write, so the
    engine stages both legs (built, signed, bound to a connection) and then writes them back to
    back with nothing else between (connectors/transport/http_fast.py `Staged`)."""

    def stage_now(self, prepared: Any) -> Any:
        """An object with `write() -> int` (perf_counter_ns of the write; 0 = it left from a
        task instead) and, after it, `answer()`: the awaitable `send_now` would return."""


class ReportsIncome(Protocol):
    """Optional on a `Venue`: its own history of funding settlements (naming the symbol) and
    margin interest charges. With it, the engine attributes every settlement from the history
    instead of from stream events (Binance's cross-margin FUNDING_FEE event names no symbol)."""

    async def income_since(self, kind: str, start_ms: int) -> list[IncomeRow]:
        """Every `kind` ("funding" | "interest") row settled at or after `start_ms`."""

"""What the legging engine needs from a venue, and how it reads a venue's errors.

`LegVenue` is deliberately small: build+sign without I/O (`prepare`), write (`send`), and the
reads recovery and unknown-outcome resolution need. `connectors.binance` satisfies it through the
thin adapter in `connectors.binance.legs` (so the engine never depends on a connector's internals).
"""
from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Literal, Protocol

from msgspec import Struct

from daemon.hub import OrderUpdate

OrderType = Literal["MARKET", "LIMIT", "LIMIT_MAKER"]


class OrderRequest(Struct, frozen=True, kw_only=True):
    venue: str
    market: str                      # "spot_margin" | "perp"
    symbol: str
    side: str                        # BUY | SELL
    order_type: OrderType
    qty: float
    client_id: str
    price: float | None = None
    time_in_force: str | None = None  # IOC | GTC | GTX (USD-M post-only)
    side_effect: str | None = None    # MARGIN_BUY | AUTO_REPAY (cross margin)
    reduce_only: bool = False


class LegVenue(Protocol):
    name: str

    def prepare(self, req: OrderRequest) -> Any:
        """Build and sign the request; no I/O (both legs are prepared before either is sent)."""

    async def send(self, prepared: Any) -> OrderUpdate:
        """Write it; returns the venue's acknowledgement (status and cumulative fill)."""

    async def cancel(self, market: str, symbol: str, client_id: str) -> OrderUpdate | None:
        """Cancel by client id; None if the venue does not know the order."""

    async def query(self, market: str, symbol: str, client_id: str) -> OrderUpdate | None:
        """The order by client id; None if the venue never accepted it."""

    async def orders_since(self, market: str, symbol: str, since_ms: int) -> list[OrderUpdate]:
        """Every order of the account on `symbol` created since `since_ms` (open and closed)."""

    async def max_borrowable(self, asset: str) -> float | None:
        """Cross-margin max borrowable now, or None if unknown."""

    async def repay(self, asset: str, amount: float) -> None:
        """Repay `amount` of a cross-margin liability from the free balance."""


class SendsNow(Protocol):
    """Optional on a `LegVenue`: the engine's synchronous entry points (`decrease_now`,
    `liquidate_now`) write through it when the venue has it, else through a `send` task."""

    def send_now(self, prepared: Any) -> Awaitable[OrderUpdate]:
        """Write the request before returning where possible; the awaitable's `written_ns`
        (perf_counter_ns; 0 = it left from a task instead) says when. Resolves like `send`."""


# Errors are read by class name and `code` so this module needs no connector import; the names are
# those of connectors/binance/errors.py (and the sim speaks the same dialect).
_BLOCKING = frozenset({"BorrowUnavailable", "BorrowLimitExceeded", "InsufficientMargin",
                       "OrderRejected", "BadRequest", "IpBanned"})
_BLOCKING_CODES = frozenset({-3045, -3006, -2019, -2010, -1013, -3041, -3044, -2027, -2028})


def error_kind(exc: BaseException) -> str:
    """unknown (may have executed: resolve by id) | postonly | retry | block | error."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "UnknownOutcome" in names or isinstance(exc, TimeoutError):
        return "unknown"
    if "PostOnlyRejected" in names:
        return "postonly"
    try:
        from connectors.binance.errors import is_retryable
        if is_retryable(exc):
            return "retry"
    except ImportError:  # pragma: no cover - the connector package is always installed
        pass
    if names & _BLOCKING or getattr(exc, "code", None) in _BLOCKING_CODES:
        return "block"
    if isinstance(exc, (ConnectionError, OSError)):
        return "unknown"
    return "error"

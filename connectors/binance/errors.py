"""Binance errors as types, the ONE retry decision (`is_retryable`) and the ONE classifier the
legging engine acts on (`error_kind`).

Every failed request becomes a `BinanceError` subclass chosen by `error_from_response` (HTTP
status + venue code, named in constants.py) or by the REST dialect (rest.py) when no answer came
back. Messages never contain request parameters or headers, so a secret can never leak through an
exception.

Order requests are not idempotent: when the venue may have executed one but we do not know
(timeout, 5xx, -1006/-1007) the error is `UnknownOutcome`, which is NOT retryable. The caller
resolves it by querying the order by its client id (see `trading.BinanceTrading.resolve_unknown`).
"""
from __future__ import annotations

from connectors.binance import constants as C
from connectors.types import ErrorKind


class BinanceError(Exception):
    """A request the venue rejected or did not answer. `code` is Binance's (negative) code or 0."""

    def __init__(self, http_status: int, code: int, msg: str, *, method: str = "", path: str = "",
                 idempotent: bool = True, retry_after_s: float | None = None) -> None:
        self.http_status = http_status
        self.code = code
        self.msg = msg
        self.method = method
        self.path = path
        self.idempotent = idempotent
        self.retry_after_s = retry_after_s
        super().__init__(f"{method} {path}: HTTP {http_status} code {code}: {msg}".strip())


class ClockSkew(BinanceError):
    """-1021: timestamp outside recvWindow. Rejected before execution; retry after re-measuring time."""


class RateLimited(BinanceError):
    """HTTP 429 / -1003 / -1015: over the weight or order-rate limit. Retry after Retry-After."""


class IpBanned(BinanceError):
    """HTTP 418: banned until `retry_after_s` from now. Never retried; the session blocks all requests."""


class BadRequest(BinanceError):
    """A malformed or refused request (-11xx, -1022 signature, -2014/-2015 key). Fix, don't retry."""


class OrderRejected(BinanceError):
    """-2010 new order rejected (incl. duplicate client id), -2011 cancel rejected, -1013 filters."""


class UnknownOrder(BinanceError):
    """-2013: order does not exist (a query/cancel for a client id the venue never accepted)."""


class InsufficientMargin(BinanceError):
    """-2019: margin is insufficient (USD-M)."""


class PostOnlyRejected(BinanceError):
    """-5022 (USD-M GTX) or spot LIMIT_MAKER -2010 'would immediately match': re-quote, not retry."""


class BorrowUnavailable(BinanceError):
    """-3045: the venue's lending pool has not enough of the asset now."""


class BorrowLimitExceeded(BinanceError):
    """-3006: the requested borrow exceeds the account's max borrowable."""


class ServerBusy(BinanceError):
    """-1001/-1004/-1008/-1016: refused before processing; safe to retry with backoff."""


class UnknownOutcome(BinanceError):
    """5xx, -1006, -1007 or a timeout on a non-idempotent request: the venue may or may not have
    executed it. Resolve by client id; never send again blindly."""


class ServerError(BinanceError):
    """5xx on an idempotent request (a read): nothing changed, retry with backoff."""


class RequestTimeout(BinanceError):
    """No response in time on an idempotent request (a read)."""


_BY_CODE: dict[int, type[BinanceError]] = {
    C.CLOCK_SKEW: ClockSkew,
    **dict.fromkeys(C.RATE_LIMIT_CODES, RateLimited),
    **dict.fromkeys(C.BUSY_CODES, ServerBusy),
    **dict.fromkeys(C.ORDER_REJECTED_CODES, OrderRejected),
    C.NO_SUCH_ORDER: UnknownOrder,
    C.INSUFFICIENT_MARGIN: InsufficientMargin,
    C.POST_ONLY_REJECTED: PostOnlyRejected,
    C.BORROW_UNAVAILABLE: BorrowUnavailable,
    C.BORROW_LIMIT_EXCEEDED: BorrowLimitExceeded,
}


def error_from_response(http_status: int, code: int, msg: str, *, method: str = "", path: str = "",
                        idempotent: bool = True, retry_after_s: float | None = None) -> BinanceError:
    """Pick the error type for a non-2xx response (or a 2xx carrying a negative code)."""
    kw = {"method": method, "path": path, "idempotent": idempotent, "retry_after_s": retry_after_s}
    if http_status == 418:
        return IpBanned(http_status, code, msg, **kw)
    if http_status == 429:
        return RateLimited(http_status, code, msg, **kw)
    if http_status >= 500:
        # Binance: a 5xx means the execution status is UNKNOWN, whatever code it carries.
        return (ServerError if idempotent else UnknownOutcome)(http_status, code, msg, **kw)
    if code == C.NEW_ORDER_REJECTED and "immediately match" in msg:
        return PostOnlyRejected(http_status, code, msg, **kw)
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls(http_status, code, msg, **kw)
    if code in C.UNKNOWN_OUTCOME_CODES:
        return (ServerError if idempotent else UnknownOutcome)(http_status, code, msg, **kw)
    return BadRequest(http_status, code, msg, **kw)


def timeout_error(*, method: str, path: str, idempotent: bool) -> BinanceError:
    cls = RequestTimeout if idempotent else UnknownOutcome
    return cls(0, 0, "request timed out", method=method, path=path, idempotent=idempotent)


_RETRYABLE = (ClockSkew, RateLimited, ServerBusy, ServerError, RequestTimeout)


def is_retryable(error: BaseException) -> bool:
    """The one retry decision: may the SAME request be sent again (after backoff / Retry-After /
    a clock re-sync)? False for rejections, bans, and every unknown outcome."""
    return isinstance(error, _RETRYABLE)


def error_kind(error: BaseException) -> ErrorKind:
    """How the legging engine acts on a failed request (connectors.types.ErrorKind)."""
    if isinstance(error, (UnknownOutcome, TimeoutError)):
        return "unknown"
    if isinstance(error, PostOnlyRejected):
        return "postonly"
    if is_retryable(error):
        return "retry"
    if isinstance(error, (BorrowUnavailable, BorrowLimitExceeded, InsufficientMargin,
                          OrderRejected, BadRequest, IpBanned)):
        return "block"
    if isinstance(error, BinanceError) and error.code in C.BLOCKING_CODES:
        return "block"
    if isinstance(error, (ConnectionError, OSError)):
        return "unknown"
    return "error"

"""Bybit errors as types, the ONE retry decision (`is_retryable`) and the ONE classifier the
legging engine acts on (`error_kind`), both chosen from the retCode (constants.py).

Messages never contain request parameters or headers, so a secret cannot leak through them.
An order request whose outcome is unknown (10000/10016, a 5xx, a timeout) is `UnknownOutcome`,
never retried: the caller resolves it by orderLinkId (trading.BybitTrading.resolve_unknown).
"""
from __future__ import annotations

from connectors.bybit import constants as C
from connectors.types import ErrorKind


class BybitError(Exception):
    """A request the venue refused or did not answer. `code` is the retCode (0: no answer)."""

    def __init__(self, http_status: int, code: int, msg: str, *, method: str = "", path: str = "",
                 idempotent: bool = True, retry_after_s: float | None = None) -> None:
        self.http_status = http_status
        self.code = code
        self.msg = msg
        self.method = method
        self.path = path
        self.idempotent = idempotent
        self.retry_after_s = retry_after_s
        super().__init__(f"{method} {path}: HTTP {http_status} retCode {code}: {msg}".strip())


class ClockSkew(BybitError):
    """10002: timestamp outside recv_window; refused before execution."""


class RateLimited(BybitError):
    """10006/10018 or HTTP 429: over the rate limit; retry after the window."""


class IpBanned(BybitError):
    """HTTP 403 (IP rate limit breached) or 10009: blocked for a while; never retried."""


class BadRequest(BybitError):
    """A malformed or refused request (10001, keys, signature, permissions): fix, don't retry."""


class OrderRejected(BybitError):
    """Insufficient balance or margin, a reduce-only or duplicate orderLinkId refusal."""


class UnknownOrder(BybitError):
    """110001/170213: no order with that id (a query or cancel the venue never accepted)."""


class PostOnlyRejected(BybitError):
    """A PostOnly order the venue cancelled because it would have taken liquidity."""


class ServerBusy(BybitError):
    """Refused before processing (connect failed): safe to retry."""


class UnknownOutcome(BybitError):
    """No certain answer to a non-idempotent request: resolve by orderLinkId, never resend."""


class ServerError(BybitError):
    """A server error on an idempotent request (a read): retry with backoff."""


class RequestTimeout(BybitError):
    """No answer in time on an idempotent request."""


def error_from_ret_code(http_status: int, code: int, msg: str, *, method: str = "",
                        path: str = "", idempotent: bool = True,
                        retry_after_s: float | None = None) -> BybitError:
    kw = {"method": method, "path": path, "idempotent": idempotent, "retry_after_s": retry_after_s}
    if http_status == 403 or code == C.IP_BANNED:
        return IpBanned(http_status, code, msg, **kw)
    if http_status == 429 or code in C.RATE_LIMIT_CODES:
        return RateLimited(http_status, code, msg, **kw)
    if http_status >= 500 or code in C.UNKNOWN_OUTCOME_CODES:
        return (ServerError if idempotent else UnknownOutcome)(http_status, code, msg, **kw)
    if code == C.CLOCK_SKEW:
        return ClockSkew(http_status, code, msg, **kw)
    if code in C.NOT_FOUND_CODES:
        return UnknownOrder(http_status, code, msg, **kw)
    if code in C.BLOCKING_CODES:
        return OrderRejected(http_status, code, msg, **kw)
    return BadRequest(http_status, code, msg, **kw)


def timeout_error(*, method: str, path: str, idempotent: bool) -> BybitError:
    cls = RequestTimeout if idempotent else UnknownOutcome
    return cls(0, 0, "request timed out", method=method, path=path, idempotent=idempotent)


_RETRYABLE = (ClockSkew, RateLimited, ServerBusy, ServerError, RequestTimeout)


def is_retryable(error: BaseException) -> bool:
    """May the SAME request be sent again? False for refusals, bans and unknown outcomes."""
    return isinstance(error, _RETRYABLE)


def error_kind(error: BaseException) -> ErrorKind:
    """How the legging engine acts on a failed request (connectors.types.ErrorKind)."""
    if isinstance(error, (UnknownOutcome, TimeoutError)):
        return "unknown"
    if isinstance(error, PostOnlyRejected):
        return "postonly"
    if is_retryable(error):
        return "retry"
    if isinstance(error, (OrderRejected, BadRequest, IpBanned)):
        return "block"
    if isinstance(error, (ConnectionError, OSError)):
        return "unknown"
    return "error"

"""The one retry decision, table-tested over the codes that matter for basis trading."""
from __future__ import annotations

import pytest

from connectors.binance import errors as E

CASES = [
    # (http, code, msg, idempotent, type, retryable)
    (400, -1021, "Timestamp for this request is outside of the recvWindow.", False, E.ClockSkew, True),
    (429, -1003, "Too much request weight used", True, E.RateLimited, True),
    (400, -1003, "Too many requests queued.", False, E.RateLimited, True),
    (418, -1003, "Way too much request weight used; IP banned until 1.", True, E.IpBanned, False),
    (429, 0, "", False, E.RateLimited, True),
    (400, -2010, "Account has insufficient balance for requested action.", False, E.OrderRejected,
     False),
    (400, -2010, "Duplicate order sent.", False, E.OrderRejected, False),
    (400, -2010, "Order would immediately match and take.", False, E.PostOnlyRejected, False),
    (400, -2019, "Margin is insufficient.", False, E.InsufficientMargin, False),
    (400, -3045, "The system does not have enough asset now.", False, E.BorrowUnavailable, False),
    (400, -3006, "Your borrow amount has exceed maximum borrow amount.", False,
     E.BorrowLimitExceeded, False),
    (400, -5022, "Due to the order could not be executed as maker, the Post Only order will be "
                 "rejected.", False, E.PostOnlyRejected, False),
    (400, -2013, "Order does not exist.", True, E.UnknownOrder, False),
    (400, -1022, "Signature for this request is not valid.", False, E.BadRequest, False),
    (400, -1102, "Mandatory parameter 'quantity' was not sent", False, E.BadRequest, False),
    (503, 0, "Service Unavailable", True, E.ServerError, True),
    (503, 0, "Service Unavailable", False, E.UnknownOutcome, False),
    (500, -1000, "An unknown error occurred", False, E.UnknownOutcome, False),
    (408, -1007, "Timeout waiting for response from backend server.", False, E.UnknownOutcome,
     False),
    (400, -1006, "Unexpected response", True, E.ServerError, True),
    (400, -1001, "Internal error; unable to process your request.", False, E.ServerBusy, True),
    # any 5xx: execution status unknown, even with a "please retry" code
    (503, -1001, "Internal error; unable to process your request.", False, E.UnknownOutcome, False),
    (503, -1001, "Internal error; unable to process your request.", True, E.ServerError, True),
]


@pytest.mark.parametrize(("http", "code", "msg", "idem", "cls", "retry"), CASES)
def test_error_table(http: int, code: int, msg: str, idem: bool, cls: type, retry: bool) -> None:
    err = E.error_from_response(http, code, msg, method="POST", path="/x", idempotent=idem)
    assert type(err) is cls
    assert E.is_retryable(err) is retry
    assert err.code == code and err.http_status == http


def test_timeouts() -> None:
    read = E.timeout_error(method="GET", path="/api/v3/depth", idempotent=True)
    order = E.timeout_error(method="POST", path="/fapi/v1/order", idempotent=False)
    assert isinstance(read, E.RequestTimeout) and E.is_retryable(read)
    # an order that timed out may have executed: resolve by client id, never resend
    assert isinstance(order, E.UnknownOutcome) and not E.is_retryable(order)


def test_non_binance_exceptions_are_not_retryable() -> None:
    assert not E.is_retryable(ValueError("x"))


def test_retry_after_is_carried() -> None:
    err = E.error_from_response(429, -1003, "", retry_after_s=7.0)
    assert err.retry_after_s == 7.0

"""One classifier for Bybit: retCodes (in a 2xx body) -> the legging engine's ErrorKind."""
from __future__ import annotations

import orjson

from connectors.bybit import constants as C
from connectors.bybit import errors as E
from connectors.bybit.rest import BybitDialect

BYBIT = BybitDialect()


def _kind(code: int, *, idempotent: bool = False, status: int = 200) -> str:
    body = orjson.dumps({"retCode": code, "retMsg": "x", "result": {}, "time": 1})
    err = BYBIT.error_in_body(status, body, method="POST", path=C.ORDER_CREATE,
                              idempotent=idempotent)
    assert err is not None
    return E.error_kind(err)


def test_ret_codes_classify() -> None:
    assert BYBIT.error_in_body(200, b'{"retCode":0,"retMsg":"OK","result":{}}', method="GET",
                               path="/", idempotent=True) is None
    assert _kind(C.SPOT_INSUFFICIENT_BALANCE) == "block"
    assert _kind(C.INSUFFICIENT_AVAILABLE) == "block"
    assert _kind(C.DUPLICATE_LINK_ID) == "block"
    assert _kind(C.CLOCK_SKEW) == "retry"
    assert _kind(C.RATE_LIMITED) == "retry"
    assert _kind(C.SERVER_TIMEOUT) == "unknown"
    assert _kind(C.SERVER_TIMEOUT, idempotent=True) == "retry"
    assert _kind(C.PARAM_ERROR) == "block"
    body = orjson.dumps({"retCode": C.ORDER_NOT_FOUND, "retMsg": "Order does not exist."})
    assert isinstance(BYBIT.error_in_body(200, body, method="GET", path="/", idempotent=True),
                      E.UnknownOrder)
    assert E.error_kind(E.PostOnlyRejected(200, 0, C.POST_ONLY_REASON)) == "postonly"
    assert E.error_kind(TimeoutError()) == "unknown"
    banned = BYBIT.error_from_response(403, "Forbidden", b"<html>", method="GET", path="/",
                                       idempotent=True, retry_after_s=None)
    assert isinstance(banned, E.IpBanned) and E.error_kind(banned) == "block"

"""Binance's REST dialect for the venue-neutral `connectors.transport.rest.RestSession`.

- Signing: HMAC-SHA256 over the percent-encoded parameters plus `recvWindow` and `timestamp`
  (signing.py), the key in `X-MBX-APIKEY`.
- Weight: one budget per host family (`/api`, `/sapi`, `/fapi`), the venue's own count in
  `X-MBX-USED-WEIGHT-1M` / `X-SAPI-USED-IP-WEIGHT-1M`.
- Errors: the JSON `{code, msg}` body and the HTTP status pick a `BinanceError` (errors.py); HTTP
  418 is an IP ban; -1021 is a clock skew.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.binance import constants as C
from connectors.binance import errors as E
from connectors.binance import schemas
from connectors.binance.signing import hmac_sha256_hex, rest_payload
from connectors.transport.rest import Failure, Headers

WEIGHT_LIMITS: Mapping[str, int] = {"api": 6000, "sapi": 12000, "fapi": 2400}
_WEIGHT_HEADERS = ("X-MBX-USED-WEIGHT-1M", "X-SAPI-USED-IP-WEIGHT-1M")
_API_KEY_HEADER = "X-MBX-APIKEY"


def family(path: str) -> str:
    """Rate-limit family of a path: 'api', 'sapi' or 'fapi' (each has its own budget)."""
    return path.split("/", 2)[1] if path.startswith("/") else "api"


def server_time_ms(body: bytes) -> int:
    return schemas.SERVER_TIME.decode(body).serverTime


class BinanceDialect:
    """`connectors.transport.rest.RestDialect` for Binance (and the embedded exchange)."""

    error_type: type[Exception] = E.BinanceError
    weight_limits: Mapping[str, int] = WEIGHT_LIMITS
    ban_status = 418

    def family(self, path: str) -> str:
        return family(path)

    def used_weight(self, headers: Headers) -> int | None:
        for name in _WEIGHT_HEADERS:
            value = headers.get(name)
            if value is not None and value.isdigit():
                return int(value)
        return None

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {_API_KEY_HEADER: api_key}

    def encode(self, items: list[tuple[str, Any]]) -> str:
        return rest_payload(items)

    def sign(self, items: list[tuple[str, Any]], *, secret: str, timestamp_ms: int,
             recv_window_ms: int) -> str:
        payload = rest_payload([*items, ("recvWindow", recv_window_ms),
                                ("timestamp", timestamp_ms)])
        return f"{payload}&signature={hmac_sha256_hex(secret, payload)}"

    def error_from_response(self, status: int, reason: str, body: bytes, *, method: str,
                            path: str, idempotent: bool,
                            retry_after_s: float | None) -> E.BinanceError:
        code, msg = 0, reason
        try:
            err = schemas.API_ERROR.decode(body)
            code, msg = err.code, err.msg
        except Exception:  # non-JSON error page (proxies, 5xx)
            pass
        return E.error_from_response(status, code, msg, method=method, path=path,
                                     idempotent=idempotent, retry_after_s=retry_after_s)

    def failure(self, kind: Failure, detail: str, *, method: str, path: str, idempotent: bool,
                retry_after_s: float | None = None) -> E.BinanceError:
        kw: dict[str, Any] = {"method": method, "path": path, "idempotent": idempotent}
        if kind == "timeout":
            return E.timeout_error(**kw)
        if kind == "banned":
            return E.IpBanned(self.ban_status, C.IP_BANNED, detail, retry_after_s=retry_after_s,
                              **kw)
        if kind == "unreachable":
            return E.ServerBusy(0, 0, detail, **kw)
        if kind == "broken":
            return (E.ServerError if idempotent else E.UnknownOutcome)(0, 0, detail, **kw)
        return E.BadRequest(0, 0, detail, **kw)     # no_credentials

    def is_retryable(self, error: Exception) -> bool:
        return E.is_retryable(error)

    def is_clock_skew(self, error: Exception) -> bool:
        return isinstance(error, E.ClockSkew)

    def retry_after_s(self, error: Exception) -> float | None:
        return error.retry_after_s if isinstance(error, E.BinanceError) else None

    def server_time_ms(self, body: bytes) -> int:
        return server_time_ms(body)


BINANCE = BinanceDialect()


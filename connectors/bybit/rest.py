"""Bybit's REST dialect for the venue-neutral `connectors.transport.rest.RestSession`.

- Signing (signing.py): HMAC over `timestamp + key + recv_window + payload`, in the X-BAPI-*
  headers; GET parameters in the query string, POST parameters as a JSON body (the transport's
  HeaderSigning hook: `encode_for`, `sign_headers`).
- Errors: Bybit answers HTTP 200 with a non-zero `retCode` (`error_in_body`, the transport's
  BodyErrors hook); HTTP 403 means the IP limit was breached; 10002 is a clock skew.
- Rate limits are per endpoint on Bybit (X-Bapi-Limit-Status): one budget per path prefix here.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from connectors.bybit import constants as C
from connectors.bybit import errors as E
from connectors.bybit import schemas
from connectors.bybit.signing import json_body, query_string, sign_rest
from connectors.transport.rest import Failure, Headers

WEIGHT_LIMITS: Mapping[str, int] = {"market": 6000, "order": 600, "account": 3000,
                                    "position": 3000, "asset": 600}


def server_time_ms(body: bytes) -> int:
    reply = schemas.SERVER_TIME.decode(body)
    nano = int(reply.result.timeNano or 0)
    return nano // 1_000_000 if nano else reply.time


class BybitDialect:
    """`RestDialect` (+ the transport's optional HeaderSigning and BodyErrors) for Bybit v5.

    One per venue: Bybit's string to sign holds the API key and the recv_window, which the
    transport's header-signing call does not pass, so the dialect carries them."""

    error_type: type[Exception] = E.BybitError
    weight_limits: Mapping[str, int] = WEIGHT_LIMITS
    ban_status = 403

    def __init__(self, api_key: str = "", recv_window_ms: int = 5000) -> None:
        self.api_key = api_key
        self.recv_window_ms = recv_window_ms

    def __repr__(self) -> str:
        return f"BybitDialect(recv_window_ms={self.recv_window_ms})"

    def family(self, path: str) -> str:
        parts = path.split("/", 3)
        return parts[2] if len(parts) > 2 else "market"

    def used_weight(self, headers: Headers) -> int | None:
        return None      # Bybit reports what is LEFT per endpoint, not a family's count

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {C.H_API_KEY: api_key}

    def encode(self, items: list[tuple[str, Any]]) -> str:
        return query_string(items)

    def sign(self, items: list[tuple[str, Any]], *, secret: str, timestamp_ms: int,
             recv_window_ms: int) -> str:
        raise NotImplementedError("Bybit signs in headers: RestSession calls sign_headers")

    # -- HeaderSigning (connectors.transport.rest) ----------------------------------------------
    content_type = "application/json"

    def encode_for(self, method: str, items: list[tuple[str, Any]]) -> str:
        return json_body(items) if method in ("POST", "PUT") else query_string(items)

    def sign_headers(self, method: str, request_path: str, body: str, *, secret: str,
                     timestamp_ms: int) -> dict[str, str]:
        payload = body if method in ("POST", "PUT") else request_path.partition("?")[2]
        window = self.recv_window_ms
        return {C.H_TIMESTAMP: str(timestamp_ms), C.H_RECV_WINDOW: str(window),
                C.H_SIGN: sign_rest(secret, timestamp_ms, self.api_key, window, payload)}

    def error_in_body(self, status: int, body: bytes, *, method: str, path: str,
                      idempotent: bool) -> E.BybitError | None:
        try:
            env = schemas.ENVELOPE.decode(body)
        except msgspec.DecodeError:
            return None if idempotent else E.UnknownOutcome(status, 0, "unreadable answer",
                                                            method=method, path=path,
                                                            idempotent=idempotent)
        if env.retCode == C.OK:
            return None
        return E.error_from_ret_code(status, env.retCode, env.retMsg, method=method, path=path,
                                     idempotent=idempotent)

    def error_from_response(self, status: int, reason: str, body: bytes, *, method: str,
                            path: str, idempotent: bool,
                            retry_after_s: float | None) -> E.BybitError:
        code, msg = 0, reason
        try:
            env = schemas.ENVELOPE.decode(body)
            code, msg = env.retCode, env.retMsg
        except Exception:  # non-JSON error page (CDN, proxies)
            pass
        return E.error_from_ret_code(status, code, msg, method=method, path=path,
                                     idempotent=idempotent, retry_after_s=retry_after_s)

    def failure(self, kind: Failure, detail: str, *, method: str, path: str, idempotent: bool,
                retry_after_s: float | None = None) -> E.BybitError:
        kw: dict[str, Any] = {"method": method, "path": path, "idempotent": idempotent}
        if kind == "timeout":
            return E.timeout_error(**kw)
        if kind == "banned":
            return E.IpBanned(self.ban_status, 0, detail, retry_after_s=retry_after_s, **kw)
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
        return error.retry_after_s if isinstance(error, E.BybitError) else None

    def server_time_ms(self, body: bytes) -> int:
        return server_time_ms(body)


"""OKX's REST dialect for the venue-neutral `connectors.transport.rest.RestSession`.

- Signing in headers (`HeaderSigning` of the transport): base64 HMAC-SHA256 of
  timestamp + METHOD + requestPath(+query) + body (signing.py); the key, the passphrase and the
  ISO timestamp in `OK-ACCESS-*` headers. GET parameters go in the query string, POST parameters
  in a JSON body.
- Rate limits: OKX counts requests per endpoint per 2 s and sends no used-weight header; the
  session's per-family budget (per minute) stays under them.
- Errors: the JSON `{code, msg}` body; a 2xx can carry a failure too (trade requests answer
  HTTP 200 with code "1" and a per-order sCode), which trading.py turns into an `OkxError`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import orjson

from connectors.okx import constants as C
from connectors.okx import errors as E
from connectors.okx import schemas
from connectors.okx.signing import iso_timestamp, prehash, sign
from connectors.secrets import Secret
from connectors.transport.rest import Failure, Headers

WEIGHT_LIMITS: Mapping[str, int] = {"public": 1200, "market": 1200, "trade": 1800,
                                    "account": 600}


def family(path: str) -> str:
    """`/api/v5/<family>/...`."""
    parts = path.split("/")
    return parts[3] if len(parts) > 3 else "public"


def server_time_ms(body: bytes) -> int:
    env = schemas.REST_ENVELOPE.decode(body)
    return int(schemas.SERVER_TIME.decode(env.data)[0].ts)


class OkxDialect:
    """`RestDialect` + `HeaderSigning` for OKX v5 (and the embedded exchange's OKX dialect).
    One per venue: it holds the account's passphrase (revealed only into the signing headers)."""

    error_type: type[Exception] = E.OkxError
    weight_limits: Mapping[str, int] = WEIGHT_LIMITS
    ban_status = 403       # never sent by OKX for rate limits; kept distinct from 429
    content_type = "application/json"

    def __init__(self, passphrase: Secret | None = None, *, demo: bool = False) -> None:
        self._passphrase = passphrase
        self.demo = demo

    def family(self, path: str) -> str:
        return family(path)

    def used_weight(self, headers: Headers) -> int | None:
        return None

    def auth_headers(self, api_key: str) -> dict[str, str]:
        headers = {"OK-ACCESS-KEY": api_key}
        if self._passphrase is not None:
            headers["OK-ACCESS-PASSPHRASE"] = self._passphrase.reveal()
        if self.demo:
            headers[C.DEMO_HEADER] = "1"
        return headers

    def encode(self, items: list[tuple[str, Any]]) -> str:
        return urlencode([(k, _text(v)) for k, v in items])

    def encode_for(self, method: str, items: list[tuple[str, Any]]) -> str:
        if method in ("POST", "PUT"):
            return orjson.dumps({k: _text(v) for k, v in items}).decode() if items else ""
        return self.encode(items)

    def sign_headers(self, method: str, request_path: str, body: str, *, secret: str,
                     timestamp_ms: int) -> dict[str, str]:
        ts = iso_timestamp(timestamp_ms)
        return {"OK-ACCESS-TIMESTAMP": ts,
                "OK-ACCESS-SIGN": sign(secret, prehash(ts, method, request_path, body))}

    def sign(self, items: list[tuple[str, Any]], *, secret: str, timestamp_ms: int,
             recv_window_ms: int) -> str:
        raise NotImplementedError("OKX signs in headers (sign_headers)")

    def error_from_response(self, status: int, reason: str, body: bytes, *, method: str,
                            path: str, idempotent: bool,
                            retry_after_s: float | None) -> E.OkxError:
        code, msg = str(status), reason
        try:
            env = schemas.REST_ENVELOPE.decode(body)
            code, msg = env.code, env.msg
        except Exception:  # non-JSON error page (proxies, 5xx)
            pass
        return E.error_from_body(status, code, msg, method=method, path=path,
                                 idempotent=idempotent, retry_after_s=retry_after_s)

    def failure(self, kind: Failure, detail: str, *, method: str, path: str, idempotent: bool,
                retry_after_s: float | None = None) -> E.OkxError:
        if kind == "timeout":
            return E.OkxError(0, "timeout", detail, method=method, path=path,
                              idempotent=idempotent, unknown_outcome=not idempotent)
        if kind == "banned":
            return E.OkxError(self.ban_status, "banned", detail, method=method, path=path,
                              idempotent=idempotent, retry_after_s=retry_after_s)
        if kind == "unreachable":    # never reached the venue: safe to send again
            return E.OkxError(503, C.SERVICE_UNAVAILABLE, detail, method=method, path=path,
                              idempotent=True)
        if kind == "broken":
            return E.OkxError(0, "broken", detail, method=method, path=path,
                              idempotent=idempotent, unknown_outcome=not idempotent)
        return E.OkxError(401, C.MISSING_KEY, detail, method=method, path=path)

    def is_retryable(self, error: Exception) -> bool:
        return E.is_retryable(error)

    def is_clock_skew(self, error: Exception) -> bool:
        return isinstance(error, E.OkxError) and error.code == C.TIMESTAMP_EXPIRED

    def retry_after_s(self, error: Exception) -> float | None:
        return error.retry_after_s if isinstance(error, E.OkxError) else None

    def server_time_ms(self, body: bytes) -> int:
        return server_time_ms(body)


def data_of(raw: bytes, *, method: str = "", path: str = "", idempotent: bool = True) -> bytes:
    """The `data` of a 2xx answer, or the `OkxError` its code (or first failed sCode) names."""
    env = schemas.REST_ENVELOPE.decode(raw)
    if env.code == C.OK:
        return bytes(env.data)
    s_code = s_msg = ""
    try:
        for item in schemas.ITEM_CODES.decode(env.data):
            if item.sCode != C.OK:
                s_code, s_msg = item.sCode, item.sMsg
                break
    except Exception:
        pass
    raise E.error_from_body(200, env.code, env.msg, s_code=s_code, s_msg=s_msg, method=method,
                            path=path, idempotent=idempotent)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

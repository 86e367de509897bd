"""Binance request authentication, pure: HMAC-SHA256 payload rules and timestamp/recvWindow checks.

Binance (spot, sapi, fapi alike): the signature is the lowercase hex HMAC-SHA256, keyed by the
secret, of `totalParams` = the query string concatenated with the request body, exactly as sent
(percent-encoded, in the order sent, WITHOUT an '&' between the two), the `signature` parameter
itself excluded. A request is accepted when `timestamp < serverTime + 1000` and
`serverTime - timestamp <= recvWindow` (default 5000, max 60000).
"""
from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import parse_qsl

from connectors.sim.server.errors import ApiError

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000
_FUTURE_TOLERANCE_MS = 1000
_INT_RE = re.compile(r"^[0-9]{1,20}$")


def _strip_signature(raw: str) -> tuple[str, str | None]:
    """Remove the `signature=` component from a raw urlencoded string, keeping the rest verbatim."""
    if not raw:
        return "", None
    kept: list[str] = []
    sig: str | None = None
    for part in raw.split("&"):
        if part.startswith("signature="):
            sig = part[len("signature="):]
        else:
            kept.append(part)
    return "&".join(kept), sig


def signing_payload(raw_query: str, raw_body: str) -> tuple[str, str | None]:
    """(totalParams without the signature, the signature sent or None)."""
    q, sig_q = _strip_signature(raw_query)
    b, sig_b = _strip_signature(raw_body)
    return q + b, sig_q if sig_q is not None else sig_b


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signature_ok(secret: str, payload: str, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, payload), signature.lower())


def merge_params(raw_query: str, raw_body: str) -> dict[str, str]:
    """Decoded parameters; one sent in both the query and the body takes the query's value."""
    params = dict(parse_qsl(raw_body, keep_blank_values=True)) if raw_body else {}
    if raw_query:
        params.update(parse_qsl(raw_query, keep_blank_values=True))
    return params


def mandatory(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise ApiError(400, -1102,
                       f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return value


def int_param(params: dict[str, str], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if not _INT_RE.match(value):
        raise ApiError(400, -1100, f"Illegal characters found in parameter '{name}'; "
                                   f"legal range is '^[0-9]{{1,20}}$'.")
    return int(value)


def check_timestamp(params: dict[str, str], server_times_ms: tuple[int, ...]) -> None:
    """Raise -1021 unless the request's timestamp fits the recvWindow of one of the server clocks.

    The sim accepts a timestamp that fits either clock it is given (see server/venue.py: the venue
    clock runs `speedup` times faster than any client can follow, so the wall clock is accepted
    too); both are shifted by the clock_skew fault, so the fault still bites.
    """
    ts = int_param(params, "timestamp")
    if ts is None:
        mandatory(params, "timestamp")
        raise AssertionError("unreachable")
    recv_window = params.get("recvWindow")
    window = DEFAULT_RECV_WINDOW_MS
    if recv_window not in (None, ""):
        try:
            window = int(float(recv_window))
        except ValueError:
            raise ApiError(400, -1100, "Illegal characters found in parameter 'recvWindow'; "
                                       "legal range is '^[0-9]{1,20}$'.") from None
        if window > MAX_RECV_WINDOW_MS:
            raise ApiError(400, -1131, "recvWindow must be less than 60000")
    ahead_of = 0
    for server_ms in server_times_ms:
        if ts < server_ms + _FUTURE_TOLERANCE_MS and server_ms - ts <= window:
            return
        ahead_of = max(ahead_of, ts - server_ms)
    if ahead_of >= _FUTURE_TOLERANCE_MS:
        raise ApiError(400, -1021,
                       f"Timestamp for this request was {_FUTURE_TOLERANCE_MS}ms ahead of the "
                       f"server's time.")
    raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")

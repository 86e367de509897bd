"""Binance request signing: HMAC-SHA256, hex digest, over exactly the bytes the server receives.

Three payload shapes (all reproduced byte for byte by tests against the documented vectors):
- REST (spot /api, margin /sapi, USD-M /fapi): the percent-encoded query string or form body, in the
  order the parameters are sent. The server hashes what it received, so the string signed here is the
  string sent: callers must not let the HTTP client re-encode it.
- USD-M mixed: query string and body concatenated with nothing in between (`totalParams`).
- WebSocket API: parameters (incl. apiKey) sorted by name, `k=v` joined by `&`, raw UTF-8, no encoding.
"""
from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote

Params = Mapping[str, object] | Iterable[tuple[str, object]]


def _items(params: Params) -> list[tuple[str, str]]:
    pairs = params.items() if isinstance(params, Mapping) else params
    return [(k, v if type(v) is str else _fmt(v)) for k, v in pairs if v is not None]


def _fmt(value: object) -> str:
    if isinstance(value, bool):  # Binance wants lowercase booleans ("true"), not Python's "True"
        return "true" if value else "false"
    return str(value)


_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*\Z").match


def _pct(text: str) -> str:
    # Nearly every order parameter is already unreserved text: skip quote() (half of signing time).
    return text if _UNRESERVED(text) else quote(text, safe="")


_PLAIN = re.compile(r"[A-Za-z0-9._~=&-]*\Z").match


def rest_payload(params: Params) -> str:
    """Percent-encoded `k=v&...` in the given order (RFC 3986: only unreserved characters kept)."""
    items = _items(params)
    # Fast path, one match for the whole string: only unreserved characters besides exactly one
    # "=" per pair and one "&" between pairs means no key or value needed encoding.
    raw = "&".join([f"{k}={v}" for k, v in items])
    if _PLAIN(raw) and raw.count("=") == len(items) and raw.count("&") == max(len(items) - 1, 0):
        return raw
    return "&".join(f"{_pct(k)}={_pct(v)}" for k, v in items)


def ws_api_payload(params: Params) -> str:
    """WS-API form: sorted by key, raw values (no percent-encoding)."""
    return "&".join(f"{k}={v}" for k, v in sorted(_items(params)))


def hmac_sha256_hex(secret: str | bytes, payload: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    msg = payload.encode() if isinstance(payload, str) else payload
    return hmac.digest(key, msg, "sha256").hex()     # the one-shot C path (no HMAC object)


def usdm_total_params(query: str, body: str) -> str:
    """USD-M `totalParams`: query string then request body, concatenated without a separator."""
    return query + body


def sign_rest(secret: str | bytes, params: Params) -> str:
    """The full signed payload: `<encoded params>&signature=<hex>`."""
    payload = rest_payload(params)
    return f"{payload}&signature={hmac_sha256_hex(secret, payload)}"


def sign_ws_api(secret: str | bytes, params: Params) -> dict[str, str]:
    """WS-API params dict with `signature` added (the JSON request carries raw values)."""
    items = _items(params)
    signature = hmac_sha256_hex(secret, ws_api_payload(items))
    out = dict(items)
    out["signature"] = signature
    return out

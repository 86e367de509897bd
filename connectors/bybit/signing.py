"""Bybit v5 signing: HMAC-SHA256, lowercase hex, over exactly the bytes the server receives.

- REST: `timestamp + api_key + recv_window + payload`, where payload is the query string of a GET
  (as sent, not re-sorted) or the JSON body of a POST, byte for byte.
- Private websocket auth: `GET/realtime` + `expires` (ms epoch), sent as
  `{"op": "auth", "args": [api_key, expires, signature]}`.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import quote

import orjson


def hmac_sha256_hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def string_to_sign(timestamp_ms: int | str, api_key: str, recv_window_ms: int | str,
                   payload: str) -> str:
    return f"{timestamp_ms}{api_key}{recv_window_ms}{payload}"


def sign_rest(secret: str, timestamp_ms: int | str, api_key: str, recv_window_ms: int | str,
              payload: str) -> str:
    return hmac_sha256_hex(secret, string_to_sign(timestamp_ms, api_key, recv_window_ms, payload))


def query_string(items: Iterable[tuple[str, object]]) -> str:
    """`k=v&...` in the given order, values percent-encoded where they need it."""
    return "&".join(f"{k}={quote(_text(v), safe='-_.~')}" for k, v in items if v is not None)


def json_body(items: Iterable[tuple[str, object]]) -> str:
    """The compact JSON object of a POST (strings stay strings: Bybit takes numbers as text)."""
    return orjson.dumps({k: v for k, v in items if v is not None}).decode()


def ws_auth_args(api_key: str, secret: str, expires_ms: int) -> list[object]:
    return [api_key, expires_ms, hmac_sha256_hex(secret, f"GET/realtime{expires_ms}")]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

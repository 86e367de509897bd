"""OKX v5 signing: base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body)).

REST: the timestamp is ISO 8601 UTC with milliseconds ("2020-12-08T09:08:57.715Z") and goes in
`OK-ACCESS-TIMESTAMP`; requestPath includes the query string ("/api/v5/account/balance?ccy=BTC");
body is the JSON text exactly as sent (empty for a GET). The key, the signature and the passphrase
(sent as is) go in `OK-ACCESS-KEY`, `OK-ACCESS-SIGN`, `OK-ACCESS-PASSPHRASE`.
Websocket login: the timestamp is Unix seconds, method "GET", path "/users/self/verify", no body.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import orjson

from connectors.okx import constants as C


def sign(secret: str, prehash: str) -> str:
    digest = hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def prehash(timestamp: str, method: str, request_path: str, body: str = "") -> str:
    return f"{timestamp}{method.upper()}{request_path}{body}"


def iso_timestamp(ms: int) -> str:
    """Epoch milliseconds -> "2020-12-08T09:08:57.715Z"."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_to_ms(text: str) -> int:
    dt = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(round(dt.timestamp() * 1000))


def ws_login_args(api_key: str, secret: str, passphrase: str,
                  now_s: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if now_s is None else now_s)
    return {"apiKey": api_key, "passphrase": passphrase, "timestamp": ts,
            "sign": sign(secret, prehash(ts, C.WS_LOGIN_METHOD, C.WS_LOGIN_PATH))}


def ws_login_message(api_key: str, secret: str, passphrase: str,
                     now_s: int | None = None) -> str:
    args = ws_login_args(api_key, secret, passphrase, now_s)
    return orjson.dumps({"op": "login", "args": [args]}).decode()

"""The REST session is venue-neutral: a made-up venue's dialect (its own auth header, signature,
error body, ban status, weight header and clock-skew code) drives it end to end, and no module of
connectors/transport imports a venue."""
from __future__ import annotations

import ast
import hashlib
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from connectors.secrets import Secret
from connectors.transport.backoff import Backoff
from connectors.transport.rest import Failure, RestSession
from tests.conftest import ROOT

SKEW_CODE = 10002


class ToyError(Exception):
    def __init__(self, kind: str, status: int = 0, code: int = 0,
                 retry_after_s: float | None = None) -> None:
        super().__init__(f"{kind} {status} {code}")
        self.kind, self.status, self.code, self.retry_after_s = kind, status, code, retry_after_s


class ToyDialect:
    error_type: type[Exception] = ToyError
    weight_limits: Mapping[str, int] = {"v5": 50}
    ban_status = 403

    def family(self, path: str) -> str:
        return path.split("/", 2)[1]

    def used_weight(self, headers: Mapping[str, str]) -> int | None:
        value = headers.get("X-Toy-Used")
        return int(value) if value is not None else None

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"X-TOY-KEY": api_key}

    def encode(self, items: list[tuple[str, Any]]) -> str:
        return "&".join(f"{k}={v}" for k, v in items)

    def sign(self, items: list[tuple[str, Any]], *, secret: str, timestamp_ms: int,
             recv_window_ms: int) -> str:
        payload = self.encode([*items, ("ts", timestamp_ms)])
        return f"{payload}&sig={toy_signature(secret, payload)}"

    def error_from_response(self, status: int, reason: str, body: bytes, *, method: str,
                            path: str, idempotent: bool,
                            retry_after_s: float | None) -> ToyError:
        code = json.loads(body).get("retCode", 0) if body else 0
        return ToyError("response", status, code, retry_after_s)

    def failure(self, kind: Failure, detail: str, *, method: str, path: str, idempotent: bool,
                retry_after_s: float | None = None) -> ToyError:
        return ToyError(kind, retry_after_s=retry_after_s)

    def is_retryable(self, error: Exception) -> bool:
        return isinstance(error, ToyError) and error.code == SKEW_CODE

    def is_clock_skew(self, error: Exception) -> bool:
        return isinstance(error, ToyError) and error.code == SKEW_CODE

    def retry_after_s(self, error: Exception) -> float | None:
        return error.retry_after_s if isinstance(error, ToyError) else None

    def server_time_ms(self, body: bytes) -> int:
        return int(json.loads(body)["time"])


def toy_signature(secret: str, payload: str) -> str:
    return hashlib.sha256((secret + payload).encode()).hexdigest()


def session(**kw: Any) -> RestSession:
    return RestSession(ToyDialect(), backoff=lambda: Backoff(base_s=0.01, cap_s=0.05), **kw)


async def test_signed_request_speaks_the_dialect_and_resyncs_on_its_skew_code(serve) -> None:
    skew_ms = 5000
    calls = {"time": 0, "order": 0}
    seen: list[dict[str, str]] = []

    async def time_handler(request: web.Request) -> web.Response:
        calls["time"] += 1
        return web.json_response({"time": int(time.time() * 1000) + skew_ms})

    async def order_handler(request: web.Request) -> web.Response:
        calls["order"] += 1
        payload, sig = (await request.read()).decode().rsplit("&sig=", 1)
        assert request.headers["X-TOY-KEY"] == "toy-key"
        assert sig == toy_signature("toy-secret", payload)
        seen.append(dict(p.split("=", 1) for p in payload.split("&")))
        if calls["order"] == 1:
            return web.json_response({"retCode": SKEW_CODE}, status=400)
        return web.json_response({"ok": True}, headers={"X-Toy-Used": "7"})

    host = await serve([("GET", "/v5/time", time_handler), ("POST", "/v5/order", order_handler)])
    base = f"http://{host}"
    rest = session(api_key=Secret("toy-key"), api_secret=Secret("toy-secret"))
    await rest.open()
    try:
        await rest.sync_time(base, "/v5/time")
        raw = await rest.request("POST", base, "/v5/order", {"qty": "1"}, signed=True)
    finally:
        await rest.close()
    assert json.loads(raw) == {"ok": True}
    assert calls == {"time": 2, "order": 2}
    assert seen[-1]["qty"] == "1"
    assert abs(int(seen[-1]["ts"]) - (time.time() * 1000 + skew_ms)) < 2000
    assert rest.limiter.limits == {"v5": 50} and rest.limiter.used["v5"] >= 7


async def test_the_dialects_ban_status_blocks_every_request_without_io(serve) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response({"retCode": 10006}, status=403, headers={"Retry-After": "60"})

    host = await serve([("GET", "/v5/a", handler)])
    rest = session()
    await rest.open()
    try:
        with pytest.raises(ToyError) as first:
            await rest.request("GET", f"http://{host}", "/v5/a")
        with pytest.raises(ToyError) as second:
            await rest.request("GET", f"http://{host}", "/v5/a")
    finally:
        await rest.close()
    assert (first.value.kind, first.value.status) == ("response", 403)
    assert second.value.kind == "banned"
    assert second.value.retry_after_s is not None and second.value.retry_after_s > 50
    assert seen == ["/v5/a"]


def test_missing_credentials_are_the_dialects_error_and_nothing_is_sent() -> None:
    rest = session()
    with pytest.raises(ToyError) as info:
        rest.prepare("POST", "http://127.0.0.1:1", "/v5/order", {"qty": "1"}, signed=True)
    assert info.value.kind == "no_credentials"


def test_transport_imports_no_venue() -> None:
    venues = ("connectors.binance", "connectors.sim")
    for path in sorted((ROOT / "connectors" / "transport").glob("*.py")):
        for node in ast.walk(ast.parse(Path(path).read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(venues), f"{path.name} imports {name}"

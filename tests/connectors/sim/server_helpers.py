"""Helpers for the sim server tests: a plain signed Binance REST client and control calls."""
from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from connectors.sim import SimCluster, SimConfig, SimVenueConfig


def one_venue(**venue_kw: Any) -> SimConfig:
    venue_kw.setdefault("scenario", "")  # calm market unless a test asks for a scenario
    return SimConfig(seed=11, clock="manual",
                     venues=(SimVenueConfig(name="sim-a", **venue_kw),))


@asynccontextmanager
async def manual_sim(**venue_kw: Any) -> AsyncIterator[SimCluster]:
    async with SimCluster(one_venue(**venue_kw)) as sim:
        yield sim


class Client:
    """Signs exactly as Binance documents: HMAC-SHA256 hex of query + body, signature appended."""

    def __init__(self, session: aiohttp.ClientSession, rest_url: str, api_key: str,
                 api_secret: str) -> None:
        self.s, self.base, self.key, self.secret = session, rest_url, api_key, api_secret

    def sign(self, payload: str) -> str:
        return hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()

    async def call(self, method: str, path: str, params: dict[str, Any] | None = None, *,
                   signed: bool = True, key: str | None = None, in_body: bool = False,
                   timestamp: int | None = None, signature: str | None = None,
                   timeout: float = 20.0) -> tuple[int, Any, dict[str, str]]:
        p = {k: v for k, v in (params or {}).items() if v is not None}
        if signed:
            p["timestamp"] = timestamp if timestamp is not None else int(time.time() * 1000)
        qs = urlencode(p)
        if signed:
            qs += "&signature=" + (signature if signature is not None else self.sign(qs))
        headers = {}
        api_key = self.key if key is None else key
        if api_key:
            headers["X-MBX-APIKEY"] = api_key
        url = self.base + path
        data = None
        if in_body:
            data = qs
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif qs:
            url += "?" + qs
        async with self.s.request(method, url, data=data, headers=headers,
                                  timeout=aiohttp.ClientTimeout(total=timeout)) as r:
            body = await r.read()
            return r.status, orjson.loads(body) if body else None, dict(r.headers)

    async def ok(self, method: str, path: str, params: dict[str, Any] | None = None,
                 **kw: Any) -> Any:
        status, data, _ = await self.call(method, path, params, **kw)
        assert status == 200, (status, data)
        return data


async def control(session: aiohttp.ClientSession, rest_url: str, action: str,
                  **kw: Any) -> dict[str, Any]:
    async with session.post(rest_url + "/sim/control", json={"action": action, **kw}) as r:
        data = await r.json()
        assert r.status == 200, data
        return data


async def sim_state(session: aiohttp.ClientSession, rest_url: str) -> dict[str, Any]:
    async with session.get(rest_url + "/sim/state") as r:
        assert r.status == 200
        return await r.json()

"""Settled funding history of a USD-M perp: `GET /fapi/v1/fundingRate` (public, no signature; at
most 1000 rows per call, ascending by `fundingTime`), for the daemon's funding feed.

`binance_fetcher` is the feed's per-venue fetcher: (symbol, start_ms | None, limit) ->
[(funding_time_ms, rate)] ascending.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from connectors.binance import constants as C
from connectors.binance import schemas

MAX_ROWS = 1000
FundingFetcher = Callable[[str, int | None, int], Awaitable[list[tuple[int, float]]]]


def decode_funding_rows(body: bytes) -> list[tuple[int, float]]:
    return [(r.fundingTime, float(r.fundingRate)) for r in schemas.FUNDING_RATES.decode(body)]


async def binance_funding_history(session: Any, futures_rest_url: str, symbol: str,
                                  start_ms: int | None = None, limit: int = MAX_ROWS
                                  ) -> list[tuple[int, float]]:
    """Public endpoint (no signature). `session` is an aiohttp.ClientSession."""
    params: dict[str, str] = {"symbol": symbol, "limit": str(min(max(limit, 1), MAX_ROWS))}
    if start_ms is not None:
        params["startTime"] = str(start_ms)
    async with session.get(futures_rest_url.rstrip("/") + C.FUTURES_FUNDING_RATE,
                           params=params) as resp:
        body = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"fundingRate {symbol}: HTTP {resp.status}: {body[:200]!r}")
    return decode_funding_rows(body)


def binance_fetcher(session: Any, futures_rest_url: str) -> FundingFetcher:
    async def fetch(symbol: str, start_ms: int | None, limit: int) -> list[tuple[int, float]]:
        return await binance_funding_history(session, futures_rest_url, symbol, start_ms, limit)
    return fetch

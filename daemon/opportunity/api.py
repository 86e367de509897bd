"""`GET /v1/opportunities`: the scanner's ranking as JSON (rendered by `basisctl opportunities`).

Query (all optional): `type` (basis | reverse_basis | long_short), `symbol`, `ok` (true: only
tradeable candidates), `limit` (1..1000). A bad value is a 400 naming the parameter.

`GET /v1/funding?venue=V&symbol=S[&limit=N]`: one perp's settled funding history as the scanner's
feed holds it (`points`: [slot_ms, rate], oldest first, the last N, default 200) and the OU fit the
scanner prices with (`fit`: mu, sigma_f = stationary sd, theta, half_life_hours, n; null with
`fit_error` when there is none). 404 for a venue/symbol the feed does not follow.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from aiohttp import web

from daemon.ops.admin import RequestError, json_response
from daemon.opportunity.scanner import Scanner

if TYPE_CHECKING:
    from daemon.opportunity.funding_feed import FundingFeed

_TYPES = ("basis", "reverse_basis", "long_short")


def _query(request: web.Request) -> dict[str, Any]:
    q = request.query
    out: dict[str, Any] = {}
    for name in q:
        if name not in ("type", "symbol", "ok", "limit"):
            raise RequestError(400, f"unknown query parameter {name!r}", name)
    if "type" in q:
        if q["type"] not in _TYPES:
            raise RequestError(400, f"type must be one of {', '.join(_TYPES)}", "type")
        out["type"] = q["type"]
    if "symbol" in q:
        out["symbol"] = q["symbol"].upper()
    if "ok" in q:
        if q["ok"] not in ("true", "false"):
            raise RequestError(400, "ok must be true or false", "ok")
        out["ok"] = q["ok"] == "true"
    if "limit" in q:
        try:
            limit = int(q["limit"])
        except ValueError:
            raise RequestError(400, "limit must be an integer", "limit") from None
        if not 1 <= limit <= 1000:
            raise RequestError(400, "limit must be within 1..1000", "limit")
        out["limit"] = limit
    return out


def scanner_routes(scanner: Scanner) -> list[web.RouteDef]:
    async def opportunities(request: web.Request) -> web.Response:
        q = _query(request)
        items = scanner.opportunities()
        if "type" in q:
            items = [o for o in items if o.type == q["type"]]
        if "symbol" in q:
            items = [o for o in items if o.symbol == q["symbol"]]
        if q.get("ok"):
            items = [o for o in items if o.ok]
        if "limit" in q:
            items = items[: q["limit"]]
        return json_response({"ts_ms": scanner.latest_ms,
                              "opportunities": [o.to_dict() for o in items]})

    return [web.get("/v1/opportunities", opportunities)]


def _int_param(q: Any, name: str, default: int, lo: int, hi: int) -> int:
    try:
        value = int(q.get(name, default))
    except ValueError:
        raise RequestError(400, f"{name} must be an integer", name) from None
    if not lo <= value <= hi:
        raise RequestError(400, f"{name} must be within {lo}..{hi}", name)
    return value


def funding_routes(feed: FundingFeed) -> list[web.RouteDef]:
    async def funding(request: web.Request) -> web.Response:
        q = request.query
        for name in q:
            if name not in ("venue", "symbol", "limit"):
                raise RequestError(400, f"unknown query parameter {name!r}", name)
        venue, symbol = q.get("venue", ""), q.get("symbol", "").upper()
        if not venue:
            raise RequestError(400, "venue is required", "venue")
        if not symbol:
            raise RequestError(400, "symbol is required", "symbol")
        limit = _int_param(q, "limit", 200, 1, 1000)
        if symbol not in feed.symbols.get(venue, ()):
            raise RequestError(404, f"no funding feed for {symbol} on {venue!r}", "symbol")
        key = (venue, symbol)
        series = feed.store.series(key)
        stats = feed.store.stats(key)
        points = [] if series is None else list(zip(series.slot_ms, series.rate, strict=True))
        return json_response({
            "venue": venue, "symbol": symbol,
            "interval_h": None if stats is None else stats.interval_h,
            "points": points[-limit:],
            "fit": None if stats is None or stats.fit is None else msgspec.to_builtins(stats.fit),
            "fit_error": "no history yet" if stats is None else stats.fit_error,
            "last_settled_rate": None if stats is None else stats.last_settled_rate})

    return [web.get("/v1/funding", funding)]

"""`GET /v1/opportunities`: the scanner's ranking as JSON (rendered by `basisctl opportunities`).

Query (all optional): `type` (basis | reverse_basis | long_short), `symbol`, `ok` (true: only
tradeable candidates), `limit` (1..1000). A bad value is a 400 naming the parameter.
"""
from __future__ import annotations

from typing import Any

from aiohttp import web

from daemon.ops.admin import RequestError, json_response
from daemon.opportunity.scanner import Scanner

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

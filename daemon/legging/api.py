"""Admin routes of the legging engine: `/v1/positions`.

POST /v1/positions {"type", "symbol", "notional_usd", "execution"?, "venues"?} -> 202 {"id"}
GET  /v1/positions, /v1/positions/{id}
POST /v1/positions/{id}/increase {"notional_usd", "execution"?}
POST /v1/positions/{id}/decrease {"fraction" | "notional_usd", "execution"?, "confirm"?}
POST /v1/positions/{id}/close {"confirm": true, "execution"?}
POST /v1/positions/{id}/liquidate {"confirm": true}
POST /v1/positions/{id}/detach
Destructive operations (close, liquidate, decrease by more than half) need "confirm": true.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from aiohttp import web

from daemon.ops.admin import RequestError, json_response, read_json
from daemon.core.pairs import EXECUTIONS, PAIR_TYPES, venue_keys

if TYPE_CHECKING:
    from daemon.legging.engine import LeggingEngine

_OPEN_FIELDS = frozenset({"type", "symbol", "notional_usd", "execution", "venues"})
_OP_FIELDS: dict[str, frozenset[str]] = {
    "increase": frozenset({"notional_usd", "execution"}),
    "decrease": frozenset({"fraction", "notional_usd", "execution", "confirm"}),
    "close": frozenset({"confirm", "execution"}),
    "liquidate": frozenset({"confirm"}),
    "detach": frozenset({"confirm"}),
}


def _unknown(body: dict[str, Any], allowed: frozenset[str]) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise RequestError(400, f"unknown field {extra[0]!r}", extra[0])


def _number(body: dict[str, Any], name: str, *, required: bool = True) -> float | None:
    value = body.get(name)
    if value is None:
        if required:
            raise RequestError(400, f"{name} is required", name)
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= 0:
        raise RequestError(400, f"{name} must be a positive number", name)
    return float(value)


def _execution(body: dict[str, Any]) -> str | None:
    ex = body.get("execution")
    if ex is not None and ex not in EXECUTIONS:
        raise RequestError(400, f"execution must be one of {', '.join(EXECUTIONS)}", "execution")
    return ex


def _confirm(body: dict[str, Any], what: str) -> None:
    if body.get("confirm") is not True:
        raise RequestError(400, f"{what}: send \"confirm\": true", "confirm")


def position_routes(engine: LeggingEngine) -> list[web.RouteDef]:
    from daemon.legging.engine import EngineError

    async def _call(coro: Any) -> None:
        try:
            await coro
        except EngineError as exc:
            raise RequestError(exc.status, exc.message, exc.field) from None

    async def list_positions(request: web.Request) -> web.Response:
        return json_response({"positions": engine.views()})

    async def get_position(request: web.Request) -> web.Response:
        pid = request.match_info["id"]
        try:
            return json_response(engine.view(pid))
        except EngineError as exc:
            raise RequestError(exc.status, exc.message, exc.field) from None

    async def open_position(request: web.Request) -> web.Response:
        body = await read_json(request)
        _unknown(body, _OPEN_FIELDS)
        ptype = body.get("type")
        if ptype not in PAIR_TYPES:
            raise RequestError(400, f"type must be one of {', '.join(PAIR_TYPES)}", "type")
        symbol = body.get("symbol")
        if not isinstance(symbol, str) or not symbol.isalnum() or not 2 <= len(symbol) <= 20 \
                or symbol.upper() != symbol:
            raise RequestError(400, "symbol must be a venue symbol like BTCUSDT", "symbol")
        notional = _number(body, "notional_usd")
        execution = _execution(body)
        venues = body.get("venues")
        if venues is not None:
            if not isinstance(venues, dict):
                raise RequestError(400, "venues must be an object", "venues")
            keys = venue_keys(ptype)
            for k, v in venues.items():
                if k not in keys:
                    raise RequestError(400, f"venues.{k}: a {ptype} has legs {keys[0]!r} and "
                                            f"{keys[1]!r}", f"venues.{k}")
                if not isinstance(v, str) or not v:
                    raise RequestError(400, f"venues.{k} must be a venue name", f"venues.{k}")
        try:
            pid = await engine.open_pair(ptype, symbol, notional, execution, venues)  # type: ignore[arg-type]
        except EngineError as exc:
            raise RequestError(exc.status, exc.message, exc.field) from None
        return json_response({"id": pid, "state": engine.view(pid)["state"]}, status=202)

    async def operate(request: web.Request) -> web.Response:
        pid = request.match_info["id"]
        op = request.match_info["op"]
        if op not in _OP_FIELDS:
            raise RequestError(404, f"unknown operation {op!r}")
        body = await read_json(request)
        _unknown(body, _OP_FIELDS[op])
        try:
            current = engine.view(pid)
        except EngineError as exc:
            raise RequestError(exc.status, exc.message, exc.field) from None
        was = current["state"]
        if op == "increase":
            await _call(engine.increase(pid, _number(body, "notional_usd"), _execution(body)))  # type: ignore[arg-type]
        elif op == "decrease":
            fraction = _number(body, "fraction", required=False)
            notional = _number(body, "notional_usd", required=False)
            if (fraction is None) == (notional is None):
                raise RequestError(400, "send exactly one of fraction or notional_usd", "fraction")
            if fraction is None:
                base = current["notional_usd"] or 1.0
                fraction = min(1.0, notional / base)  # type: ignore[operator]
            if fraction > 1:
                raise RequestError(400, "fraction must be in (0, 1]", "fraction")
            if fraction > 0.5:
                _confirm(body, "decreasing by more than half is destructive")
            await _call(engine.decrease(pid, fraction, _execution(body)))
        elif op == "close":
            _confirm(body, "close unwinds both legs")
            await _call(engine.close(pid, _execution(body)))
        elif op == "liquidate":
            _confirm(body, "liquidate unwinds both legs at market now")
            await _call(engine.liquidate(pid))
        else:
            await _call(engine.detach(pid))
        after = engine.view(pid)
        out = {"id": pid, "operation": op, "state": after["state"]}
        if was == "lost":           # nothing was sent: the answer says so
            out.update(orders_sent=0, reason=after["reason"])
        return json_response(out, status=202)

    return [web.get("/v1/positions", list_positions),
            web.post("/v1/positions", open_position),
            web.get("/v1/positions/{id}", get_position),
            web.post("/v1/positions/{id}/{op}", operate)]

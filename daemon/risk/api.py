"""Admin routes of the watchdog: `POST /v1/halt {"mode": ...}` and `POST /v1/resume`.

`flatten` unwinds every pair at market, so it needs `"confirm": true` (destructive admin actions
carry an explicit confirmation). Bad input is a 400 that names the field.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from daemon.ops.admin import RequestError, json_response, read_json
from daemon.core.halt import HaltMode, parse_mode

if TYPE_CHECKING:
    from daemon.risk.watchdog import Watchdog

_FIELDS = frozenset({"mode", "reason", "confirm"})


def risk_routes(watchdog: Watchdog) -> list[web.RouteDef]:
    async def post_halt(request: web.Request) -> web.Response:
        body = await read_json(request)
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            raise RequestError(400, f"unknown field {unknown[0]!r}", unknown[0])
        mode_raw = body.get("mode")
        if not isinstance(mode_raw, str):
            raise RequestError(400, "mode is required: one of no_new, reduce_only, flatten", "mode")
        try:
            mode = parse_mode(mode_raw)
        except ValueError as exc:
            raise RequestError(400, str(exc), "mode") from None
        reason = body.get("reason", "operator")
        if not isinstance(reason, str) or len(reason) > 200:
            raise RequestError(400, "reason must be a string of at most 200 characters", "reason")
        if mode is HaltMode.FLATTEN and body.get("confirm") is not True:
            raise RequestError(400, "flatten unwinds every pair at market: send \"confirm\": true", "confirm")
        state = watchdog.halt(mode, reason)
        return json_response({"halt": _state(state)})

    async def post_resume(request: web.Request) -> web.Response:
        body = await read_json(request)
        if body:
            field = sorted(body)[0]
            raise RequestError(400, f"unknown field {field!r}", field)
        state = watchdog.resume()
        return json_response({"halt": _state(state)})

    return [web.post("/v1/halt", post_halt), web.post("/v1/resume", post_resume)]


def _state(state: Any) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(state)
    return out

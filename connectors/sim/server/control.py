"""The sim's own control endpoint (not Binance): `POST /sim/control`, `GET /sim/state`.

Unsigned, loopback peers only (403 otherwise). Body: a JSON object with "action" and its fields:

    {"action": "drop_ws"}                                       close every websocket abruptly
    {"action": "freeze_stream", "stream": "btcusdt@depth@100ms", "market": "fut", "seconds": 2}
                                 (or "stream": "fut:btcusdt@depth@100ms"); frozen messages are lost
    {"action": "delay_acks", "ms": 500, "market": "futures"}    market: margin | futures
    {"action": "rest_5xx", "n": 2, "market": null, "executed": false}
    {"action": "rest_timeout", "n": 1, "market": "margin", "seconds": 30}
    {"action": "clock_skew", "ms": -3000}
    {"action": "skip_diff" | "cross_book" | "reject_next" | "fill_fraction" | "borrow_pool", ...}
                                 engine faults: other fields go to Exchange.inject_fault(kind, **kw)
    {"action": "advance", "seconds": 60, "step": 0.1}           step the engine (any clock mode)
    {"action": "create_account", "funding": {"USDT": "1000"}, "futures_funding": {"USDT": "10"}}
                                 margin and USD-M wallets -> {"api_key", "api_secret"}
    {"action": "expire_listen_keys", "in_seconds": 0}           force listenKey expiry
    {"action": "expire_listen_tokens"}      end every listenToken and WS-API subscription now

Answers `{"ok": true, ...}`, or HTTP 400 `{"ok": false, "error": "...", "field": "..."}`.
"""
from __future__ import annotations

import asyncio
import ipaddress
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from connectors.sim.engine.errors import BinanceError
from connectors.sim.server.context import VenueContext
from connectors.sim.server.listen_tokens import wall_ms


ENGINE_FAULTS = ("skip_diff", "cross_book", "reject_next", "fill_fraction", "borrow_pool")
_ORDER_MARKETS = ("margin", "futures")
_MAX_ADVANCE_STEPS = 2_000_000


class BadControl(Exception):
    def __init__(self, error: str, field: str) -> None:
        super().__init__(error)
        self.error = error
        self.field = field


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data, default=_default), status=status,
                        content_type="application/json")


def _num(body: dict[str, Any], name: str, default: float | None = None, *,
         minimum: float = 0.0) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadControl(f"'{name}' must be a number", name)
    if value < minimum:
        raise BadControl(f"'{name}' must be >= {minimum}", name)
    return float(value)


def _market(body: dict[str, Any], required: bool) -> str | None:
    market = body.get("market")
    if market is None and not required:
        return None
    if market not in _ORDER_MARKETS:
        raise BadControl(f"'market' must be one of {list(_ORDER_MARKETS)}", "market")
    return str(market)


def _stream_key(body: dict[str, Any]) -> str:
    stream = body.get("stream")
    if not isinstance(stream, str) or not stream:
        raise BadControl("'stream' must be a stream name", "stream")
    if stream.startswith(("spot:", "fut:", "user:")):
        return stream
    market = body.get("market", "spot")
    if market not in ("spot", "fut"):
        raise BadControl("'market' must be 'spot' or 'fut' for a stream", "market")
    return f"{market}:{stream}"


async def _advance(venue: VenueContext, body: dict[str, Any]) -> dict[str, Any]:
    seconds = _num(body, "seconds")
    step = _num(body, "step", 0.1, minimum=1e-3)
    if seconds / step > _MAX_ADVANCE_STEPS:
        raise BadControl("too many steps: raise 'step'", "step")
    remaining = seconds
    n = 0
    while remaining > 1e-12:
        dt = min(step, remaining)
        venue.advance(dt)
        remaining -= dt
        n += 1
        if n % 50 == 0:
            await asyncio.sleep(0)  # let websocket writers drain between chunks
    return {"now_ms": venue.server_ms(), "steps": n}


async def apply(venue: VenueContext, body: dict[str, Any]) -> dict[str, Any]:
    action = body.get("action")
    faults = venue.faults
    if action == "drop_ws":
        return {"dropped": venue.hub.drop_all()}
    if action == "freeze_stream":
        key = _stream_key(body)
        venue.hub.freeze(key, _num(body, "seconds"))
        return {"stream": key}
    if action == "delay_acks":
        market = _market(body, required=True)
        assert market is not None
        faults.ack_delay_ms[market] = int(_num(body, "ms"))
        return {}
    if action == "rest_5xx":
        faults.add_5xx(int(_num(body, "n", 1)), _market(body, False), bool(body.get("executed")))
        return {}
    if action == "rest_timeout":
        faults.add_timeouts(int(_num(body, "n", 1)), _market(body, False),
                            _num(body, "seconds", 30.0))
        return {}
    if action == "clock_skew":
        faults.skew_ms = int(_num(body, "ms", minimum=-1e12))
        return {}
    if action in ENGINE_FAULTS:
        kw = {k: v for k, v in body.items() if k != "action"}
        try:
            result = venue.exchange.inject_fault(action, **kw)
        except (TypeError, ValueError, KeyError, BinanceError) as exc:
            raise BadControl(f"{action}: {exc}", "action") from None
        return {"result": result} if result is not None else {}
    if action == "advance":
        return await _advance(venue, body)
    if action == "create_account":
        funding = body.get("funding", {})
        futures_funding = body.get("futures_funding", {})
        for name, value in (("funding", funding), ("futures_funding", futures_funding)):
            if not isinstance(value, dict):
                raise BadControl(f"'{name}' must be an object", name)
        key, secret = venue.create_account(funding, futures_funding)
        return {"api_key": key, "api_secret": secret}
    if action == "expire_listen_keys":
        now = venue.wall_s()
        for lk in list(venue.listen_keys._by_key.values()):
            lk.expires_at = now
        venue.expire_listen_keys()
        return {}
    if action == "expire_listen_tokens":
        return {"terminated": venue.ws_api.expire_all(wall_ms(), venue.server_ms())}
    raise BadControl(f"unknown action {action!r}", "action")


def _loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def _ledger_checks(ex: Any) -> dict[str, Any]:
    """What a test checks against the venue's own books from another process: claims balance,
    liquidations and the venue's auto-close orders (an engine without them answers nothing)."""
    if not hasattr(ex, "claims_imbalance"):
        return {}
    autoclose = sum(1 for acct in ex.accounts.values() for o in getattr(acct, "orders", {}).values()
                    if str(getattr(o, "client_id", "")).startswith("autoclose-"))
    return {"claims_imbalance": ex.claims_imbalance(), "liquidations": len(ex.liquidation_log()),
            "autoclose_orders": autoclose}


def state(venue: VenueContext) -> dict[str, Any]:
    ex = venue.exchange
    totals = getattr(ex, "totals_by_asset", None)
    ledger = getattr(ex, "ledger", None)
    return {
        "venue": venue.name, "clock": venue.clock, "now_ms": venue.server_ms(),
        "totals": totals() if totals is not None else {},
        **_ledger_checks(ex),
        "ledger_entries": len(ledger()) if ledger is not None else 0,
        "faults": venue.faults.snapshot(),
        "ws_connections": len(venue.hub.conns), "ws_messages_sent": venue.hub.sent,
    }


def control_routes(venue: VenueContext) -> list[web.RouteDef]:
    async def control(request: web.Request) -> web.Response:
        if not _loopback(request):
            return _json({"ok": False, "error": "control is loopback-only", "field": ""}, 403)
        try:
            body = await request.json(loads=orjson.loads)
        except (ValueError, orjson.JSONDecodeError):
            return _json({"ok": False, "error": "body must be JSON", "field": ""}, 400)
        if not isinstance(body, dict):
            return _json({"ok": False, "error": "body must be a JSON object", "field": ""}, 400)
        try:
            result = await apply(venue, body)
        except BadControl as exc:
            return _json({"ok": False, "error": exc.error, "field": exc.field}, 400)
        return _json({"ok": True, **result})

    async def get_state(request: web.Request) -> web.Response:
        if not _loopback(request):
            return _json({"ok": False, "error": "control is loopback-only", "field": ""}, 403)
        return _json(state(venue))

    return [web.post("/sim/control", control), web.get("/sim/state", get_state)]

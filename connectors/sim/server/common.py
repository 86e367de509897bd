"""Endpoint calls the REST tables share (endpoints_spot.py, endpoints_futures.py, margin_risk.py,
ws_api.py): engine pass-through, server time, and the listenKey create/keepalive/close flow.

A listenKey kind is "margin", "futures" or "risk" (the margin risk stream). USD-M keys are one
per account, so its requests may omit the key (the account's active one is meant) and its
keepalive answers with the key; the other kinds name their key in every request."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.sim.server import auth
from connectors.sim.server.errors import ApiError
from connectors.sim.server.rest import Ctx

_PER_ACCOUNT_KIND = "futures"


def engine_call(name: str) -> Callable[[Ctx], Any]:
    """Signed call passed straight to the engine: `exchange.<name>(account, params)`."""
    def call(ctx: Ctx) -> Any:
        return getattr(ctx.venue.exchange, name)(ctx.account, ctx.params)
    return call


def server_time(ctx: Ctx) -> dict[str, int]:
    return {"serverTime": ctx.venue.server_ms()}


def listen_key_create(kind: str) -> Callable[[Ctx], dict[str, str]]:
    def call(ctx: Ctx) -> dict[str, str]:
        v = ctx.venue
        return {"listenKey": v.listen_keys.create(str(ctx.account), kind, v.wall_s())}
    return call


def _listen_key_of(ctx: Ctx, kind: str) -> str:
    v = ctx.venue
    if kind != _PER_ACCOUNT_KIND:
        return auth.mandatory(ctx.params, "listenKey")
    return ctx.params.get("listenKey") or \
        v.listen_keys.active_for(str(ctx.account), kind, v.wall_s()) or ""


def listen_key_keepalive(kind: str) -> Callable[[Ctx], dict[str, Any]]:
    def call(ctx: Ctx) -> dict[str, Any]:
        v = ctx.venue
        key = _listen_key_of(ctx, kind)
        if not v.listen_keys.keepalive(key, str(ctx.account), kind, v.wall_s()):
            raise ApiError(400, -1125, "This listenKey does not exist.")
        return {"listenKey": key} if kind == _PER_ACCOUNT_KIND else {}
    return call


def listen_key_delete(kind: str) -> Callable[[Ctx], dict[str, Any]]:
    def call(ctx: Ctx) -> dict[str, Any]:
        v = ctx.venue
        key = _listen_key_of(ctx, kind)
        if not v.listen_keys.delete(key, str(ctx.account), kind):
            raise ApiError(400, -1125, "This listenKey does not exist.")
        v.close_listen_key(key)
        return {}
    return call

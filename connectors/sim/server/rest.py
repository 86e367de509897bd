"""REST dispatcher: one aiohttp handler per endpoint, built from a declarative `Endpoint`.

Order of checks, as Binance applies them: request weight (429/418) -> transport faults (5xx) ->
API key (-2014/-2015) -> signature present (-1102) -> timestamp/recvWindow (-1021) -> signature
valid (-1022) -> the engine call (its BinanceError) -> ack faults (delay / hang) -> response.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from aiohttp import web

from connectors.sim.server import auth
from connectors.sim.server.context import VenueContext
from connectors.sim.server.errors import ApiError, bad_key_format, bad_signature, unknown_key


log = logging.getLogger(__name__)

Family = Literal["api", "sapi", "fapi"]
Security = Literal["NONE", "KEY", "SIGNED"]


@dataclass(slots=True)
class Ctx:
    venue: VenueContext
    params: dict[str, str]
    account: Any          # engine AccountId, None for public endpoints
    api_key: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    family: Family
    security: Security
    weight: int | Callable[[dict[str, str]], int]
    call: Callable[[Ctx], Any]
    # "margin" / "futures" for order placement and cancel: these are the requests that the
    # delay_acks / rest_timeout faults act on.
    order_market: str | None = None


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, headers=headers,
                        content_type="application/json")


def error_response(exc: ApiError, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"code": exc.code, "msg": exc.msg}, exc.http_status, headers)


def _weight_headers(venue: VenueContext, ep: Endpoint, ip: str, used: int) -> dict[str, str]:
    if ep.family == "sapi":
        # Binance: /sapi counts per endpoint and reports X-SAPI-USED-IP-WEIGHT-1M; the /api
        # counter of the IP is reported alongside for clients that only read X-MBX-*.
        return {"X-SAPI-USED-IP-WEIGHT-1M": str(used),
                "X-MBX-USED-WEIGHT-1M": str(venue.limiters["api"].used(ip, venue.wall_s()))}
    return {"X-MBX-USED-WEIGHT-1M": str(used)}


def _rate_limited(verdict_status: int, family: Family, ip: str, limit: int,
                  banned_until_ms: int) -> ApiError:
    if verdict_status == 418:
        return ApiError(418, -1003, f"Way too many requests; IP({ip}) banned until "
                                    f"{banned_until_ms}. Please use the websocket for live "
                                    f"updates to avoid bans.")
    if family == "fapi":
        return ApiError(429, -1003, f"Too many requests; current limit of IP({ip}) is {limit} "
                                    f"requests per minute. Please use the websocket for live "
                                    f"updates to avoid polling the API.")
    return ApiError(429, -1003, f"Too many requests; current limit of IP({ip}) is {limit} requests "
                                f"per minute. Please use WebSocket Streams for live updates to "
                                f"avoid polling the API.")


def _authenticate(venue: VenueContext, ep: Endpoint, request: web.Request, raw_query: str,
                  raw_body: str, params: dict[str, str]) -> tuple[Any, str]:
    api_key = request.headers.get("X-MBX-APIKEY", "")
    if not api_key:
        raise bad_key_format()
    account = venue.exchange.account_for_key(api_key)
    if account is None:
        raise unknown_key()
    if ep.security == "SIGNED":
        payload, signature = auth.signing_payload(raw_query, raw_body)
        if not signature:
            raise ApiError(400, -1102, "Mandatory parameter 'signature' was not sent, was "
                                       "empty/null, or malformed.")
        auth.check_timestamp(params, venue.auth_clocks_ms())
        secret = venue.secret_for_key(api_key)
        if secret is None or not auth.signature_ok(secret, payload, signature):
            raise bad_signature()
    return account, api_key


def make_handler(venue: VenueContext, ep: Endpoint) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.StreamResponse:
        raw_query = request.rel_url.raw_query_string
        raw_body = (await request.read()).decode("utf-8", "replace") if request.can_read_body \
            else ""
        ip = request.remote or "?"
        try:
            params = auth.merge_params(raw_query, raw_body)
            weight = ep.weight(params) if callable(ep.weight) else ep.weight
        except ApiError as exc:
            return error_response(exc)
        limiter_key = f"{ip} {ep.method} {ep.path}" if ep.family == "sapi" else ip
        limiter = venue.limiters[ep.family]
        verdict = limiter.charge(limiter_key, weight, venue.wall_s())
        headers = _weight_headers(venue, ep, ip, verdict.used)
        if verdict.status != 200:
            headers["Retry-After"] = str(verdict.retry_after)
            return error_response(_rate_limited(verdict.status, ep.family, ip, limiter.limit,
                                                verdict.banned_until_ms), headers)
        faults = venue.faults
        fail_after = faults.take_5xx(ep.order_market)
        if fail_after is False:
            return error_response(ApiError(503, -1001, "Internal error; unable to process your "
                                                       "request. Please try again."), headers)
        hang = faults.take_timeout(ep.order_market)
        try:
            if ep.security == "NONE":
                account, api_key = None, ""
            else:
                account, api_key = _authenticate(venue, ep, request, raw_query, raw_body, params)
            data = ep.call(Ctx(venue, params, account, api_key))
            venue.flush_events()
        except ApiError as exc:
            venue.flush_events()
            return error_response(exc, headers)
        except Exception:
            # A sim bug must still answer in Binance's shape, and loudly in the log.
            log.exception("sim %s: %s %s failed", venue.name, ep.method, ep.path)
            return error_response(ApiError(500, -1000, "An unknown error occurred while "
                                                       "processing the request."), headers)
        if fail_after:
            # rest_5xx with executed=True: the venue did it, the client cannot know.
            return error_response(ApiError(503, -1001, "Internal error; unable to process your "
                                                       "request. Please try again."), headers)
        if hang:
            await venue.hang(hang)
        elif ep.order_market is not None:
            delay_ms = faults.ack_delay_ms.get(ep.order_market, 0)
            if delay_ms > 0:
                await asyncio.sleep(delay_ms / 1000.0)
        return json_response(data, 200, headers)

    return handler


def routes_for(venue: VenueContext, endpoints: list[Endpoint]) -> list[web.RouteDef]:
    return [web.route(ep.method, ep.path, make_handler(venue, ep)) for ep in endpoints]

"""Margin risk data stream: liability and margin-level events of the cross-margin account.

Binance docs:
- https://developers.binance.com/docs/margin_trading/risk-data-stream  (Connect; also
  .../en/docs/products/margin-trading/risk-data-stream)
- https://developers.binance.com/docs/margin_trading/risk-data-stream/Start-User-Data-Stream
- https://developers.binance.com/docs/margin_trading/risk-data-stream/Event-Liability-Update
- schemas: https://developers.binance.com/en/docs/catalog/core-trading-margin-trading/api/ws-streams/~schemas

What they say: cross margin accounts only. `POST /sapi/v1/margin/listen-key` (USER_STREAM, weight
UID 1, no parameters) -> `{"listenKey"}`, valid 60 min; `PUT` (param listenKey) extends it by 60
min; `DELETE` closes it; a POST while a key is active returns that key, extended. Websocket base
`wss://margin-stream.binance.com`, streams at `/ws/<listenKey>` or `/stream?streams=<listenKey>`,
a connection lives at most 24 h. Events:
- `USER_LIABILITY_CHANGE` on borrowing, repayment and interest calculation:
  `{"e", "E", "a": asset, "t": "BORROW" (liability update type), "p": principal, "i": interest}`.
  No total-liability field (the classic stream's sim payload had "l"; it is stripped here).
- `MARGIN_LEVEL_STATUS_CHANGE` ("margin call trigger the event"): `{"e", "E", "l": margin level,
  "s": margin call status}`.

Sim: the stream is served on the spot websocket port under `/margin-risk` (so the base URL is
`<spot_ws>/margin-risk`, then `/ws/<key>` as on Binance). The engine's USER_LIABILITY_CHANGE events
are forwarded (borrow -> BORROW with the first hour's interest in i, repay -> REPAY, hourly
accrual -> INTEREST). The margin level is re-evaluated after each published batch for accounts
that have a risk listener; the status reported is NORMAL above marginCallBar, MARGIN_CALL down to
forceLiquidationBar, FORCE_LIQUIDATION at or below it (Binance also names EXCESSIVE and
PRE_LIQUIDATION; the sim does not emit them). An event is sent when the status changes.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from connectors.sim.server.common import (listen_key_create, listen_key_delete,
                                          listen_key_keepalive)
from connectors.sim.server.context import VenueContext
from connectors.sim.server.rest import Endpoint
from connectors.sim.server.streams import StreamHub, ws_routes

RISK_PREFIX = "/margin-risk"
KIND = "risk"                 # listenKey kind, and the suffix of the event key user:<acct>:risk


def risk_key(account: str) -> str:
    return f"user:{account}:{KIND}"


def margin_status(level: Decimal, margin_call_bar: Decimal, force_bar: Decimal) -> str:
    if level <= force_bar:
        return "FORCE_LIQUIDATION"
    if level <= margin_call_bar:
        return "MARGIN_CALL"
    return "NORMAL"


def liability_event(payload: dict[str, Any]) -> dict[str, Any]:
    """The risk stream's USER_LIABILITY_CHANGE: the documented fields only."""
    return {k: payload[k] for k in ("e", "E", "a", "t", "p", "i") if k in payload}


class RiskStream:
    """Forwards liability events and emits margin-level status changes onto `user:<acct>:risk`."""

    def __init__(self, venue: VenueContext) -> None:
        self.venue = venue
        self.hub: StreamHub = venue.hub
        self.accounts: set[str] = set()          # accounts that ever opened a risk listenKey
        self._status: dict[str, str] = {}

    def resolve(self, name: str) -> str:
        key = self.venue.resolve_stream(KIND, KIND, name)
        if key.startswith("user:"):
            acct = key[5:-len(KIND) - 1]
            if acct not in self.accounts:
                self.accounts.add(acct)
                self._status[acct] = self._current(acct)
        return key

    def on_margin_event(self, account: str, payload: dict[str, Any]) -> None:
        if payload.get("e") == "USER_LIABILITY_CHANGE":
            self.hub.publish(risk_key(account), liability_event(payload))

    def _current(self, account: str) -> str:
        ex = self.venue.exchange
        p = ex.p
        return margin_status(ex.margin_level(account), p.margin_call_bar,
                             p.force_liquidation_bar)

    def evaluate(self) -> None:
        """After a batch: a status change for any account with a live risk listener."""
        hub = self.hub
        for acct in self.accounts:
            key = risk_key(acct)
            if not hub.subscribers(key):
                continue
            ex = self.venue.exchange
            level = ex.margin_level(acct)
            status = margin_status(level, ex.p.margin_call_bar, ex.p.force_liquidation_bar)
            if status != self._status.get(acct):
                self._status[acct] = status
                hub.publish(key, {"e": "MARGIN_LEVEL_STATUS_CHANGE", "E": self.venue.server_ms(),
                                  "l": f"{level:.8f}", "s": status})

    def routes(self) -> list[web.RouteDef]:
        return ws_routes(self.hub, {RISK_PREFIX: KIND}, self.resolve)


# -- REST: /sapi/v1/margin/listen-key ---------------------------------------------------------------
def risk_endpoints() -> list[Endpoint]:
    path = "/sapi/v1/margin/listen-key"
    return [Endpoint("POST", path, "sapi", "KEY", 1, listen_key_create(KIND)),
            Endpoint("PUT", path, "sapi", "KEY", 1, listen_key_keepalive(KIND)),
            Endpoint("DELETE", path, "sapi", "KEY", 1, listen_key_delete(KIND))]

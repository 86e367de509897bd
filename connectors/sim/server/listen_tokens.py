"""The state behind the WS-API (ws_api.py has the protocol and its documentation): margin
listenTokens, and the sessions that subscribe with them (which connection follows which account,
until when). Expiry uses the wall clock, like the listenKeys."""
from __future__ import annotations

import random
import string
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from connectors.sim.server.errors import ApiError
from connectors.sim.server.streams import WsConn

# The spot user-data payloads a margin listenToken subscription carries (see ws_api.py).
DELIVERED_EVENTS = frozenset({"executionReport", "outboundAccountPosition", "balanceUpdate",
                              "listStatus"})
_ALPHABET = string.ascii_letters + string.digits


def wall_ms() -> int:
    return int(time.time() * 1000)


# -- tokens (pure) -------------------------------------------------------------------------------
@dataclass(slots=True)
class ListenToken:
    token: str
    account: str
    expires_ms: int


@dataclass
class ListenTokens:
    rng: random.Random = field(default_factory=random.Random)
    _by_token: dict[str, ListenToken] = field(default_factory=dict)

    def create(self, account: str, validity_ms: int, now_ms: int) -> ListenToken:
        # Binance's tokens are opaque; each call returns a new one (not one per account).
        tok = "".join(self.rng.choice(_ALPHABET) for _ in range(68))
        lt = ListenToken(tok, account, now_ms + validity_ms)
        self._by_token[tok] = lt
        return lt

    def get(self, token: str, now_ms: int) -> ListenToken | None:
        lt = self._by_token.get(token)
        if lt is None or lt.expires_ms <= now_ms:
            return None
        return lt

    def purge(self, now_ms: int) -> None:
        for tok in [t for t, lt in self._by_token.items() if lt.expires_ms <= now_ms]:
            del self._by_token[tok]

    def expire_all(self, now_ms: int) -> None:
        """Control hook (tests): every token ends now."""
        for lt in self._by_token.values():
            lt.expires_ms = min(lt.expires_ms, now_ms)


# -- sessions and fan-out --------------------------------------------------------------------------
@dataclass
class Subscription:
    id: int
    account: str
    expires_ms: int


@dataclass(eq=False)
class WsApiSession:
    conn: WsConn
    subs: dict[str, Subscription] = field(default_factory=dict)   # account -> subscription
    next_id: int = 0

    def push_event(self, sub_id: int, payload: Any) -> None:
        self.conn.push(orjson.dumps({"subscriptionId": sub_id, "event": payload}).decode())


class WsApiHub:
    """WS-API sessions of one venue and which accounts they follow."""

    def __init__(self, tokens: ListenTokens) -> None:
        self.tokens = tokens
        self.sessions: set[WsApiSession] = set()
        self._by_account: dict[str, set[WsApiSession]] = {}
        self.sent = 0

    def open(self, conn: WsConn) -> WsApiSession:
        s = WsApiSession(conn)
        self.sessions.add(s)
        return s

    def close(self, s: WsApiSession) -> None:
        for acct in list(s.subs):
            self._drop(s, acct)
        self.sessions.discard(s)

    def _drop(self, s: WsApiSession, account: str) -> Subscription | None:
        sub = s.subs.pop(account, None)
        followers = self._by_account.get(account)
        if followers is not None:
            followers.discard(s)
            if not followers:
                del self._by_account[account]
        return sub

    def subscribe(self, s: WsApiSession, token: str, now_ms: int) -> Subscription:
        lt = self.tokens.get(token, now_ms)
        if lt is None:
            raise ApiError(400, -1209, "Invalid listenToken.")
        sub = s.subs.get(lt.account)
        if sub is not None:
            sub.expires_ms = lt.expires_ms          # renewal: same subscription, new expiry
            return sub
        sub = Subscription(s.next_id, lt.account, lt.expires_ms)
        s.next_id += 1
        s.subs[lt.account] = sub
        self._by_account.setdefault(lt.account, set()).add(s)
        return sub

    def unsubscribe(self, s: WsApiSession, sub_id: int | None) -> None:
        for acct, sub in list(s.subs.items()):
            if sub_id is None or sub.id == sub_id:
                self._drop(s, acct)
                return
        raise ApiError(400, -2036, "User Data Stream subscription not active.")

    def publish(self, account: str, payload: Any) -> None:
        followers = self._by_account.get(account)
        if not followers or payload.get("e") not in DELIVERED_EVENTS:
            return
        for s in tuple(followers):
            s.push_event(s.subs[account].id, payload)
            self.sent += 1

    def expire_all(self, now_ms: int, event_ms: int) -> int:
        """Control hook (tests): every token and subscription ends now."""
        self.tokens.expire_all(now_ms)
        for s in self.sessions:
            for sub in s.subs.values():
                sub.expires_ms = min(sub.expires_ms, now_ms)
        return self.expire(now_ms, event_ms)

    def expire(self, now_ms: int, event_ms: int) -> int:
        """End every subscription past its expiry with `eventStreamTerminated`; returns how many."""
        n = 0
        for s in tuple(self.sessions):
            for acct, sub in list(s.subs.items()):
                if sub.expires_ms <= now_ms:
                    self._drop(s, acct)
                    s.push_event(sub.id, {"e": "eventStreamTerminated", "E": event_ms})
                    n += 1
        self.tokens.purge(now_ms)
        return n

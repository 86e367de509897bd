"""listenKeys for user data streams (pure; the caller passes wall time in seconds).

Binance rules followed: a key is valid 60 minutes; PUT extends it by 60 minutes; DELETE closes it;
POST on an account that already has an active key returns that key and extends it. One key per
(account, kind) where kind is "futures" (POST /fapi/v1/listenKey) or "margin"
(POST /sapi/v1/userDataStream, the cross-margin flow).
"""
from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

VALIDITY_S = 3600.0
_ALPHABET = string.ascii_letters + string.digits


@dataclass(slots=True)
class ListenKey:
    key: str
    account: str
    kind: str
    expires_at: float


@dataclass
class ListenKeys:
    rng: random.Random = field(default_factory=random.Random)
    _by_key: dict[str, ListenKey] = field(default_factory=dict)
    _by_owner: dict[tuple[str, str], str] = field(default_factory=dict)

    def create(self, account: str, kind: str, now_s: float) -> str:
        existing = self._by_owner.get((account, kind))
        if existing is not None and self._by_key[existing].expires_at > now_s:
            self._by_key[existing].expires_at = now_s + VALIDITY_S
            return existing
        key = "".join(self.rng.choice(_ALPHABET) for _ in range(64))
        self._by_key[key] = ListenKey(key, account, kind, now_s + VALIDITY_S)
        self._by_owner[(account, kind)] = key
        return key

    def get(self, key: str, now_s: float) -> ListenKey | None:
        lk = self._by_key.get(key)
        if lk is None or lk.expires_at <= now_s:
            return None
        return lk

    def keepalive(self, key: str, account: str, kind: str, now_s: float) -> bool:
        lk = self.get(key, now_s)
        if lk is None or lk.account != account or lk.kind != kind:
            return False
        lk.expires_at = now_s + VALIDITY_S
        return True

    def active_for(self, account: str, kind: str, now_s: float) -> str | None:
        key = self._by_owner.get((account, kind))
        return key if key is not None and self.get(key, now_s) is not None else None

    def delete(self, key: str, account: str, kind: str) -> bool:
        lk = self._by_key.get(key)
        if lk is None or lk.account != account or lk.kind != kind:
            return False
        del self._by_key[key]
        self._by_owner.pop((account, kind), None)
        return True

    def expire(self, now_s: float) -> list[ListenKey]:
        """Remove and return every key past its validity."""
        gone = [lk for lk in self._by_key.values() if lk.expires_at <= now_s]
        for lk in gone:
            del self._by_key[lk.key]
            if self._by_owner.get((lk.account, lk.kind)) == lk.key:
                del self._by_owner[(lk.account, lk.kind)]
        return gone

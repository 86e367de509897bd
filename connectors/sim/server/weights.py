"""Request-weight accounting per IP per minute, as Binance does it (pure; caller passes the time).

- Windows are calendar minutes ("a request at 00:01:23 counts toward the 00:01:00 minute").
- Past the limit: HTTP 429, code -1003, `Retry-After` = seconds to the next minute.
- /api and /fapi: an IP that keeps sending after 429s (`violations_before_ban` of them in one
  minute) is banned: HTTP 418 with `Retry-After` until the ban ends; bans double for repeat
  offenders, from `ban_seconds` up to 3 days.
- /sapi: each IP-limited endpoint has its own counter (12000/min) and never bans (always 429).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

_MAX_BAN_S = 3 * 24 * 3600.0


@dataclass(slots=True)
class Verdict:
    status: int          # 200 (go on), 429 or 418
    used: int            # weight used in the current minute, after this request
    retry_after: int = 0  # seconds, for 429/418
    banned_until_ms: int = 0


@dataclass(slots=True)
class _IpState:
    minute: int = -1
    used: int = 0
    violations: int = 0
    banned_until: float = 0.0
    bans: int = 0


@dataclass
class WeightLimiter:
    limit: int
    violations_before_ban: int = 3
    ban_seconds: float = 120.0
    can_ban: bool = True
    _ips: dict[str, _IpState] = field(default_factory=dict)

    def used(self, ip: str, now_s: float) -> int:
        st = self._ips.get(ip)
        if st is None or st.minute != int(now_s // 60):
            return 0
        return st.used

    def charge(self, ip: str, weight: int, now_s: float) -> Verdict:
        st = self._ips.get(ip)
        if st is None:
            st = self._ips[ip] = _IpState()
        minute = int(now_s // 60)
        if st.minute != minute:
            st.minute, st.used, st.violations = minute, 0, 0
        if st.banned_until > now_s:
            return Verdict(418, st.used, max(1, math.ceil(st.banned_until - now_s)),
                           int(st.banned_until * 1000))
        if st.used + weight <= self.limit:
            st.used += weight
            return Verdict(200, st.used)
        st.violations += 1
        if self.can_ban and st.violations > self.violations_before_ban:
            ban = min(self.ban_seconds * (2 ** st.bans), _MAX_BAN_S)
            st.bans += 1
            st.banned_until = now_s + ban
            return Verdict(418, st.used, max(1, math.ceil(ban)), int(st.banned_until * 1000))
        return Verdict(429, st.used, max(1, math.ceil((minute + 1) * 60 - now_s)))

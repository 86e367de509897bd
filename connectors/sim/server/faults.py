"""Transport faults of one venue (the engine owns the market/order faults).

- rest_5xx(n, market=None, executed=False): the next n REST requests (only order requests of
  `market` when given) answer HTTP 503 -1001; with executed=True the request is carried out first,
  so the outcome is unknown to the client, as Binance warns for any 5xx.
- rest_timeout(n, market=None, seconds=30): the next n order requests ARE executed, then the
  response is held for `seconds` (past any sane client timeout): unknown-outcome resolution.
- delay_acks(ms, market): every order/cancel response of `market` waits ms after execution (the
  user stream event goes out first, as happens on a loaded venue). ms=0 clears it.
- clock_skew(ms): shifts every clock the venue reports and checks timestamps against.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _Budget:
    remaining: int
    market: str | None
    flag: bool | float


@dataclass
class TransportFaults:
    skew_ms: int = 0
    ack_delay_ms: dict[str, int] = field(default_factory=dict)
    _5xx: list[_Budget] = field(default_factory=list)
    _timeouts: list[_Budget] = field(default_factory=list)

    def add_5xx(self, n: int, market: str | None, executed: bool) -> None:
        self._5xx.append(_Budget(n, market, executed))

    def add_timeouts(self, n: int, market: str | None, seconds: float) -> None:
        self._timeouts.append(_Budget(n, market, seconds))

    @staticmethod
    def _take(budgets: list[_Budget], order_market: str | None) -> bool | float | None:
        for b in budgets:
            if b.remaining > 0 and (b.market is None or b.market == order_market):
                b.remaining -= 1
                flag = b.flag
                if b.remaining == 0:
                    budgets.remove(b)
                return flag
        return None

    def take_5xx(self, order_market: str | None) -> bool | None:
        """None: no fault; False: fail before executing; True: execute, then fail."""
        budgets = self._5xx
        if not budgets:
            return None
        flag = self._take(budgets, order_market)
        return None if flag is None else bool(flag)

    def take_timeout(self, order_market: str | None) -> float:
        """Seconds to hang this order request's response (0: no fault); only order requests hang."""
        if order_market is None or not self._timeouts:
            return 0.0
        flag = self._take(self._timeouts, order_market)
        return 0.0 if flag is None else float(flag)

    def snapshot(self) -> dict[str, object]:
        return {"clock_skew_ms": self.skew_ms, "ack_delay_ms": dict(self.ack_delay_ms),
                "rest_5xx": sum(b.remaining for b in self._5xx),
                "rest_timeout": sum(b.remaining for b in self._timeouts)}

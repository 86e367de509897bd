"""Engine-level faults (the server owns transport faults): skipped diffs, crossed diffs, rejected
orders, partial fills."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.sim.engine.errors import BinanceError, MESSAGES

_MARKETS = {"spot": "spot", "margin": "spot", "fut": "fut", "futures": "fut", "um": "fut",
            "usdm": "fut"}


class Faults:
    def __init__(self) -> None:
        self._skip: dict[tuple[str, str], int] = {}
        self._reject: dict[str, tuple[int, int, str]] = {}
        self._fraction: dict[str, Decimal] = {}
        self._cross: dict[tuple[str, str], int] = {}

    @staticmethod
    def market(m: str) -> str:
        try:
            return _MARKETS[m.lower()]
        except KeyError:
            raise ValueError(f"unknown market {m!r} (spot|margin|futures)") from None

    def skip_diff(self, market: str, symbol: str, n: int = 1) -> None:
        self._skip[(market, symbol)] = self._skip.get((market, symbol), 0) + n

    def take_skip_diff(self, market: str, symbol: str) -> bool:
        n = self._skip.get((market, symbol), 0)
        if n <= 0:
            return False
        self._skip[(market, symbol)] = n - 1
        return True

    def crossing_bids(self, market: str, symbol: str, bids: list[tuple[int, int]],
                      best_ask: tuple[int, int] | None) -> list[tuple[int, int]]:
        """The bids of a diff about to be published; with a `cross_book` fault pending, plus one
        phantom lot a tick above the best ask. The engine's book never holds it: a subscriber's
        book is crossed until it fetches a fresh snapshot."""
        n = self._cross.get((market, symbol), 0)
        if n <= 0 or best_ask is None:
            return bids
        self._cross[(market, symbol)] = n - 1
        return [*bids, (best_ask[0] + 1, 1)]  # last: a later entry for a price wins

    def inject(self, kind: str, **kw: Any) -> None:
        if kind == "cross_book":
            key = (self.market(str(kw.get("market", "spot"))), str(kw["symbol"]).upper())
            self._cross[key] = self._cross.get(key, 0) + int(kw.get("n", 1))
        elif kind == "reject_next":
            code = int(kw.get("code", -1003))
            msg = str(kw.get("msg") or MESSAGES.get(code, "Rejected by fault injection."))
            self._reject[self.market(str(kw["market"]))] = (int(kw.get("n", 1)), code, msg)
        elif kind == "fill_fraction":
            f = Decimal(str(kw["fraction"]))
            if not Decimal(0) <= f <= Decimal(1):
                raise ValueError("fraction must be within [0, 1]")
            self._fraction[self.market(str(kw["market"]))] = f
        else:
            raise ValueError(f"unknown engine fault {kind!r}")

    def check_reject(self, market: str) -> None:
        r = self._reject.get(market)
        if r is None or r[0] <= 0:
            return
        n, code, msg = r
        self._reject[market] = (n - 1, code, msg)
        raise BinanceError(429 if code == -1003 else 400, code, msg)

    def fraction(self, market: str) -> Decimal:
        return self._fraction.get(market, Decimal(1))

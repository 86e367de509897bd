"""The watchdog's hands: RiskActions mapped onto the legging engine and the venue connectors.

Each call starts its work at once (a task created in the watchdog's callback) and returns it, so
the watchdog can track completion; errors surface through the returned awaitable.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any


class EngineRiskActions:
    def __init__(self, engine: Any, venues: Mapping[str, Any]) -> None:
        self.engine = engine
        self.venues = venues

    @staticmethod
    def _spawn(coro: Any) -> Awaitable[Any]:
        return asyncio.ensure_future(coro)

    def transfer(self, venue: str, direction: str, asset: str, amount: float) -> Awaitable[Any] | None:
        if direction not in ("margin_to_futures", "futures_to_margin"):
            raise ValueError(f"unknown transfer direction {direction!r}")
        return self._spawn(self.venues[venue].transfer(asset, amount,
                                                       to_futures=direction == "margin_to_futures"))

    def deleverage(self, pair_id: str, fraction: float) -> Awaitable[Any] | None:
        return self._spawn(self.engine.decrease(pair_id, min(1.0, fraction), "taker"))

    def unwind(self, pair_id: str) -> Awaitable[Any] | None:
        return self._spawn(self.engine.liquidate(pair_id))

    def close(self, pair_id: str) -> Awaitable[Any] | None:
        return self._spawn(self.engine.close(pair_id, "taker"))

    def rehedge(self, pair_id: str, qty: float, reduce_only: bool) -> Awaitable[Any] | None:
        return self._spawn(self.engine.rehedge(pair_id, qty, reduce_only))


def brackets_from_tiers(tiers: list[Any]) -> list[Any]:
    """connectors.binance.reference.MaintTier -> daemon.risk.Bracket (Binance's field names)."""
    from daemon.risk import Bracket

    return [Bracket(bracket=i + 1, initialLeverage=t.max_leverage, notionalCap=t.notional_cap,
                    notionalFloor=t.notional_floor, maintMarginRatio=t.maint_margin_ratio, cum=t.cum)
            for i, t in enumerate(tiers)]

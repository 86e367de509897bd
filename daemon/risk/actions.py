"""The watchdog's hands: RiskActions mapped onto the legging engine and the venue connectors.

A transfer is prepared, signed and written on a pre-opened connection before `transfer` returns
(BinanceVenue.transfer_now): the protective request leaves in the event-loop pass of the frame
that crossed the threshold. So do a trim's and an unwind's first orders, both legs
(LeggingEngine.decrease_now / liquidate_now: journaled write-ahead, then written); the returned
task completes when the operation has finished and its `written_ns` says when the first request
was written. Other engine operations start a task (the engine sends from its own task). Errors
surface through the returned awaitable, or at once when the engine refuses synchronously.
"""
from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Mapping
from typing import Any


class EngineRiskActions:
    def __init__(self, engine: Any, venues: Mapping[str, Any]) -> None:
        self.engine = engine
        self.venues = venues
        self._reasons: dict[str, str] = {}

    def note_reason(self, pair_id: str, reason: str) -> None:
        """Why the watchdog starts the pair's next operation: the engine records it on the pair
        (its `reason`, shown by `positions`), so no watchdog operation runs without one."""
        self._reasons[pair_id] = reason

    def _reason(self, pair_id: str, kind: str) -> dict[str, str]:
        return {"reason": self._reasons.pop(pair_id, "") or f"watchdog: {kind}"}

    @staticmethod
    def _spawn(coro: Any) -> Awaitable[Any]:
        return asyncio.ensure_future(coro)

    def transfer(self, venue: str, direction: str, asset: str, amount: float) -> Awaitable[Any] | None:
        if direction not in ("margin_to_futures", "futures_to_margin"):
            raise ValueError(f"unknown transfer direction {direction!r}")
        v = self.venues[venue]
        to_futures = direction == "margin_to_futures"
        now = getattr(v, "transfer_now", None)
        if now is not None:
            # written before this returns: the reaction leaves in the crossing frame's pass
            return now(asset, transfer_amount(amount), to_futures=to_futures)
        return self._spawn(v.transfer(asset, transfer_amount(amount), to_futures=to_futures))

    def deleverage(self, pair_id: str, fraction: float) -> Awaitable[Any] | None:
        now = getattr(self.engine, "decrease_now", None)
        if now is not None:
            return now(pair_id, min(1.0, fraction), **self._reason(pair_id, "deleverage"))  # type: ignore[no-any-return]
        return self._spawn(self._op(pair_id, self.engine.decrease(pair_id, min(1.0, fraction), "taker")))

    def unwind(self, pair_id: str) -> Awaitable[Any] | None:
        now = getattr(self.engine, "liquidate_now", None)
        if now is not None:
            return now(pair_id, **self._reason(pair_id, "unwind"))  # type: ignore[no-any-return]
        return self._spawn(self._op(pair_id, self.engine.liquidate(pair_id)))

    def close(self, pair_id: str) -> Awaitable[Any] | None:
        return self._spawn(self._op(pair_id, self.engine.close(pair_id, "taker",
                                                               **self._reason(pair_id, "close"))))

    def rehedge(self, pair_id: str, qty: float, reduce_only: bool) -> Awaitable[Any] | None:
        return self._spawn(self.engine.rehedge(pair_id, qty, reduce_only,
                                               **self._reason(pair_id, "rehedge")))

    async def _op(self, pair_id: str, start: Awaitable[Any]) -> None:
        """The engine returns once an operation has started; the watchdog's action is done when
        the operation is (its next decision must rest on both legs' outcome, not on half)."""
        await start
        budget = float(getattr(getattr(self.engine, "cfg", None), "op_budget_s", 120.0))
        await self.engine.wait_idle(pair_id, budget + 5.0)


def transfer_amount(amount: float) -> str:
    """Binance takes at most 8 decimals; round down so that the venue never moves more than the
    watchdog judged free."""
    q = math.floor(amount * 1e8 + 1e-6) / 1e8
    if q <= 0:
        raise ValueError(f"transfer amount {amount!r} rounds to zero")
    return f"{q:.8f}".rstrip("0").rstrip(".")


def brackets_from_tiers(tiers: list[Any]) -> list[Any]:
    """connectors.binance.reference.MaintTier -> daemon.risk.maths.Bracket (Binance's field names)."""
    from daemon.risk.maths import Bracket

    return [Bracket(bracket=i + 1, initialLeverage=t.max_leverage, notionalCap=t.notional_cap,
                    notionalFloor=t.notional_floor, maintMarginRatio=t.maint_margin_ratio, cum=t.cum)
            for i, t in enumerate(tiers)]

"""Opportunity scanner (thin shell): keeps the latest ranking for the admin API and the strategy.

The pricing is daemon/opportunity/quotes.py (pure; `scan` is the full pass). The shell runs the
incremental pass (daemon/opportunity/incremental.py) on a slow tick: subscribed to the hub, it
reprices only the candidates a change touched, and gives what `scan` gives.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from connectors.tasks import cancel_and_wait
from daemon.hub import Hub
from daemon.opportunity.config import ScannerConfig
from daemon.opportunity.funding_feed import FundingStats, SpreadFit
from daemon.opportunity.incremental import IncrementalScan
from daemon.opportunity.pricing import StrategyTerms
from daemon.opportunity.quotes import Key, Opportunity, candidates, price_candidate, rank, rank_key, scan

__all__ = ["Key", "Opportunity", "Scanner", "candidates", "price_candidate", "rank", "rank_key", "scan"]
PRIORITY = 50           # hub subscribers: watchdog 10, legging 20, scanner 50


# ---------------------------------------------------------------------------------------------
# Shell
# ---------------------------------------------------------------------------------------------


class Scanner:
    """Keeps a fresh ranking. `stats` returns the funding stats (FundingFeed.stats)."""

    def __init__(self, hub: Hub, cfg: ScannerConfig,
                 stats: Callable[[], Mapping[Key, FundingStats]] | None = None,
                 clock_ms: Callable[[], int] | None = None,
                 spreads: Callable[[], Mapping[tuple[Key, Key], SpreadFit]] | None = None,
                 terms: Callable[[], StrategyTerms] | None = None) -> None:
        self.hub = hub
        self.cfg = cfg
        self._stats = stats or dict
        self._spreads = spreads or dict
        # The strategy's exit rule and order size (wiring points this at the live strategy
        # config, so a reload of [strategy] moves the pricing with it).
        self.terms: Callable[[], StrategyTerms] = terms or StrategyTerms
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.latest: list[Opportunity] = []
        self.latest_ms = 0
        self.errors = 0
        self._task: asyncio.Task[None] | None = None
        # Each pass reprices only what hub events, the stats or the fits changed (incremental.py).
        self._pass = IncrementalScan(hub)
        self._unsubscribe = hub.subscribe(self._pass.on_event, PRIORITY)

    def refresh(self, now_ms: int | None = None) -> list[Opportunity]:
        now = self._clock_ms() if now_ms is None else now_ms
        self.latest = self._pass.scan(self.cfg, self._stats(), now, self._spreads(), self.terms())
        self.latest_ms = now
        return self.latest

    def opportunities(self, max_age_ms: int | None = None) -> list[Opportunity]:
        """The latest ranking, recomputed if older than `max_age_ms` (default: one tick)."""
        age_limit = max_age_ms if max_age_ms is not None else int(self.cfg.tick_s * 1000)
        if self._clock_ms() - self.latest_ms > age_limit:
            self.refresh()
        return self.latest

    def reconfigure(self, cfg: ScannerConfig) -> None:
        self.cfg = cfg

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="scanner")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                self.refresh()
            except Exception:  # a pricing bug must not stop the loop; counted for /status
                self.errors += 1
            await asyncio.sleep(self.cfg.tick_s)

    def status_fields(self) -> dict[str, Any]:
        return {"scanner": {"candidates": len(self.latest), "ts_ms": self.latest_ms,
                            "errors": self.errors}}

"""Keeps borrow rates and availability in the hub for the scanner (reverse basis).

Polls each venue's next hourly interest rate for the configured base assets and the max
borrowable per asset (`BinanceVenue.next_hourly_interest_rates` / `max_borrowable`, which write
`hub.Borrow`). Rates move hourly, so a slow poll is enough; a failure keeps the last values and is
reported in status, never raised.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any
from connectors.tasks import cancel_and_wait


class BorrowFeed:
    def __init__(self, venues: Mapping[str, Any], assets: Mapping[str, Iterable[str]], *,
                 interval_s: float = 300.0, log: Any = None) -> None:
        self.venues = dict(venues)
        self.assets = {v: sorted(set(a)) for v, a in assets.items()}
        self.interval_s = interval_s
        self.log = log
        self.errors: dict[str, str] = {}
        self.polls = 0
        self._task: asyncio.Task[None] | None = None

    async def poll_once(self) -> None:
        await asyncio.gather(*(self._poll(name) for name in self.venues))
        self.polls += 1

    async def _poll(self, name: str) -> None:
        venue = self.venues[name]
        assets = self.assets.get(name, [])
        if not assets:
            return
        try:
            await venue.next_hourly_interest_rates(assets)
            for asset in assets:
                await venue.max_borrowable(asset)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep the last known figures; the scanner shows their age
            self.errors[name] = repr(exc)
            if self.log is not None:
                self.log.warning("borrow_poll_failed", venue=name, error=repr(exc))
            return
        self.errors.pop(name, None)

    async def start(self) -> None:
        await self.poll_once()
        self._task = asyncio.create_task(self._loop(), name="borrow-feed")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.poll_once()

    def status_fields(self) -> dict[str, Any]:
        return {"borrow_feed": {"polls": self.polls, "errors": dict(self.errors)}}

"""The live view: a snapshot of the admin API's answers, a short history, and its subscribers.

Every `refresh_s` (ten times slower while nobody watches) it asks the admin API for status,
opportunities and positions, adds the PnL contributions and totals basisctl prints (the same
functions, daemon.ops.render), appends equity and each opportunity's basis and predicted funding
(PER_OPPORTUNITY) to bounded rings for the charts, and hands the encoded snapshot to every
server-sent-events subscriber.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

import orjson

from daemon.dashboard.upstream import AdminClient, AdminUnavailable
from daemon.ops.render import pnl_contributions, position_totals

HISTORY_POINTS = 720
# Opportunity fields kept over time for the charts: ring name -> field of GET /v1/opportunities.
PER_OPPORTUNITY = {"basis": "basis_bps", "funding": "funding_rate"}
IDLE_FACTOR = 10.0


def opportunity_key(o: dict[str, Any]) -> str:
    """One opportunity across refreshes: type, symbol and its venues."""
    venues = o.get("venues") or {}
    return "|".join([str(o.get("type")), str(o.get("symbol"))]
                    + [f"{k}={venues[k]}" for k in sorted(venues)])


def event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data, default=str) + b"\n\n"


def compose(status: Any, opportunities: Any, positions: Any, errors: dict[str, str],
            now_ms: int) -> dict[str, Any]:
    """The snapshot the page renders: the admin answers as they are, plus the contributions."""
    items = list((positions or {}).get("positions") or [])
    for p in items:
        p["contributions"] = pnl_contributions(p.get("pnl") or {})
    opps = list((opportunities or {}).get("opportunities") or [])
    for o in opps:
        o["key"] = opportunity_key(o)
    return {"ts_ms": now_ms, "status": status, "opportunities": opps, "positions": items,
            "totals": position_totals(items), "errors": errors}


class Feed:
    def __init__(self, client: AdminClient, refresh_s: float, log: Any) -> None:
        self.client = client
        self.log = log
        self.refresh_s = refresh_s
        self.latest: bytes | None = None
        self.equity: deque[tuple[int, float]] = deque(maxlen=HISTORY_POINTS)
        self.rings: dict[str, dict[str, deque[tuple[int, float]]]] = {
            name: {} for name in PER_OPPORTUNITY}
        self._subscribers: set[asyncio.Queue[bytes]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- subscribers -----------------------------------------------------------------------
    def subscribe(self) -> asyncio.Queue[bytes]:
        q: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4)
        self._subscribers.add(q)
        self._wake.set()
        return q

    def unsubscribe(self, q: asyncio.Queue[bytes]) -> None:
        self._subscribers.discard(q)

    def poke(self) -> None:
        """Refresh now (after an action), not at the next tick."""
        self._wake.set()

    def history(self) -> dict[str, Any]:
        return {"equity": list(self.equity),
                **{name: {k: list(v) for k, v in rings.items()}
                   for name, rings in self.rings.items()}}

    def _publish(self, data: bytes) -> None:
        for q in list(self._subscribers):
            _offer(q, data)

    # -- the loop --------------------------------------------------------------------------
    async def refresh(self) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, path in (("status", "/v1/status"), ("opportunities", "/v1/opportunities"),
                           ("positions", "/v1/positions")):
            try:
                status, body = await self.client.get_json(path)
            except AdminUnavailable as exc:
                errors[name] = str(exc)
                continue
            if status == 200:
                answers[name] = body
            else:
                errors[name] = (body or {}).get("error", f"HTTP {status}") if isinstance(
                    body, dict) else f"HTTP {status}"
        now_ms = int(time.time() * 1000)
        snap = compose(answers.get("status"), answers.get("opportunities"),
                       answers.get("positions"), errors, now_ms)
        self._record(snap, now_ms)
        self.latest = event("snapshot", snap)
        self._publish(self.latest)
        return snap

    def _record(self, snap: dict[str, Any], now_ms: int) -> None:
        equity = ((snap.get("status") or {}).get("watchdog") or {}).get("equity_usdt")
        if isinstance(equity, (int, float)):
            self.equity.append((now_ms, float(equity)))
        for o in snap["opportunities"]:
            for name, field in PER_OPPORTUNITY.items():
                value = o.get(field)
                if isinstance(value, (int, float)):
                    ring = self.rings[name].setdefault(o["key"], deque(maxlen=HISTORY_POINTS))
                    ring.append((now_ms, float(value)))

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.refresh()
            except Exception as exc:   # a bad answer must not end the live view
                self.log.warning("dashboard_refresh_failed", error=repr(exc))
            wait = self.refresh_s * (1.0 if self._subscribers else IDLE_FACTOR)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="dashboard-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for q in list(self._subscribers):   # wake every stream so its handler ends
            _offer(q, b"")


def _offer(q: asyncio.Queue[bytes], data: bytes) -> None:
    """A slow page misses a frame; it never holds the feed up."""
    if q.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            q.get_nowait()
    q.put_nowait(data)

"""Stream health transitions as operator events: book resyncs, websocket reconnects, drops.

The hub calls `on_health` on each health transition (never per message, and it is not a hub
subscriber, so book frames do not pass through it), so each call may count and log.
"""
from __future__ import annotations

from typing import Any

from connectors.types import Health
from daemon.hub import StreamState

_DOWN = (Health.DOWN, Health.STALE)


class StreamEvents:
    """Counts per (venue, stream), read by /metrics: `resyncs` (a book stream went resyncing),
    `reconnects` (a websocket healthy again after it was down or stale)."""

    def __init__(self, log: Any) -> None:
        self.log = log
        self.resyncs: dict[tuple[str, str], int] = {}
        self.reconnects: dict[tuple[str, str], int] = {}
        self._last: dict[tuple[str, str], Health] = {}

    def on_health(self, venue: str, stream: str, state: StreamState) -> None:
        key = (venue, stream)
        before = self._last.get(key)
        self._last[key] = state.health
        if state.health is Health.RESYNCING:
            self.resyncs[key] = self.resyncs.get(key, 0) + 1
            self.log.info("resync", venue=venue, stream=stream, reason=state.reason)
        elif state.health in _DOWN:
            self.log.warning("stream_down", venue=venue, stream=stream,
                             health=state.health.value, reason=state.reason)
        elif state.health is Health.HEALTHY and before in _DOWN and stream.startswith("ws:"):
            self.reconnects[key] = self.reconnects.get(key, 0) + 1
            self.log.info("reconnect", venue=venue, stream=stream)

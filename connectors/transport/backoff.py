"""The one retry/backoff policy used by every connector (websocket reconnects and REST retries).

`Backoff` is a generator of delays: exponential growth from `base_s`, capped at `cap_s`, with full
jitter (uniform in [0, ceiling]) so that many clients reconnecting after a venue outage do not
arrive in lockstep. `reset()` after a success starts the next failure streak from the base again.
Pure: the random source is injectable, nothing sleeps here.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base_s: float = 0.25
    cap_s: float = 30.0
    factor: float = 2.0
    jitter: bool = True
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def ceiling(self, attempt: int | None = None) -> float:
        """The un-jittered delay for `attempt` (0-based): min(cap, base * factor**attempt)."""
        n = self.attempt if attempt is None else attempt
        # cap the exponent so factor**n never overflows on a long outage
        return min(self.cap_s, self.base_s * self.factor ** min(n, 64))

    def next_delay(self) -> float:
        ceiling = self.ceiling()
        self.attempt += 1
        return self.rng.uniform(0.0, ceiling) if self.jitter else ceiling

    def reset(self) -> None:
        self.attempt = 0

    def __iter__(self) -> Iterator[float]:
        while True:
            yield self.next_delay()

    def delay_at_least(self, floor_s: float) -> float:
        """Next delay, but never below `floor_s` (a venue's Retry-After wins over our jitter)."""
        return max(floor_s, self.next_delay())

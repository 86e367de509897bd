from __future__ import annotations

import random
from itertools import islice

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.transport.backoff import Backoff


def test_exponential_without_jitter_is_capped() -> None:
    b = Backoff(base_s=0.5, cap_s=5.0, jitter=False)
    assert list(islice(b, 6)) == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_reset_after_success_starts_from_base() -> None:
    b = Backoff(base_s=1.0, cap_s=60.0, jitter=False)
    list(islice(b, 5))
    b.reset()
    assert b.next_delay() == 1.0


def test_full_jitter_spreads_delays() -> None:
    b = Backoff(base_s=1.0, cap_s=8.0, rng=random.Random(7))
    b.attempt = 10   # ceiling is the cap
    delays = [b.next_delay() for _ in range(200)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    assert min(delays) < 2.0 and max(delays) > 6.0


def test_retry_after_floor_wins() -> None:
    b = Backoff(base_s=0.1, cap_s=1.0, rng=random.Random(1))
    assert b.delay_at_least(5.0) == 5.0


@settings(max_examples=50, deadline=None)
@given(base=st.floats(0.01, 5), cap=st.floats(0.01, 100), n=st.integers(0, 500))
def test_never_exceeds_cap(base: float, cap: float, n: int) -> None:
    b = Backoff(base_s=base, cap_s=cap, rng=random.Random(n))
    b.attempt = n
    assert 0.0 <= b.next_delay() <= cap

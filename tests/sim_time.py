"""Time in tests on the embedded exchange: where its (manual) clock stands, and waits whose bound
scales with the measured loop lag, so that a busy machine slows a test down instead of failing it."""
from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any


def last_mark_ms(exchange: Any) -> int:
    """Venue time of the last markPrice frame published: one per whole second of scenario time,
    so a step that ends mid-second waits for the frame of the second it ended in."""
    state = exchange.state
    whole_s = math.floor(state.t + 1e-9)
    return int(state.epoch0_ms + int(round(whole_s * state.speedup * 1000)))


# A sleep that comes back later than this past its time was a stall of the machine, not time
# the awaited event had to happen in.
_ON_TIME_S = 0.01
# However stalled the machine, a wait gives up after this multiple of its timeout.
_MAX_STRETCH = 20.0


async def lag_aware_wait(pred: Callable[[], object], timeout: float, every: float = 0.002) -> bool:
    """Poll `pred` until it holds; False after `timeout` seconds of the loop running on time.
    The time a busy machine keeps this process (and so the sim and the daemon) off the CPU is
    not counted: the bound scales with the measured loop lag instead of failing a good run."""
    loop = asyncio.get_running_loop()
    budget = timeout
    start = last = loop.time()
    while not pred():
        if budget <= 0 or last - start > timeout * _MAX_STRETCH:
            return False
        await asyncio.sleep(every)
        now = loop.time()
        budget -= min(now - last, every + _ON_TIME_S)
        last = now
    return True


async def wait_until(pred: Callable[[], object], timeout: float, what: str,
                     every: float = 0.002) -> None:
    """`lag_aware_wait` that fails naming what it waited for."""
    if not await lag_aware_wait(pred, timeout, every):
        raise AssertionError(f"timed out after {timeout}s (loop time on CPU) waiting for {what}")

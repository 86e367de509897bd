"""Resolving an order whose outcome is unknown, the same for every venue: query its client id
until the venue shows it, or until the request's own validity window has passed (then it was
never placed). Never send it again."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from connectors.transport.backoff import Backoff

T = TypeVar("T")


async def resolve_by_client_id(
    query: Callable[[], Awaitable[T]], *, deadline_s: float,
    not_found: type[Exception] | tuple[type[Exception], ...],
    transient: Callable[[Exception], bool], never_placed: Callable[[], Exception],
) -> T:
    """`query()` until it answers. `not_found` before `deadline_s` (epoch seconds) is asked
    again; after it, `never_placed()` is raised. Errors `transient` says may pass are retried
    with the one backoff policy; any other error propagates."""
    backoff = Backoff(base_s=0.2, cap_s=2.0)
    while True:
        try:
            return await query()
        except not_found:
            if time.time() > deadline_s:
                raise never_placed() from None
        except Exception as err:
            if not transient(err):
                raise
        await asyncio.sleep(backoff.next_delay())

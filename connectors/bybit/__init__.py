"""Bybit v5 connector (unified account: spot margin, linear perps). `BybitVenue` is the entry point.

Imported lazily so the pure modules (constants, signing, errors, sync, schemas) load without
aiohttp or the hub.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.bybit.config import BybitUrls
    from connectors.bybit.venue import BybitVenue

__all__ = ["BybitUrls", "BybitVenue"]


def __getattr__(name: str) -> Any:
    if name == "BybitVenue":
        from connectors.bybit.venue import BybitVenue
        return BybitVenue
    if name == "BybitUrls":
        from connectors.bybit.config import BybitUrls
        return BybitUrls
    raise AttributeError(name)

"""Binance connector (spot, cross margin, USD-M). `BinanceVenue` is the entry point.

Imported lazily so the pure modules (constants, signing, errors, sync, schemas) load without
aiohttp or the hub.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.binance.config import BinanceUrls
    from connectors.binance.venue import BinanceVenue

__all__ = ["BinanceUrls", "BinanceVenue"]


def __getattr__(name: str) -> Any:
    if name == "BinanceVenue":
        from connectors.binance.venue import BinanceVenue
        return BinanceVenue
    if name == "BinanceUrls":
        from connectors.binance.config import BinanceUrls
        return BinanceUrls
    raise AttributeError(name)

"""The daemon's symbol naming <-> OKX instrument ids (pure).

The daemon names a market by base+quote with nothing between ("BTCUSDT"); OKX names its spot
instrument "BTC-USDT" and the USDT-margined perpetual "BTC-USDT-SWAP". The split of a daemon
symbol into base and quote uses the quote currencies below, longest first, so "ETHUSDC" is ETH/USDC
and not ETHU/SDC; the reverse mapping needs no table.
"""
from __future__ import annotations

from connectors.okx import constants as C

QUOTES = ("USDT", "USDC", "USD", "BTC", "ETH", "EUR")


def split(symbol: str) -> tuple[str, str]:
    """"BTCUSDT" -> ("BTC", "USDT")."""
    for quote in sorted(QUOTES, key=len, reverse=True):
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[:-len(quote)], quote
    raise ValueError(f"cannot split {symbol!r} into base and quote")


def spot_inst_id(symbol: str) -> str:
    base, quote = split(symbol)
    return f"{base}-{quote}"


def swap_inst_id(symbol: str) -> str:
    return spot_inst_id(symbol) + C.SWAP_SUFFIX


def inst_id(symbol: str, market: str) -> str:
    """`market` is a hub market ("spot" | "perp") or an order market ("spot_margin" | "perp")."""
    return swap_inst_id(symbol) if market == "perp" else spot_inst_id(symbol)


def symbol_of(inst_id: str) -> str:
    """"BTC-USDT" and "BTC-USDT-SWAP" -> "BTCUSDT"."""
    parts = inst_id.split("-")
    return parts[0] + parts[1] if len(parts) >= 2 else inst_id


def market_of(inst_id: str) -> str:
    """The hub market of an instrument id: "perp" for a swap, else "spot"."""
    return "perp" if inst_id.endswith(C.SWAP_SUFFIX) else "spot"


# Client order ids: OKX takes 1-32 letters and digits; the daemon's ids (daemon/core/client_ids.py)
# are lowercase [a-z0-9] joined by "-". "-" becomes "Z", which no daemon id contains, so the
# mapping is exact both ways.
_DASH = "Z"


def to_cl_ord_id(client_id: str) -> str:
    return client_id.replace("-", _DASH)


def from_cl_ord_id(cl_ord_id: str) -> str:
    return cl_ord_id.replace(_DASH, "-")

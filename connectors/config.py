"""The config types a connector reads: one venue's section of the daemon's TOML, and the
constrained scalar types every config section shares (one home, so a bound is stated once)."""
from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from connectors.binance import constants as binance

Seconds = Annotated[float, Meta(gt=0, le=86_400)]
Name = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Symbol = Annotated[str, Meta(pattern=r"^[A-Z0-9]{2,20}$")]
Url = Annotated[str, Meta(pattern=r"^(https?|wss?)://[^\s]+$")]
Fraction = Annotated[float, Meta(ge=0, le=1)]


class Section(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class VenueConfig(Section, kw_only=True):
    name: Name
    # bybit: rest_url and spot_ws_url are Bybit's hosts (the Binance defaults become Bybit's);
    # okx: URLs left at these (Binance) defaults take OKX's (connectors/okx/config.py) and the
    # credentials need a third part, `api_passphrase`.
    kind: Literal["binance", "bybit", "okx"] = "binance"
    symbols: Annotated[list[Symbol], Meta(min_length=1, max_length=200)]
    # sim = true: URLs and the funded account's keys come from the embedded exchange of this name.
    sim: bool = False
    # external_sim = true: the URLs point at a standalone `basisd sim` (its listen-key margin
    # stream, its accelerated clock); keys still come from `credentials`.
    external_sim: bool = False
    rest_url: Url = binance.PROD_REST
    futures_rest_url: Url = binance.PROD_FUTURES_REST
    spot_ws_url: Url = binance.PROD_SPOT_WS
    futures_ws_url: Url = binance.PROD_FUTURES_WS
    credentials: Name | None = None
    recv_window_ms: Annotated[int, Meta(ge=1, le=60_000)] = 5000
    request_timeout_s: Seconds = 10.0
    stale_after_s: Seconds = 10.0

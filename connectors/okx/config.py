"""OKX base URLs for one venue: production defaults (constants.py), a configured override, or
the embedded exchange's OKX dialect (same paths on loopback).

VenueConfig's URL fields are shared by every kind: for kind "okx", `rest_url` is the REST host,
`spot_ws_url` the public websocket and `futures_ws_url` the private one (full URLs, path included).
A field left at its (Binance) default takes OKX's production URL.
"""
from __future__ import annotations

from dataclasses import dataclass

from connectors.binance import constants as binance
from connectors.config import VenueConfig
from connectors.okx import constants as C


@dataclass(frozen=True, slots=True)
class OkxUrls:
    rest: str = C.PROD_REST
    public_ws: str = C.PROD_PUBLIC_WS
    private_ws: str = C.PROD_PRIVATE_WS
    use_server_time: bool = True

    @classmethod
    def from_config(cls, cfg: VenueConfig) -> OkxUrls:
        def pick(value: str, binance_default: str, okx_default: str) -> str:
            return okx_default if value == binance_default else value
        return cls(rest=pick(cfg.rest_url, binance.PROD_REST, C.PROD_REST),
                   public_ws=pick(cfg.spot_ws_url, binance.PROD_SPOT_WS, C.PROD_PUBLIC_WS),
                   private_ws=pick(cfg.futures_ws_url, binance.PROD_FUTURES_WS,
                                   C.PROD_PRIVATE_WS),
                   use_server_time=not cfg.sim)

    @classmethod
    def for_sim(cls, rest: str, ws: str) -> OkxUrls:
        """The embedded exchange: `ws` is its websocket base (ws://host:port)."""
        return cls(rest=rest, public_ws=ws + C.PUBLIC_WS_PATH, private_ws=ws + C.PRIVATE_WS_PATH,
                   use_server_time=False)

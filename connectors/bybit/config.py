"""Bybit base URLs and stream routes (hosts in constants.py; the embedded exchange is the same
shapes on loopback)."""
from __future__ import annotations

from dataclasses import dataclass

from connectors.binance import constants as binance
from connectors.bybit import constants as C
from connectors.config import VenueConfig


@dataclass(frozen=True, slots=True)
class BybitUrls:
    rest: str = C.PROD_REST
    ws: str = C.PROD_WS                 # + /v5/public/spot, /v5/public/linear, /v5/private
    use_server_time: bool = True        # sign with the local clock + measured server offset
    # The embedded venue keeps the perp margin in a CONTRACT wallet beside the UNIFIED one
    # (see connectors/sim/server/bybit); on Bybit's unified account both legs share UNIFIED.
    contract_wallet: bool = False

    @classmethod
    def from_config(cls, cfg: VenueConfig) -> BybitUrls:
        # VenueConfig's URL defaults are Binance's: a Bybit venue that sets none gets Bybit's
        rest = C.PROD_REST if cfg.rest_url == binance.PROD_REST else cfg.rest_url
        ws = C.PROD_WS if cfg.spot_ws_url == binance.PROD_SPOT_WS else cfg.spot_ws_url
        if cfg.external_sim:
            return cls(rest=rest, ws=ws, use_server_time=False, contract_wallet=True)
        return cls(rest=rest, ws=ws)

    @classmethod
    def for_sim(cls, rest: str, ws: str) -> BybitUrls:
        return cls(rest=rest, ws=ws, use_server_time=False, contract_wallet=True)

    def public_spot(self) -> str:
        return self.ws + C.WS_PUBLIC_SPOT

    def public_linear(self) -> str:
        return self.ws + C.WS_PUBLIC_LINEAR

    def private(self) -> str:
        return self.ws + C.WS_PRIVATE

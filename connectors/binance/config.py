"""Base URLs and stream routes. The hosts themselves (production, testnet) are in constants.py; the
embedded exchange is the same shapes on other hosts.

USD-M market streams are routed by path (Binance, 2026): `/public` carries high-frequency book data
(@depth, @bookTicker), `/market` the regular streams (@markPrice), `/private` user data. A stream
requested on the wrong route is silently never delivered, so each has its own connection.

Cross-margin user data (current docs): the `/sapi/v1/userDataStream` listenKey endpoints were
retired on 2026-02-20. Trade events now come from the spot WebSocket API after
`POST /sapi/v1/userListenToken` + `userDataStream.subscribe.listenToken`; liability and margin-level
events from the risk stream (`POST /sapi/v1/margin/listen-key`, wss://margin-stream.binance.com).
The embedded exchange implements both: the older listenKey flow on its spot websocket port
(`margin_flow="listen_key"`, what `from_config` and `for_sim` select by default), and the
listenToken flow (its VenueInfo's `ws_api_url` and `margin_risk_ws_url`; pass them to
`for_sim(..., margin_flow="listen_token", ws_api=..., margin_risk_ws=...)`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from connectors.binance import constants as C
from connectors.config import VenueConfig

MarginFlow = Literal["listen_token", "listen_key"]


@dataclass(frozen=True, slots=True)
class BinanceUrls:
    rest: str = C.PROD_REST                    # /api and /sapi
    futures_rest: str = C.PROD_FUTURES_REST    # /fapi
    spot_ws: str = C.PROD_SPOT_WS              # /stream?streams=
    futures_ws: str = C.PROD_FUTURES_WS        # /public, /market, /private
    ws_api: str | None = C.PROD_WS_API         # spot WS-API (margin listenToken subscription)
    margin_risk_ws: str | None = C.PROD_MARGIN_RISK_WS
    margin_flow: MarginFlow = "listen_token"
    futures_routes: bool = True                # False: legacy /stream for everything (testnet)
    use_server_time: bool = True               # sign with local clock + measured server offset

    @classmethod
    def from_config(cls, cfg: VenueConfig, *, sim: bool | None = None) -> BinanceUrls:
        is_sim = cfg.sim if sim is None else sim
        if is_sim:
            # The sim's venue clock runs `speedup` times faster; it accepts wall-clock timestamps.
            return cls(rest=cfg.rest_url, futures_rest=cfg.futures_rest_url,
                       spot_ws=cfg.spot_ws_url, futures_ws=cfg.futures_ws_url, ws_api=None,
                       margin_risk_ws=None, margin_flow="listen_key", use_server_time=False)
        testnet = (C.TESTNET_REST_MARK in cfg.rest_url
                   or C.TESTNET_FUTURES_MARK in cfg.futures_rest_url)
        return cls(rest=cfg.rest_url, futures_rest=cfg.futures_rest_url, spot_ws=cfg.spot_ws_url,
                   futures_ws=cfg.futures_ws_url,
                   ws_api=C.TESTNET_WS_API if testnet else C.PROD_WS_API,
                   margin_risk_ws=None if testnet else C.PROD_MARGIN_RISK_WS,
                   futures_routes=not testnet)

    @classmethod
    def for_sim(cls, rest: str, spot_ws: str, futures_ws: str, *,
                margin_flow: MarginFlow = "listen_key", ws_api: str | None = None,
                margin_risk_ws: str | None = None) -> BinanceUrls:
        if margin_flow == "listen_token" and ws_api is None:
            raise ValueError("margin_flow='listen_token' needs the sim's ws_api URL")
        return cls(rest=rest, futures_rest=rest, spot_ws=spot_ws, futures_ws=futures_ws,
                   ws_api=ws_api, margin_risk_ws=margin_risk_ws, margin_flow=margin_flow,
                   use_server_time=False)

    # -- stream URLs ---------------------------------------------------------------------------
    def spot_depth_url(self, symbols: list[str]) -> str:
        streams = "/".join(f"{s.lower()}@depth@100ms" for s in symbols)
        return f"{self.spot_ws}/stream?streams={streams}"

    def futures_depth_url(self, symbols: list[str]) -> str:
        streams = "/".join(f"{s.lower()}@depth@100ms" for s in symbols)
        route = "/public" if self.futures_routes else ""
        return f"{self.futures_ws}{route}/stream?streams={streams}"

    def futures_mark_url(self, symbols: list[str]) -> str:
        streams = "/".join(f"{s.lower()}@markPrice@1s" for s in symbols)
        route = "/market" if self.futures_routes else ""
        return f"{self.futures_ws}{route}/stream?streams={streams}"

    def futures_user_url(self, listen_key: str) -> str:
        route = "/private" if self.futures_routes else ""
        return f"{self.futures_ws}{route}/ws/{listen_key}"

    def margin_user_url(self, listen_key: str) -> str:
        """Legacy margin listenKey stream on the spot websocket host (the sim)."""
        return f"{self.spot_ws}/ws/{listen_key}"

    def margin_risk_url(self, listen_key: str) -> str:
        assert self.margin_risk_ws is not None
        return f"{self.margin_risk_ws}/ws/{listen_key}"

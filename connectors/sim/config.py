"""Config of the embedded exchange (`basisd sim --config FILE`): TOML -> frozen msgspec Structs.

Example::

    seed = 7
    clock = "realtime"          # or "manual": time moves only via POST /sim/control "advance"
    tick_ms = 100

    [[venues]]
    name = "sim-a"
    symbols = ["BTCUSDT", "ETHUSDT"]
    scenario = "default"        # a name in connectors/sim/scenarios/ or a path to a TOML file
    speedup = 480.0

    [[venues]]
    name = "sim-b"

`SimVenueConfig` is what the pure engine (`connectors.sim.engine.Exchange`) receives; the
transport-only fields (ports, weight limits) are ignored by the engine.
"""
from __future__ import annotations

import tomllib
from typing import Literal

import msgspec

ClockMode = Literal["realtime", "manual"]
# Which venue's API the venue speaks over the same engine (connectors/sim/server/<dialect>/).
Dialect = Literal["binance", "bybit", "okx"]


def _default_margin_funding() -> dict[str, str]:
    return {"USDT": "100000"}


def _default_futures_funding() -> dict[str, str]:
    return {"USDT": "100000"}


class SimVenueConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One simulated venue: its market, its default account, and its network surface."""

    name: str = "sim-a"
    # The API the venue speaks; every dialect runs the same engine (server/<dialect>/).
    dialect: Dialect = "binance"
    # Binance symbols; each trades on spot/cross margin and as a USD-M perpetual.
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    # Scenario name (connectors/sim/scenarios/<name>.toml) or a path; "" = no scenario (calm).
    scenario: str = "default"
    # Venue clock = epoch0_ms + t * speedup * 1000. 0 = wall clock at start in "realtime" mode,
    # the engine's fixed epoch (2026-01-01) in "manual" mode so that a seed reproduces timestamps.
    speedup: float = 480.0
    epoch0_ms: int = 0
    # Spot fee asset, as Binance charges it: "quote" (always the quote), "received" (what the
    # fill gives: the coin on a buy, the quote on a sell; Binance's default) or "bnb" (BNB at
    # `bnb_discount` off, valued at the fixed `bnb_price` USDT, while the account holds enough;
    # else as "received"). BNB is a fee asset only here: no BNBUSDT market, not collateral.
    spot_fee_asset: Literal["quote", "received", "bnb"] = "quote"
    bnb_price: str = "600"
    bnb_discount: str = "0.25"
    # Opening balances of the default funded account, exact decimal strings.
    margin_funding: dict[str, str] = msgspec.field(default_factory=_default_margin_funding)
    futures_funding: dict[str, str] = msgspec.field(default_factory=_default_futures_funding)
    # Fixed credentials of the default account; empty = derived from the seed.
    api_key: str = ""
    api_secret: str = ""
    # Network surface: 0 = ephemeral port. Only loopback is allowed for the control endpoint.
    host: str = "127.0.0.1"
    rest_port: int = 0
    spot_ws_port: int = 0
    futures_ws_port: int = 0
    # Request-weight limits per IP per minute (Binance: 6000 /api, 12000 per /sapi endpoint,
    # 2400 /fapi) and the 429 count, inside one minute, after which an IP is banned (418).
    spot_weight_limit: int = 6000
    sapi_weight_limit: int = 12000
    fapi_weight_limit: int = 2400
    violations_before_ban: int = 3
    ban_seconds: float = 120.0


def _default_venues() -> tuple[SimVenueConfig, ...]:
    return (SimVenueConfig(name="sim-a"), SimVenueConfig(name="sim-b"))


class SimConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The whole sim: N venues sharing one clock driver."""

    seed: int = 1
    clock: ClockMode = "realtime"
    # Realtime mode advances every venue by tick_ms of scenario time every tick_ms of wall time.
    tick_ms: int = 100
    venues: tuple[SimVenueConfig, ...] = msgspec.field(default_factory=_default_venues)

    def __post_init__(self) -> None:
        names = [v.name for v in self.venues]
        if not names:
            raise ValueError("sim config needs at least one venue")
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate venue names: {names}")
        if self.tick_ms <= 0:
            raise ValueError("tick_ms must be > 0")


def load_sim_config(path: str | None, *, seed: int | None = None) -> SimConfig:
    """Read a TOML sim config (or the defaults when `path` is None); `seed` overrides the file."""
    if path is None:
        cfg = SimConfig()
    else:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
        cfg = msgspec.convert(raw, SimConfig)
    if seed is not None:
        cfg = msgspec.structs.replace(cfg, seed=seed)
    return cfg

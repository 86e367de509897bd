"""`[watchdog]` configuration: ladder thresholds per leg and the exits around them.

Distances are fractions of the current price (0.20 = the price may move 20 % against the leg
before it is liquidated). A leg's ladder must be ordered warn >= collateral >= deleverage >=
unwind, and the target a collateral move or a trim restores must sit above the collateral step
(otherwise the watchdog would act again on the very next tick).
"""
from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from daemon.risk.perp import FALLBACK_MMR

Distance = Annotated[float, Meta(gt=0, lt=1)]
Seconds = Annotated[float, Meta(ge=0, le=86_400)]
Usdt = Annotated[float, Meta(ge=0)]


class LegThresholds(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    warn: Distance = 0.30
    collateral: Distance = 0.22
    deleverage: Distance = 0.15
    unwind: Distance = 0.06

    def __post_init__(self) -> None:
        if not self.warn >= self.collateral >= self.deleverage >= self.unwind:
            raise ValueError("thresholds must be ordered warn >= collateral >= deleverage >= unwind")


class WatchdogConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    margin: LegThresholds = LegThresholds()      # the cross-margin spot leg
    perp: LegThresholds = LegThresholds()        # the USD-M perp leg
    # Distance a collateral move or a proportional trim restores on the weak leg.
    target_distance: Distance = 0.30
    # Exit (close through the legging engine) when the pair's net APR stays below this floor.
    net_apr_floor: Annotated[float, Meta(ge=-10, le=10)] = 0.0
    net_apr_grace_s: Seconds = 600.0
    # A leg whose market data is stale or unhealthy takes no new risk; past this it is reduced.
    stale_timeout_s: Annotated[float, Meta(gt=0, le=86_400)] = 30.0
    stale_reduce_fraction: Annotated[float, Meta(gt=0, le=1)] = 0.5
    # Re-hedge when the margin liability (principal + interest) and the perp differ by more.
    rehedge_tolerance: Annotated[float, Meta(ge=0, le=0.5)] = 0.002
    # Automatic halt when today's (UTC) equity loss exceeds this many USDT (0 = off).
    daily_loss_limit: Usdt = 0.0
    daily_loss_halt_mode: Literal["no_new", "reduce_only", "flatten"] = "reduce_only"
    # The venue refuses a transfer out of cross margin that leaves the margin level below this
    # (Binance caps transfer-out with liabilities outstanding); conservative by default.
    margin_transfer_out_level: Annotated[float, Meta(ge=1, le=10)] = 2.0
    # Share of what the venue says is free that a transfer may take (prices move between the
    # venue's figure and the request; a refused transfer costs a round trip).
    transfer_haircut: Annotated[float, Meta(gt=0, le=1)] = 0.95
    # Transfers below this are not worth a request; trims below this fraction neither.
    min_transfer: Usdt = 10.0
    # Before the deleverage step, a transfer must cover this share of what the weak leg needs
    # (transfers weigh 900 on /sapi: about a dozen a minute; see risk_ladder.planned_transfers).
    transfer_min_cover: Annotated[float, Meta(ge=0, le=1)] = 0.25
    min_fraction: Annotated[float, Meta(ge=0, lt=1)] = 0.005
    # Fees + slippage assumed when sizing a trim (fraction of notional).
    trim_cost_fraction: Annotated[float, Meta(ge=0, le=0.05)] = 0.001
    # Maintenance margin ratio assumed until the venue's leverage brackets are known.
    fallback_mmr: Annotated[float, Meta(gt=0, lt=0.5)] = FALLBACK_MMR
    # After a protective request completes, wait this long for the account update it causes
    # before acting on the same pair again (what the venue says, not what was asked for).
    settle_s: Annotated[float, Meta(ge=0, le=60)] = 1.0

    def __post_init__(self) -> None:
        for name, leg in (("margin", self.margin), ("perp", self.perp)):
            if self.target_distance <= leg.collateral:
                raise ValueError(f"target_distance must be above {name}.collateral")

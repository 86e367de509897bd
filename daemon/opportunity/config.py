"""`[scanner]` and `[strategy]` configuration: every bound is a msgspec constraint.

Percentages are in percent (10.0 = 10 %) because operators type them; fees are in percent of
notional per fill (0.05 = 5 bps, Binance's VIP0 USD-M taker). The code converts to fractions at
the boundary and uses fractions everywhere else (see daemon/core/economics.py).
"""
from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct, field

from daemon.risk.margin import FORCE_LIQUIDATION_BAR
from daemon.risk.perp import FALLBACK_MMR

_Pct = Annotated[float, Meta(ge=0, le=100)]
_AprPct = Annotated[float, Meta(ge=-1000, le=10_000)]
_FeePct = Annotated[float, Meta(ge=-0.1, le=1.0)]       # maker rebates are negative
_Hours = Annotated[float, Meta(gt=0, le=24 * 365)]
_Secs = Annotated[float, Meta(ge=0, le=30 * 86_400)]
_Usd = Annotated[float, Meta(gt=0, le=1e9)]
_Z = Annotated[float, Meta(ge=0, le=20)]
_VenueName = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
TradeTypeName = Literal["basis", "reverse_basis", "long_short"]


class VenueFees(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Fee per fill, percent of notional, for one venue's spot and perp markets."""

    spot_taker_pct: _FeePct = 0.1
    spot_maker_pct: _FeePct = 0.1
    perp_taker_pct: _FeePct = 0.05
    perp_maker_pct: _FeePct = 0.02

    def pct(self, market: str, maker: bool) -> float:
        if market == "spot":
            return self.spot_maker_pct if maker else self.spot_taker_pct
        return self.perp_maker_pct if maker else self.perp_taker_pct


class ScannerConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # Fees per venue name; venues not listed pay `default_fees`.
    fees: dict[_VenueName, VenueFees] = field(default_factory=dict)
    default_fees: VenueFees = VenueFees()
    # "taker" is the honest cost of a round trip; "maker" assumes chase fills at the touch.
    fee_mode: Literal["taker", "maker"] = "taker"
    # The hold that funding is projected over and that fees and slippage are amortised over.
    # "expected": the OU model's expected time to the strategy's exit (band or flip), clamped to
    # [min_holding_hours, max_holding_hours] and to at least one settlement; without a fit, and
    # always with "fixed", `holding_hours` (the fallback, shown as model "apr_only" without a fit).
    holding: Literal["fixed", "expected"] = "expected"
    holding_hours: _Hours = 168.0
    min_holding_hours: _Hours = 8.0
    max_holding_hours: _Hours = 24.0 * 30
    # Borrow is priced at today's rate times this multiple: borrow rates spike exactly when
    # negative funding makes a reverse basis look best.
    borrow_stress: Annotated[float, Meta(ge=1, le=100)] = 1.5
    # Size the slippage is walked for (from the mid, so the spread is charged). Unset: the
    # strategy's entry notional, the size it actually sends. The cap limits the entry walk per
    # leg beyond the touch.
    quote_size_usd: _Usd | None = None
    slippage_cap_bps: Annotated[float, Meta(gt=0, le=500)] = 20.0
    # Hurdle: what simply lending the stable coin earns (r_USD); r_asset for the no-arb rate.
    stable_lend_apr_pct: _AprPct = 5.0
    asset_lend_apr_pct: _AprPct = 0.0
    # Mean reversion: minimum evenly spaced samples for an OU fit.
    min_history: Annotated[int, Meta(ge=3, le=10_000)] = 30
    # Which pairs are priced. Cross-venue basis needs a transfer to rebalance; off by default.
    types: Annotated[list[TradeTypeName], Meta(min_length=1, max_length=3)] = field(
        default_factory=lambda: ["basis", "reverse_basis", "long_short"])
    cross_venue_basis: bool = False
    # Books older than this (or unhealthy) make a candidate not `ok` (still listed).
    book_max_age_ms: Annotated[int, Meta(ge=100, le=600_000)] = 10_000
    # How often the ranked list is recomputed in the background.
    tick_s: Annotated[float, Meta(gt=0, le=3600)] = 1.0

    def venue_fees(self, venue: str) -> VenueFees:
        return self.fees.get(venue, self.default_fees)


class StrategyConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # Off unless the operator turns it on; the embedded default config sets `enabled = true`.
    enabled: bool = False
    types: Annotated[list[TradeTypeName], Meta(min_length=1, max_length=3)] = field(
        default_factory=lambda: ["basis", "reverse_basis", "long_short"])
    # Venues auto mode may open on (every leg's venue must be listed); empty = every venue.
    venues: Annotated[list[str], Meta(max_length=64)] = field(default_factory=list)
    # -- entry: net APR above threshold AND the z-score signal ----------------------------------
    entry_net_apr_pct: _AprPct = 10.0
    entry_z: _Z = 2.0
    # Without an OU fit (short history) there is no z-score: "block" refuses to enter,
    # "apr_only" enters on the APR threshold alone.
    no_fit: Literal["block", "apr_only"] = "block"
    # The entry condition must hold on this many consecutive decisions (a one-tick spike is not
    # a regime).
    entry_confirm: Annotated[int, Meta(ge=1, le=1000)] = 2
    # -- exit: mean-reversion exit signal, net APR <= exit threshold, or a funding flip ---------
    exit_z: _Z = 0.5
    exit_net_apr_pct: _AprPct = 0.0
    # Rate (percent per interval) the predicted funding may run against the trade before it is
    # a flip; exits on a flip need `exit_confirm` consecutive decisions.
    flip_tolerance_pct: Annotated[float, Meta(ge=0, le=1)] = 0.0
    exit_confirm: Annotated[int, Meta(ge=1, le=1000)] = 2
    # No mean-reversion / APR exit before this; a funding flip still exits.
    min_hold_s: _Secs = 0.0
    # -- churn control ---------------------------------------------------------------------------
    # After a close (or a failed open) the same candidate may not be re-entered for this long.
    cooldown_s: _Secs = 3600.0
    max_opens_per_decision: Annotated[int, Meta(ge=1, le=100)] = 1
    # -- settlement awareness --------------------------------------------------------------------
    # Within this long after a settlement, a predicted rate whose sign differs from the rate just
    # settled is noise or a flip: no entry on it (and a flip exit needs the settled rate to agree).
    settlement_guard_s: _Secs = 900.0
    # -- sizing ----------------------------------------------------------------------------------
    entry_notional_usd: _Usd = 1_000.0
    min_entry_usd: _Usd = 50.0
    max_pair_usd: _Usd = 5_000.0
    max_venue_usd: _Usd = 20_000.0
    max_total_usd: _Usd = 50_000.0
    max_open_pairs: Annotated[int, Meta(ge=0, le=1000)] = 10
    # Never take more than this share of the depth within the slippage cap.
    depth_fraction: Annotated[float, Meta(gt=0, le=1)] = 0.5
    # Liquidation-distance floor at entry, percent of price, both legs.
    liq_distance_floor_pct: _Pct = 15.0
    perp_leverage: Annotated[float, Meta(ge=1, le=125)] = 3.0
    # Maintenance ratio (percent) and force-liquidation margin level assumed for a new leg: the
    # watchdog's defaults (daemon/risk/perp.py, daemon/risk/margin.py) unless set here.
    perp_mmr_pct: Annotated[float, Meta(ge=0, le=50)] = FALLBACK_MMR * 100.0
    margin_liq_bar: Annotated[float, Meta(gt=1, le=10)] = FORCE_LIQUIDATION_BAR
    # -- execution -------------------------------------------------------------------------------
    execution: Literal["taker", "chase", "batches"] = "chase"
    decision_interval_s: Annotated[float, Meta(gt=0, le=3600)] = 5.0

    def __post_init__(self) -> None:
        # Hysteresis needs a gap: entering and exiting on the same band churns.
        if self.entry_z <= self.exit_z:
            raise ValueError(f"entry_z ({self.entry_z}) must be > exit_z ({self.exit_z})")
        if self.entry_net_apr_pct <= self.exit_net_apr_pct:
            raise ValueError(f"entry_net_apr_pct ({self.entry_net_apr_pct}) must be > "
                             f"exit_net_apr_pct ({self.exit_net_apr_pct})")
        if self.min_entry_usd > self.entry_notional_usd:
            raise ValueError("min_entry_usd must be <= entry_notional_usd")

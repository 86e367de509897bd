"""`[legging]` configuration: every bound is a msgspec constraint, so a bad value names its key."""
from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

_Secs = Annotated[float, Meta(gt=0, le=3600)]
_Pct = Annotated[float, Meta(ge=0, le=100)]
_VenueName = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


class LeggingConfig(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # -- hedge tolerance: |perp - spot| may be up to max(base, pct of size) -------------------------
    residual_tolerance_base: Annotated[float, Meta(ge=0, le=1e6)] = 0.0
    residual_tolerance_pct: Annotated[float, Meta(ge=0, le=10)] = 0.5
    # -- time budgets --------------------------------------------------------------------------------
    # How long to keep completing the lagging leg before trimming the leading one back.
    complete_budget_s: _Secs = 1.0
    # Whole operation (open/close/...): after this the pair is failed, flat or within budget.
    op_budget_s: _Secs = 120.0
    # An acknowledged order with no final status after this is queried by client id.
    order_timeout_s: _Secs = 5.0
    # -- bounded repair ------------------------------------------------------------------------------
    max_complete_attempts: Annotated[int, Meta(ge=0, le=20)] = 3
    max_trim_attempts: Annotated[int, Meta(ge=0, le=20)] = 3
    max_topup_attempts: Annotated[int, Meta(ge=0, le=20)] = 2
    max_orders_per_op: Annotated[int, Meta(ge=2, le=1000)] = 200
    backoff_base_s: Annotated[float, Meta(ge=0, le=10)] = 0.05
    backoff_cap_s: Annotated[float, Meta(ge=0, le=60)] = 1.0
    # -- chase: post-only at the touch, re-quoted as the touch moves, taker after the budget ---------
    chase_requote_min_interval_s: Annotated[float, Meta(ge=0, le=60)] = 0.2
    chase_escalate_after_s: _Secs = 10.0
    chase_max_requotes: Annotated[int, Meta(ge=0, le=500)] = 40
    # -- batches: N hedged clips with a pause ----------------------------------------------------------
    batch_clips: Annotated[int, Meta(ge=1, le=100)] = 4
    batch_pause_s: Annotated[float, Meta(ge=0, le=600)] = 1.0
    batch_mode: Literal["taker", "chase"] = "taker"
    # -- pre-flight -----------------------------------------------------------------------------------
    slippage_cap_bps: Annotated[float, Meta(gt=0, le=500)] = 20.0
    liq_distance_floor_pct: _Pct = 15.0
    book_max_age_ms: Annotated[int, Meta(ge=100, le=600_000)] = 10_000
    perp_leverage: Annotated[int, Meta(ge=1, le=20)] = 3
    max_notional_usd: Annotated[float, Meta(gt=0, le=1e9)] = 1_000_000.0
    # -- defaults for POST /v1/positions without `venues` -------------------------------------------
    default_spot_venue: _VenueName = "sim-a"
    default_perp_venue: _VenueName = "sim-a"
    default_long_venue: _VenueName = "sim-a"
    default_short_venue: _VenueName = "sim-b"
    default_execution: Literal["taker", "chase", "batches"] = "chase"
    # -- journal ---------------------------------------------------------------------------------------
    journal_file: Annotated[str, Meta(min_length=1, max_length=200)] = "journal.sqlite"
    # FULL: fsync each group commit; NORMAL: fsync at checkpoints (WAL survives a process crash).
    journal_sync: Literal["normal", "full"] = "full"
    recovery_lookback_s: Annotated[float, Meta(gt=0, le=30 * 86_400)] = 7 * 86_400.0

    def tolerance(self, size: float, step: float = 0.0) -> float:
        """Residual budget for a pair of `size`: never below half a lot step (unreachable else)."""
        return max(self.residual_tolerance_base, size * self.residual_tolerance_pct / 100.0,
                   step * 0.5 + 1e-12)

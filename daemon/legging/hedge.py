"""Hedge reconciliation decisions (pure: views in, one decision out).

Every quantity is a signed base exposure: + long, - short. For a short spot leg (reverse basis) the
exposure is minus the liability INCLUDING accrued interest, so a perfectly filled pair drifts short
as interest is charged and is re-balanced like any other residual. residual = e0 + e1 (for reverse
basis: perp qty - spot liability).

Order of preference when the residual is outside tolerance:
1. complete the lagging leg (move the leg that is short of its target toward it), while the
   complete budget lasts, its attempts last and it is not blocked (no borrow, rejected);
2. trim the leading leg back (move the other leg away from its target by the residual);
3. fail: the engine marks the pair failed and alerts. Nothing loops forever.
Inside tolerance, both legs short of target by more than tolerance -> top up both (bounded).
"""
from __future__ import annotations

import math
from typing import NamedTuple


class LegView(NamedTuple):
    exposure: float        # signed base, from venue-reported fills (and interest)
    target: float          # signed base target of the running operation
    inflight: bool         # an order of this leg is live or its outcome is unresolved
    blocked: bool = False  # the leg cannot trade further now (borrow unavailable, hard reject)
    step: float = 0.0      # lot step
    min_qty: float = 0.0


class HedgeInput(NamedTuple):
    legs: tuple[LegView, LegView]
    tolerance: float
    now: float
    out_since: float | None          # when the residual first left tolerance (None: inside)
    complete_attempts: int = 0
    trim_attempts: int = 0
    topup_attempts: int = 0
    backoff_until: float = 0.0
    complete_budget_s: float = 1.0
    max_complete_attempts: int = 3
    max_trim_attempts: int = 3
    max_topup_attempts: int = 2
    allow_topup: bool = True


WAIT = "wait"
DONE = "done"
COMPLETE = "complete"
TRIM = "trim"
TOPUP = "topup"
FAIL = "fail"


class Decision(NamedTuple):
    action: str
    leg: int = -1
    delta: float = 0.0               # signed base qty to trade on `leg` (+ buy, - sell)
    deltas: tuple[float, float] = (0.0, 0.0)   # TOPUP: both legs
    wait_s: float = 0.0
    reason: str = ""


def residual(legs: tuple[LegView, LegView]) -> float:
    return legs[0].exposure + legs[1].exposure


def round_step(qty: float, step: float, mode: str = "nearest") -> float:
    """Round |qty| to the lot step (sign kept); a tiny epsilon absorbs float noise at a boundary."""
    if step <= 0:
        return qty
    n = abs(qty) / step
    if mode == "down":
        k = math.floor(n + 1e-9)
    elif mode == "up":
        k = math.ceil(n - 1e-9)
    else:
        k = math.floor(n + 0.5)
    return math.copysign(round(k * step, 12), qty)


def _tradeable(qty: float, leg: LegView) -> bool:
    return abs(qty) > 0 and abs(qty) + 1e-12 >= max(leg.min_qty, leg.step * 0.999999)


def decide(v: HedgeInput) -> Decision:
    legs = v.legs
    if legs[0].inflight or legs[1].inflight:
        return Decision(WAIT, reason="order in flight")
    if v.now < v.backoff_until:
        return Decision(WAIT, wait_s=v.backoff_until - v.now, reason="backoff")
    r = residual(legs)
    if abs(r) > v.tolerance:
        fix = -r
        # The lagging leg is the one whose move by -r goes toward its target.
        lag = -1
        best = 0.0
        for i, leg in enumerate(legs):
            dist = leg.target - leg.exposure
            if dist * fix > 0 and abs(dist) > best:
                lag, best = i, abs(dist)
        within_budget = v.out_since is None or v.now - v.out_since < v.complete_budget_s
        if (lag >= 0 and within_budget and v.complete_attempts < v.max_complete_attempts
                and not legs[lag].blocked):
            qty = round_step(math.copysign(min(abs(fix), best), fix), legs[lag].step)
            if _tradeable(qty, legs[lag]):
                return Decision(COMPLETE, leg=lag, delta=qty,
                                reason=f"residual {r:+.8g} outside {v.tolerance:.8g}")
        lead = 1 - lag if lag >= 0 else (0 if abs(legs[0].exposure) >= abs(legs[1].exposure)
                                         else 1)
        if v.trim_attempts < v.max_trim_attempts and not legs[lead].blocked:
            qty = round_step(fix, legs[lead].step)
            if _tradeable(qty, legs[lead]):
                return Decision(TRIM, leg=lead, delta=qty,
                                reason=f"residual {r:+.8g}: lagging leg could not complete")
        if lag >= 0 and v.trim_attempts >= v.max_trim_attempts and not legs[lag].blocked \
                and v.complete_attempts < v.max_complete_attempts:
            qty = round_step(math.copysign(min(abs(fix), best), fix), legs[lag].step)
            if _tradeable(qty, legs[lag]):
                return Decision(COMPLETE, leg=lag, delta=qty, reason="trim exhausted")
        if not (_tradeable(round_step(fix, legs[0].step), legs[0])
                or _tradeable(round_step(fix, legs[1].step), legs[1])):
            return Decision(DONE, reason=f"residual {r:+.8g} below the lot size")
        return Decision(FAIL, reason=f"residual {r:+.8g} outside {v.tolerance:.8g} after "
                                     f"{v.complete_attempts} complete / {v.trim_attempts} trim")
    # Hedged. Both legs still short of their targets (IOC partials, a lost clip): top up both.
    d0 = legs[0].target - legs[0].exposure
    d1 = legs[1].target - legs[1].exposure
    if (v.allow_topup and v.topup_attempts < v.max_topup_attempts
            and abs(d0) > v.tolerance and abs(d1) > v.tolerance
            and not legs[0].blocked and not legs[1].blocked):
        q = min(abs(d0), abs(d1))
        step = max(legs[0].step, legs[1].step)
        q = abs(round_step(q, step, "down"))
        t0, t1 = math.copysign(q, d0), math.copysign(q, d1)
        if _tradeable(t0, legs[0]) and _tradeable(t1, legs[1]):
            return Decision(TOPUP, deltas=(t0, t1), reason="both legs short of target")
    return Decision(DONE, reason="hedged")


def at_target(legs: tuple[LegView, LegView], tolerance: float) -> bool:
    return all(abs(leg.target - leg.exposure) <= tolerance for leg in legs)


def is_flat(legs: tuple[LegView, LegView], tolerance: float) -> bool:
    return all(abs(leg.exposure) <= tolerance for leg in legs)

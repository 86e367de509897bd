"""Halt modes (pure state): what the operator, or the daily loss limit, lets the daemon do.

- `no_new`: no new pairs and no increases; existing pairs are managed as usual (trims, exits,
  re-hedges either way, collateral moves).
- `reduce_only`: every order must reduce exposure: no opens, no increases, and a re-hedge is done
  by trimming the longer leg, never by adding to the shorter one.
- `flatten`: reduce_only, and every pair is unwound now.
Protective actions (collateral transfers, trims, closes, unwinds) are never blocked by a halt.

A manual halt sets exactly the mode asked for; an automatic halt only ever escalates. `resume`
lifts any halt; an automatic daily-loss halt is then acknowledged for the rest of that UTC day
(otherwise it would fire again on the next tick and resume would be meaningless).

Automatic halts: the daily loss limit (`daily_loss_halt_mode`), and a failing journal
(`JOURNAL_FAILURE_MODE`: no order may add risk without a durable intent, while closes, trims and
unwinds go on). The journal halt is applied again on every failed write, so a `resume` while the
disk is still full does not let opens through; once writes succeed it stays until resumed (the
operator decides the daemon may take risk again).

Both the halt and the day's equity baseline are journaled and restored at start (`restored_halt`,
`restored_loss`): a restart must neither lift a halt nor reset the daily loss.
"""
from __future__ import annotations

from enum import Enum

from msgspec import Struct, structs

DAY_MS = 86_400_000


class HaltMode(str, Enum):
    NONE = "none"
    NO_NEW = "no_new"
    REDUCE_ONLY = "reduce_only"
    FLATTEN = "flatten"


# What a failing journal halts (journal.py: durable or fail closed).
JOURNAL_FAILURE_MODE = HaltMode.NO_NEW

_RANK = {HaltMode.NONE: 0, HaltMode.NO_NEW: 1, HaltMode.REDUCE_ONLY: 2, HaltMode.FLATTEN: 3}

# What the legging engine / strategy may ask; "rehedge_up" adds to a leg, "rehedge_down" trims one.
INTENTS = frozenset({"open", "increase", "decrease", "close", "liquidate", "detach",
                     "rehedge_up", "rehedge_down", "transfer"})
_BLOCKED = {
    HaltMode.NONE: frozenset(),
    HaltMode.NO_NEW: frozenset({"open", "increase"}),
    HaltMode.REDUCE_ONLY: frozenset({"open", "increase", "rehedge_up"}),
    HaltMode.FLATTEN: frozenset({"open", "increase", "rehedge_up"}),
}


class HaltState(Struct, frozen=True, kw_only=True):
    mode: HaltMode = HaltMode.NONE
    reason: str = ""
    since_ms: int = 0
    automatic: bool = False
    # UTC day number whose daily-loss halt the operator lifted with resume.
    loss_acknowledged_day: int = -1


def allows(mode: HaltMode, intent: str) -> bool:
    if intent not in INTENTS:
        raise ValueError(f"unknown intent {intent!r}")
    return intent not in _BLOCKED[mode]


def parse_mode(text: str) -> HaltMode:
    """An operator's mode name (`none` is not a halt: use resume)."""
    try:
        mode = HaltMode(text)
    except ValueError:
        raise ValueError(f"mode must be one of no_new, reduce_only, flatten; got {text!r}") from None
    if mode is HaltMode.NONE:
        raise ValueError("mode must be one of no_new, reduce_only, flatten; use resume to lift a halt")
    return mode


def halt(state: HaltState, mode: HaltMode, reason: str, now_ms: int) -> HaltState:
    """A manual halt: exactly the mode asked for."""
    return structs.replace(state, mode=mode, reason=reason, since_ms=now_ms, automatic=False)


def auto_halt(state: HaltState, mode: HaltMode, reason: str, now_ms: int) -> HaltState:
    """An automatic halt: only escalates, never relaxes what the operator set."""
    if _RANK[mode] <= _RANK[state.mode]:
        return state
    return structs.replace(state, mode=mode, reason=reason, since_ms=now_ms, automatic=True)


def resume(state: HaltState, now_ms: int) -> HaltState:
    day = now_ms // DAY_MS
    ack = day if state.automatic else state.loss_acknowledged_day
    return HaltState(mode=HaltMode.NONE, reason="", since_ms=now_ms, automatic=False,
                     loss_acknowledged_day=ack)


class DailyLoss(Struct, frozen=True, kw_only=True):
    """Equity at the start of the current UTC day (USDT) and today's worst loss so far."""

    day: int = -1
    start_equity: float = 0.0
    loss: float = 0.0


def track_equity(state: DailyLoss, equity: float, now_ms: int) -> DailyLoss:
    """Roll the baseline at UTC midnight; loss = start equity - current equity (>= 0)."""
    day = now_ms // DAY_MS
    if day != state.day:
        return DailyLoss(day=day, start_equity=equity, loss=0.0)
    return structs.replace(state, loss=max(state.start_equity - equity, 0.0))


def loss_halt_due(halt_state: HaltState, loss: DailyLoss, limit: float) -> bool:
    """True when the loss limit is breached today and the operator has not lifted it today."""
    return limit > 0 and loss.loss > limit and halt_state.loss_acknowledged_day != loss.day


def restored_halt(current: HaltState, stored: HaltState) -> HaltState:
    """The halt after a restart. Untouched since start: the stored one, exactly (a resume and its
    acknowledgement included). Changed since start (an operator was quicker than recovery): the
    stricter of the two modes; an acknowledgement is kept from either."""
    if current == HaltState():
        return stored
    ack = max(current.loss_acknowledged_day, stored.loss_acknowledged_day)
    base = stored if _RANK[stored.mode] > _RANK[current.mode] else current
    return structs.replace(base, loss_acknowledged_day=ack)


def restored_loss(current: DailyLoss, stored: DailyLoss, now_ms: int) -> DailyLoss:
    """The daily-loss state after a restart: a stored baseline of today replaces one taken since
    start (it is older, so it is the day's true start); one of another day is ignored. The loss
    is left for the next `track_equity` to measure against the restored baseline."""
    day = now_ms // DAY_MS
    if stored.day != day:
        return current
    return DailyLoss(day=day, start_equity=stored.start_equity, loss=0.0)

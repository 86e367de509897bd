"""Pair model and its state machine (pure: no I/O, no clock).

A pair is two legs whose base quantities cancel: reverse basis = short spot on cross margin (borrow
and sell) + long perp; basis = long spot + short perp; long/short = long perp on venue A + short
perp on venue B. Leg 0 is always the spot leg (or the long leg of long/short), leg 1 the perp leg
(or the short leg). Legs carry their *opening* side; every quantity the engine handles is a signed
base exposure (+ long, - short), so the hedge residual of every pair type is simply e0 + e1.
"""
from __future__ import annotations

from enum import Enum
from typing import Literal

from msgspec import Struct, field

PairType = Literal["basis", "reverse_basis", "long_short"]
MarketKind = Literal["spot_margin", "perp"]
Execution = Literal["taker", "chase", "batches"]
Origin = Literal["operator", "strategy"]
PAIR_TYPES: tuple[str, ...] = ("basis", "reverse_basis", "long_short")
EXECUTIONS: tuple[str, ...] = ("taker", "chase", "batches")


class State(str, Enum):
    OPENING = "opening"
    OPEN = "open"
    ADJUSTING = "adjusting"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"
    DETACHED = "detached"
    # The venue no longer holds the pair's legs (found at a reconciliation): alerted, never
    # traded as if open; `close` books it closed with nothing sent.
    LOST = "lost"


TERMINAL: frozenset[State] = frozenset({State.CLOSED, State.DETACHED})
# Failed is not terminal: a failed pair may still hold (budgeted) exposure the operator can close.


class Event(str, Enum):
    HEDGED = "hedged"          # the running operation reached its targets within tolerance
    ADJUST = "adjust"          # increase / decrease / hedge repair starts
    CLOSE = "close"            # close or liquidate starts
    FLAT = "flat"              # both legs are flat (zero exposure, zero liability)
    FAIL = "fail"              # bounded attempts exhausted
    DETACH = "detach"          # operator: stop managing
    LOSE = "lose"              # reconciliation: the venue does not hold the legs


_T: dict[tuple[State, Event], State] = {
    (State.OPENING, Event.HEDGED): State.OPEN,
    (State.OPENING, Event.FAIL): State.FAILED,
    (State.OPENING, Event.FLAT): State.FAILED,      # open abandoned, nothing left on the venue
    (State.OPENING, Event.CLOSE): State.CLOSING,    # liquidate while opening
    (State.OPEN, Event.ADJUST): State.ADJUSTING,
    (State.OPEN, Event.CLOSE): State.CLOSING,
    (State.OPEN, Event.HEDGED): State.OPEN,
    (State.ADJUSTING, Event.HEDGED): State.OPEN,
    (State.ADJUSTING, Event.FAIL): State.FAILED,
    (State.ADJUSTING, Event.CLOSE): State.CLOSING,
    (State.ADJUSTING, Event.FLAT): State.CLOSED,    # decreased to nothing
    (State.CLOSING, Event.FLAT): State.CLOSED,
    (State.CLOSING, Event.HEDGED): State.CLOSED,
    (State.CLOSING, Event.FAIL): State.FAILED,
    (State.CLOSING, Event.CLOSE): State.CLOSING,    # liquidate escalates a running close
    (State.FAILED, Event.CLOSE): State.CLOSING,
    (State.FAILED, Event.ADJUST): State.ADJUSTING,  # operator-driven repair
    (State.FAILED, Event.FLAT): State.CLOSED,
    (State.LOST, Event.CLOSE): State.CLOSED,        # nothing to unwind: nothing is sent
}
for _held in (State.OPENING, State.OPEN, State.ADJUSTING, State.CLOSING, State.FAILED):
    _T[(_held, Event.LOSE)] = State.LOST


class IllegalTransition(ValueError):
    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"cannot {event.value} a pair that is {state.value}")
        self.state = state
        self.event = event


def transition(state: State, event: Event) -> State:
    """Next state; DETACH is allowed from every non-terminal state."""
    if event is Event.DETACH:
        if state in TERMINAL:
            raise IllegalTransition(state, event)
        return State.DETACHED
    nxt = _T.get((state, event))
    if nxt is None:
        raise IllegalTransition(state, event)
    return nxt


def can(state: State, event: Event) -> bool:
    try:
        transition(state, event)
    except IllegalTransition:
        return False
    return True


class Leg(Struct, kw_only=True):
    venue: str
    market: MarketKind
    symbol: str
    side: Literal["BUY", "SELL"]      # the opening side

    @property
    def sign(self) -> int:
        """+1 if the leg is long when open."""
        return 1 if self.side == "BUY" else -1

    @property
    def borrows(self) -> bool:
        """A short spot leg: its liability (principal + interest) is the exposure."""
        return self.market == "spot_margin" and self.side == "SELL"


class Pair(Struct, kw_only=True):
    id: str
    type: PairType
    symbol: str
    legs: tuple[Leg, Leg]
    target_qty: float                 # base units per leg (unsigned)
    notional_usd: float
    execution: Execution
    state: State = State.OPENING
    reason: str = ""
    created_ms: int = 0
    updated_ms: int = 0
    op_seq: int = 0                   # sequence number of the running / last operation
    op_kind: str = "open"
    # Signed base exposure the running operation drives each leg to.
    targets: tuple[float, float] = (0.0, 0.0)
    history: list[str] = field(default_factory=list)
    # Who opened it: the strategy auto-closes only its own pairs, also after a restart.
    origin: Origin = "operator"

    def apply(self, event: Event, now_ms: int, reason: str = "") -> State:
        new = transition(self.state, event)
        self.history.append(f"{now_ms}:{self.state.value}->{new.value}:{event.value}")
        if len(self.history) > 50:
            del self.history[:-50]
        self.state = new
        self.updated_ms = now_ms
        if reason:
            self.reason = reason
        return new

    @property
    def managed(self) -> bool:
        """Traded and watched: not terminal, and not lost (a lost pair holds nothing to manage)."""
        return self.state not in TERMINAL and self.state is not State.LOST


def make_legs(pair_type: str, symbol: str, venues: dict[str, str]) -> tuple[Leg, Leg]:
    """Legs of a new pair from the venue mapping (`spot`/`perp`, or `long`/`short`)."""
    if pair_type == "reverse_basis":
        return (Leg(venue=venues["spot"], market="spot_margin", symbol=symbol, side="SELL"),
                Leg(venue=venues["perp"], market="perp", symbol=symbol, side="BUY"))
    if pair_type == "basis":
        return (Leg(venue=venues["spot"], market="spot_margin", symbol=symbol, side="BUY"),
                Leg(venue=venues["perp"], market="perp", symbol=symbol, side="SELL"))
    if pair_type == "long_short":
        return (Leg(venue=venues["long"], market="perp", symbol=symbol, side="BUY"),
                Leg(venue=venues["short"], market="perp", symbol=symbol, side="SELL"))
    raise ValueError(f"unknown pair type {pair_type!r}")


def venue_keys(pair_type: str) -> tuple[str, str]:
    return ("long", "short") if pair_type == "long_short" else ("spot", "perp")


def open_targets(pair: Pair, qty: float) -> tuple[float, float]:
    return (pair.legs[0].sign * qty, pair.legs[1].sign * qty)

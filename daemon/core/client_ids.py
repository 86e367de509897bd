"""Deterministic client order ids (pure).

    bd-<pair>-<op><action>-<leg><kind><attempt>      e.g.  bd-k3x9q2m7ab-1o-ae0

* pair: the pair id, 4-12 chars of [a-z0-9];
* op: base-36 sequence number of the operation on the pair (open = 0, every later increase /
  decrease / close / liquidate / repair takes the next number), action: its one-letter kind;
* leg: `a` (leg 0: spot or long) or `b` (leg 1: perp or short);
* kind: why the order exists (entry, complete the lagging leg, trim the leading leg, ...);
* attempt: base-36 counter per (pair, op, leg), incremented for every order sent, whatever the kind.

The same inputs always give the same id, so after a crash the daemon can rebuild every id it might
have sent and ask the venue about each (see journal.py for the full argument). Every id matches
Binance's `^[\\.A-Z\\:/a-z0-9_-]{1,36}$` (spot, margin and USD-M alike): at most 3+12+1+4+1+1+1+6
= 29 characters.
"""
from __future__ import annotations

import re
import secrets
from typing import NamedTuple

PREFIX = "bd-"
BINANCE_PATTERN = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
PAIR_ID_PATTERN = re.compile(r"^[a-z0-9]{4,12}$")

ACTIONS: dict[str, str] = {
    "open": "o", "increase": "i", "decrease": "d", "close": "c", "liquidate": "l", "repair": "r",
}
ACTION_NAMES: dict[str, str] = {v: k for k, v in ACTIONS.items()}
KINDS: dict[str, str] = {
    "entry": "e",       # the operation's own order (taker IOC, chase quote, batch clip)
    "complete": "c",    # hedge: complete the lagging leg
    "trim": "t",        # hedge: trim the leading leg back
    "flatten": "f",     # liquidate / failed-close clean-up at market
}
KIND_NAMES: dict[str, str] = {v: k for k, v in KINDS.items()}
LEGS = "ab"
MAX_OP = 36 ** 4 - 1
MAX_ATTEMPT = 36 ** 6 - 1

_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_PARSE = re.compile(
    r"^bd-(?P<pair>[a-z0-9]{4,12})-(?P<op>[0-9a-z]{1,4})(?P<action>[a-z])"
    r"-(?P<leg>[ab])(?P<kind>[a-z])(?P<attempt>[0-9a-z]{1,6})$")


class ClientId(NamedTuple):
    pair: str
    op: int
    action: str
    leg: int
    kind: str
    attempt: int


def b36(n: int) -> str:
    if n < 0:
        raise ValueError("negative")
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_B36[r])
    return "".join(reversed(out))


def new_pair_id(now_ms: int, rand: int | None = None) -> str:
    """10 chars: 7 of millisecond time (sorts by creation until year 4200) + 3 random."""
    r = secrets.randbelow(36 ** 3) if rand is None else rand % 36 ** 3
    return b36(now_ms % 36 ** 7).rjust(7, "0") + b36(r).rjust(3, "0")


def pair_prefix(pair_id: str) -> str:
    """Every order of the pair starts with this (recovery lists venue orders by it)."""
    return f"{PREFIX}{pair_id}-"


def make(pair_id: str, op: int, action: str, leg: int, kind: str, attempt: int) -> str:
    if not PAIR_ID_PATTERN.match(pair_id):
        raise ValueError(f"bad pair id {pair_id!r}")
    if not 0 <= op <= MAX_OP:
        raise ValueError(f"op out of range: {op}")
    if not 0 <= attempt <= MAX_ATTEMPT:
        raise ValueError(f"attempt out of range: {attempt}")
    if leg not in (0, 1):
        raise ValueError(f"leg must be 0 or 1, got {leg}")
    return (f"{PREFIX}{pair_id}-{b36(op)}{ACTIONS[action]}-"
            f"{LEGS[leg]}{KINDS[kind]}{b36(attempt)}")


def parse(client_id: str) -> ClientId | None:
    """The fields of one of our ids; None for anything else (orders that are not ours)."""
    m = _PARSE.match(client_id)
    if m is None:
        return None
    action = ACTION_NAMES.get(m["action"])
    kind = KIND_NAMES.get(m["kind"])
    if action is None or kind is None:
        return None
    return ClientId(m["pair"], int(m["op"], 36), action, LEGS.index(m["leg"]), kind,
                    int(m["attempt"], 36))


def is_ours(client_id: str) -> bool:
    return parse(client_id) is not None

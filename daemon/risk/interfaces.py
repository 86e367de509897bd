"""The watchdog's narrow interfaces (what it asks of the engine, connectors and journal) and the
small pure helpers it uses to route hub events; kept apart so daemon/risk/watchdog.py stays the shell."""
from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import msgspec

from daemon import hub as hubmod
from daemon.hub import Hub
from daemon.core.pairs import Pair
from daemon.risk.inputs import base_asset
from daemon.risk.ladder import LEVEL_NAMES, Action, Close, Deleverage, MarginHold, PairRisk, Rehedge, Transfer, Unwind

# Significant digits an action's figures are compared at when deciding it repeats the last one.
_REPEAT_DIGITS = 4

Wallets = frozenset[tuple[str, str]]


class RiskActions(Protocol):
    """What the watchdog asks of the legging engine and the connectors. Called synchronously from
    the hub callback: build and write the request before returning; return an awaitable of the
    answer (or None). An awaitable with a `written_ns` attribute (perf_counter_ns, > 0) says when
    its (first) request's bytes were written: the reaction histogram is frame -> that write
    (transfers, and trims and unwinds through LeggingEngine.decrease_now / liquidate_now);
    without it (an operation that sends from its own task) the hand-over time is used."""

    def transfer(self, venue: str, direction: str, asset: str, amount: float) -> Awaitable[Any] | None:
        """direction: "futures_to_margin" (Binance UMFUTURE_MARGIN) or "margin_to_futures"
        (MARGIN_UMFUTURE); asset e.g. "USDT"; amount in asset units."""

    def deleverage(self, pair_id: str, fraction: float) -> Awaitable[Any] | None:
        """Decrease both legs of the pair by `fraction` of their size, in proportion (taker)."""

    def unwind(self, pair_id: str) -> Awaitable[Any] | None:
        """Emergency close of both legs at market (the legging engine's liquidate)."""

    def close(self, pair_id: str) -> Awaitable[Any] | None:
        """Orderly exit of the pair (the legging engine's close): the net-APR floor."""

    def rehedge(self, pair_id: str, qty: float, reduce_only: bool) -> Awaitable[Any] | None:
        """Bring the perp to the margin liability: `qty` coins to add (> 0) to the perp long or
        take off (< 0); under reduce_only, close the excess of the longer leg instead."""


class RiskStateStore(Protocol):
    """Where the halt and the daily-loss baseline survive a restart (daemon.journal.Journal).
    Both are called from the hub callback: they must not block (queue the write)."""

    def record_daily_loss(self, day: int, start_equity: float, ts_ms: int) -> None:
        """The equity baseline of UTC day `day`; the first one recorded for a day is kept."""

    def record_halt(self, doc: dict[str, Any], ts_ms: int) -> None:
        """The current HaltState as plain data (msgspec.to_builtins); the latest is kept."""


def num_or_text(x: float) -> float | str:
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf" if x < 0 else "nan")


def wallet_of(kind: str, item: Any) -> str:
    if kind == hubmod.BALANCE:
        return str(item.wallet)
    return "margin" if kind == hubmod.MARGIN else "futures"


def borrowed_coin(hub: Hub, pair: Pair) -> tuple[str, str] | None:
    """(venue, coin) of the pair's borrowed cross-margin leg, if it has one."""
    for leg in pair.legs:
        if leg.borrows:
            return leg.venue, base_asset(hub, leg.venue, leg.symbol)
    return None


def pair_wallets(pair: Pair) -> Wallets:
    return frozenset((leg.venue, "margin" if leg.market == "spot_margin" else "futures")
                     for leg in pair.legs)


def venue_of(kind: str, item: Any) -> str | None:
    if kind == hubmod.BOOK:
        return item.venue
    if kind == hubmod.MARGIN or kind == hubmod.MARK or kind == hubmod.BALANCE or kind == hubmod.POSITION \
            or kind == hubmod.BORROW:
        return item.venue
    if kind == hubmod.HEALTH:
        return item[0]
    return None


def repeat_key(act: Action) -> tuple[Any, ...]:
    """What makes two decisions the same: the action's fields, figures rounded (a re-hedge
    growing by a satoshi of interest is the same decision), and its reason's kind."""
    out: list[Any] = [type(act).__name__]
    for name in act.__struct_fields__:
        v = getattr(act, name)
        if name == "reason":
            v = str(v).split(":")[-1].strip()
        elif isinstance(v, float):
            v = float(f"{v:.{_REPEAT_DIGITS}g}")
        out.append(v)
    return tuple(out)


def pair_status(st: Any) -> dict[str, Any]:
    """One pair's entry in the watchdog's status (st: the watchdog's per-pair state)."""
    r = st.risk
    return {
        "data_ok": st.ok,
        "no_new_risk": not st.ok,
        "unwound": st.unwound,
        "in_flight": sorted(st.busy),
        "margin_settling": st.hold is not None,
        "legs": [] if r is None else [
            {"leg": g.leg, "venue": g.venue, "distance": num_or_text(g.distance),
             "liq_price": g.liq_price, "collateral_needed": g.collateral_needed,
             "level": LEVEL_NAMES[st.levels.get(g.leg + ":" + g.venue, 0)],
             "venue_qty": g.venue_qty, "share": g.share, "trims": g.trims} for g in r.legs],
        "net_apr": None if r is None else r.net_apr,
        "hedge_gap": None if r is None else r.hedge_gap,
        "repeats_not_journaled": st.repeats,
    }


def call_action(a: RiskActions, act: Action) -> Awaitable[Any] | None:
    """Send one decided action through the watchdog's RiskActions (synchronously)."""
    note = getattr(a, "note_reason", None)
    if note is not None and not isinstance(act, Transfer):
        note(act.pair_id, act.reason)     # the pair's operation records why it was started
    if isinstance(act, Transfer):
        return a.transfer(act.venue, act.direction, act.asset, act.amount)
    if isinstance(act, Deleverage):
        return a.deleverage(act.pair_id, act.fraction)
    if isinstance(act, Unwind):
        return a.unwind(act.pair_id)
    if isinstance(act, Close):
        return a.close(act.pair_id)
    if isinstance(act, Rehedge):
        return a.rehedge(act.pair_id, act.qty, act.reduce_only)
    raise TypeError(f"unknown action {act!r}")


def baseline_status(limit: float, waiting_for: Callable[[], list[str]], day: int) -> dict[str, Any]:
    """The daily-loss baseline in the watchdog's status: off, waiting for venues, or taken."""
    if limit <= 0:
        return {"state": "disabled", "waiting_for": []}
    waiting = waiting_for()
    if waiting:
        return {"state": "waiting for venues", "waiting_for": waiting}
    return {"state": "taken" if day >= 0 else "waiting for equity", "waiting_for": []}


class PairState:
    """The watchdog's state of one pair between evaluations."""

    __slots__ = ("levels", "busy", "settling", "crossed_ns", "apr_below_since", "stale_since",
                 "risk", "ok", "unwound", "hold", "journaled", "repeats", "breach_since")

    def __init__(self) -> None:
        self.levels: dict[str, int] = {}
        self.busy: dict[str, Wallets] = {}             # action kind -> wallets (in flight)
        # kind -> (wallets whose account update has not arrived yet, deadline)
        self.settling: dict[str, tuple[set[tuple[str, str]], float]] = {}
        self.crossed_ns = 0
        self.apr_below_since: float | None = None
        self.stale_since: float | None = None
        self.risk: PairRisk | None = None
        self.ok = True
        self.unwound = False
        self.hold: MarginHold | None = None
        # kind -> the last action of that kind journaled (rounded, see `repeat_key`): the same
        # decision again is not journaled until something about the pair changes.
        self.journaled: dict[str, tuple[Any, ...]] = {}
        self.repeats = 0
        # when a trim or unwind the margin leg alone calls for was first seen while an
        # operation moved that margin account (see ladder.confirm_margin_breach)
        self.breach_since: float | None = None


def watchdog_status(wd: Any) -> dict[str, Any]:
    """The watchdog's status (wd: the watchdog, its figures read as they are)."""
    r = wd.reaction
    return {
        "enabled": wd.cfg.enabled,
        "halt": msgspec.to_builtins(wd.halt_state),
        "daily_loss": msgspec.to_builtins(wd.loss),
        "daily_loss_baseline": baseline_status(wd.cfg.daily_loss_limit, wd.loss_waiting_for, wd.loss.day),
        "equity_usdt": wd.equity(),
        "pairs": {pid: pair_status(st) for pid, st in wd.state.items()},
        "steps": list(wd.steps)[-50:],
        "evaluations": wd.evaluations,
        "book_frames_skipped": wd.quiet.frames_skipped,
        "marks_narrowed": wd.marks.frames_narrowed,
        "action_errors": wd.action_errors,
        "last_error": wd.last_error,
        "reaction_s": {"count": r.count, "sum": r.sum, "p50": r.quantile(0.5), "p99": r.quantile(0.99),
                       "buckets": dict(zip([str(b) for b in r.bounds] + ["+Inf"], r.counts, strict=True))},
    }

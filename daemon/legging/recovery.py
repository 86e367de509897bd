"""Recovery on start: journal -> runtimes -> reconcile with each venue -> resume.

1. Load each pair's last snapshot (books, order table, attempt counters).
2. Merge the intents (SQLite + the replayed write-ahead log): an intent the snapshot lacks is an
   order that may have reached the venue; it becomes an UNKNOWN track, and its attempt number
   raises the counter floor so the id is never reused.
3. Per leg, list the venue's orders on the symbol since the pair was created and keep those with
   the pair's client-id prefix: unknown ones are adopted, every one is folded (fills are
   cumulative per order, so re-reading a known fill moves nothing). Other orders are not ours:
   counted and reported, never touched.
4. Tracks still without an answer are queried by client id (None: the venue never accepted it).
   Our orders still resting are cancelled (the resumed operation decides afresh).
5. Then the holdings (reconcile.py): the venue's positions, liabilities and open orders against
   the books; a pair the venue no longer holds becomes `lost` and does not resume.
6. Pairs that were mid-operation resume toward the journaled targets, unless the halt gate (in
   force already: the engine's `before_resume` restores it first) refuses what the operation was
   doing; then `halted_targets` shrinks them: under no_new an open/increase stops growing the
   pair (the lagging leg may still catch up: re-hedges are allowed), under reduce_only it becomes
   a trim of the longer leg back to the shorter (hedged; flat if one leg is empty), and so does a
   repair that was adding; under flatten they all go to flat.

The engine hands `recover` its parts (the pair map, the order executor, the operations, its halt
gate); recovery calls only their public methods.
"""
from __future__ import annotations

from typing import Any, Protocol

from collections.abc import Callable

from daemon.core import client_ids
from daemon.legging.hedge import round_step
from daemon.legging.operations import Operations
from daemon.legging.orders import OrderExecutor
from daemon.legging.reconcile import reconcile_holdings
from daemon.legging.runtime import OrderTrack, PairRuntime
from daemon.core.pairs import State
from daemon.journal import JournalError

_RESUME = {State.OPENING, State.ADJUSTING, State.CLOSING}
_LOOKBACK_MS = 60_000
# the intent under which an operation kind adds exposure
_GROWS = {"open": "open", "increase": "increase", "repair": "rehedge_up"}


class HaltGate(Protocol):
    """The watchdog's halt gate as the engine presents it (`LeggingEngine` is one)."""

    def allowed(self, intent: str, pid: str | None = None) -> bool: ...

    def halt_mode_name(self) -> str: ...


def halted_targets(kind: str, exposures: tuple[float, float], target_qty: float,
                   signs: tuple[int, int], step: float, may: Callable[[str], bool],
                   flatten: bool) -> tuple[tuple[float, float], float] | None:
    """The targets a resumed operation may still go to under the halt gate `may(intent)`, and
    the pair size they mean; None: the gate lets it resume as journaled. Pure."""
    intent = _GROWS.get(kind)
    if intent is None or may(intent):
        return None
    held = (abs(exposures[0]), abs(exposures[1]))
    if flatten:
        size = 0.0
    elif kind != "repair" and may("rehedge_up"):
        size = min(target_qty, max(held))          # no_new: no further growth of the pair
    else:
        size = min(target_qty, min(held))          # reduce_only: trim back to hedged
    size = max(0.0, round_step(size, step, "down"))
    return (signs[0] * size, signs[1] * size), size


async def recover(state: dict[str, Any], pairs: dict[str, PairRuntime], executor: OrderExecutor,
                  operations: Operations, gate: HaltGate) -> dict[str, Any]:
    """Load `state` (what `Journal.open` returned) into `pairs`, reconcile every managed pair
    with its venues and resume the operations that were running; returns the report."""
    report: dict[str, Any] = {"pairs": 0, "resumed": [], "halted": [], "adopted": [],
                              "not_sent": [],
                              "cancelled": [], "foreign_orders": 0, "errors": [],
                              "replayed_intents": state.get("replayed_intents", 0)}
    for pid, doc in state["pairs"].items():
        rt = PairRuntime.from_doc(doc)
        pairs[pid] = rt
        executor.hub.set_pair(rt.pair)
        report["pairs"] += 1
        for t in rt.orders.values():
            parsed = client_ids.parse(t.client_id)
            if parsed is not None:
                rt.bump_attempt_floor(parsed.op, parsed.leg, parsed.attempt)
        for row in state["intents"].get(pid, []):
            parsed = client_ids.parse(row["client_id"])
            if parsed is None:
                continue
            rt.bump_attempt_floor(parsed.op, parsed.leg, parsed.attempt)
            if row["client_id"] not in rt.orders:
                leg = rt.pair.legs[parsed.leg]
                rt.orders[row["client_id"]] = OrderTrack(
                    client_id=row["client_id"], venue=leg.venue, market=leg.market,
                    symbol=leg.symbol, leg=parsed.leg, op=parsed.op, kind=parsed.kind,
                    side=row["side"], qty=row["qty"], price=row["price"],
                    order_type=row["order_type"], status="UNKNOWN", ts_ms=row["ts_ms"])
    for rt in list(pairs.values()):
        if not rt.pair.managed:
            continue
        try:
            await _reconcile_with_venues(executor, rt, report)
        except Exception as exc:   # one venue down must not stop the others from recovering
            report["errors"].append(f"{rt.pair.id}: {exc!r}")
            operations.alert(rt, f"recovery incomplete: {exc!r}")
        executor.persist(rt)
    # The books now hold every fill the venue reports; what the venue holds must match them
    # before anything resumes (a pair it no longer holds is lost, not re-opened or unwound).
    report["holdings"] = await reconcile_holdings(executor, operations, pairs)
    for rt in list(pairs.values()):
        if not rt.pair.managed:
            continue
        if rt.pair.state in _RESUME:
            report["resumed"].append(rt.pair.id)
            _apply_halt(executor, operations, gate, rt, report)
            operations.resume_op(rt)
    if executor.journal is not None:
        try:
            await executor.journal.barrier()
        except JournalError as exc:   # operations resumed already: the journal's halt takes over
            report["errors"].append(f"journal: {exc}")
    return report


def _apply_halt(executor: OrderExecutor, operations: Operations, gate: HaltGate,
                rt: PairRuntime, report: dict[str, Any]) -> None:
    p = rt.pair
    mode = gate.halt_mode_name()
    got = halted_targets(p.op_kind, (rt.exposure(0), rt.exposure(1)), p.target_qty,
                         (p.legs[0].sign, p.legs[1].sign), max(rt.meta[0].step, rt.meta[1].step),
                         lambda intent: gate.allowed(intent, p.id), mode == "flatten")
    if got is None:
        return
    was = p.target_qty
    p.targets, p.target_qty = got
    report["halted"].append({"id": p.id, "op": p.op_kind, "mode": mode or "gate",
                             "target_qty": p.target_qty, "was": was})
    operations.alert(rt, f"{p.op_kind} resumed under halt {mode or '(gate)'}: size {was:g} -> "
                         f"{p.target_qty:g}")
    executor.persist(rt)


async def _reconcile_with_venues(executor: OrderExecutor, rt: PairRuntime,
                                 report: dict[str, Any]) -> None:
    prefix = client_ids.pair_prefix(rt.pair.id)
    seen: set[str] = set()
    done: set[tuple[str, str, str]] = set()
    for leg in rt.pair.legs:
        key = (leg.venue, leg.market, leg.symbol)
        if key in done:
            continue
        done.add(key)
        venue = executor.venues[leg.venue]
        try:
            listed = await venue.orders_since(leg.market, leg.symbol,
                                              rt.pair.created_ms - _LOOKBACK_MS)
        except NotImplementedError:
            listed = []
        for u in listed:
            if not u.client_id.startswith(prefix):
                if not client_ids.is_ours(u.client_id):
                    report["foreign_orders"] += 1
                continue
            parsed = client_ids.parse(u.client_id)
            if parsed is None:
                continue
            seen.add(u.client_id)
            track = rt.orders.get(u.client_id)
            if track is None:
                track = rt.adopt(u, parsed)
                report["adopted"].append(u.client_id)
            executor.fold(rt, track, u)
    for track in list(rt.orders.values()):
        if track.final or track.client_id in seen:
            continue
        await executor.resolve(rt, track)
        if track.status == "NOT_SENT":
            report["not_sent"].append(track.client_id)
    for track in rt.live_orders():
        if track.status in ("NEW", "PARTIALLY_FILLED"):
            await executor.cancel(rt, track)
            report["cancelled"].append(track.client_id)

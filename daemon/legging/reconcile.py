"""Reconcile the pairs' books with what each venue holds (the shell around `holdings.judge`).

Run at start (by recovery, after the orders are reconciled and before any operation resumes) and
after a venue's stream comes back: read every venue's perp positions, cross-margin wallet and
open orders; pairs the venue no longer explains become `lost` (alerted, journaled); what no pair
explains is reported as `unmanaged`. Holdings a busy pair shares (an operation running, orders
working) are not judged: the venue and the books legitimately differ mid-operation.
"""
from __future__ import annotations

import time
from typing import Any

from daemon.core import client_ids
from daemon.core.pairs import Event, IllegalTransition
from daemon.legging.holdings import Key, LegHolding, judge
from daemon.legging.operations import Operations
from daemon.legging.orders import OrderExecutor
from daemon.legging.runtime import PairRuntime


def leg_key(rt: PairRuntime, i: int) -> tuple[Key, float]:
    """The holding leg `i` of the pair lives in, and the amount its books say it holds there."""
    leg, qty = rt.pair.legs[i], rt.exposure(i)
    if leg.market == "perp":
        return (leg.venue, "perp", leg.symbol), qty
    if leg.borrows:
        return (leg.venue, "debt", rt.meta[i].base), -qty
    return (leg.venue, "coin", rt.meta[i].base), qty


def _busy(rt: PairRuntime) -> bool:
    return bool(rt.task is not None and not rt.task.done()) or bool(rt.live_orders())


async def _read_venue(name: str, venue: Any, hub: Any, out: dict[Key, float],
                      floors: dict[Key, float], orders: list[dict[str, Any]]) -> None:
    quotes = {inst.quote for inst in hub.instruments.values() if inst.venue == name}
    for inst in hub.instruments.values():
        if inst.venue != name:
            continue
        if inst.market == "perp":
            floors[(name, "perp", inst.symbol)] = inst.step_size
            out.setdefault((name, "perp", inst.symbol), 0.0)
        else:
            for kind in ("coin", "debt"):
                floors[(name, kind, inst.base)] = inst.step_size
                out.setdefault((name, kind, inst.base), 0.0)
    for symbol, qty in (await venue.perp_positions()).items():
        out[(name, "perp", symbol)] = qty
    for asset, bal in (await venue.margin_balances()).items():
        if asset in quotes:
            continue          # collateral and proceeds: no pair holds its quote coin as a leg
        out[(name, "coin", asset)] = bal.free + bal.locked
        out[(name, "debt", asset)] = bal.liability
    for inst in hub.instruments.values():
        if inst.venue == name:
            for u in await venue.open_orders("perp" if inst.market == "perp" else "spot_margin",
                                             inst.symbol):
                orders.append({"venue": name, "market": inst.market, "symbol": inst.symbol,
                               "client_id": u.client_id, "side": u.side, "status": u.status})


async def reconcile_holdings(executor: OrderExecutor, operations: Operations,
                             pairs: dict[str, PairRuntime], only_venue: str | None = None
                             ) -> dict[str, Any]:
    """Judge every idle managed pair against the venues; returns the report (lost, unmanaged,
    unmanaged_orders, errors, skipped keys)."""
    held: dict[Key, float] = {}
    floors: dict[Key, float] = {}
    orders: list[dict[str, Any]] = []
    errors: list[str] = []
    for name, venue in executor.venues.items():
        if only_venue is not None and name != only_venue:
            continue
        got: dict[Key, float] = {}
        try:
            await _read_venue(name, venue, executor.hub, got, floors, orders)
        except (AttributeError, NotImplementedError):
            continue                      # a venue without the holdings reads is not judged
        except Exception as exc:          # unreadable now: judged at the next reconnect
            errors.append(f"{name}: {exc!r}")
            continue
        held.update(got)
    legs: list[LegHolding] = []
    busy_keys: set[Key] = set()
    for rt in pairs.values():
        if not rt.pair.managed:
            continue
        tol = executor.tolerance(rt)
        for i in (0, 1):
            key, qty = leg_key(rt, i)
            if _busy(rt):
                busy_keys.add(key)
            legs.append(LegHolding(pair_id=rt.pair.id, created_ms=rt.pair.created_ms, key=key,
                                   qty=qty, tolerance=tol))
    judged = {k: v for k, v in held.items() if k not in busy_keys}
    verdict = judge([lg for lg in legs if lg.key not in busy_keys], judged, floors)
    now = executor.now_ms()
    lost = []
    for pid in verdict.lost:
        rt = pairs[pid]
        found = "; ".join(
            f"{k[1]} {k[2]} on {k[0]}: venue {held.get(k, 0.0):g}, books {q:g}"
            for k, q in (leg_key(rt, i) for i in (0, 1)))
        try:
            operations.apply(rt.pair, Event.LOSE, now,
                             f"lost: the venue no longer holds this pair's legs ({found})")
        except IllegalTransition:
            continue
        executor.persist(rt)
        operations.alert(rt, f"LOST at reconciliation: {found}; nothing will be traded on it")
        lost.append(pid)
    live = {o.client_id for rt in pairs.values() if rt.pair.managed for o in rt.live_orders()}
    stray = [o for o in orders if o["client_id"] not in live]
    return {"ts_ms": int(time.time() * 1000), "venue": only_venue, "lost": lost,
            "unmanaged": [{"venue": u.venue, "kind": u.kind, "name": u.name, "qty": u.qty,
                           "venue_qty": u.venue_qty, "explained_qty": u.explained_qty}
                          for u in verdict.unmanaged],
            "unmanaged_orders": [{**o, "ours": client_ids.is_ours(o["client_id"])}
                                 for o in stray],
            "skipped": sorted("/".join(k) for k in busy_keys), "errors": errors}

"""The legging engine: pre-flight, both legs at once, hedge reconciliation, operations, recovery.

One asyncio task per running operation per pair. Fills arrive through the hub (ORDER updates,
subscriber priority 20, after the watchdog) and through REST acknowledgements; both fold into the
pair's order table idempotently (runtime.py). Decisions are the pure `hedge.decide`; the
engine only executes them, with bounded attempts and backoff, so no pair can loop or churn.

`decrease_now` / `liquidate_now` are the watchdog's entry points: called from a hub callback, they
move the pair and write both legs' first orders (journaled write-ahead first) before returning,
then the operation goes on in its task like any other.

`LeggingEngine` is the facade: the public operations, the halt gate and the views. It owns its
parts, composed, not inherited: `executor` (orders.py: build, send, settle, resolve, cancel,
chase), `operations` (operations.py: one bounded task per operation), `events` (events.py: the
hub subscriber), and hands them to `recover` (recovery.py) at start. All share one pair map,
`pairs`.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from daemon.core import client_ids
from daemon.legging import hedge
from daemon.core.accounting import pair_pnl
from daemon.core.pair_rules import open_refusal
from connectors.types import Borrow, Health
from daemon.hub import HEALTH, Hub
from daemon.journal import Journal, JournalError
from daemon.legging.config import LeggingConfig
from daemon.legging.events import HubEvents
from daemon.legging.operations import EngineError, OpTask, Operations, log
from daemon.legging.orders import OrderExecutor
from daemon.legging.preflight import (PreflightError, check, distance_pct, leg_key,
                                      perp_liq_distance_pct, spot_short_liq_distance_pct)
from daemon.risk.inputs import BracketSource, liquidation_bar, margin_assets
from daemon.risk.maths import margin_asset_distance
from daemon.legging.drain import drain
from daemon.legging.reconcile import reconcile_holdings
from daemon.legging.recovery import recover
from daemon.legging.runtime import LegMeta, PairRuntime
from daemon.legging.shares import venue_shares
from connectors.base import Venue
from daemon.core.pairs import (EXECUTIONS, PAIR_TYPES, Event, IllegalTransition, Pair, State,
                               make_legs, open_targets, venue_keys)

__all__ = ["EngineError", "LeggingEngine", "log"]


class LeggingEngine:

    def __init__(self, hub: Hub, venues: Mapping[str, Venue], cfg: LeggingConfig,
                 journal: Journal | None = None, *, clock: Callable[[], float] = time.time,
                 allow: Callable[[str, str | None], bool] | None = None,
                 halt_mode: Callable[[], Any] | None = None,
                 before_resume: Callable[[dict[str, Any]], None] | None = None) -> None:
        """`allow(intent, pair_id)`: the watchdog's halt gate (`Watchdog.allows`); intents are
        open, increase, decrease, close, liquidate, detach, rehedge_up, rehedge_down. A refusal
        answers 409 "halted: <mode>" (`halt_mode()` or the gate's owner's `halt_state.mode`).
        `before_resume(state)`: called by `start` with what `Journal.open` returned (its
        "risk_state" is the stored halt and daily-loss baseline) before any pair is loaded or
        any operation resumes, so a restored halt gates the resumed operations too."""
        self.hub = hub
        # The venue's leverage brackets per (venue, symbol), as the watchdog reads them; None
        # until wiring sets it (pre-flight then uses the one fallback tier).
        self.brackets: BracketSource | None = None
        self.allow = allow
        # (pair id, market, venue) -> liquidation distance in % (set by the daemon: the watchdog)
        self.liq_distance_source: Callable[[str, str, str], float | None] | None = None
        self.halt_mode = halt_mode
        self.before_resume = before_resume
        self.venues = venues
        self.journal = journal
        self.clock = clock
        self.pairs: dict[str, PairRuntime] = {}
        self.recovery_report: dict[str, Any] = {}
        self.executor = OrderExecutor(hub, venues, cfg, journal, clock)
        self.operations = Operations(self.executor, self.pairs, cfg)
        self.alerts = self.operations.alerts
        self.events = HubEvents(hub, self.pairs, self.executor, journal)
        self._cfg = cfg
        self.draining = False
        self.drain_report: dict[str, Any] = {}
        self.holdings: dict[str, Any] = {}      # the latest reconciliation with the venues
        self._reconcile_task: asyncio.Task[None] | None = None
        self._unsubscribe_health: Callable[[], None] | None = None

    @property
    def cfg(self) -> LeggingConfig:
        return self._cfg

    @cfg.setter
    def cfg(self, cfg: LeggingConfig) -> None:
        """A reload: every part sizes, bounds and times from the new config from now on."""
        self._cfg = self.executor.cfg = self.operations.cfg = cfg

    # ================================================================= lifecycle
    async def start(self) -> None:
        """Open the journal, load pairs, reconcile them with the venues, resume operations."""
        if self.journal is None:
            return
        state = await asyncio.to_thread(self.journal.open)
        if self.before_resume is not None:
            try:
                self.before_resume(state)
            except BaseException:
                # no resume without the halt in force; a retried start opens the journal again
                await asyncio.to_thread(self.journal.close)
                raise
        self.recovery_report = await recover(state, self.pairs, self.executor, self.operations,
                                             self)
        self.holdings = self.recovery_report.get("holdings", {})
        self._unsubscribe_health = self.hub.subscribe(self._on_health, priority=90)

    def _on_health(self, kind: str, item: Any) -> None:
        """A venue stream back to healthy (a reconnect): reconcile that venue's holdings again."""
        if kind != HEALTH or self.draining:
            return
        venue, _stream, state = item
        if state.health is not Health.HEALTHY or venue not in self.venues:
            return
        if self._reconcile_task is None or self._reconcile_task.done():
            self._reconcile_task = asyncio.get_running_loop().create_task(
                self._reconcile_later(venue), name=f"reconcile-{venue}")

    async def _reconcile_later(self, venue: str) -> None:
        await asyncio.sleep(1.0)        # the streams come back together: one read for them all
        try:
            await self.reconcile(venue)
        except Exception as exc:       # judged again at the next reconnect
            log.warning("reconcile after reconnect failed: %r", exc)

    async def reconcile(self, venue: str | None = None) -> dict[str, Any]:
        """Compare the books with what the venues hold now; lost pairs and unmanaged holdings
        land in `holdings` (status)."""
        self.holdings = await reconcile_holdings(self.executor, self.operations, self.pairs,
                                                 venue)
        return self.holdings

    async def drain(self, budget_s: float) -> dict[str, Any]:
        """Stop taking operations; bring every busy pair to hedged or flat within `budget_s`."""
        self.draining = True
        self.drain_report = await drain(self.executor, self.operations, self.pairs, budget_s)
        return self.drain_report

    async def stop(self) -> None:
        self.draining = True
        if self._unsubscribe_health is not None:
            self._unsubscribe_health()
        tasks = [rt.task for rt in self.pairs.values() if rt.task and not rt.task.done()]
        if self._reconcile_task is not None:
            tasks.append(self._reconcile_task)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.events.close()
        if self.journal is not None:
            for rt in self.pairs.values():
                self.executor.persist(rt)
            await asyncio.to_thread(self.journal.close)

    # ================================================================= halt gate
    def allowed(self, intent: str, pid: str | None = None) -> bool:
        return self.allow is None or bool(self.allow(intent, pid))

    def _mode_name(self) -> str:
        return self.halt_mode_name() or "no new risk on this pair"

    def halt_mode_name(self) -> str:
        """The halt mode's name ("" when the gate's owner reports none)."""
        mode: Any = self.halt_mode() if self.halt_mode is not None else getattr(
            getattr(getattr(self.allow, "__self__", None), "halt_state", None), "mode", None)
        mode = getattr(mode, "value", mode)
        return "" if mode in (None, "", "none") else str(mode)

    def _gate(self, intent: str, pid: str | None = None) -> None:
        if self.draining:
            raise EngineError(503, "the daemon is stopping: no new operations")
        if not self.allowed(intent, pid):
            raise EngineError(409, f"halted: {self._mode_name()}")

    def _durable_gate(self) -> None:
        """No new risk while the journal cannot make its intents durable (journal.py)."""
        if self.journal is not None and not self.journal.healthy:
            raise EngineError(503, f"journal failing, no new risk: {self.journal.last_error}")

    # ================================================================= operations
    async def open_pair(self, pair_type: str, symbol: str, notional_usd: float,
                        execution: str | None = None, venues: dict[str, str] | None = None,
                        *, origin: str = "operator") -> str:
        if origin not in ("operator", "strategy"):
            raise EngineError(400, "origin must be operator or strategy", "origin")
        self._gate("open")
        self._durable_gate()
        if pair_type not in PAIR_TYPES:
            raise EngineError(400, f"type must be one of {', '.join(PAIR_TYPES)}", "type")
        execution = execution or self.cfg.default_execution
        if execution not in EXECUTIONS:
            raise EngineError(400, f"execution must be one of {', '.join(EXECUTIONS)}", "execution")
        if not 0 < notional_usd <= self.cfg.max_notional_usd:
            raise EngineError(400, f"notional_usd must be in (0, {self.cfg.max_notional_usd:g}]",
                              "notional_usd")
        keys = venue_keys(pair_type)
        defaults = {"spot": self.cfg.default_spot_venue, "perp": self.cfg.default_perp_venue,
                    "long": self.cfg.default_long_venue, "short": self.cfg.default_short_venue}
        chosen = {k: (venues or {}).get(k) or defaults[k] for k in keys}
        for k in venues or {}:
            if k not in keys:
                raise EngineError(400, f"venues.{k} is not a leg of {pair_type} "
                                       f"(expected {keys[0]!r}, {keys[1]!r})", f"venues.{k}")
        for k, v in chosen.items():
            if v not in self.venues:
                raise EngineError(400, f"unknown venue {v!r}", f"venues.{k}")
        refused = open_refusal(pair_type, symbol, chosen, ((rt.pair.id, rt.pair.legs)
                                                            for rt in self.pairs.values() if rt.pair.managed))
        if refused is not None:
            raise EngineError(refused.status, refused.message, refused.field)
        legs = make_legs(pair_type, symbol, chosen)
        meta = self._meta(legs)
        price = self._ref_price(legs)
        if price is None:
            raise EngineError(422, f"no price for {symbol}: books not ready", "symbol")
        step = max(meta[0].step, meta[1].step)
        qty = hedge.round_step(notional_usd / price, step, "down")
        now_ms = self.executor.now_ms()
        await self._refresh_borrow(legs, meta)
        try:
            check(self.hub, self.cfg, legs, qty, now_ms, brackets=self.brackets)
        except PreflightError as exc:
            raise EngineError(422, f"pre-flight refused: {exc.reason}", exc.field) from None
        pid = client_ids.new_pair_id(now_ms)
        while pid in self.pairs:
            pid = client_ids.new_pair_id(now_ms)
        pair = Pair(id=pid, type=pair_type, symbol=symbol, legs=legs, target_qty=qty,  # type: ignore[arg-type]
                    notional_usd=notional_usd, execution=execution, created_ms=now_ms,  # type: ignore[arg-type]
                    updated_ms=now_ms, op_seq=0, op_kind="open", origin=origin)  # type: ignore[arg-type]
        pair.targets = open_targets(pair, qty)
        rt = PairRuntime(pair, meta)
        rt.entry_notional = qty * price
        rt.opened_ms = now_ms
        self.pairs[pid] = rt
        self.hub.set_pair(rt.pair)
        self.executor.persist(rt)
        self.operations.journal_op(rt, "open", None)
        if self.journal is not None:
            try:
                await self.journal.barrier()   # durable before the first order (journal.py, layer 1)
            except JournalError as exc:       # fail closed: the pair ends before any order
                self.operations.apply(pair, Event.FLAT, self.executor.now_ms(),
                                      f"not opened: {exc}")
                self.executor.persist(rt)
                raise EngineError(503, f"journal not durable, nothing sent: {exc}") from None
        rt.task = asyncio.create_task(self.operations.run_op(rt, "open", pair.targets, execution))
        return pid

    async def increase(self, pid: str, notional_usd: float, execution: str | None = None) -> None:
        rt = self._get(pid)
        self._gate("increase", pid)
        self._durable_gate()
        price = self._ref_price(rt.pair.legs)
        if price is None:
            raise EngineError(422, "books not ready")
        add = hedge.round_step(notional_usd / price, max(rt.meta[0].step, rt.meta[1].step), "down")
        await self._refresh_borrow(rt.pair.legs, rt.meta)
        try:
            check(self.hub, self.cfg, rt.pair.legs, add, self.executor.now_ms(),
                  (abs(rt.exposure(0)), abs(rt.exposure(1))), brackets=self.brackets)
        except PreflightError as exc:
            raise EngineError(422, f"pre-flight refused: {exc.reason}", exc.field) from None
        new_qty = rt.pair.target_qty + add
        await self.operations.start_op(rt, "increase", Event.ADJUST,
                                       open_targets(rt.pair, new_qty), execution, new_qty)
        rt.entry_notional += add * price

    async def decrease(self, pid: str, fraction: float, execution: str | None = None) -> None:
        rt = self._get(pid)
        self._gate("decrease", pid)
        if not 0 < fraction <= 1:
            raise EngineError(400, "fraction must be in (0, 1]", "fraction")
        step = max(rt.meta[0].step, rt.meta[1].step)
        new_qty = hedge.round_step(rt.pair.target_qty * (1 - fraction), step, "nearest")
        await self.operations.start_op(rt, "decrease", Event.ADJUST,
                                       open_targets(rt.pair, new_qty), execution, new_qty)

    def decrease_now(self, pid: str, fraction: float, reason: str = "") -> OpTask:
        """`decrease(pid, fraction, "taker")` with both legs' first orders (reducing: reduceOnly
        perp, AUTO_REPAY buy / plain sell on spot) journaled and written before this returns,
        for the watchdog's hub callback. Raises EngineError as `decrease` does; returns the
        operation's task (done when the operation is; `written_ns`: the first write)."""
        rt = self._get(pid)
        self._gate("decrease", pid)
        if not 0 < fraction <= 1:
            raise EngineError(400, "fraction must be in (0, 1]", "fraction")
        step = max(rt.meta[0].step, rt.meta[1].step)
        new_qty = hedge.round_step(rt.pair.target_qty * (1 - fraction), step, "nearest")
        return self.operations.start_op_now(rt, "decrease", Event.ADJUST,
                                            open_targets(rt.pair, new_qty), new_qty, "entry",
                                            "taker", reason)

    def liquidate_now(self, pid: str, reason: str = "") -> OpTask:
        """`liquidate(pid)` with both legs' market orders written before this returns. A running
        operation, or orders of ours still live, must be cancelled (awaited) before the flatten
        orders are sized, or both could fill: then it is `liquidate` from a task (a pass later,
        `written_ns` 0). The task is done when the liquidation is."""
        rt = self._get(pid)
        if (rt.task is not None and not rt.task.done()) or rt.live_orders():
            return OpTask(self._liquidate_and_wait(pid, reason), loop=asyncio.get_running_loop(),
                          name=f"op-{pid}-liquidate")
        return self.operations.start_op_now(rt, "liquidate", Event.CLOSE, (0.0, 0.0),
                                            rt.pair.target_qty, "flatten", "market", reason)

    async def _liquidate_and_wait(self, pid: str, reason: str = "") -> None:
        await self.liquidate(pid, reason)
        task = self._get(pid).task
        if task is not None:
            await asyncio.shield(task)

    def _close_lost(self, rt: PairRuntime) -> bool:
        """A lost pair holds nothing on the venue: close books it closed and sends nothing."""
        if rt.pair.state is not State.LOST:
            return False
        self.operations.apply(rt.pair, Event.CLOSE, self.executor.now_ms(),
                              "closed with nothing sent: the pair was lost (the venue no longer "
                              "held its legs)")
        self.executor.persist(rt)
        return True

    async def close(self, pid: str, execution: str | None = None, reason: str = "") -> None:
        rt = self._get(pid)
        self._gate("close", pid)
        if self._close_lost(rt):
            return
        await self.operations.start_op(rt, "close", Event.CLOSE, (0.0, 0.0), execution,
                                       rt.pair.target_qty, reason)

    async def liquidate(self, pid: str, reason: str = "") -> None:
        rt = self._get(pid)
        if self._close_lost(rt):
            return
        if rt.task and not rt.task.done():
            rt.task.cancel()
            await asyncio.gather(rt.task, return_exceptions=True)
        await self.executor.cancel_live(rt)
        await self.operations.start_op(rt, "liquidate", Event.CLOSE, (0.0, 0.0), "market",
                                       rt.pair.target_qty, reason)

    async def rehedge(self, pair_id: str, qty: float, reduce_only: bool, reason: str = "") -> None:
        """Bring the perp to the margin liability: `qty` coins to add (> 0) to the perp's position
        or take off it (< 0). Under reduce_only (or when the halt gate refuses `rehedge_up`) an
        addition becomes a trim of the longer leg (the spot short is bought back by `qty`, with
        AUTO_REPAY). Runs as a `repair` operation (bounded like any other); returns when done."""
        rt = self._get(pair_id)
        p = rt.pair
        if not qty or not (qty == qty) or abs(qty) == float("inf"):
            raise EngineError(400, "qty must be a finite non-zero number", "qty")
        if rt.task is not None and not rt.task.done():
            raise EngineError(409, f"position {p.id} is busy ({p.op_kind} running)")
        e0, e1 = rt.exposure(0), rt.exposure(1)
        # The caller sees account-wide venue figures (all pairs on the symbol, updates that may
        # lag each other); the pair's own books are its fills and charges. Never move further
        # than the pair's own residual asks, nor against it: no churn on a stale reading.
        need = -(e0 + e1) * p.legs[1].sign          # qty the pair's own residual asks for
        if need * qty <= 0:
            return
        qty = math.copysign(min(abs(qty), abs(need)), qty)
        step = max(rt.meta[0].step, rt.meta[1].step)
        if abs(hedge.round_step(qty, step, "nearest")) < step * 0.999999:
            return
        if qty < 0:
            self._gate("rehedge_down", pair_id)
            targets = (e0, e1 + qty * p.legs[1].sign)
        elif reduce_only or not self.allowed("rehedge_up", pair_id):
            self._gate("rehedge_down", pair_id)
            # the longer leg is leg 0 (the perp is short of it): move it toward zero by qty
            reduce = min(qty, abs(e0))
            targets = (e0 - reduce * (1 if e0 > 0 else -1), e1)
        else:
            targets = (e0, e1 + qty * p.legs[1].sign)
        size = hedge.round_step(max(abs(targets[0]), abs(targets[1])), step, "nearest")
        await self.operations.start_op(rt, "repair", Event.ADJUST, targets, "taker", size, reason)
        if rt.task is not None:
            await asyncio.shield(rt.task)

    async def detach(self, pid: str) -> None:
        rt = self._get(pid)
        if rt.task and not rt.task.done():
            rt.task.cancel()
            await asyncio.gather(rt.task, return_exceptions=True)
        try:
            self.operations.apply(rt.pair, Event.DETACH, self.executor.now_ms(),
                                  "detached by operator")
        except IllegalTransition as exc:
            raise EngineError(409, str(exc)) from None
        self.executor.persist(rt)

    def exposures(self, pair: Pair) -> tuple[float, float] | None:
        """The pair's signed exposure per leg as its books hold them (the watchdog's claims on
        the netted venue figures); None for a pair this engine does not hold."""
        rt = self.pairs.get(pair.id)
        return None if rt is None else (rt.exposure(0), rt.exposure(1))

    async def wait_idle(self, pid: str, timeout: float = 60.0) -> None:
        rt = self._get(pid)
        if rt.task is not None:
            await asyncio.wait_for(asyncio.shield(rt.task), timeout)

    # ================================================================= views
    def view(self, pid: str, shares: dict[tuple[str, int], tuple[float, float]] | None = None
             ) -> dict[str, Any]:
        """`shares`: `venue_shares` of every pair, when the caller views them all."""
        rt = self._get(pid)
        if shares is None:
            shares = venue_shares(self.pairs, self.hub)
        p = rt.pair
        marks = tuple(self.executor.mark(rt, i) for i in (0, 1))
        held = max(1.0, self.executor.now_ms() - rt.opened_ms)
        pnl = pair_pnl(rt.books, marks, rt.entry_notional, held)  # type: ignore[arg-type]
        legs = []
        for i, leg in enumerate(p.legs):
            book = rt.books[i]
            legs.append({"venue": leg.venue, "market": leg.market, "side": leg.side,
                         "symbol": leg.symbol, "qty": abs(book.qty), "signed_qty": book.qty,
                         "avg_price": book.avg_price, "target_qty": abs(p.targets[i]),
                         "liq_distance_pct": self._liq_distance(rt, i),
                         "interest_coin": book.interest_coin,
                         "fee_coin": book.fee_coin, "fee_other": dict(book.fee_other),
                         "blocked": rt.blocked_reason[i] or None,
                         # netted venue state: the venue's figure, and this pair's share of it
                         "venue_qty": shares[(p.id, i)][1] if (p.id, i) in shares else None,
                         "venue_share": shares[(p.id, i)][0] if (p.id, i) in shares else None})
        tol = self.executor.tolerance(rt)
        return {"id": p.id, "type": p.type, "symbol": p.symbol, "state": p.state.value,
                "origin": p.origin, "execution": p.execution, "reason": p.reason, "target_qty": p.target_qty,
                "notional_usd": p.notional_usd, "legs": legs, "residual_base": rt.residual(),
                "residual_tolerance": tol, "hedged": abs(rt.residual()) <= tol,
                "operation": {"seq": p.op_seq, "kind": p.op_kind,
                              "running": bool(rt.task and not rt.task.done())},
                "orders_sent": len(rt.orders), "created_ms": p.created_ms,
                # a closed pair: the coins left on it, by leg (empty = closed flat)
                "dust": [] if p.managed else rt.dust(),
                "updated_ms": p.updated_ms,
                "pnl": {"funding": pnl.funding, "interest": pnl.interest, "fees": pnl.fees,
                        "basis": pnl.basis, "realised": pnl.realised,
                        "unrealised": pnl.unrealised, "net": pnl.net,
                        "realised_net_apr": pnl.realised_net_apr}}

    def status_fields(self) -> dict[str, Any]:
        """For the daemon's /v1/status: what recovery found at start, recent alerts, journal."""
        j = self.journal
        return {"unmanaged": {"positions": self.holdings.get("unmanaged", []),
                              "orders": self.holdings.get("unmanaged_orders", [])},
                "legging": {
            "pairs": len(self.pairs),
            "managed": sum(1 for rt in self.pairs.values() if rt.pair.managed),
            "recovery": self.recovery_report, "alerts": self.alerts[-10:],
            "lost": sorted(pid for pid, rt in self.pairs.items()
                           if rt.pair.state is State.LOST),
            "reconciliation": self.holdings, "drain": self.drain_report,
            "journal": None if j is None else {"commits": j.commits, "errors": j.errors,
                                               "last_error": j.last_error}}}

    def views(self) -> list[dict[str, Any]]:
        shares = venue_shares(self.pairs, self.hub)
        return [self.view(pid, shares) for pid in sorted(self.pairs)]

    async def _refresh_borrow(self, legs: tuple[Any, Any], meta: tuple[LegMeta, LegMeta]) -> None:
        """Max borrowable and the current rate, fresh from the venue, before a borrowing open."""
        for i, leg in enumerate(legs):
            if not leg.borrows:
                continue
            venue = self.venues[leg.venue]
            asset = meta[i].base
            try:
                amount = await venue.max_borrowable(asset)
                rate_fn = getattr(venue, "borrow_rate", None)
                rate = await rate_fn(asset) if rate_fn is not None else None
            except Exception as exc:
                raise EngineError(422, f"pre-flight refused: borrow info for {asset} on "
                                       f"{leg.venue} unavailable: {exc}") from None
            prev = self.hub.borrow.get((leg.venue, asset))
            hourly = rate if rate is not None else (prev.hourly_rate if prev else None)
            if hourly is None:
                continue      # no rate known: the pre-flight check refuses with the reason
            self.hub.set_borrow(Borrow(venue=leg.venue, asset=asset, hourly_rate=hourly,
                                       max_borrowable=amount, ts_ms=self.executor.now_ms()))

    # ================================================================= helpers
    def _get(self, pid: str) -> PairRuntime:
        rt = self.pairs.get(pid)
        if rt is None:
            raise EngineError(404, f"no position {pid!r}", "id")
        return rt

    def _meta(self, legs: tuple[Any, Any]) -> tuple[LegMeta, LegMeta]:
        out = []
        for leg in legs:
            inst = self.hub.instruments.get(leg_key(leg))
            if inst is None:
                raise EngineError(422, f"{leg.venue} does not list {leg.symbol} ({leg.market})",
                                  "symbol")
            out.append(LegMeta(base=inst.base, quote=inst.quote, step=inst.step_size,
                               min_qty=inst.min_qty, tick=inst.tick_size,
                               min_notional=inst.min_notional))
        return out[0], out[1]

    def _ref_price(self, legs: tuple[Any, Any]) -> float | None:
        for leg in legs:
            book = self.hub.books.get(leg_key(leg))
            if book is not None and book.mid() is not None:
                return book.mid()
        return None

    def _tiers(self, venue: str, symbol: str) -> tuple[Any, ...] | None:
        tiers = self.brackets(venue, symbol) if self.brackets is not None else None
        return tuple(tiers) if tiers else None

    def _liq_distance(self, rt: PairRuntime, i: int) -> float | None:
        leg = rt.pair.legs[i]
        if self.liq_distance_source is not None:
            # The watchdog's figure: whole cross-margin account, tiers and the venue's own, fresh.
            watched = self.liq_distance_source(rt.pair.id, leg.market, leg.venue)
            if watched is not None:
                return watched
        qty = rt.exposure(i)
        price = self.executor.mark(rt, i)
        if not qty or not price:
            return None
        if leg.market == "perp":
            pos = self.hub.positions.get((leg.venue, leg.symbol))
            if pos is not None and pos.liquidation_price > 0:
                return abs(price - pos.liquidation_price) / price * 100.0
            w = self.hub.balances.get((leg.venue, "futures", rt.meta[i].quote))
            return perp_liq_distance_pct((w.free + w.locked) if w else 0.0, qty, price,
                                         brackets=self._tiers(leg.venue, leg.symbol))
        if not leg.borrows:
            return 100.0
        # The whole cross-margin account as the venue holds it, through the one margin maths;
        # before the venue reports the coin, this pair's short alone on the margin wallet.
        bar = liquidation_bar(self.hub, leg.venue)
        assets, priced = margin_assets(self.hub, leg.venue)
        if priced and any(a.asset == rt.meta[i].base for a in assets):
            return distance_pct(margin_asset_distance(assets, rt.meta[i].base, bar))
        usdt = self.hub.balances.get((leg.venue, "margin", rt.meta[i].quote))
        held = (usdt.free + usdt.locked) if usdt else 0.0
        return spot_short_liq_distance_pct(held - abs(qty) * price, abs(qty), price, bar=bar)


"""The legging engine: pre-flight, both legs at once, hedge reconciliation, operations, recovery.

One asyncio task per running operation per pair. Fills arrive through the hub (ORDER updates,
subscriber priority 20, after the watchdog) and through REST acknowledgements; both fold into the
pair's order table idempotently (legging_runtime). Decisions are the pure `hedge.decide`; the
engine only executes them, with bounded attempts and backoff, so no pair can loop or churn.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from connectors.backoff import Backoff
from daemon import client_ids, hedge
from daemon.accounting import apply_funding, apply_interest, pair_pnl
from daemon.hub import (FUNDING_FEE, INTEREST, ORDER, Borrow, FundingFee, Hub, InterestCharge,
                        OrderUpdate)
from daemon.journal import Journal
from daemon.legging_config import LeggingConfig
from daemon.legging_exec import Executor, OpAborted
from daemon.legging_preflight import PreflightError, check, leg_key
from daemon.legging_runtime import LegMeta, OrderTrack, PairRuntime
from daemon.legging_venue import LegVenue
from daemon.pairs import (EXECUTIONS, PAIR_TYPES, Event, IllegalTransition, Pair, State,
                          make_legs, open_targets, venue_keys)

log = logging.getLogger("basisd.legging")


class EngineError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


class LeggingEngine(Executor):
    def __init__(self, hub: Hub, venues: Mapping[str, LegVenue], cfg: LeggingConfig,
                 journal: Journal | None = None, *, clock: Callable[[], float] = time.time,
                 allow: Callable[[str, str | None], bool] | None = None,
                 halt_mode: Callable[[], Any] | None = None) -> None:
        """`allow(intent, pair_id)`: the watchdog's halt gate (`Watchdog.allows`); intents are
        open, increase, decrease, close, liquidate, detach, rehedge_up, rehedge_down. A refusal
        answers 409 "halted: <mode>" (`halt_mode()` or the gate's owner's `halt_state.mode`)."""
        self.hub = hub
        self.allow = allow
        # (pair id, market, venue) -> liquidation distance in % (set by the daemon: the watchdog)
        self.liq_distance_source: Callable[[str, str, str], float | None] | None = None
        self.halt_mode = halt_mode
        self.venues = venues
        self.cfg = cfg
        self.journal = journal
        self.clock = clock
        self.pairs: dict[str, PairRuntime] = {}
        self.recovery_report: dict[str, Any] = {}
        self.alerts: list[str] = []
        self._unsubscribe = hub.subscribe(self._on_hub, priority=20)

    # ================================================================= lifecycle
    async def start(self) -> None:
        """Open the journal, load pairs, reconcile them with the venues, resume operations."""
        if self.journal is None:
            return
        state = await asyncio.to_thread(self.journal.open)
        await self._recover(state)

    def _apply(self, pair: Any, event: Event, now_ms: int, reason: str = "") -> State:
        """Every state change goes through here, so the hub's copy and its subscribers follow."""
        new = pair.apply(event, now_ms, reason)
        self.hub.set_pair(pair)
        return new

    async def stop(self) -> None:
        tasks = [rt.task for rt in self.pairs.values() if rt.task and not rt.task.done()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._unsubscribe()
        if self.journal is not None:
            for rt in self.pairs.values():
                self._persist(rt)
            await asyncio.to_thread(self.journal.close)

    # ================================================================= halt gate
    def allowed(self, intent: str, pid: str | None = None) -> bool:
        return self.allow is None or bool(self.allow(intent, pid))

    def _mode_name(self) -> str:
        mode: Any = None
        if self.halt_mode is not None:
            mode = self.halt_mode()
        else:
            owner = getattr(self.allow, "__self__", None)
            mode = getattr(getattr(owner, "halt_state", None), "mode", None)
        mode = getattr(mode, "value", mode)
        return str(mode) if mode not in (None, "", "none") else "no new risk on this pair"

    def _gate(self, intent: str, pid: str | None = None) -> None:
        if not self.allowed(intent, pid):
            raise EngineError(409, f"halted: {self._mode_name()}")

    # ================================================================= operations
    async def open_pair(self, pair_type: str, symbol: str, notional_usd: float,
                        execution: str | None = None, venues: dict[str, str] | None = None,
                        *, origin: str = "operator") -> str:
        if origin not in ("operator", "strategy"):
            raise EngineError(400, "origin must be operator or strategy", "origin")
        self._gate("open")
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
        legs = make_legs(pair_type, symbol, chosen)
        meta = self._meta(legs)
        price = self._ref_price(legs)
        if price is None:
            raise EngineError(422, f"no price for {symbol}: books not ready", "symbol")
        step = max(meta[0].step, meta[1].step)
        qty = hedge.round_step(notional_usd / price, step, "down")
        now_ms = self._now_ms()
        await self._refresh_borrow(legs, meta)
        try:
            check(self.hub, self.cfg, legs, qty, now_ms)
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
        self._persist(rt)
        self._journal_op(rt, "open", None)
        if self.journal is not None:
            await self.journal.barrier()   # durable before the first order (journal.py, layer 1)
        rt.task = asyncio.create_task(self._run_op(rt, "open", pair.targets, execution))
        return pid

    async def increase(self, pid: str, notional_usd: float, execution: str | None = None) -> None:
        rt = self._get(pid)
        self._gate("increase", pid)
        price = self._ref_price(rt.pair.legs)
        if price is None:
            raise EngineError(422, "books not ready")
        add = hedge.round_step(notional_usd / price, max(rt.meta[0].step, rt.meta[1].step), "down")
        await self._refresh_borrow(rt.pair.legs, rt.meta)
        try:
            check(self.hub, self.cfg, rt.pair.legs, add, self._now_ms(),
                  (abs(rt.exposure(0)), abs(rt.exposure(1))))
        except PreflightError as exc:
            raise EngineError(422, f"pre-flight refused: {exc.reason}", exc.field) from None
        new_qty = rt.pair.target_qty + add
        await self._start_op(rt, "increase", Event.ADJUST, open_targets(rt.pair, new_qty),
                             execution, new_qty)
        rt.entry_notional += add * price

    async def decrease(self, pid: str, fraction: float, execution: str | None = None) -> None:
        rt = self._get(pid)
        self._gate("decrease", pid)
        if not 0 < fraction <= 1:
            raise EngineError(400, "fraction must be in (0, 1]", "fraction")
        step = max(rt.meta[0].step, rt.meta[1].step)
        new_qty = hedge.round_step(rt.pair.target_qty * (1 - fraction), step, "nearest")
        await self._start_op(rt, "decrease", Event.ADJUST, open_targets(rt.pair, new_qty),
                             execution, new_qty)

    async def close(self, pid: str, execution: str | None = None) -> None:
        rt = self._get(pid)
        self._gate("close", pid)
        await self._start_op(rt, "close", Event.CLOSE, (0.0, 0.0), execution, rt.pair.target_qty)

    async def liquidate(self, pid: str) -> None:
        rt = self._get(pid)
        if rt.task and not rt.task.done():
            rt.task.cancel()
            await asyncio.gather(rt.task, return_exceptions=True)
        await self._cancel_live(rt)
        await self._start_op(rt, "liquidate", Event.CLOSE, (0.0, 0.0), "market",
                             rt.pair.target_qty)

    async def rehedge(self, pair_id: str, qty: float, reduce_only: bool) -> None:
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
        await self._start_op(rt, "repair", Event.ADJUST, targets, "taker", size)
        if rt.task is not None:
            await asyncio.shield(rt.task)

    async def detach(self, pid: str) -> None:
        rt = self._get(pid)
        if rt.task and not rt.task.done():
            rt.task.cancel()
            await asyncio.gather(rt.task, return_exceptions=True)
        try:
            self._apply(rt.pair, Event.DETACH, self._now_ms(), "detached by operator")
        except IllegalTransition as exc:
            raise EngineError(409, str(exc)) from None
        self._persist(rt)

    async def wait_idle(self, pid: str, timeout: float = 60.0) -> None:
        rt = self._get(pid)
        if rt.task is not None:
            await asyncio.wait_for(asyncio.shield(rt.task), timeout)

    # ================================================================= views
    def view(self, pid: str) -> dict[str, Any]:
        rt = self._get(pid)
        p = rt.pair
        marks = tuple(self._mark(rt, i) for i in (0, 1))
        held = max(1.0, self._now_ms() - rt.opened_ms)
        pnl = pair_pnl(rt.books, marks, rt.entry_notional, held)  # type: ignore[arg-type]
        legs = []
        for i, leg in enumerate(p.legs):
            book = rt.books[i]
            legs.append({"venue": leg.venue, "market": leg.market, "side": leg.side,
                         "symbol": leg.symbol, "qty": abs(book.qty), "signed_qty": book.qty,
                         "avg_price": book.avg_price, "target_qty": abs(p.targets[i]),
                         "liq_distance_pct": self._liq_distance(rt, i),
                         "interest_coin": book.interest_coin,
                         "blocked": rt.blocked_reason[i] or None})
        tol = self._tolerance(rt)
        return {"id": p.id, "type": p.type, "symbol": p.symbol, "state": p.state.value,
                "origin": p.origin, "execution": p.execution, "reason": p.reason, "target_qty": p.target_qty,
                "notional_usd": p.notional_usd, "legs": legs, "residual_base": rt.residual(),
                "residual_tolerance": tol, "hedged": abs(rt.residual()) <= tol,
                "operation": {"seq": p.op_seq, "kind": p.op_kind,
                              "running": bool(rt.task and not rt.task.done())},
                "orders_sent": len(rt.orders), "created_ms": p.created_ms,
                "updated_ms": p.updated_ms,
                "pnl": {"funding": pnl.funding, "interest": pnl.interest, "fees": pnl.fees,
                        "basis": pnl.basis, "realised": pnl.realised,
                        "unrealised": pnl.unrealised, "net": pnl.net,
                        "realised_net_apr": pnl.realised_net_apr}}

    def status_fields(self) -> dict[str, Any]:
        """For the daemon's /v1/status: what recovery found at start, recent alerts, journal."""
        j = self.journal
        return {"legging": {
            "pairs": len(self.pairs),
            "managed": sum(1 for rt in self.pairs.values() if rt.pair.managed),
            "recovery": self.recovery_report, "alerts": self.alerts[-10:],
            "journal": None if j is None else {"commits": j.commits, "errors": j.errors,
                                               "last_error": j.last_error}}}

    def views(self) -> list[dict[str, Any]]:
        return [self.view(pid) for pid in sorted(self.pairs)]

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
                                       max_borrowable=amount, ts_ms=self._now_ms()))

    # ================================================================= op machinery
    def _get(self, pid: str) -> PairRuntime:
        rt = self.pairs.get(pid)
        if rt is None:
            raise EngineError(404, f"no position {pid!r}", "id")
        return rt

    async def _start_op(self, rt: PairRuntime, kind: str, event: Event,
                        targets: tuple[float, float], execution: str | None,
                        new_qty: float) -> None:
        p = rt.pair
        if rt.task and not rt.task.done():
            raise EngineError(409, f"position {p.id} is busy ({p.op_kind} running)")
        try:
            self._apply(p, event, self._now_ms(), "")
        except IllegalTransition as exc:
            raise EngineError(409, str(exc)) from None
        p.op_seq += 1
        p.op_kind = kind
        p.targets = targets
        p.target_qty = new_qty
        rt.blocked = [False, False]
        rt.blocked_reason = ["", ""]
        rt.op_orders = 0
        self._persist(rt)
        self._journal_op(rt, kind, None)
        rt.task = asyncio.create_task(self._run_op(rt, kind, targets, execution or p.execution))

    async def _run_op(self, rt: PairRuntime, kind: str, targets: tuple[float, float],
                      execution: str, resume: bool = False) -> None:
        p = rt.pair
        # This task's own context: every log line of the operation names its pair and symbol.
        structlog.contextvars.bind_contextvars(position_id=p.id, symbol=p.symbol, operation=kind)
        result = "error"
        try:
            try:
                async with asyncio.timeout(self.cfg.op_budget_s):
                    if not resume:
                        await self._execute(rt, targets, execution)
                    decision = await self._reconcile(rt)
            except (TimeoutError, OpAborted) as exc:
                await self._cancel_live(rt)
                decision = hedge.Decision(hedge.FAIL, reason=f"operation stopped: {exc!r}")
            result = await self._finish(rt, kind, decision)
        except asyncio.CancelledError:
            result = "cancelled"
            raise
        except Exception as exc:  # an engine bug must not leave the pair silently unmanaged
            log.exception("legging op crashed", extra={"pair": p.id})
            self._alert(rt, f"{kind} crashed: {exc!r}")
            try:
                if p.state not in (State.FAILED, State.CLOSED, State.DETACHED):
                    self._apply(p, Event.FAIL, self._now_ms(), f"{kind} crashed: {exc!r}")
            except IllegalTransition:
                pass
        finally:
            self._persist(rt)
            self._journal_op(rt, kind, result)

    async def _execute(self, rt: PairRuntime, targets: tuple[float, float], execution: str) -> None:
        deltas = (targets[0] - rt.exposure(0), targets[1] - rt.exposure(1))
        if execution == "market":
            await self._fire(rt, deltas, "flatten", "market")
        elif execution == "taker":
            await self._fire(rt, deltas, "entry", "taker")
        elif execution == "chase":
            await self._chase(rt, deltas)
        else:
            clips = self.cfg.batch_clips
            for k in range(clips):
                left = clips - k
                d = tuple(hedge.round_step((targets[i] - rt.exposure(i)) / left,
                                           rt.meta[i].step, "nearest") for i in (0, 1))
                if self.cfg.batch_mode == "chase":
                    await self._chase(rt, d)  # type: ignore[arg-type]
                else:
                    await self._fire(rt, d, "entry", "taker")  # type: ignore[arg-type]
                dec = await self._reconcile(rt, allow_topup=False)
                if dec.action == hedge.FAIL or rt.blocked[0] or rt.blocked[1]:
                    return
                if k + 1 < clips:
                    await asyncio.sleep(self.cfg.batch_pause_s)

    async def _reconcile(self, rt: PairRuntime, allow_topup: bool = True) -> hedge.Decision:
        cfg = self.cfg
        counts = {hedge.COMPLETE: 0, hedge.TRIM: 0, hedge.TOPUP: 0}
        out_since: float | None = None
        backoff = Backoff(base_s=cfg.backoff_base_s, cap_s=cfg.backoff_cap_s, jitter=False)
        backoff_until = 0.0
        tol = self._tolerance(rt)
        while True:
            now = self.clock()
            if abs(rt.residual()) > tol:
                out_since = out_since if out_since is not None else now
            else:
                out_since = None
            views = tuple(hedge.LegView(rt.exposure(i), rt.pair.targets[i], rt.inflight(i),
                                        rt.blocked[i], rt.meta[i].step, rt.meta[i].min_qty)
                          for i in (0, 1))
            d = hedge.decide(hedge.HedgeInput(
                legs=views, tolerance=tol, now=now, out_since=out_since,  # type: ignore[arg-type]
                complete_attempts=counts[hedge.COMPLETE], trim_attempts=counts[hedge.TRIM],
                topup_attempts=counts[hedge.TOPUP], backoff_until=backoff_until,
                complete_budget_s=cfg.complete_budget_s,
                max_complete_attempts=cfg.max_complete_attempts,
                max_trim_attempts=cfg.max_trim_attempts,
                max_topup_attempts=cfg.max_topup_attempts, allow_topup=allow_topup))
            if d.action in (hedge.DONE, hedge.FAIL):
                return d
            if d.action == hedge.WAIT:
                live = rt.live_orders()
                if live:
                    await self._await_final(rt, live)
                else:
                    await asyncio.sleep(max(0.0, d.wait_s))
                continue
            counts[d.action] += 1
            before = abs(rt.residual()), rt.exposure(0), rt.exposure(1)
            if d.action == hedge.TOPUP:
                await self._fire(rt, d.deltas, "entry", "taker")
            else:
                kind = "complete" if d.action == hedge.COMPLETE else "trim"
                await self._fire_leg(rt, d.leg, d.delta, kind, "taker")
            if (abs(rt.residual()), rt.exposure(0), rt.exposure(1)) == before:
                backoff_until = self.clock() + backoff.next_delay()   # nothing moved: back off
            else:
                backoff.reset()

    async def _finish(self, rt: PairRuntime, kind: str, d: hedge.Decision) -> str:
        p = rt.pair
        tol = self._tolerance(rt)
        now = self._now_ms()
        hedged = abs(rt.residual()) <= tol
        flat = abs(rt.exposure(0)) <= tol and abs(rt.exposure(1)) <= tol
        reasons = "; ".join(r for r in rt.blocked_reason if r)
        if d.action == hedge.FAIL or not hedged:
            self._alert(rt, f"{kind} failed: {d.reason} {reasons}".strip())
            self._apply(p, Event.FAIL if p.state is not State.OPENING or not flat else Event.FLAT, now,
                    f"{kind}: {d.reason} {reasons}".strip())
            return "failed"
        if p.state is State.OPENING:
            if flat:
                self._apply(p, Event.FLAT, now, f"open abandoned, flat: {reasons or d.reason}")
                return "flat"
            short = abs(abs(rt.exposure(1)) - p.target_qty) > tol
            self._apply(p, Event.HEDGED, now, "opened short of target" if short else "")
            return "open"
        if p.state is State.CLOSING or (p.state is State.ADJUSTING and p.target_qty <= tol):
            if flat:
                await self._repay_dust(rt)
                self._apply(p, Event.FLAT, now, "")
                return "closed"
            self._apply(p, Event.FAIL, now, f"{kind} incomplete (hedged): {reasons}")
            self._alert(rt, f"{kind} incomplete, pair hedged but not flat")
            return "failed"
        self._apply(p, Event.HEDGED, now, "")
        return "open"

    async def _repay_dust(self, rt: PairRuntime) -> None:
        """Reverse basis close: AUTO_REPAY repaid what was bought. Interest the venue charged that
        we never saw (or below the lot step) can remain: buy the smallest tradeable lot with
        AUTO_REPAY (a coin dust remains, far inside tolerance) and repay what is left."""
        leg = rt.pair.legs[0]
        if not leg.borrows:
            return
        others = [o for o in self.pairs.values() if o is not rt and o.pair.managed
                  and o.pair.legs[0].borrows and o.pair.legs[0].venue == leg.venue
                  and o.meta[0].base == rt.meta[0].base]
        if others:
            return
        venue = self.venues[leg.venue]
        asset = rt.meta[0].base
        refresh = getattr(venue, "refresh_balances", None)
        try:
            if refresh is not None:
                await refresh()
            bal = self.hub.balances.get((leg.venue, "margin", asset))
            if bal is None or bal.liability <= 1e-12:
                return
            if bal.free + 1e-12 < bal.liability:
                meta = rt.meta[0]
                price = self._touch(rt, 0, "BUY", passive=False) or rt.books[0].avg_price
                need = max(bal.liability - bal.free, meta.min_qty,
                           (meta.min_notional * 1.05 / price) if price else 0.0)
                qty = hedge.round_step(need, meta.step, "up")
                await self._fire_leg(rt, 0, qty, "complete", "taker")
                if refresh is not None:
                    await refresh()
                bal = self.hub.balances.get((leg.venue, "margin", asset))
            if bal is not None and bal.liability > 1e-12 and bal.free > 0:
                await venue.repay(asset, min(bal.free, bal.liability))
                if refresh is not None:
                    await refresh()
        except OpAborted:
            self._alert(rt, "order budget spent before the remaining liability was repaid")
        except Exception as exc:
            self._alert(rt, f"repay of remaining liability failed: {exc!r}")

    # ================================================================= hub events
    def _on_hub(self, kind: str, item: Any) -> None:
        if kind is ORDER:
            u: OrderUpdate = item
            if not u.client_id.startswith(client_ids.PREFIX):
                return
            parsed = client_ids.parse(u.client_id)
            if parsed is None:
                return
            rt = self.pairs.get(parsed.pair)
            if rt is None or not rt.pair.managed:
                return
            track = rt.orders.get(u.client_id) or self._adopt(rt, u, parsed)
            self._fold(rt, track, u)
            self._persist(rt)
        elif kind is FUNDING_FEE:
            self._on_funding(item)
        elif kind is INTEREST:
            self._on_interest(item)

    def _adopt(self, rt: PairRuntime, u: OrderUpdate, parsed: client_ids.ClientId) -> OrderTrack:
        """One of our orders the runtime does not know (sent before a crash): take it in."""
        leg = rt.pair.legs[parsed.leg]
        track = OrderTrack(client_id=u.client_id, venue=leg.venue, market=leg.market,
                           symbol=leg.symbol, leg=parsed.leg, op=parsed.op, kind=parsed.kind,
                           side=u.side, qty=u.qty, price=u.price or None, status="UNKNOWN",
                           ts_ms=u.ts_ms)
        rt.orders[u.client_id] = track
        rt.bump_attempt_floor(parsed.op, parsed.leg, parsed.attempt)
        return track

    def _share(self, legs: list[tuple[PairRuntime, int]], amount: float
               ) -> list[tuple[PairRuntime, int, float]]:
        """Split a venue-wide charge by leg size. A MARGIN_BUY order borrows (and is charged the
        first hour's interest) before its fill is reported, so legs still at zero are weighed by
        the target of their running operation rather than dropping the charge."""
        total = sum(abs(rt.exposure(i)) for rt, i in legs)
        if total > 0:
            return [(rt, i, amount * abs(rt.exposure(i)) / total) for rt, i in legs]
        total = sum(abs(rt.pair.targets[i]) for rt, i in legs)
        if total <= 0:
            return []
        return [(rt, i, amount * abs(rt.pair.targets[i]) / total) for rt, i in legs]

    def _on_funding(self, fee: FundingFee) -> None:
        legs = [(rt, i) for rt in self.pairs.values() if rt.pair.managed
                for i, leg in enumerate(rt.pair.legs)
                if leg.market == "perp" and leg.venue == fee.venue and leg.symbol == fee.symbol]
        for rt, i, amount in self._share(legs, fee.amount):
            apply_funding(rt.books[i], amount)
            if self.journal is not None:
                self.journal.put("funding", {"pair_id": rt.pair.id, "venue": fee.venue,
                                             "symbol": fee.symbol, "amount": amount,
                                             "ts_ms": fee.ts_ms})
            self._persist(rt)

    def _on_interest(self, charge: InterestCharge) -> None:
        legs = [(rt, 0) for rt in self.pairs.values() if rt.pair.managed
                and rt.pair.legs[0].borrows and rt.pair.legs[0].venue == charge.venue
                and rt.meta[0].base == charge.asset]
        for rt, i, coin in self._share(legs, charge.amount):
            mark = self._mark(rt, i) or rt.books[i].avg_price
            apply_interest(rt.books[i], coin, mark)
            if self.journal is not None:
                self.journal.put("interest", {"pair_id": rt.pair.id, "venue": charge.venue,
                                              "asset": charge.asset, "coin": coin, "mark": mark,
                                              "ts_ms": charge.ts_ms})
            self._persist(rt)
            self._notify(rt)

    # ================================================================= helpers
    def _persist(self, rt: PairRuntime) -> None:
        if self.journal is not None:
            self.journal.put("pair", rt.journal_row())

    def _journal_op(self, rt: PairRuntime, action: str, result: str | None) -> None:
        if self.journal is not None:
            now = self._now_ms()
            self.journal.put("op", {"pair_id": rt.pair.id, "op": rt.pair.op_seq, "action": action,
                                    "started_ms": now, "ended_ms": now if result else None,
                                    "result": result, "doc": None})

    def _alert(self, rt: PairRuntime, message: str) -> None:
        text = f"pair {rt.pair.id}: {message}"
        rt.alerts.append(text)
        self.alerts.append(text)
        del self.alerts[:-100]
        log.warning("ALERT %s", text)

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

    def _mark(self, rt: PairRuntime, i: int) -> float | None:
        leg = rt.pair.legs[i]
        m = self.hub.marks.get((leg.venue, leg.symbol))
        if m is not None:
            return m.mark_price
        book = self.hub.books.get(leg_key(leg))
        return book.mid() if book is not None else None

    def _liq_distance(self, rt: PairRuntime, i: int) -> float | None:
        from daemon.legging_preflight import perp_liq_distance_pct, spot_short_liq_distance_pct
        leg = rt.pair.legs[i]
        if self.liq_distance_source is not None:
            # The watchdog's figure: whole cross-margin account, tiers and the venue's own, fresh.
            watched = self.liq_distance_source(rt.pair.id, leg.market, leg.venue)
            if watched is not None:
                return watched
        qty = abs(rt.exposure(i))
        price = self._mark(rt, i)
        if not qty or not price:
            return None
        if leg.market == "perp":
            pos = self.hub.positions.get((leg.venue, leg.symbol))
            if pos is not None and pos.liquidation_price > 0:
                return abs(price - pos.liquidation_price) / price * 100.0
            w = self.hub.balances.get((leg.venue, "futures", rt.meta[i].quote))
            return perp_liq_distance_pct((w.free + w.locked) if w else 0.0, qty, price)
        if not leg.borrows:
            return 100.0
        usdt = self.hub.balances.get((leg.venue, "margin", rt.meta[i].quote))
        acct = self.hub.margin_accounts.get(leg.venue)
        if acct is not None and acct.margin_level > 0:
            # ML scales as 1/P: distance to the liquidation bar
            return (acct.margin_level / acct.force_liquidation_bar - 1.0) * 100.0
        # the margin wallet holds collateral + sale proceeds: ML(P) = assets / (q P)
        assets = (usdt.free + usdt.locked) if usdt else 0.0
        return spot_short_liq_distance_pct(assets - qty * price, qty, price)

    # ================================================================= recovery
    async def _recover(self, state: dict[str, Any]) -> None:
        from daemon.legging_recovery import recover
        self.recovery_report = await recover(self, state)

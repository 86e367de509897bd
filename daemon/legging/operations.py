"""The legging engine's operation machinery: one task per operation, bounded reconciliation.

`start_op` moves the pair's state machine and starts `run_op`; the run executes the legs
(taker / chase / batches / market) through the `OrderExecutor`, then folds fills into
`hedge.decide` until the pair is hedged, failed or out of budget, and `finish` applies the
outcome. Every attempt is bounded (counts, budget, backoff), so no pair can loop or churn. The
public operations are `LeggingEngine`'s (engine.py); order sending is orders.py.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import structlog

from connectors.transport.backoff import Backoff
from daemon.legging import hedge
from daemon.legging.config import LeggingConfig
from daemon.legging.orders import OpAborted, OrderExecutor
from daemon.legging.runtime import PairRuntime
from daemon.core.pairs import Event, IllegalTransition, State

log = logging.getLogger("basisd.legging")


class EngineError(Exception):

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


class OpTask(asyncio.Task):  # type: ignore[type-arg]
    """An operation's task that knows when its first request was written (perf_counter_ns;
    0 = none was written before the task was handed over)."""

    written_ns: int = 0


class Operations:
    """Runs the operations of the pairs in `pairs` (the engine's map, shared), sending through
    `executor`. `alerts`: the engine-wide alert list (the last 100). `cfg` is replaced on a
    reload (`LeggingEngine.cfg`)."""

    def __init__(self, executor: OrderExecutor, pairs: dict[str, PairRuntime],
                 cfg: LeggingConfig) -> None:
        self.executor = executor
        self.pairs = pairs
        self.cfg = cfg
        self.alerts: list[str] = []

    def apply(self, pair: Any, event: Event, now_ms: int, reason: str = "") -> State:
        """Every state change goes through here, so the hub's copy and its subscribers follow."""
        new = pair.apply(event, now_ms, reason)
        self.executor.hub.set_pair(pair)
        rt = self.pairs.get(pair.id)
        if new is State.CLOSED and rt is not None:
            self._record_dust(rt, now_ms)
        return new

    def _record_dust(self, rt: PairRuntime, now_ms: int) -> None:
        """A closed pair ends flat, or with a journaled account of the coins left on it."""
        dust = rt.dust()
        journal = self.executor.journal
        if not dust or journal is None:
            return
        for d in dust:
            d["value"] = d["amount"] * (self.executor.mark(rt, d["leg"]) or 0.0)
        journal.record_state(f"dust:{rt.pair.id}", {"pair_id": rt.pair.id, "ts_ms": now_ms,
                                                    "dust": dust}, now_ms)

    # ================================================================= op machinery
    async def start_op(self, rt: PairRuntime, kind: str, event: Event,
                       targets: tuple[float, float], execution: str | None,
                       new_qty: float, reason: str = "") -> None:
        self._begin_op(rt, kind, event, targets, new_qty, reason)
        rt.task = asyncio.create_task(self.run_op(rt, kind, targets,
                                                  execution or rt.pair.execution))

    def resume_op(self, rt: PairRuntime) -> None:
        """Recovery: the journaled operation goes on toward its targets (at market for a
        liquidation, taker otherwise), with a fresh order budget."""
        rt.op_orders = 0
        p = rt.pair
        rt.task = asyncio.create_task(self.run_op(
            rt, p.op_kind, p.targets, "market" if p.op_kind == "liquidate" else "taker"))

    def start_op_now(self, rt: PairRuntime, kind: str, event: Event,
                     targets: tuple[float, float], new_qty: float, fire_kind: str,
                     style: str, reason: str = "") -> OpTask:
        """`start_op` + the operation's first `fire`, without an await: the pair moves, both
        legs' orders are journaled write-ahead and written before this returns; the task goes on
        from there exactly as `run_op` would after that `fire` (fills, reconcile, finish)."""
        loop = asyncio.get_running_loop()
        self._begin_op(rt, kind, event, targets, new_qty, reason, persist=False)
        first: list[Any] | BaseException
        written = 0
        try:
            deltas = (targets[0] - rt.exposure(0), targets[1] - rt.exposure(1))
            first, written = self.executor.fire_now(rt, deltas, fire_kind, style)
        except Exception as exc:   # raised in the task, where `run_op` handles it (the pair moved)
            first = exc
        # The pair's snapshot (an encode of its whole order table) and the op row only after the
        # writes: both are queued for the writer thread, so neither was durable before them
        # anyway; what must precede a write is its intent line (fire_now, journal.intent).
        self.executor.persist(rt)
        self.journal_op(rt, kind, None)
        task = OpTask(self.run_op(rt, kind, targets, style, first=first),
                      loop=loop, name=f"op-{rt.pair.id}-{kind}")
        task.written_ns = written
        rt.task = task
        return task

    def _begin_op(self, rt: PairRuntime, kind: str, event: Event,
                  targets: tuple[float, float], new_qty: float, reason: str = "",
                  persist: bool = True) -> None:
        """`reason`: why the operation runs (the watchdog's, or the operator's), kept on the pair.
        `persist=False`: the caller journals the pair and the op itself (start_op_now: after
        the writes)."""
        p = rt.pair
        if rt.task and not rt.task.done():
            raise EngineError(409, f"position {p.id} is busy ({p.op_kind} running)")
        try:
            self.apply(p, event, self.executor.now_ms(), reason)
        except IllegalTransition as exc:
            raise EngineError(409, str(exc)) from None
        p.op_seq += 1
        p.op_kind = kind
        p.targets = targets
        p.target_qty = new_qty
        rt.blocked = [False, False]
        rt.blocked_reason = ["", ""]
        rt.op_orders = 0
        if persist:
            self.executor.persist(rt)
            self.journal_op(rt, kind, None)

    async def run_op(self, rt: PairRuntime, kind: str, targets: tuple[float, float],
                     execution: str, resume: bool = False,
                     first: list[Any] | BaseException | None = None) -> None:
        """`first`: what `fire_now` already sent (or the error it raised) in place of
        `_execute`."""
        p = rt.pair
        # This task's own context: every log line of the operation names its pair and symbol.
        structlog.contextvars.bind_contextvars(position_id=p.id, symbol=p.symbol, operation=kind)
        result = "error"
        try:
            try:
                async with asyncio.timeout(self.cfg.op_budget_s):
                    if isinstance(first, BaseException):
                        raise first
                    if first is not None:
                        await self.executor.complete_fire(rt, first)
                    elif not resume:
                        await self._execute(rt, targets, execution)
                    decision = await self._reconcile(rt)
            except (TimeoutError, OpAborted) as exc:
                await self.executor.cancel_live(rt)
                decision = hedge.Decision(hedge.FAIL, reason=f"operation stopped: {exc!r}")
            result = await self._finish(rt, kind, decision)
        except asyncio.CancelledError:
            result = "cancelled"
            raise
        except Exception as exc:  # an engine bug must not leave the pair silently unmanaged
            log.exception("legging op crashed", extra={"pair": p.id})
            self.alert(rt, f"{kind} crashed: {exc!r}")
            try:
                if p.state not in (State.FAILED, State.CLOSED, State.DETACHED):
                    self.apply(p, Event.FAIL, self.executor.now_ms(), f"{kind} crashed: {exc!r}")
            except IllegalTransition:
                pass
        finally:
            self.executor.persist(rt)
            self.journal_op(rt, kind, result)

    async def _execute(self, rt: PairRuntime, targets: tuple[float, float], execution: str) -> None:
        deltas = (targets[0] - rt.exposure(0), targets[1] - rt.exposure(1))
        if execution == "market":
            await self.executor.fire(rt, deltas, "flatten", "market")
        elif execution == "taker":
            await self.executor.fire(rt, deltas, "entry", "taker")
        elif execution == "chase":
            await self.executor.chase(rt, deltas)
        else:
            clips = self.cfg.batch_clips
            for k in range(clips):
                left = clips - k
                d = tuple(hedge.round_step((targets[i] - rt.exposure(i)) / left,
                                           rt.meta[i].step, "nearest") for i in (0, 1))
                if self.cfg.batch_mode == "chase":
                    await self.executor.chase(rt, d)  # type: ignore[arg-type]
                else:
                    await self.executor.fire(rt, d, "entry", "taker")  # type: ignore[arg-type]
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
        tol = self.executor.tolerance(rt)
        while True:
            now = self.executor.clock()
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
                    await self.executor.await_final(rt, live)
                else:
                    await asyncio.sleep(max(0.0, d.wait_s))
                continue
            counts[d.action] += 1
            before = abs(rt.residual()), rt.exposure(0), rt.exposure(1)
            if d.action == hedge.TOPUP:
                await self.executor.fire(rt, d.deltas, "entry", "taker")
            else:
                kind = "complete" if d.action == hedge.COMPLETE else "trim"
                await self.executor.fire_leg(rt, d.leg, d.delta, kind, "taker")
            if (abs(rt.residual()), rt.exposure(0), rt.exposure(1)) == before:
                # nothing moved: back off
                backoff_until = self.executor.clock() + backoff.next_delay()
            else:
                backoff.reset()

    async def _finish(self, rt: PairRuntime, kind: str, d: hedge.Decision) -> str:
        p = rt.pair
        tol = self.executor.tolerance(rt)
        now = self.executor.now_ms()
        hedged = abs(rt.residual()) <= tol
        flat = abs(rt.exposure(0)) <= tol and abs(rt.exposure(1)) <= tol
        reasons = "; ".join(r for r in rt.blocked_reason if r)
        if d.action == hedge.FAIL or not hedged:
            self.alert(rt, f"{kind} failed: {d.reason} {reasons}".strip())
            self.apply(p, Event.FAIL if p.state is not State.OPENING or not flat else Event.FLAT, now,
                    f"{kind}: {d.reason} {reasons}".strip())
            return "failed"
        if p.state is State.OPENING:
            if flat:
                self.apply(p, Event.FLAT, now, f"open abandoned, flat: {reasons or d.reason}")
                return "flat"
            short = abs(abs(rt.exposure(1)) - p.target_qty) > tol
            self.apply(p, Event.HEDGED, now, "opened short of target" if short else "")
            return "open"
        if p.state is State.CLOSING or (p.state is State.ADJUSTING and p.target_qty <= tol):
            if flat:
                await self._repay_dust(rt)
                self.apply(p, Event.FLAT, now, "")
                return "closed"
            self.apply(p, Event.FAIL, now, f"{kind} incomplete (hedged): {reasons}")
            self.alert(rt, f"{kind} incomplete, pair hedged but not flat")
            return "failed"
        self.apply(p, Event.HEDGED, now, "")
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
        venue = self.executor.venues[leg.venue]
        asset = rt.meta[0].base
        refresh = getattr(venue, "refresh_balances", None)
        try:
            if refresh is not None:
                await refresh()
            bal = self.executor.hub.balances.get((leg.venue, "margin", asset))
            if bal is None or bal.liability <= 1e-12:
                return
            if bal.free + 1e-12 < bal.liability:
                meta = rt.meta[0]
                price = self.executor.touch(rt, 0, "BUY", passive=False) or rt.books[0].avg_price
                need = max(bal.liability - bal.free, meta.min_qty,
                           (meta.min_notional * 1.05 / price) if price else 0.0)
                qty = hedge.round_step(need, meta.step, "up")
                track = await self.executor.fire_leg(rt, 0, qty, "complete", "taker")
                if track is None or track.filled <= 0:
                    why = track.error if track is not None else "no order could be built"
                    self.alert(rt, f"liability of {bal.liability:g} {asset} left: the buy to "
                                   f"repay it did not fill ({why})")
                if refresh is not None:
                    await refresh()
                bal = self.executor.hub.balances.get((leg.venue, "margin", asset))
            if bal is not None and bal.liability > 1e-12 and bal.free > 0:
                await venue.repay(asset, min(bal.free, bal.liability))
                if refresh is not None:
                    await refresh()
        except OpAborted:
            self.alert(rt, "order budget spent before the remaining liability was repaid")
        except Exception as exc:
            self.alert(rt, f"repay of remaining liability failed: {exc!r}")

    def journal_op(self, rt: PairRuntime, action: str, result: str | None) -> None:
        journal = self.executor.journal
        if journal is not None:
            now = self.executor.now_ms()
            journal.put("op", {"pair_id": rt.pair.id, "op": rt.pair.op_seq, "action": action,
                               "started_ms": now, "ended_ms": now if result else None,
                               "result": result, "doc": None})

    def alert(self, rt: PairRuntime, message: str) -> None:
        text = f"pair {rt.pair.id}: {message}"
        rt.alerts.append(text)
        self.alerts.append(text)
        del self.alerts[:-100]
        log.warning("ALERT %s", text)

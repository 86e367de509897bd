"""Order execution for the legging engine: send one order, fire both legs, chase, resolve.

Every order: deterministic client id -> write-ahead intent (journal.intent: one os.write) ->
track registered (so a user-stream report that beats the REST answer is matched) -> send. An
unknown outcome (timeout, 5xx) is resolved by querying the client id; the same id is never sent
again, a retry is a new attempt with a new id. `fire_now` + `complete_fire` split `fire` at its
first await, for the synchronous entry points (the same steps, in the same order).

Every venue answer about one of our orders (REST acknowledgement, user-stream report through the
hub, recovery's listing) reaches the pair through `OrderExecutor.fold`, which hands it to
`PairRuntime.apply_update`: the one place a fill moves a leg book, and so the hedge residual.
"""
from __future__ import annotations

import asyncio
import functools
import math
import time
from decimal import Decimal
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from daemon.core import client_ids
from daemon.legging.hedge import round_step
from connectors.types import OrderUpdate
from daemon.hub import Hub
from daemon.journal import Journal, JournalError
from daemon.legging.config import LeggingConfig
from daemon.legging.preflight import leg_key
from daemon.legging.runtime import OrderTrack, PairRuntime
from connectors.base import Venue
from connectors.types import OrderRequest
from daemon.ops.logs import get_logger

ACTION_OF_OP = {"open": "open", "increase": "increase", "decrease": "decrease", "close": "close",
                "liquidate": "liquidate", "repair": "repair"}

# Operations whose orders add exposure: each needs a durable intent or is not sent. The others
# (decrease, close, liquidate, repair) reduce risk and go out even while the journal fails.
RISK_ADDING_OPS = frozenset({"open", "increase"})

# A final status -> the outcome counted in `basisd_orders_total`.
OUTCOME_OF_STATUS = {"FILLED": "filled", "CANCELED": "canceled", "REJECTED": "rejected",
                     "EXPIRED": "expired", "EXPIRED_IN_MATCH": "expired"}
# Final statuses logged as their own event (a fill is `order_filled`, the rest `order_done`).
_DONE_EVENT = {"FILLED": "order_filled"}

log = get_logger("basisd.orders")


class OpAborted(Exception):
    """The operation hit a hard bound (order budget): stop sending, reconcile what is there."""


class OrderExecutor:
    """Sends, settles, resolves and cancels the orders of one pair at a time (`rt` in every
    call); it owns no pair. `cfg` is replaced on a reload (`LeggingEngine.cfg`)."""

    def __init__(self, hub: Hub, venues: Mapping[str, Venue], cfg: LeggingConfig,
                 journal: Journal | None, clock: Callable[[], float]) -> None:
        self.hub = hub
        self.venues = venues
        self.cfg = cfg
        self.journal = journal
        self.clock = clock
        # Read at scrape time: orders by final outcome, rejects by (venue, code).
        self.outcomes: dict[str, int] = {}
        self.rejects: dict[tuple[str, str], int] = {}

    # -- the pair's record and its waiters -------------------------------------------------------
    def persist(self, rt: PairRuntime) -> None:
        if self.journal is not None:
            self.journal.put("pair", rt.journal_row())

    def _journal_order(self, rt: PairRuntime, track: OrderTrack) -> None:
        if self.journal is not None:
            self.journal.put("order", {
                "client_id": track.client_id, "pair_id": rt.pair.id, "venue": track.venue,
                "order_id": track.order_id or None, "status": track.status,
                "filled_qty": track.filled, "avg_price": track.avg, "ts_ms": track.ts_ms})

    def fold(self, rt: PairRuntime, track: OrderTrack, u: OrderUpdate) -> None:
        """A venue's word on one of our orders: into the leg book, the journal, the waiters."""
        was_final = track.final
        rows = rt.apply_update(track, u)
        if track.final and not was_final:
            self._finished(rt, track)
        if self.journal is not None:
            for row in rows:
                self.journal.put("fill", row)
        self._journal_order(rt, track)
        self.notify(rt)

    def notify(self, rt: PairRuntime) -> None:
        """The pair's figures changed: wake whatever of its operation waits on them."""
        rt.wake.set()

    async def wait_change(self, rt: PairRuntime, timeout: float) -> None:
        rt.wake.clear()
        try:
            await asyncio.wait_for(rt.wake.wait(), timeout)
        except TimeoutError:
            pass

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def tolerance(self, rt: PairRuntime) -> float:
        """The pair's residual budget (at its current target size)."""
        step = max(rt.meta[0].step, rt.meta[1].step)
        return self.cfg.tolerance(rt.pair.target_qty, step)

    # -- prices ----------------------------------------------------------------------------------
    def mark(self, rt: PairRuntime, i: int) -> float | None:
        """What leg `i` is worth per coin now: a perp leg at the venue's mark, a spot leg at its
        own book's mid (the perp mark shares the symbol but not the price: valuing spot at it
        would hide the basis move). Mid rather than the side we would close on: the exit's
        spread is a cost of the exit, priced as slippage there, not a loss of the position.
        Fallbacks: a perp without a mark at its book's mid, a spot book not yet read at the
        venue's index."""
        leg = rt.pair.legs[i]
        m = self.hub.marks.get((leg.venue, leg.symbol))
        if leg.market == "perp" and m is not None:
            return m.mark_price
        book = self.hub.books.get(leg_key(leg))
        mid = book.mid() if book is not None else None
        if mid is not None:
            return mid
        if m is not None and leg.market != "perp" and m.index_price > 0:
            return m.index_price
        return None

    def touch(self, rt: PairRuntime, leg: int, side: str, passive: bool) -> float | None:
        """Passive: our own side's best (post-only); aggressive: the opposite side's best."""
        book = self.hub.books.get(leg_key(rt.pair.legs[leg]))
        if book is None:
            return None
        lvl = (book.best_bid() if side == "BUY" else book.best_ask()) if passive else \
              (book.best_ask() if side == "BUY" else book.best_bid())
        return lvl[0] if lvl else None

    def _cap_price(self, rt: PairRuntime, leg: int, side: str) -> float | None:
        touch = self.touch(rt, leg, side, passive=False)
        if touch is None:
            return None
        tick = rt.meta[leg].tick or 1e-8
        cap = self.cfg.slippage_cap_bps / 1e4
        raw = touch * (1 + cap) if side == "BUY" else touch * (1 - cap)
        ticks = math.floor(raw / tick + 1e-9) if side == "BUY" else math.ceil(raw / tick - 1e-9)
        return on_grid(ticks, tick)

    # -- one order -------------------------------------------------------------------------------
    def _build(self, rt: PairRuntime, leg: int, delta: float, kind: str, style: str,
               reduce: bool = False) -> tuple[OrderTrack, OrderRequest] | None:
        """`reduce`: an order that takes the leg toward zero says so to the venue (reduceOnly on
        a perp, no borrowing on a spot sell), so a protective trim can never add exposure."""
        p = rt.pair
        L = p.legs[leg]
        meta = rt.meta[leg]
        qty = abs(round_step(delta, meta.step, "nearest"))
        if qty <= 0 or qty + 1e-12 < max(meta.min_qty, meta.step * 0.999999):
            return None
        if rt.op_orders >= self.cfg.max_orders_per_op:
            raise OpAborted(f"order budget of {self.cfg.max_orders_per_op} spent")
        side = "BUY" if delta > 0 else "SELL"
        price: float | None
        tif: str | None
        if style == "market":
            otype, price, tif = "MARKET", None, None
        elif style == "maker":
            price = self.touch(rt, leg, side, passive=True)
            if price is None:
                return None
            tick = rt.meta[leg].tick or 1e-8
            price = on_grid(round(price / tick), tick)
            otype, tif = ("LIMIT_MAKER", None) if L.market == "spot_margin" else ("LIMIT", "GTX")
        else:
            price = self._cap_price(rt, leg, side)
            if price is None:
                return None
            otype, tif = "LIMIT", "IOC"
        side_effect = None
        e = rt.exposure(leg)
        reducing = reduce and e * delta < 0 and qty <= abs(e) + meta.step * 0.5
        reduce_only = False
        if L.market == "spot_margin":
            # a reducing sell is a spot long's: a plain sell, never a borrow
            side_effect = "AUTO_REPAY" if side == "BUY" else (
                "NO_SIDE_EFFECT" if reducing else "MARGIN_BUY")
        elif reducing:
            # the venue's position is the account's, shared by every pair on the symbol: ask for
            # reduceOnly only where the venue will honour it for the whole qty (else -2022 or a
            # clamp, and the reconcile phase sends the rest a pass later than it could have)
            pos = self.hub.positions.get((L.venue, L.symbol))
            reduce_only = pos is not None and pos.qty * delta < 0 and qty <= abs(pos.qty) + 1e-12
        attempt = rt.next_attempt(p.op_seq, leg)
        cid = client_ids.make(p.id, p.op_seq, ACTION_OF_OP.get(p.op_kind, "repair"), leg, kind,
                              attempt)
        req = OrderRequest(venue=L.venue, market=L.market, symbol=L.symbol, side=side,
                           order_type=otype, qty=qty, client_id=cid, price=price,
                           time_in_force=tif, side_effect=side_effect, reduce_only=reduce_only)
        track = OrderTrack(client_id=cid, venue=L.venue, market=L.market, symbol=L.symbol, leg=leg,
                           op=p.op_seq, kind=kind, side=side, qty=qty, price=price,
                           order_type=otype, ts_ms=self.now_ms())
        return track, req

    def _register(self, rt: PairRuntime, built: list[tuple[OrderTrack, OrderRequest]]
                  ) -> list[tuple[OrderTrack, Any]]:
        """Write-ahead (all the orders' intents in one write), register, prepare (sign). Raises
        OpAborted when orders that add risk (open, increase) have no durable intent (journal.py:
        durable or fail closed); otherwise only on a bug in prepare."""
        if self.journal is not None and built:
            try:
                self.journal.intents([{
                    "client_id": t.client_id, "pair_id": rt.pair.id, "venue": t.venue,
                    "market": t.market, "symbol": t.symbol, "side": t.side, "qty": t.qty,
                    "price": t.price, "order_type": t.order_type, "ts_ms": t.ts_ms, "doc": None}
                    for t, _ in built], durable=rt.pair.op_kind in RISK_ADDING_OPS)
            except JournalError as exc:
                raise OpAborted(f"not sent: {exc}") from exc
        out = []
        for track, req in built:
            rt.orders[track.client_id] = track
            rt.op_orders += 1
            out.append((track, self.venues[track.venue].prepare(req)))
        return out

    async def _send(self, rt: PairRuntime, track: OrderTrack, prepared: Any,
                    written: dict[str, int] | None = None) -> None:
        """`written`: the fire's write times (it logs them); None: this order alone, whose
        `_after_write` runs once this step has written it (call_soon is FIFO)."""
        if written is None:
            written = {}
            asyncio.get_running_loop().call_soon(self._after_write, rt, [track], written)
        # the bytes leave within this step (fire's tasks all take theirs in one loop iteration)
        written[track.client_id] = time.perf_counter_ns()
        await self._settle(rt, track, self.venues[track.venue].send(prepared),
                           written[track.client_id])

    def _after_write(self, rt: PairRuntime, tracks: list[OrderTrack],
                     written: dict[str, int]) -> None:
        """Once every leg of a fire is out (never before: a log line costs the second leg)."""
        self._observe_writes(rt, tracks, written)
        self._log_sent(rt, tracks)

    def _observe_writes(self, rt: PairRuntime, tracks: list[OrderTrack],
                        written: dict[str, int]) -> None:
        """tick-to-order (the leg's last book change -> its write) and leg skew."""
        observe, ticks = self.hub.observe, self.hub.book_ns
        for track in tracks:
            ns = written.get(track.client_id, 0)
            tick = ticks.get(leg_key(rt.pair.legs[track.leg]), 0)
            if ns and tick and ns >= tick:
                observe("tick_to_order", (ns - tick) / 1e9, track.venue)
        times = [written.get(t.client_id, 0) for t in tracks]
        if len(times) == 2 and all(times):
            observe("leg_skew", abs(times[0] - times[1]) / 1e9, "")

    def _log_sent(self, rt: PairRuntime, tracks: list[OrderTrack]) -> None:
        for track in tracks:
            log.info("order_sent", pair_id=rt.pair.id, client_id=track.client_id,
                     venue=track.venue, market=track.market, symbol=track.symbol,
                     side=track.side, qty=track.qty, price=track.price,
                     order_type=track.order_type, op=rt.pair.op_kind)

    def _finished(self, rt: PairRuntime, track: OrderTrack) -> None:
        outcome = OUTCOME_OF_STATUS.get(track.status, "unknown")
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        log.info(_DONE_EVENT.get(track.status, "order_done"), pair_id=rt.pair.id,
                 client_id=track.client_id, venue=track.venue, symbol=track.symbol,
                 status=track.status, outcome=outcome, filled_qty=track.filled,
                 avg_price=track.avg, order_id=track.order_id)

    async def _settle(self, rt: PairRuntime, track: OrderTrack,
                      answer: Awaitable[OrderUpdate], written_ns: int = 0) -> None:
        """Fold the venue's answer to a sent order (or classify its error)."""
        written_ns = written_ns or getattr(answer, "written_ns", 0)
        try:
            ack = await answer
        except Exception as exc:  # classified below; nothing may escape into the op task
            counted = track.final     # a user-stream report may have finished it already
            kind = self.venues[track.venue].error_kind(exc)
            track.error = f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}"
            if kind == "unknown":
                track.status = "UNKNOWN"
                log.warning("order_unknown", pair_id=rt.pair.id, client_id=track.client_id,
                            venue=track.venue, error=track.error)
                await self.resolve(rt, track)
            else:
                track.status = "REJECTED"
                if kind == "block":
                    rt.blocked[track.leg] = True
                    rt.blocked_reason[track.leg] = track.error
                elif kind == "postonly":
                    track.status = "EXPIRED"
                code = str(getattr(exc, "code", "") or type(exc).__name__)
                self.rejects[(track.venue, code)] = self.rejects.get((track.venue, code), 0) + 1
                log.warning("order_rejected", pair_id=rt.pair.id, client_id=track.client_id,
                            venue=track.venue, symbol=track.symbol, code=code, kind=kind,
                            status=track.status, error=track.error)
                if not counted:
                    self._finished(rt, track)
                self._journal_order(rt, track)
                self.notify(rt)
            return
        if written_ns:
            self.hub.observe("order_ack", (time.perf_counter_ns() - written_ns) / 1e9, track.venue)
        log.info("order_acked", pair_id=rt.pair.id, client_id=track.client_id,
                 venue=track.venue, symbol=track.symbol, status=ack.status,
                 filled_qty=ack.filled_qty, order_id=str(ack.order_id or ""))
        self.fold(rt, track, ack)

    async def resolve(self, rt: PairRuntime, track: OrderTrack, tries: int = 3) -> None:
        """Unknown outcome: ask the venue about this client id (the order is never re-sent)."""
        venue = self.venues[track.venue]
        for i in range(tries):
            try:
                u = await venue.query(track.market, track.symbol, track.client_id)
            except Exception:
                await asyncio.sleep(min(self.cfg.backoff_cap_s, self.cfg.backoff_base_s * 2 ** i))
                continue
            if u is None:
                if i + 1 < tries:       # the venue may not have indexed it yet
                    await asyncio.sleep(self.cfg.backoff_base_s)
                    continue
                track.status = "NOT_SENT"
                self._finished(rt, track)
                self._journal_order(rt, track)
                self.notify(rt)
                return
            self.fold(rt, track, u)
            return
        self._journal_order(rt, track)   # still UNKNOWN: recovery/reconcile will ask again

    async def await_final(self, rt: PairRuntime, tracks: list[OrderTrack],
                           timeout: float | None = None) -> None:
        deadline = self.clock() + (timeout or self.cfg.order_timeout_s)
        while True:
            live = [t for t in tracks if not t.final]
            if not live:
                return
            left = deadline - self.clock()
            if left <= 0:
                break
            await self.wait_change(rt, min(left, 0.25))
        for t in [t for t in tracks if not t.final]:
            await self.resolve(rt, t)
            if t.status in ("NEW", "PARTIALLY_FILLED"):
                await self.cancel(rt, t)

    async def cancel(self, rt: PairRuntime, track: OrderTrack) -> None:
        venue = self.venues[track.venue]
        try:
            u = await venue.cancel(track.market, track.symbol, track.client_id)
        except Exception:
            u = None
        if u is not None:
            self.fold(rt, track, u)
        if not track.final:
            await self.resolve(rt, track)

    async def fire(self, rt: PairRuntime, deltas: tuple[float, float], kind: str, style: str
                    ) -> list[OrderTrack]:
        """Both legs built and signed first, then written in the same loop iteration."""
        built = []
        for leg in (0, 1):
            if deltas[leg]:
                b = self._build(rt, leg, deltas[leg], kind, style)
                if b is not None:
                    built.append(b)
        prepared = self._register(rt, built)
        self.persist(rt)
        if not prepared:
            return []
        tracks = [t for t, _ in prepared]
        written: dict[str, int] = {}
        sends = asyncio.gather(*(self._send(rt, t, pr, written) for t, pr in prepared))
        # call_soon is FIFO: this runs after the send tasks' first steps, i.e. after the writes
        asyncio.get_running_loop().call_soon(self._after_write, rt, tracks, written)
        await sends
        await self.await_final(rt, tracks)
        return tracks

    def fire_now(self, rt: PairRuntime, deltas: tuple[float, float], kind: str, style: str
                  ) -> tuple[list[tuple[OrderTrack, Awaitable[OrderUpdate]]], int]:
        """`fire`'s first half without an await: both legs built (reducing), journaled
        write-ahead and signed, then written back to back (`stage_now` where the venue has it,
        else `send_now` or a send task) before returning. The pair's snapshot is the caller's
        to journal (after this). Returns the sent tracks with their pending answers (for
        `complete_fire`) and the perf_counter_ns of the first write (0: none left in this pass)."""
        built = []
        for leg in (0, 1):
            if deltas[leg]:
                b = self._build(rt, leg, deltas[leg], kind, style, reduce=True)
                if b is not None:
                    built.append(b)
        staged = [(t, self._stage(t, pr)) for t, pr in self._register(rt, built)]  # no raise
        # the writes alone, back to back: this stretch is the leg skew
        times = [s.write() for _, s in staged]
        sent = [(t, s.answer()) for t, s in staged]
        tracks = [t for t, _ in staged]
        self._observe_writes(rt, tracks, {t.client_id: ns for t, ns in zip(tracks, times)})
        asyncio.get_running_loop().call_soon(self._log_sent, rt, tracks)
        return sent, min((ns for ns in times if ns), default=0)

    def _stage(self, track: OrderTrack, prepared: Any) -> _Staged:
        venue = self.venues[track.venue]
        stage = getattr(venue, "stage_now", None)
        try:
            if stage is not None:
                return stage(prepared)  # type: ignore[no-any-return]
        except Exception as exc:   # classified by `_settle` like a failed send
            return _Unsent(exc)
        return _SendLater(venue, prepared)

    async def complete_fire(self, rt: PairRuntime,
                             sent: list[tuple[OrderTrack, Awaitable[OrderUpdate]]]) -> None:
        """`fire`'s second half for orders `fire_now` wrote."""
        if not sent:
            return
        await asyncio.gather(*(self._settle(rt, t, answer) for t, answer in sent))
        await self.await_final(rt, [t for t, _ in sent])

    # -- chase -----------------------------------------------------------------------------------
    async def chase(self, rt: PairRuntime, deltas: tuple[float, float]) -> None:
        start = (rt.exposure(0), rt.exposure(1))
        goals = (start[0] + deltas[0], start[1] + deltas[1])
        t0 = self.clock()
        await asyncio.gather(*(self._chase_leg(rt, leg, goals, start, t0) for leg in (0, 1)
                               if abs(deltas[leg]) > 0))

    def _progress(self, rt: PairRuntime, leg: int, goals: tuple[float, float],
                  start: tuple[float, float]) -> float:
        total = goals[leg] - start[leg]
        return 1.0 if not total else (rt.exposure(leg) - start[leg]) / total

    async def _chase_leg(self, rt: PairRuntime, leg: int, goals: tuple[float, float],
                         start: tuple[float, float], t0: float) -> None:
        cfg = self.cfg
        other = 1 - leg
        requotes = 0
        lag_since: float | None = None
        meta = rt.meta[leg]
        while True:
            remaining = goals[leg] - rt.exposure(leg)
            if abs(round_step(remaining, meta.step)) < max(meta.min_qty, meta.step * 0.999999, 1e-12):
                return
            if rt.blocked[leg] or rt.blocked[other]:
                return      # the reconcile phase trims whatever filled
            now = self.clock()
            behind = (self._progress(rt, other, goals, start) - self._progress(rt, leg, goals, start)
                      ) * abs(goals[leg] - start[leg])
            if behind > self.tolerance(rt):
                lag_since = lag_since if lag_since is not None else now
            else:
                lag_since = None
            escalate = (now - t0 >= cfg.chase_escalate_after_s or requotes >= cfg.chase_max_requotes
                        or (lag_since is not None and now - lag_since >= cfg.complete_budget_s))
            if escalate:
                await self.fire_leg(rt, leg, remaining, "entry", "taker")
                return
            b = self._build(rt, leg, remaining, "entry", "maker")
            if b is None:
                await asyncio.sleep(cfg.chase_requote_min_interval_s)
                requotes += 1
                continue
            [(track, prepared)] = self._register(rt, [b])
            self.persist(rt)
            await self._send(rt, track, prepared)
            requotes += 1
            placed = self.clock()
            while not track.final:
                await self.wait_change(rt, max(0.02, cfg.chase_requote_min_interval_s / 2))
                if track.final:
                    break
                now = self.clock()
                touch = self.touch(rt, leg, track.side, passive=True)
                moved = touch is not None and touch != track.price
                other_lag = (self._progress(rt, other, goals, start)
                             - self._progress(rt, leg, goals, start)) * abs(goals[leg] - start[leg])
                if other_lag > self.tolerance(rt) and lag_since is None:
                    lag_since = now
                urgent = (now - t0 >= cfg.chase_escalate_after_s or rt.blocked[other]
                          or (lag_since is not None and now - lag_since >= cfg.complete_budget_s))
                if urgent or (moved and now - placed >= cfg.chase_requote_min_interval_s):
                    await self.cancel(rt, track)
                    break
            if not track.final:
                await self.await_final(rt, [track])

    async def fire_leg(self, rt: PairRuntime, leg: int, delta: float, kind: str, style: str
                        ) -> OrderTrack | None:
        deltas = (delta, 0.0) if leg == 0 else (0.0, delta)
        tracks = await self.fire(rt, deltas, kind, style)
        return tracks[0] if tracks else None

    async def cancel_live(self, rt: PairRuntime) -> None:
        live = rt.live_orders()
        await asyncio.gather(*(self.cancel(rt, t) for t in live))


def on_grid(ticks: int, tick: float) -> float:
    """ticks x tick as the float nearest the decimal the venue expects (no 0.30000000000000004)."""
    return round(ticks * tick, _decimals(tick))


@functools.lru_cache(maxsize=1024)
def _decimals(tick: float) -> int:
    """The decimal places of a tick size (a handful of distinct ticks: cached, off the hot path)."""
    return max(0, -Decimal(repr(tick)).normalize().as_tuple().exponent)  # type: ignore[operator]


class _Staged(Protocol):
    """An order ready to leave (connectors.base.StagesNow): `write()` -> perf_counter_ns of
    the write (0: it left from a task), then `answer()` -> the acknowledgement's awaitable."""

    def write(self) -> int: ...

    def answer(self) -> Awaitable[OrderUpdate]: ...


class _SendLater:
    """A venue without `stage_now`: its `send_now` (or a send task) at the write."""

    def __init__(self, venue: Venue, prepared: Any) -> None:
        self.venue, self.prepared = venue, prepared
        self.out: Awaitable[OrderUpdate] | None = None

    def write(self) -> int:
        now = getattr(self.venue, "send_now", None)
        try:
            self.out = now(self.prepared) if now is not None else \
                asyncio.ensure_future(self.venue.send(self.prepared))
        except Exception as exc:   # classified by `_settle` like a failed send
            self.out = _Unsent(exc).answer()
        return getattr(self.out, "written_ns", 0)

    def answer(self) -> Awaitable[OrderUpdate]:
        assert self.out is not None, "answer() before write()"
        return self.out


class _Unsent:
    """An order whose staging failed: nothing is written, its answer is the error."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def write(self) -> int:
        return 0

    def answer(self) -> Awaitable[OrderUpdate]:
        fut: asyncio.Future[OrderUpdate] = asyncio.get_running_loop().create_future()
        fut.set_exception(self.exc)
        return fut

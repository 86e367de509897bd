"""The risk watchdog (thin shell): hub events in, protective requests out, in the same call.

It subscribes to the hub at priority 10 (before the legging engine and the scanner). Every mark,
balance, margin, position, borrow or health change re-evaluates the pairs on that venue right
there, in the task that delivered the frame: no queue hop, no polling loop as the primary path;
a book frame only what it can change (daemon/risk/quiet.py). A slow tick (`run`) only covers
what no frame can announce: a stream that went silent, the
UTC day rolling over.

Actions go out through `RiskActions`, a narrow protocol the lead wires to the legging engine and
the connectors. Its methods are called synchronously; each may return an awaitable that completes
when the request is answered. While an action of a kind is in flight on a pair, that kind is not
repeated; after it completes, the watchdog waits for the account update it causes (or `settle_s`)
before acting on that pair again, so decisions rest on what the venue says, not on what was asked.

A trim (or close) of a pair that borrows on cross margin buys back with AUTO_REPAY: the venue
reports the quote spent and the liability repaid in separate events (another socket on Binance
today), so for a while the account can read as if the quote were spent and nothing repaid. From
such a trim until the borrowed coin's liability is seen to fall (and at most `settle_s` after the
trim completed), the margin account is held as mid-settlement (risk_ladder.MarginHold): its leg cannot read
worse than it did when the trim was sent, the margin wallet cannot look freer than then, and the
margin leg alone starts nothing (no unwind, no second trim, no transfer into it, no re-hedge on a
liability not yet updated). Perp-driven actions still go.

The halt and the day's equity baseline go to a `RiskStateStore` (the journal) whenever they
change, and `restore` puts them back at start: a restart neither lifts a halt nor resets the
daily loss limit.

Given the configured venue names (`venues=`), the daily-loss baseline is taken, and the loss
measured, only once every one of them has reported balances in both wallets (margin and
futures): an equity over part of the account would be persisted as the day's baseline (too low:
the limit goes inert for the day) or read as a loss against a restored one. Until then status
says what is missing (`daily_loss_baseline`).
"""
from __future__ import annotations

import asyncio
import inspect
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import msgspec

from daemon.core import halt as halt_mod
from daemon import hub as hubmod
from daemon.core.halt import DailyLoss, HaltMode, HaltState
from daemon.hub import Hub
from daemon.ops.metrics import Histogram
from daemon.core.pairs import Pair, State
from daemon.risk.maths import Bracket
from daemon.risk.assess import assess
from connectors.types import InstrumentKey
from daemon.risk.inputs import AccountViews, Exposures, account_equity, pair_inputs, price_books
from daemon.risk.quiet import QuietIndex, is_quiet
from daemon.risk.markpass import MarkIndex
from daemon.risk.ladder import (
    LEVEL_NAMES, Action, Close, Deleverage, PairRisk, Rehedge, Transfer, Unwind,
    Warn, confirm_margin_breach, decide, held_risk, is_protective, level, margin_alone, margin_hold,
    settling_filter,
)
from daemon.risk.config import LegThresholds, WatchdogConfig
from daemon.risk.interfaces import (
    PairState as _PairState, RiskActions, RiskStateStore, Wallets, borrowed_coin, call_action, num_or_text,
    pair_wallets, repeat_key, venue_of, wallet_of, watchdog_status,
)

PRIORITY = 10
LOSS_WALLETS = ("margin", "futures")
# Reaction time (seconds): crossing mark frame -> first protective request written.
REACTION_BUCKETS = (25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3,
                    100e-3, 250e-3, 1.0)
_EVENT_KINDS = frozenset({hubmod.MARK, hubmod.BOOK, hubmod.BALANCE, hubmod.MARGIN, hubmod.POSITION,
                          hubmod.BORROW, hubmod.HEALTH})
_ACCOUNT_KINDS = frozenset({hubmod.BALANCE, hubmod.MARGIN, hubmod.POSITION})
_WATCHED_STATES = frozenset({State.OPENING, State.OPEN, State.ADJUSTING, State.CLOSING, State.FAILED})
# The states in which an operation of ours is moving the pair's accounts.
_OPERATING = frozenset({State.OPENING, State.ADJUSTING, State.CLOSING})


Journal = Callable[[dict[str, Any]], None]
BracketSource = Callable[[str, str], Sequence[Bracket] | None]


class Watchdog:
    def __init__(self, hub: Hub, cfg: WatchdogConfig, pairs: Callable[[], Iterable[Pair]],
                 actions: RiskActions, *, brackets: BracketSource | None = None,
                 journal: Journal | None = None, clock: Callable[[], float] = time.monotonic,
                 wall_ms: Callable[[], int] = lambda: int(time.time() * 1000), log: Any = None,
                 journal_size: int = 500, state_store: RiskStateStore | None = None,
                 daily_loss: DailyLoss | None = None, halt_state: HaltState | None = None,
                 venues: Iterable[str] | None = None, exposures: Exposures | None = None) -> None:
        """`state_store`: persists the halt and the daily-loss baseline as they change.
        `daily_loss` / `halt_state`: a restored state known at construction (else `restore`).
        `venues`: every configured venue name; the daily loss waits for all of them to report
        both wallets (None: whatever venues have reported, the old behaviour).
        `exposures(pair)`: the pair's signed exposure per leg as its own books hold them (the
        legging engine's), for each pair's share of the netted venue figures; None: the targets
        of its operation stand in."""
        self.hub = hub
        self.cfg = cfg
        self._pairs = pairs
        self.actions = actions
        self._brackets_cb = brackets
        self._brackets: dict[tuple[str, str], tuple[Bracket, ...]] = {}
        self._journal = journal
        self.clock = clock
        self.wall_ms = wall_ms
        self.log = log
        self.steps: deque[dict[str, Any]] = deque(maxlen=journal_size)
        self.state: dict[str, _PairState] = {}
        self._store = state_store
        self.halt_state = halt_state if halt_state is not None else HaltState()
        self.loss = daily_loss if daily_loss is not None else DailyLoss()
        self.reaction = Histogram("basisd_watchdog_reaction_seconds",
                                  "Crossing mark frame to first protective request written",
                                  REACTION_BUCKETS)
        self.evaluations = 0
        self.action_errors = 0
        self.last_error = ""
        self._unsubscribe: Callable[[], None] | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._event_ns = 0
        self._stale_liq: dict[tuple[str, str], float] = {}
        # Account figures shared by every pair one hub event re-evaluates (reset on each event:
        # a cross-margin account is summed once per event, not once per pair on it).
        self._exposures = exposures
        self.views = self._new_views()
        # (venue, wallet) -> the pair state whose transfer into that wallet is in flight or
        # settling: a wallet shared by several pairs gets one transfer, not one per pair.
        self._transfer_owner: dict[tuple[str, str], _PairState] = {}
        self._thr_cfg: WatchdogConfig | None = None
        self._thresholds: dict[str, LegThresholds] = {}
        self._loss_wallets: frozenset[tuple[str, str]] | None = (
            None if venues is None else frozenset((v, w) for v in venues for w in LOSS_WALLETS))
        self._loss_ready = venues is None      # latched: balances never leave the hub
        self.quiet = QuietIndex()
        self.marks = MarkIndex()
        self._lagging = False     # a mark skipped pairs: their `risk` is refreshed when read

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._unsubscribe is None and self.cfg.enabled:
            self._unsubscribe = self.hub.subscribe(self.on_event, PRIORITY)
            self._track_loss()       # today's baseline is the equity the daemon starts with

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def run(self, tick_s: float = 1.0) -> None:
        """The slow path: silent streams, the UTC day, a flatten still in progress."""
        while True:
            await asyncio.sleep(tick_s)
            self.evaluate_all()

    def set_brackets(self, venue: str, symbol: str, brackets: Iterable[Any]) -> None:
        """Leverage brackets from `GET /fapi/v1/leverageBracket` (any objects or dicts with the
        Binance field names)."""
        self.quiet.bump()
        self._brackets[(venue, symbol)] = tuple(
            b if isinstance(b, Bracket) else msgspec.convert(b, Bracket, from_attributes=True, strict=False)
            for b in brackets)

    def _new_views(self) -> AccountViews:
        return AccountViews(self.hub, self._bracket_source, self.cfg.fallback_mmr, self._pairs,
                            self._exposures)

    def _bracket_source(self, venue: str, symbol: str) -> Sequence[Bracket] | None:
        got = self._brackets.get((venue, symbol))
        if got is None and self._brackets_cb is not None:
            got = tuple(self._brackets_cb(venue, symbol) or ()) or None
        return got

    # -- the hot path ------------------------------------------------------------------------------
    def on_event(self, kind: str, item: Any) -> None:
        # Any hub change may move an account figure (a nested event from an action's callback
        # too): later evaluations, of this event or the outer one, read the hub afresh (a mark:
        # the one coin and position it reprices, inputs.AccountViews.mark_moved).
        if kind == hubmod.MARK:
            self.views.mark_moved(item.venue, item.symbol)
        else:
            self.views.reset()
        if kind not in _EVENT_KINDS:
            self.quiet.bump()      # a pair, an order, an instrument: the next frames read afresh
            return
        if kind == hubmod.BOOK:
            # A depth frame only re-evaluates what it can change (daemon/risk/quiet.py).
            few = self.quiet.frame(item, self.cfg, self._mid)
            if few is not None:
                if few:
                    self._evaluate_loud(few, item.venue)
                return
        if kind == hubmod.MARK:
            # A mark only re-evaluates the pairs whose steps it can move (daemon/risk/markpass.py).
            few = self.marks.frame(item, self.quiet, self.cfg, self.views.margin, self.views.futures,
                                   self.hub.positions)
            if few is not None:
                self._lagging = True
                if few:
                    self._evaluate_loud(few, item.venue)
                self._track_loss()
                return
        self._event_ns = time.perf_counter_ns()
        venue = venue_of(kind, item)
        if venue is None:
            return
        if kind in _ACCOUNT_KINDS:
            self._account_update(venue, wallet_of(kind, item))
        epoch = self.quiet.epoch
        done: list[Pair] = []
        for pair in self._pairs():
            if pair.state in _WATCHED_STATES and (pair.legs[0].venue == venue or pair.legs[1].venue == venue):
                self._evaluate(pair)
                done.append(pair)
        self.quiet.record(venue, epoch, self.cfg, done, lambda: price_books(self.hub, venue))
        if kind in _ACCOUNT_KINDS or kind == hubmod.MARK:
            self._track_loss()

    def _mid(self, key: InstrumentKey) -> float | None:
        book = self.hub.books.get(key)
        return book.mid() if book is not None else None

    def _evaluate_loud(self, few: list[Pair], venue: str) -> None:
        """A book frame's pass: the venue's loud pairs only. Once one of them acts, the rest of the
        venue's pairs after it are evaluated too, as a full pass would (the action may move what
        they read)."""
        self._event_ns = time.perf_counter_ns()
        epoch = self.quiet.epoch
        for pair in few:
            self._evaluate(pair)
            if self.quiet.epoch != epoch:
                after = False
                for p in self._pairs():
                    if after and p.state in _WATCHED_STATES and (p.legs[0].venue == venue
                                                                 or p.legs[1].venue == venue):
                        self._evaluate(p)
                    after = after or p is pair
                return

    def evaluate_all(self) -> None:
        self._event_ns = time.perf_counter_ns()
        self.views.reset()
        for pair in self._pairs():
            if pair.state in _WATCHED_STATES:
                self._evaluate(pair)
        self._track_loss()

    def _venue_liq_current(self, venue: str, symbol: str, liq: float) -> bool:
        stale = self._stale_liq.get((venue, symbol))
        if stale is None:
            return True
        if stale != liq:
            del self._stale_liq[(venue, symbol)]
            return True
        return False

    def _account_update(self, venue: str, wallet: str) -> None:
        # A transfer or a trim touches two wallets whose updates arrive separately: deciding on
        # half of them would count the same collateral twice, so wait for every one of them.
        for st in self.state.values():
            for kind, (waiting, _until) in list(st.settling.items()):
                waiting.discard((venue, wallet))
                if not waiting:
                    del st.settling[kind]

    def _evaluate(self, pair: Pair) -> None:
        self.evaluations += 1
        st = self.state.get(pair.id)
        if st is None:
            st = self.state[pair.id] = _PairState()
        now = self.clock()
        views = self.views
        if views.fallback_mmr != self.cfg.fallback_mmr:      # the config was swapped
            views = self.views = self._new_views()
        inp, ok = pair_inputs(self.hub, pair, self._bracket_source, self.cfg.fallback_mmr,
                              self._venue_liq_current, views)
        st.ok = ok
        if ok:
            st.stale_since = None
        elif st.stale_since is None:
            st.stale_since = now
        if inp.net_apr is not None and inp.net_apr < self.cfg.net_apr_floor:
            if st.apr_below_since is None:
                st.apr_below_since = now
        else:
            st.apr_below_since = None
        r = assess(inp, self.cfg,
                   stale_s=0.0 if st.stale_since is None else now - st.stale_since,
                   apr_below_floor_s=0.0 if st.apr_below_since is None else now - st.apr_below_since)
        if st.hold is not None:
            bal = self.hub.balances.get((st.hold.venue, "margin", st.hold.asset))
            held = held_risk(st.hold, r, bal.liability if bal is not None else 0.0, now)
            if held is None:
                st.hold = None         # settled: the liability fell after the trim, or timed out
            else:
                r = held
        st.risk = r
        thresholds = self._thresholds
        if self._thr_cfg is not self.cfg:
            thresholds = self._thresholds = {"margin": self.cfg.margin, "perp": self.cfg.perp}
            self._thr_cfg = self.cfg
        # The reaction is timed from the frame whose evaluation finds a leg at an acting step
        # (this frame: an earlier crossing that needed no request yet does not count).
        crossed = False
        changed = len(r.legs) != len(st.levels)
        for g in r.legs:
            lv = level(g.distance, thresholds[g.leg])
            crossed = crossed or lv >= 2
            if lv != st.levels.get(g.leg + ":" + g.venue, -1):
                changed = True
        st.crossed_ns = self._event_ns if crossed else 0
        if changed:       # the common case (nothing moved a step) allocates no new levels dict
            levels = {g.leg + ":" + g.venue: level(g.distance, thresholds[g.leg]) for g in r.legs}
            for k, lv in levels.items():
                if lv != st.levels.get(k, 0):
                    self._journal_step(pair.id, "level", {"leg": k, "from": LEVEL_NAMES[st.levels.get(k, 0)],
                                                          "to": LEVEL_NAMES[lv]}, r)
                    st.journaled.clear()        # the picture changed: the next decision is news
            st.levels = levels
        if pair.state is State.CLOSING or st.unwound:
            acts = [a for a in decide(r, self.cfg) if isinstance(a, (Unwind, Transfer))]
        else:
            acts = decide(r, self.cfg, reduce_only=self.halt_state.mode in (HaltMode.REDUCE_ONLY,
                                                                              HaltMode.FLATTEN))
        if pair.state is not State.OPEN:
            # during an operation the legging engine owns the residual (one leg fills first)
            acts = [a for a in acts if not isinstance(a, Rehedge)]
        if st.hold is not None and acts:
            acts = settling_filter(acts, r, st.hold, thresholds)
        if acts and (st.breach_since is not None or margin_alone(acts, r, thresholds)) \
                and self._margin_account_moving(pair):
            acts, st.breach_since = confirm_margin_breach(acts, r, thresholds, st.breach_since,
                                                          now, self.cfg.settle_s)
        else:
            st.breach_since = None
        if self.halt_state.mode is HaltMode.FLATTEN and not any(isinstance(a, Unwind) for a in acts):
            acts.append(Unwind(pair_id=pair.id, reason="halt: flatten"))
        if st.settling:
            for kind, (_v, until) in list(st.settling.items()):
                if until <= now:
                    del st.settling[kind]
        if acts:
            self._execute(pair.id, st, acts, now, pair_wallets(pair), borrowed_coin(self.hub, pair))
        quiet = is_quiet(pair, st, acts)
        self.quiet.note(pair, quiet)
        self.marks.note(pair, inp, st.levels, self.cfg, views.futures, quiet, self.hub.marks)

    def _margin_account_moving(self, pair: Pair) -> bool:
        """Whether an operation of any pair is changing a margin account this pair uses (only
        asked on the rare path: a margin-alone trim or unwind)."""
        accounts = {v for v, w in pair_wallets(pair) if w == "margin"}
        return bool(accounts) and any(
            p.state in _OPERATING and any(v in accounts for v, w in pair_wallets(p) if w == "margin")
            for p in self._pairs())

    def _execute(self, pair_id: str, st: _PairState, acts: list[Action], now: float,
                 wallets: Wallets, borrowed: tuple[str, str] | None = None) -> None:
        for act in acts:
            if isinstance(act, Warn):
                continue
            kind = type(act).__name__.lower()
            if kind in st.busy or kind in st.settling:
                continue
            if "unwind" in st.busy or (st.unwound and not isinstance(act, Unwind)):
                return
            where = (frozenset({(act.venue, "margin"), (act.venue, "futures")})
                     if isinstance(act, Transfer) else wallets)
            if isinstance(act, Transfer):
                dest = (act.venue, "margin" if act.direction == "futures_to_margin" else "futures")
                owner = self._transfer_owner.get(dest)
                if owner is not None and owner is not st and (
                        "transfer" in owner.busy or "transfer" in owner.settling):
                    continue          # another pair on this wallet is moving collateral into it
                self._transfer_owner[dest] = st
            self.quiet.bump()      # what the action moves, every pair reads afresh
            try:
                waiter = call_action(self.actions, act)
            except Exception as exc:  # a broken action must not stop the others (or the hub)
                self.action_errors += 1
                self.last_error = f"{kind}: {exc!r}"
                self._journal_step(pair_id, kind + "_failed", {"error": repr(exc),
                                                               "reason": getattr(act, "reason", "")}, st.risk)
                st.journaled.pop(kind, None)
                # a refusal is decided on stale figures more often than not: wait for fresh ones
                st.settling[kind] = (set(where), now + self.cfg.settle_s)
                continue
            if is_protective(act) and st.crossed_ns:
                # frame -> write: an action that wrote its request before returning says when
                # (`written_ns`); one that hands it to a task is counted at hand-over
                written = getattr(waiter, "written_ns", 0) or time.perf_counter_ns()
                self.reaction.observe(max(0, written - self._event_ns) / 1e9)
                st.crossed_ns = 0
            if isinstance(act, Unwind):
                st.unwound = True
            elif borrowed is not None and isinstance(act, (Deleverage, Close)):
                self._hold(st, kind, borrowed, waiter, now)
            # The venue's liquidation price comes from REST and lags our own changes to the
            # position and wallet: until it is refreshed it describes the account before them.
            for (v, sym), pos in self.hub.positions.items():
                if (v, "futures") in where and pos.qty:
                    self._stale_liq[(v, sym)] = pos.liquidation_price
            key = repeat_key(act)
            if st.journaled.get(kind) == key:
                st.repeats += 1        # the same decision as last time, nothing changed since
            else:
                st.journaled[kind] = key
                self._journal_step(pair_id, kind, msgspec.to_builtins(act), st.risk)
                if self.log is not None:
                    self.log.warning("watchdog_action", pair=pair_id, action=kind,
                                     reason=getattr(act, "reason", ""))
            self._track(pair_id, st, kind, where, waiter, now)

    def _hold(self, st: _PairState, kind: str, borrowed: tuple[str, str], waiter: Any,
              now: float) -> None:
        bal = self.hub.balances.get((borrowed[0], "margin", borrowed[1]))
        in_flight = waiter is not None and inspect.isawaitable(waiter)
        st.hold = margin_hold(kind, borrowed, bal.liability if bal is not None else 0.0, st.risk,
                              None if in_flight else now + self.cfg.settle_s)

    def _track(self, pair_id: str, st: _PairState, kind: str, wallets: Wallets, waiter: Any,
               now: float) -> None:
        if waiter is None or not inspect.isawaitable(waiter):
            st.settling[kind] = (set(wallets), now + self.cfg.settle_s)
            return
        fut = asyncio.ensure_future(waiter)
        st.busy[kind] = wallets
        self._tasks.add(fut)

        def done(f: asyncio.Future[Any]) -> None:
            self._tasks.discard(f)
            st.busy.pop(kind, None)
            st.settling[kind] = (set(wallets), self.clock() + self.cfg.settle_s)
            if st.hold is not None and st.hold.kind == kind and st.hold.until is None:
                st.hold.until = self.clock() + self.cfg.settle_s
            if not f.cancelled() and f.exception() is not None:
                self.action_errors += 1
                self.last_error = f"{kind}: {f.exception()!r}"
                self._journal_step(pair_id, kind + "_failed", {"error": repr(f.exception())}, st.risk)
                st.journaled.pop(kind, None)
                if kind == "unwind":
                    st.unwound = False     # let the next evaluation try again
        fut.add_done_callback(done)

    # -- halts ---------------------------------------------------------------------------------------
    def halt(self, mode: HaltMode | str, reason: str = "operator") -> HaltState:
        m = mode if isinstance(mode, HaltMode) else halt_mod.parse_mode(mode)
        self._set_halt(halt_mod.halt(self.halt_state, m, reason, self.wall_ms()))
        self._journal_step("", "halt", {"mode": m.value, "reason": reason}, None)
        if m is HaltMode.FLATTEN:
            self.evaluate_all()
        return self.halt_state

    def resume(self) -> HaltState:
        self._set_halt(halt_mod.resume(self.halt_state, self.wall_ms()))
        for st in self.state.values():
            st.unwound = False
        self.quiet.bump()
        self._journal_step("", "resume", {}, None)
        return self.halt_state

    def allows(self, intent: str, pair_id: str | None = None) -> bool:
        """For the legging engine and the strategy: may this be done now? A pair whose market data
        is unhealthy takes no new risk whatever the halt mode."""
        if not halt_mod.allows(self.halt_state.mode, intent):
            return False
        if pair_id is not None and intent in ("open", "increase", "rehedge_up"):
            st = self.state.get(pair_id)
            if st is not None and not st.ok:
                return False
        return True

    def loss_waiting_for(self) -> list[str]:
        """"venue:wallet" entries that have not reported balances yet (the daily loss waits)."""
        if self._loss_ready or self._loss_wallets is None:
            return []
        seen = {(v, w) for (v, w, _a) in self.hub.balances}
        missing = sorted(f"{v}:{w}" for v, w in self._loss_wallets - seen)
        if not missing:
            self._loss_ready = True
        return missing

    def _track_loss(self) -> None:
        if self.cfg.daily_loss_limit <= 0:
            return
        if not self._loss_ready and self.loss_waiting_for():
            return
        equity = self.equity(self.views)
        if equity is None:
            return
        now_ms = self.wall_ms()
        day = self.loss.day
        self.loss = halt_mod.track_equity(self.loss, equity, now_ms)
        if self.loss.day != day:      # a new UTC day: its baseline must outlive a restart
            self._store_call("record_daily_loss", self.loss.day, self.loss.start_equity, now_ms)
        if halt_mod.loss_halt_due(self.halt_state, self.loss, self.cfg.daily_loss_limit):
            self.auto_halt(HaltMode(self.cfg.daily_loss_halt_mode),
                           f"daily loss {self.loss.loss:.2f} USDT")

    def auto_halt(self, mode: HaltMode, reason: str) -> bool:
        """An automatic halt (the daily loss limit, a failing journal): only escalates. True when
        it changed the halt."""
        new = halt_mod.auto_halt(self.halt_state, mode, reason, self.wall_ms())
        if new is self.halt_state:
            return False
        self._set_halt(new)
        self._journal_step("", "halt", {"mode": mode.value, "reason": new.reason, "auto": True}, None)
        if mode is HaltMode.FLATTEN:
            self.evaluate_all()
        return True

    def _set_halt(self, new: HaltState) -> None:
        self.halt_state = new
        self.quiet.bump()
        self._store_call("record_halt", msgspec.to_builtins(new), self.wall_ms())

    def _store_call(self, method: str, *args: Any) -> None:
        if self._store is None:
            return
        try:
            getattr(self._store, method)(*args)
        except Exception as exc:  # a journal failure must not stop risk control
            self.last_error = f"state store: {exc!r}"

    # -- restart ---------------------------------------------------------------------------------
    def restore(self, stored: Mapping[str, Any]) -> None:
        """Put back what the journal kept (`Journal.risk_state`, filled by `Journal.open`):
        {"halt": HaltState fields | None, "daily_loss": {"day", "start_equity"} | None}. Call it
        once the journal is open and before opens are let through. A halt comes first, so a
        loss halt the operator acknowledged today stays acknowledged."""
        halt_doc = stored.get("halt")
        if halt_doc:
            try:
                self.restore_halt(msgspec.convert(halt_doc, HaltState))
            except msgspec.ValidationError as exc:
                self.last_error = f"restore halt: {exc}"
        loss_doc = stored.get("daily_loss")
        if loss_doc:
            self.restore_daily_loss(DailyLoss(day=int(loss_doc["day"]),
                                              start_equity=float(loss_doc["start_equity"])))

    def restore_halt(self, stored: HaltState) -> HaltState:
        new = halt_mod.restored_halt(self.halt_state, stored)
        if new != self.halt_state:
            self._set_halt(new)
            self._journal_step("", "halt_restored", {"mode": new.mode.value, "reason": new.reason,
                                                     "auto": new.automatic}, None)
            if new.mode is HaltMode.FLATTEN:
                self.evaluate_all()
        return self.halt_state

    def restore_daily_loss(self, stored: DailyLoss) -> DailyLoss:
        """Today's stored baseline replaces the one taken since start; the loss (and a loss halt
        it calls for) is measured against it at once."""
        self.loss = halt_mod.restored_loss(self.loss, stored, self.wall_ms())
        self._track_loss()
        return self.loss

    def equity(self, views: AccountViews | None = None) -> float | None:
        """USDT equity over every venue (inputs.account_equity); `views`: this event's account
        figures (the margin books are then not summed again)."""
        return account_equity(self.hub, views)

    # -- journal and status --------------------------------------------------------------------------
    def _journal_step(self, pair_id: str, step: str, detail: dict[str, Any], r: PairRisk | None) -> None:
        row: dict[str, Any] = {"ts_ms": self.wall_ms(), "pair_id": pair_id, "step": step, "detail": detail}
        if r is not None:
            row["distances"] = {g.leg + ":" + g.venue: num_or_text(g.distance) for g in r.legs}
        self.steps.append(row)
        if self.log is not None:   # the operator's event: a ladder step, a halt set/lifted/restored
            self.log.info("risk_step", **row)
        if self._journal is not None:
            try:
                self._journal(row)
            except Exception as exc:
                self.last_error = f"journal: {exc!r}"

    def pair_risk(self, pair_id: str) -> PairRisk | None:
        """The pair's latest risk picture (None: not evaluated yet)."""
        self._refresh_lagging()
        st = self.state.get(pair_id)
        return st.risk if st is not None else None

    def _refresh_lagging(self) -> None:
        """Quiet pairs a mark did not re-evaluate hold the picture they were last judged on: read
        their figures now (what a full pass would hold; no clock enters a quiet pair's)."""
        if not self._lagging:
            return
        self._lagging = False
        views, stale = self._new_views(), self._stale_liq
        for pair in self._pairs():
            st = self.state.get(pair.id)
            if st is not None and pair.id in self.marks.bands and pair.state in _WATCHED_STATES:
                st.risk = assess(pair_inputs(self.hub, pair, self._bracket_source, self.cfg.fallback_mmr,
                                             lambda v, s, liq: stale.get((v, s)) != liq, views)[0],
                                 self.cfg)

    def status(self) -> dict[str, Any]:
        self._refresh_lagging()
        return watchdog_status(self)

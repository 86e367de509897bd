"""Auto mode: entry/exit policy over ranked opportunities and the pairs held.

Pure core: `decide(cfg, opportunities, pairs, state, ...) -> Decision` (state in, intents out; no
clock, no I/O). Shell: `Strategy` runs `decide` every `decision_interval_s` and hands the intents
to the pair engine (daemon/legging/engine.py).

Entry (all must hold, on `entry_confirm` consecutive decisions):
  candidate ok (healthy books, borrow available, fillable) and its funding earns for the trade;
  net APR >= entry threshold and above the hurdle; z-score entry signal (or no fit and
  `no_fit = "apr_only"`); not within the post-settlement guard with a predicted rate whose sign
  differs from the rate just settled; not in cooldown; halt mode allows opens.
Sizing: min(entry notional, per-pair, per-venue and total headroom, a share of the depth within
  the slippage cap, the largest size that keeps both legs above the liquidation-distance floor).
Exit (on `exit_confirm` consecutive decisions): funding flip (any time; within the guard after a
  settlement only if the settled rate flipped too), or after `min_hold_s` the mean-reversion exit
  signal / net APR <= exit threshold. The entry/exit gaps (z, APR), the confirmations and the
  cooldown are the hysteresis that keeps it from churning.
Halt: no_new / reduce_only -> exits only; flatten -> nothing (the watchdog unwinds everything).
"""
from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from msgspec import Struct, field, structs

from daemon.core import economics as ec
from daemon.core.economics import TradeType
from daemon.core.halt import HaltMode
from daemon.core.pair_rules import open_refusal
from daemon.core.pairs import make_legs
from daemon.opportunity.quotes import Opportunity
from daemon.opportunity.config import StrategyConfig
from daemon.risk import maths as risk
from connectors.tasks import cancel_and_wait

OppKey = tuple[str, str, tuple[tuple[str, str], ...]]   # (type, symbol, sorted venue items)
_HOURS_PER_YEAR = 24.0 * 365.0
ACTIVE_STATES = frozenset({"opening", "open", "adjusting", "closing", "failed"})


def opp_key(type_: str, symbol: str, venues: Mapping[str, str]) -> OppKey:
    return (type_, symbol, tuple(sorted(venues.items())))


class PairView(Struct, frozen=True, kw_only=True):
    """What the strategy needs to know about a pair held (built from daemon.core.pairs.Pair)."""

    id: str
    type: str
    symbol: str
    venues: dict[str, str]
    notional_usd: float
    state: str                     # daemon.core.pairs.State value
    opened_ms: int
    owned: bool = True             # opened by the strategy (only those are auto-closed)

    @property
    def key(self) -> OppKey:
        return opp_key(self.type, self.symbol, self.venues)


class Collateral(Struct, frozen=True, kw_only=True):
    """Free USDT per venue wallet, for the liquidation-distance floor at entry."""

    margin_free_usd: float         # cross-margin wallet (collateral of a short spot leg)
    futures_free_usd: float        # USD-M wallet (margin of a perp leg)


class OpenIntent(Struct, frozen=True, kw_only=True):
    type: str
    symbol: str
    venues: dict[str, str]
    notional_usd: float
    execution: str
    reason: str
    net_apr: float
    zscore: float | None


class CloseIntent(Struct, frozen=True, kw_only=True):
    pair_id: str
    reason: str


class StrategyState(Struct, kw_only=True):
    entry_streak: dict[OppKey, int] = field(default_factory=dict)
    exit_streak: dict[str, int] = field(default_factory=dict)
    cooldown_until: dict[OppKey, int] = field(default_factory=dict)
    owned: set[str] = field(default_factory=set)
    decisions: int = 0

    def copy(self) -> StrategyState:
        return StrategyState(entry_streak=dict(self.entry_streak),
                             exit_streak=dict(self.exit_streak),
                             cooldown_until=dict(self.cooldown_until), owned=set(self.owned),
                             decisions=self.decisions)


class Decision(Struct, frozen=True, kw_only=True):
    intents: list[OpenIntent | CloseIntent]
    state: StrategyState
    blocked: dict[str, str]        # "type symbol venues" -> why no entry / exit this time


def _label(key: OppKey) -> str:
    return f"{key[0]} {key[1]} " + "/".join(f"{k}={v}" for k, v in key[2])


# ---------------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------------


def _trade_rate(opp: Opportunity) -> tuple[float, float]:
    """(value, per-interval-rate scale) the fit's mu/sigma_f are expressed in for this trade."""
    if opp.type == TradeType.LONG_SHORT.value:
        return opp.apr.funding_apr, _HOURS_PER_YEAR / opp.interval_h   # APR spread units
    return opp.funding_rate, 1.0


def funding_against(opp: Opportunity, tolerance: float) -> bool:
    """The predicted funding runs against the trade by more than `tolerance` (per interval)."""
    if opp.type == TradeType.REVERSE_BASIS.value:
        return opp.funding_rate > tolerance
    if opp.type == TradeType.BASIS.value:
        return opp.funding_rate < -tolerance
    return opp.apr.funding_apr < -tolerance * _HOURS_PER_YEAR / opp.interval_h


def _settled_against(opp: Opportunity, tolerance: float) -> bool | None:
    r = opp.last_settled_rate
    if r is None or opp.type == TradeType.LONG_SHORT.value:
        return None
    return r > tolerance if opp.type == TradeType.REVERSE_BASIS.value else r < -tolerance


def just_settled(opp: Opportunity, now_ms: int, guard_s: float) -> bool:
    """Within `guard_s` after the last settlement, on the venue's clock when the mark has one.

    Settlement times are venue timestamps; comparing them with the local clock would mis-time
    the guard by the clock skew (and by the speed-up on the embedded exchange).
    """
    now = opp.mark_ts_ms or now_ms
    last_settlement = opp.next_funding_ms - int(opp.interval_h * 3_600_000)
    return 0 <= now - last_settlement < guard_s * 1000.0


def settlement_flip(opp: Opportunity, now_ms: int, guard_s: float) -> bool:
    """Just after a settlement, the predicted rate's sign differs from the rate just settled.

    Right after a settlement the predicted rate rests on a few premium samples; a sign change
    then is as likely noise as a regime change, so no entry is taken on it.
    """
    if not just_settled(opp, now_ms, guard_s) or opp.last_settled_rate is None:
        return False
    if opp.type == TradeType.LONG_SHORT.value:
        return False
    return (opp.funding_rate > 0) != (opp.last_settled_rate > 0) and opp.funding_rate != 0


def entry_reason(cfg: StrategyConfig, opp: Opportunity, now_ms: int) -> str | None:
    """None when the candidate qualifies for entry on signal grounds; else why not."""
    if opp.type not in cfg.types:
        return "type not enabled"
    if cfg.venues and not set(opp.venues.values()) <= set(cfg.venues):
        return "venue not enabled for auto mode"
    if not opp.ok:
        return "not ok: " + "; ".join(opp.reasons)
    if not opp.apr.funding_apr > 0:
        return "funding does not pay this trade"
    if opp.apr.net_apr * 100.0 < cfg.entry_net_apr_pct:
        return f"net APR {opp.apr.net_apr * 100:.2f} % < {cfg.entry_net_apr_pct} %"
    if not opp.hurdle_excess_apr > 0:
        return "net APR below the hurdle"
    if opp.mu is None or opp.sigma_f is None or not opp.sigma_f > 0:
        if cfg.no_fit == "block":
            return "no OU fit (short history)"
    else:
        value, _ = _trade_rate(opp)
        if not ec.entry_signal(opp.type, value, opp.mu, opp.sigma_f, cfg.entry_z):
            return f"z-score {opp.zscore:.2f} short of the entry band {cfg.entry_z}"
    if settlement_flip(opp, now_ms, cfg.settlement_guard_s):
        return "predicted rate flipped just after a settlement"
    return None


def exit_reason(cfg: StrategyConfig, opp: Opportunity, pair: PairView, now_ms: int) -> str | None:
    tol = cfg.flip_tolerance_pct / 100.0
    if funding_against(opp, tol):
        settled = _settled_against(opp, tol)
        if not just_settled(opp, now_ms, cfg.settlement_guard_s) or settled is not False:
            return "funding flipped"
    if now_ms - pair.opened_ms < cfg.min_hold_s * 1000.0:
        return None
    # Once open, the entry fees are sunk and the exit's are due either way: judge staying by
    # what staying earns (pricing.HoldPrice.hold_net_apr), not by a second round trip.
    held = opp.hold_net_apr if opp.hold_net_apr is not None else opp.apr.net_apr
    margin = held - cfg.exit_net_apr_pct / 100.0
    if not margin > 0:
        return f"net APR {held * 100:.2f} % <= {cfg.exit_net_apr_pct} % (staying)"
    if opp.mu is not None and opp.sigma_f is not None and opp.sigma_f > 0:
        value, _ = _trade_rate(opp)
        if ec.exit_signal(opp.type, value, opp.mu, opp.sigma_f, margin, cfg.exit_z):
            return f"mean reverted (z {opp.zscore:.2f})"
    return None


# ---------------------------------------------------------------------------------------------
# Sizing
# ---------------------------------------------------------------------------------------------


def _perp_sides(opp: Opportunity) -> list[tuple[str, float]]:
    """(venue, sign) of every perp leg the trade opens (> 0 long)."""
    if opp.type == TradeType.LONG_SHORT.value:
        return [(opp.venues["long"], 1.0), (opp.venues["short"], -1.0)]
    return [(opp.venues["perp"], 1.0 if opp.type == TradeType.REVERSE_BASIS.value else -1.0)]


def perp_entry_distance(cfg: StrategyConfig, sign: float, notional: float, wallet: float) -> float:
    """A fresh perp leg of `notional` (sign > 0 long) alone on `wallet`, priced at 1 (distances
    scale with price, so qty = notional)."""
    tiers = risk.fallback_tiers(None, cfg.perp_mmr_pct / 100.0)
    return risk.perp_distance(sign * notional, 1.0, wallet, tiers, 1.0)[0]


def margin_entry_distance(cfg: StrategyConfig, notional: float, collateral: float) -> float:
    """A fresh margin short of `notional` alone on `collateral` USDT, priced at 1 (as above)."""
    return risk.margin_short_distance(collateral, notional, 1.0, cfg.margin_liq_bar)


def liq_floor_cap(cfg: StrategyConfig, opp: Opportunity,
                  collateral: Mapping[str, Collateral] | None) -> tuple[float, str]:
    """Largest notional keeping every leg above the liquidation-distance floor at entry.

    The distances are the watchdog's (daemon/risk/perp.py, daemon/risk/margin.py) on a fresh
    leg alone in its wallet: the perp on the free futures wallet W (and N <= W L, the initial
    margin), the short spot leg on the free cross-margin collateral; the largest N is solved
    over them. The isolated view (wallet N/L) must clear the floor at any size, or nothing does.
    """
    f = cfg.liq_distance_floor_pct / 100.0
    sides = _perp_sides(opp)
    lev = cfg.perp_leverage
    if min(perp_entry_distance(cfg, sign, 1.0, 1.0 / lev) for _v, sign in sides) < f:
        return 0.0, f"perp leverage {lev:g} leaves < {cfg.liq_distance_floor_pct} %"
    if collateral is None:
        return math.inf, ""
    cap = math.inf
    why = ""
    for venue, sign in sides:
        c = collateral.get(venue)
        if c is None:
            return 0.0, f"no collateral figures for {venue}"
        w = c.futures_free_usd
        n = risk.largest_size(lambda n, s=sign, w=w: perp_entry_distance(cfg, s, n, w) >= f, w * lev)
        if n < cap:
            cap, why = n, f"perp wallet on {venue}"
    if opp.type == TradeType.REVERSE_BASIS.value:
        venue = opp.venues["spot"]
        c = collateral.get(venue)
        if c is None:
            return 0.0, f"no collateral figures for {venue}"
        m = c.margin_free_usd
        n = risk.largest_size(lambda n: margin_entry_distance(cfg, n, m) >= f)
        if n < cap:
            cap, why = n, f"margin collateral on {venue}"
    return max(cap, 0.0), why


def _exposure(pairs: Iterable[PairView]) -> tuple[dict[OppKey, float], dict[str, float], float]:
    per_key: dict[OppKey, float] = {}
    per_venue: dict[str, float] = {}
    total = 0.0
    for p in pairs:
        if p.state not in ACTIVE_STATES:
            continue
        per_key[p.key] = per_key.get(p.key, 0.0) + p.notional_usd
        for venue in set(p.venues.values()):
            per_venue[venue] = per_venue.get(venue, 0.0) + p.notional_usd
        total += p.notional_usd
    return per_key, per_venue, total


def size_entry(cfg: StrategyConfig, opp: Opportunity, pairs: Sequence[PairView],
               collateral: Mapping[str, Collateral] | None) -> tuple[float, str]:
    """(notional, binding limit). 0 when below `min_entry_usd`."""
    per_key, per_venue, total = _exposure(pairs)
    limits = [
        (cfg.entry_notional_usd, "entry notional"),
        (cfg.max_pair_usd - per_key.get(opp.key, 0.0), "per-pair limit"),
        (cfg.max_total_usd - total, "total limit"),
        (opp.depth_usd * cfg.depth_fraction, "depth within the slippage cap"),
    ]
    for venue in set(opp.venues.values()):
        limits.append((cfg.max_venue_usd - per_venue.get(venue, 0.0), f"per-venue limit {venue}"))
    limits.append(liq_floor_cap(cfg, opp, collateral))
    notional, why = min(limits, key=lambda x: x[0])
    if notional < cfg.min_entry_usd:
        return 0.0, why
    return notional, why


# ---------------------------------------------------------------------------------------------
# The decision
# ---------------------------------------------------------------------------------------------


def decide(cfg: StrategyConfig, opportunities: Sequence[Opportunity], pairs: Sequence[PairView],
           state: StrategyState, *, now_ms: int, halt: HaltMode = HaltMode.NONE,
           collateral: Mapping[str, Collateral] | None = None) -> Decision:
    st = state.copy()
    st.decisions += 1
    intents: list[OpenIntent | CloseIntent] = []
    blocked: dict[str, str] = {}
    by_key = {o.key: o for o in opportunities}
    if halt is HaltMode.FLATTEN:
        st.entry_streak.clear()
        return Decision(intents=[], state=st, blocked={"*": "halt flatten: the watchdog unwinds"})

    # -- exits -----------------------------------------------------------------------------------
    live_ids = set()
    held_keys = set()
    for pair in pairs:
        if pair.state not in ACTIVE_STATES:
            continue
        held_keys.add(pair.key)
        live_ids.add(pair.id)
        if pair.state != "open" or not (pair.owned or pair.id in st.owned):
            st.exit_streak.pop(pair.id, None)
            continue
        opp = by_key.get(pair.key)
        if opp is None:
            blocked[pair.id] = "no market data for the pair: holding"
            continue
        why = exit_reason(cfg, opp, pair, now_ms)
        if why is None:
            st.exit_streak.pop(pair.id, None)
            continue
        n = st.exit_streak.get(pair.id, 0) + 1
        st.exit_streak[pair.id] = n
        if n < cfg.exit_confirm:
            blocked[pair.id] = f"exit pending ({n}/{cfg.exit_confirm}): {why}"
            continue
        intents.append(CloseIntent(pair_id=pair.id, reason=why))
        st.exit_streak.pop(pair.id, None)
        st.cooldown_until[pair.key] = now_ms + int(cfg.cooldown_s * 1000)
    for pid in [p for p in st.exit_streak if p not in live_ids]:
        del st.exit_streak[pid]
    st.owned &= live_ids | {p.id for p in pairs}

    # -- entries ---------------------------------------------------------------------------------
    opens = 0
    held = list(pairs)
    seen: set[OppKey] = set()
    for opp in opportunities:
        key = opp.key
        seen.add(key)
        why = entry_reason(cfg, opp, now_ms)
        if why is not None:
            st.entry_streak.pop(key, None)
            if opp.type in cfg.types and opp.apr.net_apr > 0:
                blocked[_label(key)] = why
            continue
        n = st.entry_streak.get(key, 0) + 1
        st.entry_streak[key] = n
        if halt is not HaltMode.NONE:
            blocked[_label(key)] = f"halt {halt.value}: no new pairs"
            continue
        if key in held_keys:
            continue
        refused = open_refusal(opp.type, opp.symbol, dict(opp.venues), (
            (p.id, make_legs(p.type, p.symbol, p.venues)) for p in held if p.state in ACTIVE_STATES))
        if refused is not None:          # the engine refuses it too (daemon/core/pair_rules.py)
            blocked[_label(key)] = refused.message
            continue
        if now_ms < st.cooldown_until.get(key, 0):
            blocked[_label(key)] = "cooldown"
            continue
        if n < cfg.entry_confirm:
            blocked[_label(key)] = f"entry pending ({n}/{cfg.entry_confirm})"
            continue
        if opens >= cfg.max_opens_per_decision:
            blocked[_label(key)] = "one open per decision"
            continue
        if sum(1 for p in held if p.state in ACTIVE_STATES) >= cfg.max_open_pairs:
            blocked[_label(key)] = f"max_open_pairs {cfg.max_open_pairs}"
            continue
        notional, limit = size_entry(cfg, opp, held, collateral)
        if notional <= 0:
            blocked[_label(key)] = f"size below min_entry_usd ({limit})"
            continue
        intents.append(OpenIntent(type=opp.type, symbol=opp.symbol, venues=dict(opp.venues),
                                  notional_usd=notional, execution=cfg.execution,
                                  reason=f"net APR {opp.apr.net_apr * 100:.2f} %"
                                         + (f", z {opp.zscore:.2f}" if opp.zscore is not None
                                            else ""),
                                  net_apr=opp.apr.net_apr, zscore=opp.zscore))
        opens += 1
        st.entry_streak.pop(key, None)
        # Count the new pair against the limits of later candidates in this same decision.
        held.append(PairView(id=f"pending:{len(held)}", type=opp.type, symbol=opp.symbol,
                             venues=dict(opp.venues), notional_usd=notional, state="opening",
                             opened_ms=now_ms))
        held_keys.add(key)
    for key in [k for k in st.entry_streak if k not in seen]:
        del st.entry_streak[key]
    for key in [k for k, t in st.cooldown_until.items() if t <= now_ms]:
        del st.cooldown_until[key]
    return Decision(intents=intents, state=st, blocked=blocked)


def note_failed_open(state: StrategyState, key: OppKey, now_ms: int, cfg: StrategyConfig
                     ) -> StrategyState:
    """A rejected/failed open cools the candidate down like a close (no retry storm)."""
    st = state.copy()
    st.cooldown_until[key] = now_ms + int(cfg.cooldown_s * 1000)
    return st


# ---------------------------------------------------------------------------------------------
# Shell
# ---------------------------------------------------------------------------------------------


class PairEngine(Protocol):
    """What the strategy needs from the legging engine."""

    def pair_views(self) -> list[PairView]: ...
    def strategy_pair_ids(self) -> list[str]: ...
    async def open_pair(self, intent: OpenIntent) -> str: ...
    async def close_pair(self, pair_id: str, reason: str) -> None: ...


class Strategy:
    def __init__(self, cfg: StrategyConfig, *, opportunities: Callable[[], Sequence[Opportunity]],
                 engine: PairEngine, halt_mode: Callable[[], HaltMode],
                 collateral: Callable[[], Mapping[str, Collateral] | None] | None = None,
                 clock_ms: Callable[[], int] | None = None, log: Any = None) -> None:
        self.cfg = cfg
        self._opportunities = opportunities
        self.engine = engine
        self._halt_mode = halt_mode
        self._collateral = collateral or (lambda: None)
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.log = log
        self.state = StrategyState()
        self.last: Decision | None = None
        self.actions: list[dict[str, Any]] = []     # recent intents and outcomes (for status)
        self.errors = 0
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        # Opens sent but not yet visible in the engine's pair list: they count against limits
        # and block a second open of the same candidate.
        self._pending: dict[OppKey, PairView] = {}

    def reconfigure(self, cfg: StrategyConfig) -> None:
        self.cfg = cfg

    async def start(self) -> None:
        self.state.owned.update(self.engine.strategy_pair_ids())   # recovered from the journal
        self._task = asyncio.create_task(self._loop(), name="strategy")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        for t in list(self._inflight):
            t.cancel()
        for t in list(self._inflight):
            with contextlib.suppress(BaseException):
                await t

    async def _loop(self) -> None:
        while True:
            if self.cfg.enabled:
                try:
                    await self.step()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # one bad decision must not stop auto mode for good
                    self.errors += 1
                    if self.log is not None:
                        self.log.error("strategy_step_failed", error=repr(exc))
            await asyncio.sleep(self.cfg.decision_interval_s)

    async def step(self) -> Decision:
        """One decision; intents are sent concurrently and their outcome recorded."""
        now = self._clock_ms()
        owned = self.state.owned
        views = [structs.replace(v, owned=v.id in owned) for v in self.engine.pair_views()]
        views.extend(self._pending.values())
        decision = decide(self.cfg, self._opportunities(), views, self.state, now_ms=now,
                          halt=self._halt_mode(), collateral=self._collateral())
        self.state = decision.state
        self.last = decision
        for intent in decision.intents:
            self._record({"ts_ms": now, "intent": structs.asdict(intent),
                          "kind": "open" if isinstance(intent, OpenIntent) else "close"})
            if isinstance(intent, OpenIntent):
                key = opp_key(intent.type, intent.symbol, intent.venues)
                self._pending[key] = PairView(
                    id=f"pending:{key}", type=intent.type, symbol=intent.symbol,
                    venues=dict(intent.venues), notional_usd=intent.notional_usd,
                    state="opening", opened_ms=now, owned=False)
                self._spawn(self._open(intent, key, now))
            else:
                self._spawn(self._close(intent))
        return decision

    async def _open(self, intent: OpenIntent, key: OppKey, now: int) -> None:
        try:
            pair_id = await self.engine.open_pair(intent)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._pending.pop(key, None)
            self.state = note_failed_open(self.state, key, now, self.cfg)
            self._record({"ts_ms": now, "kind": "open_failed", "error": str(exc)})
            if self.log is not None:
                self.log.warning("strategy_open_failed", symbol=intent.symbol, type=intent.type,
                                 error=str(exc))
            return
        self._pending.pop(key, None)
        self.state.owned.add(pair_id)
        if self.log is not None:
            self.log.info("strategy_open", pair=pair_id, type=intent.type, symbol=intent.symbol,
                          notional_usd=intent.notional_usd, reason=intent.reason)

    async def _close(self, intent: CloseIntent) -> None:
        try:
            await self.engine.close_pair(intent.pair_id, intent.reason)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._record({"ts_ms": self._clock_ms(), "kind": "close_failed",
                          "pair": intent.pair_id, "error": str(exc)})
            return
        if self.log is not None:
            self.log.info("strategy_close", pair=intent.pair_id, reason=intent.reason)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    def _record(self, item: dict[str, Any]) -> None:
        self.actions.append(item)
        del self.actions[:-50]

    def status_fields(self) -> dict[str, Any]:
        return {"strategy": {
            "enabled": self.cfg.enabled, "decisions": self.state.decisions,
            "owned_pairs": sorted(self.state.owned), "errors": self.errors,
            "blocked": dict(list((self.last.blocked if self.last else {}).items())[:20]),
            "recent": self.actions[-10:],
        }}


# ---------------------------------------------------------------------------------------------
# Adapters to the legging engine and the hub
# ---------------------------------------------------------------------------------------------


class LeggingAdapter:
    """`PairEngine` over daemon.legging.engine.LeggingEngine (open_pair / close / pairs)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def pair_views(self) -> list[PairView]:
        out = []
        for pid, rt in self.engine.pairs.items():
            p = rt.pair
            keys = ("long", "short") if p.type == "long_short" else ("spot", "perp")
            out.append(PairView(
                id=pid, type=p.type, symbol=p.symbol,
                venues={keys[0]: p.legs[0].venue, keys[1]: p.legs[1].venue},
                notional_usd=p.notional_usd, state=p.state.value,
                opened_ms=getattr(rt, "opened_ms", 0) or p.created_ms))
        return out

    def strategy_pair_ids(self) -> list[str]:
        """Pairs journaled with origin "strategy": still ours to auto-close after a restart."""
        return [pid for pid, rt in self.engine.pairs.items() if rt.pair.origin == "strategy"]

    async def open_pair(self, intent: OpenIntent) -> str:
        return str(await self.engine.open_pair(intent.type, intent.symbol, intent.notional_usd,
                                               intent.execution, dict(intent.venues),
                                               origin="strategy"))

    async def close_pair(self, pair_id: str, reason: str) -> None:
        await self.engine.close(pair_id)


def collateral_from_hub(hub: Any, quote: str = "USDT") -> dict[str, Collateral]:
    """Free quote balance per venue in the margin and futures wallets (absent venue: no entry)."""
    out: dict[str, Collateral] = {}
    venues = {v for (v, _w, a) in hub.balances if a == quote}
    for venue in venues:
        margin = hub.balances.get((venue, "margin", quote))
        futures = hub.balances.get((venue, "futures", quote))
        out[venue] = Collateral(margin_free_usd=margin.free if margin is not None else 0.0,
                                futures_free_usd=futures.free if futures is not None else 0.0)
    return out

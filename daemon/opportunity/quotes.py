"""Opportunity pricing: every candidate trade priced from hub state (pure over the hub objects).

For each perp with a mark: basis and reverse basis against the spot market of the same base/quote
(same venue unless `cross_venue_basis`), and long/short for every pair of venues quoting the perp.
Each candidate carries its whole working: funding (predicted and last settled, the symbol's own
interval, next settlement), basis, borrow rate and availability, depth within the slippage cap,
fees, slippage, net APR (daemon.core.economics.net_apr), z-score and expected duration from the OU fit
of the perp's funding history. Nothing here does I/O or reads a clock: `now_ms` is an argument.
`scan` is the full pass; daemon/opportunity/incremental.py the one the `Scanner` shell runs.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from msgspec import Struct

from daemon.core import economics as ec
from daemon.core.economics import HOURS_PER_YEAR, TradeType
from daemon.opportunity.funding_feed import FundingStats, SpreadFit
from connectors.types import Instrument, InstrumentKey, Mark
from daemon.hub import Hub
from daemon.opportunity.config import ScannerConfig
from daemon.opportunity.pricing import (MODEL_APR_ONLY, Reversion, StrategyTerms, price_hold,
                                        slippage_from_mid_bps)

Key = tuple[str, str]


class Opportunity(Struct, frozen=True, kw_only=True):
    type: str
    symbol: str
    venues: dict[str, str]              # {"spot", "perp"} or {"long", "short"}
    # Funding of the perp (long_short: of the SHORT venue; the long venue's in long_*).
    funding_rate: float                 # predicted, per interval, fraction
    last_settled_rate: float | None
    interval_h: float
    next_funding_ms: int
    long_funding_rate: float | None = None
    long_interval_h: float | None = None
    long_next_funding_ms: int | None = None
    basis_bps: float
    borrow_hourly_rate: float | None = None
    borrow_available: bool | None = None   # None: not a borrowing trade, or cap not published
    max_borrowable: float | None = None
    depth_usd: float                    # entry depth within the slippage cap, thinner leg
    quote_size_usd: float
    slippage_bps: float                 # entry + exit, all legs, for quote_size_usd
    round_trip_fee: float               # fraction of notional, all legs, entry + exit
    holding_hours: float
    apr: ec.AprBreakdown                # funding_apr: expected over the hold (see pricing.py)
    model: str = MODEL_APR_ONLY         # "ou" | "ou_hold" | "apr_only" (no fit: today's rate)
    current_funding_apr: float = 0.0    # today's rate annualised, signed toward the trade
    hold_net_apr: float | None = None   # for a pair already open: exit costs only
    hurdle_excess_apr: float
    zscore: float | None = None
    mu: float | None = None             # OU mean of the rate, same units as funding_rate
    sigma_f: float | None = None
    half_life_h: float | None = None
    expected_duration_h: float | None = None
    ok: bool = True                     # healthy books, borrow available, fillable
    reasons: tuple[str, ...] = ()
    ts_ms: int = 0                      # when priced (local clock)
    mark_ts_ms: int = 0                 # the perp mark's event time (the venue's clock)

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return (self.type, self.symbol, tuple(sorted(self.venues.items())))

    @property
    def net_apr(self) -> float:
        return self.apr.net_apr

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of GET /v1/opportunities (percent where the key says `_pct`)."""
        def pct(x: float | None) -> float | None:
            return None if x is None else round(x * 100.0, 6)
        return {
            "type": self.type, "symbol": self.symbol, "venues": dict(self.venues),
            "funding_rate": self.funding_rate, "last_settled_rate": self.last_settled_rate,
            "interval_h": self.interval_h, "next_funding_ms": self.next_funding_ms,
            "long_funding_rate": self.long_funding_rate, "long_interval_h": self.long_interval_h,
            "long_next_funding_ms": self.long_next_funding_ms,
            "model": self.model,
            "funding_apr_pct": pct(self.apr.funding_apr),
            "current_funding_apr_pct": pct(self.current_funding_apr),
            "hold_net_apr_pct": pct(self.hold_net_apr),
            "borrow_apr_pct": pct(self.apr.borrow_apr),
            "fee_apr_pct": pct(self.apr.fee_apr),
            "slippage_apr_pct": pct(self.apr.slippage_apr),
            "net_apr_pct": pct(self.apr.net_apr),
            "hurdle_excess_apr_pct": pct(self.hurdle_excess_apr),
            "zscore": self.zscore, "mu": self.mu, "sigma_f": self.sigma_f,
            "half_life_h": self.half_life_h,
            "basis_bps": self.basis_bps, "depth_usd": self.depth_usd,
            "quote_size_usd": self.quote_size_usd, "slippage_bps": self.slippage_bps,
            "round_trip_fee_pct": pct(self.round_trip_fee),
            "holding_hours": self.holding_hours,
            "expected_duration_h": self.expected_duration_h,
            "borrow_hourly_rate": self.borrow_hourly_rate,
            "borrow_available": self.borrow_available, "max_borrowable": self.max_borrowable,
            "ok": self.ok, "reasons": list(self.reasons), "ts_ms": self.ts_ms,
            "mark_ts_ms": self.mark_ts_ms,
        }


# (taker side on leg 0's book, taker side on leg 1's book) at entry; exit is the opposite.
_ENTRY_SIDES: dict[TradeType, tuple[str, str]] = {
    TradeType.BASIS: ("buy", "sell"),           # buy spot, sell perp
    TradeType.REVERSE_BASIS: ("sell", "buy"),   # sell borrowed spot, buy perp
    TradeType.LONG_SHORT: ("buy", "sell"),      # buy long-venue perp, sell short-venue perp
}
_OPPOSITE = {"buy": "sell", "sell": "buy"}


class _LegQuote(Struct, frozen=True):
    slippage_bps: float      # entry + exit on this leg
    depth_usd: float         # entry side within the cap
    reasons: tuple[str, ...]


def _leg_quote(hub: Hub, key: InstrumentKey, entry_side: str, qty: float, cfg: ScannerConfig,
               now_ms: int) -> _LegQuote:
    reasons: list[str] = []
    ready, why = hub.book_ready(key, cfg.book_max_age_ms, now_ms)
    if not ready:
        reasons.append(why)
    book = hub.books.get(key)
    if book is None or book.best_bid() is None or book.best_ask() is None:
        # Unknown depth: charge the cap on both fills so a blind candidate never looks cheap.
        return _LegQuote(2 * cfg.slippage_cap_bps, 0.0, tuple(reasons or [f"no {key.market} book"]))
    # The cost is measured from the mid (the spread is paid on every taker fill); the cap
    # limits how far past the touch the walk may go.
    total = 0.0
    for side in (entry_side, _OPPOSITE[entry_side]):
        walk = book.slippage_bps(side, qty)
        cost = slippage_from_mid_bps(book, side, qty)
        if walk is None or cost is None:
            reasons.append(f"{key.venue} {key.market} book too thin for {qty:g} {key.symbol}")
            cost = cfg.slippage_cap_bps + (book.spread_bps() or 0.0) / 2.0
        elif walk > cfg.slippage_cap_bps:
            reasons.append(f"{key.venue} {key.market} {side} slippage {walk:.1f} bps > cap")
        total += cost
    touch = book.best_ask() if entry_side == "buy" else book.best_bid()
    assert touch is not None
    depth = book.qty_within_slippage(entry_side, cfg.slippage_cap_bps) * touch[0]
    return _LegQuote(total, depth, tuple(reasons))


def _fit_for(stats: FundingStats | None, interval_h: float) -> ec.OUFit | None:
    # A fit made on another interval's grid measures another rate: unusable.
    if stats is None or stats.fit is None or stats.interval_h != interval_h:
        return None
    return stats.fit if stats.fit.sigma_f > 0 else None


def _reversion(trade: TradeType, mark: Mark, interval: float, long_mark: Mark | None,
               long_interval: float | None, st: FundingStats | None,
               long_st: FundingStats | None, spread_fit: SpreadFit | None,
               ) -> tuple[Reversion | None, float | None]:
    """(mean-reversion state of what the strategy's signals read, half-life) or (None, None).

    long_short works on the APR spread: fitted on the spread itself when both venues have a
    common history (the venues' funding co-moves), else the two fits combined as if independent
    (mu and sigma of a difference), each annualised with its own interval.
    """
    per_year = HOURS_PER_YEAR / interval
    fit1 = _fit_for(st, interval)
    if trade is not TradeType.LONG_SHORT:
        if fit1 is None:
            return None, None
        return (Reversion(value=mark.funding_rate, mu=fit1.mu, sigma_f=fit1.sigma_f,
                          theta=fit1.theta), fit1.half_life_hours)
    assert long_mark is not None and long_interval is not None
    if spread_fit is not None and spread_fit.fit is not None and spread_fit.fit.sigma_f > 0:
        w = spread_fit.window_h
        ann = HOURS_PER_YEAR / w
        now = mark.funding_rate * w / interval - long_mark.funding_rate * w / long_interval
        fit = spread_fit.fit
        return (Reversion(value=now * ann, mu=fit.mu * ann, sigma_f=fit.sigma_f * ann,
                          theta=fit.theta, scale=per_year), fit.half_life_hours)
    fit0 = _fit_for(long_st, long_interval)
    if fit0 is None or fit1 is None:
        return None, None
    ann0 = HOURS_PER_YEAR / long_interval
    theta = min(fit1.theta, fit0.theta)       # the slower leg sets the pace
    return (Reversion(value=mark.funding_rate * per_year - long_mark.funding_rate * ann0,
                      mu=fit1.mu * per_year - fit0.mu * ann0,
                      sigma_f=math.hypot(fit1.sigma_f * per_year, fit0.sigma_f * ann0),
                      theta=theta, scale=per_year), math.log(2.0) / theta)


def _interval(mark: Mark, inst: Instrument | None) -> float:
    if mark.interval_h > 0:
        return mark.interval_h
    return inst.funding_interval_h if inst is not None else 8.0


def _fee_fraction(cfg: ScannerConfig, legs: tuple[tuple[str, str], tuple[str, str]]) -> float:
    maker = cfg.fee_mode == "maker"
    per_fill = [cfg.venue_fees(venue).pct(market, maker) / 100.0 for venue, market in legs]
    return ec.round_trip_fee_fraction(*per_fill, *per_fill)   # entry + exit


def price_candidate(
    hub: Hub, cfg: ScannerConfig, trade: TradeType, symbol: str,
    leg0: InstrumentKey, leg1: InstrumentKey, stats: Mapping[Key, FundingStats], now_ms: int,
    spreads: Mapping[tuple[Key, Key], SpreadFit] | None = None,
    terms: StrategyTerms | None = None,
) -> Opportunity | None:
    """Price one candidate. leg0 = spot (or long perp), leg1 = perp (or short perp)."""
    terms = terms if terms is not None else StrategyTerms()
    size_usd = cfg.quote_size_usd if cfg.quote_size_usd is not None else terms.order_size_usd
    perp_key = leg1
    mark = hub.marks.get((perp_key.venue, perp_key.symbol))
    if mark is None or not mark.mark_price > 0 or not mark.index_price > 0:
        return None
    interval = _interval(mark, hub.instruments.get(perp_key))
    st = stats.get((perp_key.venue, perp_key.symbol))
    last_settled = mark.last_settled_rate if mark.last_settled_rate is not None else (
        st.last_settled_rate if st is not None else None)
    reasons: list[str] = []
    qty = size_usd / mark.mark_price

    long_mark: Mark | None = None
    long_interval: float | None = None
    if trade is TradeType.LONG_SHORT:
        long_mark = hub.marks.get((leg0.venue, leg0.symbol))
        if long_mark is None or not long_mark.mark_price > 0:
            return None
        long_interval = _interval(long_mark, hub.instruments.get(leg0))
        basis = ec.basis_bps(mark.mark_price, long_mark.mark_price)   # short vs long venue
    else:
        basis = ec.basis_bps(mark.mark_price, mark.index_price)

    # Borrow (reverse basis): the coin on the spot venue's cross margin.
    borrow_rate: float | None = None
    available: bool | None = None
    max_borrow: float | None = None
    if trade is TradeType.REVERSE_BASIS:
        inst0 = hub.instruments.get(leg0)
        base = inst0.base if inst0 is not None else symbol
        b = hub.borrow.get((leg0.venue, base))
        if b is None:
            available = False
            reasons.append(f"no borrow rate for {base} on {leg0.venue}")
        else:
            borrow_rate = b.hourly_rate
            max_borrow = b.max_borrowable
            if b.max_borrowable is not None:
                available = b.max_borrowable >= qty
                if not available:
                    reasons.append(f"borrow {base}: {b.max_borrowable:g} available < {qty:g}")

    side0, side1 = _ENTRY_SIDES[trade]
    q0 = _leg_quote(hub, leg0, side0, qty, cfg, now_ms)
    q1 = _leg_quote(hub, leg1, side1, qty, cfg, now_ms)
    reasons.extend(q0.reasons)
    reasons.extend(q1.reasons)
    slippage_bps = q0.slippage_bps + q1.slippage_bps
    depth = min(q0.depth_usd, q1.depth_usd)
    fee = _fee_fraction(cfg, ((leg0.venue, leg0.market), (leg1.venue, leg1.market)))

    rev, half_life = _reversion(trade, mark, interval, long_mark, long_interval, st,
                                stats.get((leg0.venue, leg0.symbol)),
                                (spreads or {}).get(((leg0.venue, leg0.symbol),
                                                     (leg1.venue, leg1.symbol))))
    priced = price_hold(cfg, terms, trade, mark.funding_rate, interval, rev=rev,
                        round_trip_fee=fee, slippage_fraction=slippage_bps / 1e4,
                        borrow_hourly_rate=borrow_rate or 0.0,
                        long_rate=long_mark.funding_rate if long_mark is not None else None,
                        long_interval_h=long_interval)
    apr = priced.apr
    hurdle = ec.excess_over_hurdle(apr.net_apr, cfg.stable_lend_apr_pct / 100.0,
                                   cfg.asset_lend_apr_pct / 100.0)
    venues = ({"long": leg0.venue, "short": leg1.venue} if trade is TradeType.LONG_SHORT
              else {"spot": leg0.venue, "perp": leg1.venue})
    return Opportunity(
        type=trade.value, symbol=symbol, venues=venues,
        funding_rate=mark.funding_rate, last_settled_rate=last_settled, interval_h=interval,
        next_funding_ms=mark.next_funding_ms,
        long_funding_rate=long_mark.funding_rate if long_mark is not None else None,
        long_interval_h=long_interval,
        long_next_funding_ms=long_mark.next_funding_ms if long_mark is not None else None,
        basis_bps=basis, borrow_hourly_rate=borrow_rate, borrow_available=available,
        max_borrowable=max_borrow, depth_usd=depth, quote_size_usd=size_usd,
        slippage_bps=slippage_bps, round_trip_fee=fee, holding_hours=priced.holding_hours,
        apr=apr, hurdle_excess_apr=hurdle, model=priced.model,
        current_funding_apr=priced.current_funding_apr, hold_net_apr=priced.hold_net_apr,
        zscore=None if rev is None else ec.zscore(rev.value, rev.mu, rev.sigma_f),
        mu=None if rev is None else rev.mu, sigma_f=None if rev is None else rev.sigma_f,
        half_life_h=half_life, expected_duration_h=priced.expected_duration_h,
        ok=not reasons, reasons=tuple(reasons), ts_ms=now_ms, mark_ts_ms=mark.ts_ms,
    )


# (trade type, symbol, leg0, leg1): one trade the scanner prices.
Candidate = tuple[TradeType, str, InstrumentKey, InstrumentKey]


def candidates(hub: Hub, cfg: ScannerConfig) -> list[Candidate]:
    """Every (type, symbol, leg0, leg1) the configuration asks to price, in instrument order
    (perps, then the spots or perps of the same base/quote; linear: grouped by base/quote)."""
    types = {TradeType(t) for t in cfg.types}
    perps = [i for i in hub.instruments.values() if i.market == "perp"]
    spots: dict[tuple[str, str], list[Instrument]] = {}
    perps_of: dict[tuple[str, str], list[Instrument]] = {}
    for i in hub.instruments.values():
        if i.market == "spot":
            spots.setdefault((i.base, i.quote), []).append(i)
        elif i.market == "perp":
            perps_of.setdefault((i.base, i.quote), []).append(i)
    basis = [t for t in (TradeType.BASIS, TradeType.REVERSE_BASIS) if t in types]
    out: list[tuple[TradeType, str, InstrumentKey, InstrumentKey]] = []
    for perp in perps:
        for spot in spots.get((perp.base, perp.quote), ()):
            if spot.venue != perp.venue and not cfg.cross_venue_basis:
                continue
            for t in basis:
                out.append((t, perp.symbol, spot.key, perp.key))
    if TradeType.LONG_SHORT in types:
        for a in perps:
            for b in perps_of[(a.base, a.quote)]:
                if a.venue != b.venue:
                    out.append((TradeType.LONG_SHORT, b.symbol, a.key, b.key))
    return out


def rank_key(o: Opportunity) -> tuple[Any, ...]:
    """Tradeable first, then by net APR (best first); ties broken by name for a stable order."""
    return (not o.ok, -o.apr.net_apr, o.type, o.symbol, tuple(o.venues.values()))


def rank(opps: list[Opportunity]) -> list[Opportunity]:
    return sorted(opps, key=rank_key)


def scan(hub: Hub, cfg: ScannerConfig, stats: Mapping[Key, FundingStats], now_ms: int,
         spreads: Mapping[tuple[Key, Key], SpreadFit] | None = None,
         terms: StrategyTerms | None = None) -> list[Opportunity]:
    """All candidates, priced and ranked.

    long_short candidates are priced in both directions and only the one whose funding runs
    toward it is kept (the other is its mirror with the sign flipped).
    """
    return merge_priced((cand, price_candidate(hub, cfg, *cand, stats, now_ms, spreads, terms))
                        for cand in candidates(hub, cfg))


def merge_priced(priced_candidates: Iterable[tuple[Candidate, Opportunity | None]]
                 ) -> list[Opportunity]:
    """Ranked opportunities from (candidate, its price or None): one long_short per symbol and
    venue pair, the first priced unless a later one's funding runs further toward it."""
    priced: dict[tuple[Any, ...], Opportunity] = {}
    for (trade, symbol, leg0, leg1), opp in priced_candidates:
        if opp is None:
            continue
        if trade is TradeType.LONG_SHORT:
            pair_key = ("ls", symbol, frozenset((leg0.venue, leg1.venue)))
            other = priced.get(pair_key)
            if other is not None and other.apr.funding_apr >= opp.apr.funding_apr:
                continue
            priced[pair_key] = opp
        else:
            priced[opp.key] = opp
    return rank(list(priced.values()))

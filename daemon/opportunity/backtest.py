"""Backtest the pricing and the strategy on a real funding history (pure: lists in, result out).

At each settlement the OU model is fitted on the settlements up to and including that one (never
later: no look-ahead), the candidates are priced by `pricing.price_hold` exactly as the scanner
prices them, and the strategy's own `decide()` opens and closes pairs. The history has settled
rates only, so the rate just settled stands in for the venue's predicted rate (and, being the
average premium of the interval before, is half an interval old when the hold is priced).

Each closed trade compares what was predicted at entry (funding APR over the expected hold, net
APR) with what the following settlements paid over the hold the strategy actually kept. The
calibration is the mean predicted funding APR at entry against the mean realised funding APR.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from msgspec import Struct, field

from daemon.core import economics as ec
from daemon.core.economics import HOURS_PER_YEAR, NoMeanReversion, TradeType
from daemon.opportunity.config import ScannerConfig, StrategyConfig
from daemon.opportunity.pricing import HoldPrice, Reversion, StrategyTerms, price_hold
from daemon.opportunity.quotes import Opportunity
from daemon.opportunity.strategy import (CloseIntent, OpenIntent, PairView, StrategyState,
                                         decide)

_HOUR_MS = 3_600_000
_DECISION_OFFSET_MS = 60_000      # decisions start a minute after each settlement
_VENUE = "history"


class BacktestSettings(Struct, frozen=True, kw_only=True):
    scanner: ScannerConfig = ScannerConfig()
    strategy: StrategyConfig = StrategyConfig(enabled=True, types=["basis", "reverse_basis"])
    borrow_apr: float = 0.05      # the coin's borrow rate, fraction per year (before the stress)
    slippage_bps: float = 2.0     # all four fills, from the mid: a funding file has no book
    window: int = 1000            # settlements fitted: what the daemon fetches at start
    # Decisions per settlement: the live strategy confirms within seconds on unchanged settled
    # data, so each settlement gets enough decisions for the confirmations to complete.
    decisions_per_settlement: int | None = None


class BacktestTrade(Struct, frozen=True, kw_only=True):
    type: str
    entry_ms: int
    exit_ms: int | None                 # None: still open when the history ends
    settlements: int                    # settlements collected while held
    hold_h: float
    entry_rate: float                   # the settled rate the entry was decided on
    zscore: float | None
    model: str
    predicted_hold_h: float
    predicted_funding_apr: float        # expected over the predicted hold, signed to the trade
    current_funding_apr: float          # today's rate held for ever (the old model)
    predicted_net_apr: float
    realised_funding_apr: float | None  # mean of the settlements collected, annualised
    funding: float                      # fractions of notional over the hold
    borrow: float
    fees: float
    slippage: float
    total: float                        # funding - borrow - fees - slippage
    total_apr: float | None
    exit_reason: str = ""


class Calibration(Struct, frozen=True, kw_only=True):
    entries: int
    mean_predicted_funding_apr: float | None
    mean_realised_funding_apr: float | None
    mean_current_funding_apr: float | None   # what the old, instant-rate model predicted
    relative_error: float | None              # (predicted - realised) / |realised|


class BacktestResult(Struct, frozen=True, kw_only=True):
    symbol: str
    interval_h: float
    settlements: int
    fits: int                           # settlements with a usable OU fit
    trades: list[BacktestTrade]
    calibration: Calibration
    by_type: dict[str, Calibration] = field(default_factory=dict)
    total: float = 0.0                  # sum of closed trades' totals, fraction of notional


class _Held(Struct, kw_only=True):
    view: PairView
    index: int                          # settlement the entry was decided after
    opp: Opportunity


def calibration(trades: Sequence[BacktestTrade]) -> Calibration:
    closed = [t for t in trades if t.realised_funding_apr is not None]
    if not closed:
        return Calibration(entries=0, mean_predicted_funding_apr=None,
                           mean_realised_funding_apr=None, mean_current_funding_apr=None,
                           relative_error=None)
    n = len(closed)
    pred = math.fsum(t.predicted_funding_apr for t in closed) / n
    real = math.fsum(t.realised_funding_apr or 0.0 for t in closed) / n
    now = math.fsum(t.current_funding_apr for t in closed) / n
    return Calibration(entries=n, mean_predicted_funding_apr=pred, mean_realised_funding_apr=real,
                       mean_current_funding_apr=now,
                       relative_error=(pred - real) / abs(real) if real != 0 else None)


def _fee_fraction(cfg: ScannerConfig) -> float:
    fees = cfg.default_fees
    maker = cfg.fee_mode == "maker"
    per_fill = (fees.pct("spot", maker) / 100.0, fees.pct("perp", maker) / 100.0)
    return ec.round_trip_fee_fraction(*per_fill, *per_fill)


def _fit(rates: Sequence[float], interval_h: float, min_history: int) -> ec.OUFit | None:
    if len(rates) < min_history:
        return None
    try:
        fit = ec.fit_ou(rates, interval_h)
    except (NoMeanReversion, ValueError):
        return None
    return fit if fit.sigma_f > 0 else None


def _opportunity(settings: BacktestSettings, terms: StrategyTerms, trade: TradeType,
                 symbol: str, rate: float, interval_h: float, fit: ec.OUFit | None,
                 slot_ms: int, fee: float) -> Opportunity:
    cfg = settings.scanner
    borrow_hourly = (settings.borrow_apr / HOURS_PER_YEAR
                     if trade is TradeType.REVERSE_BASIS else 0.0)
    rev = None if fit is None else Reversion(value=rate, mu=fit.mu, sigma_f=fit.sigma_f,
                                             theta=fit.theta)
    priced: HoldPrice = price_hold(cfg, terms, trade, rate, interval_h, rev=rev,
                                   round_trip_fee=fee,
                                   slippage_fraction=settings.slippage_bps / 1e4,
                                   borrow_hourly_rate=borrow_hourly, rate_age_h=interval_h / 2)
    now = slot_ms + _DECISION_OFFSET_MS
    return Opportunity(
        type=trade.value, symbol=symbol, venues={"spot": _VENUE, "perp": _VENUE},
        funding_rate=rate, last_settled_rate=rate, interval_h=interval_h,
        next_funding_ms=slot_ms + round(interval_h * _HOUR_MS), basis_bps=0.0,
        borrow_hourly_rate=borrow_hourly if trade is TradeType.REVERSE_BASIS else None,
        borrow_available=True if trade is TradeType.REVERSE_BASIS else None,
        depth_usd=1e15, quote_size_usd=terms.order_size_usd, slippage_bps=settings.slippage_bps,
        round_trip_fee=fee, holding_hours=priced.holding_hours, apr=priced.apr,
        hurdle_excess_apr=ec.excess_over_hurdle(priced.apr.net_apr,
                                                cfg.stable_lend_apr_pct / 100.0,
                                                cfg.asset_lend_apr_pct / 100.0),
        model=priced.model, current_funding_apr=priced.current_funding_apr,
        hold_net_apr=priced.hold_net_apr,
        zscore=None if fit is None else ec.zscore(rate, fit.mu, fit.sigma_f),
        mu=None if fit is None else fit.mu, sigma_f=None if fit is None else fit.sigma_f,
        half_life_h=None if fit is None else fit.half_life_hours,
        expected_duration_h=priced.expected_duration_h, ts_ms=now, mark_ts_ms=now)


def _close(held: _Held, rates: Sequence[float], slots: Sequence[int], exit_index: int | None,
           interval_h: float, settings: BacktestSettings, reason: str) -> BacktestTrade:
    opp = held.opp
    last = exit_index if exit_index is not None else len(rates) - 1
    paid = rates[held.index + 1:last + 1]
    n = len(paid)
    hours = n * interval_h
    trade = TradeType(opp.type)
    sign = -1.0 if trade is TradeType.REVERSE_BASIS else 1.0
    funding = sign * math.fsum(paid)
    borrow = (settings.borrow_apr * hours / HOURS_PER_YEAR
              if trade is TradeType.REVERSE_BASIS else 0.0)
    slippage = settings.slippage_bps / 1e4
    total = funding - borrow - opp.round_trip_fee - slippage
    return BacktestTrade(
        type=opp.type, entry_ms=slots[held.index],
        exit_ms=slots[exit_index] if exit_index is not None else None, settlements=n,
        hold_h=hours, entry_rate=opp.funding_rate, zscore=opp.zscore, model=opp.model,
        predicted_hold_h=opp.holding_hours, predicted_funding_apr=opp.apr.funding_apr,
        current_funding_apr=opp.current_funding_apr, predicted_net_apr=opp.apr.net_apr,
        realised_funding_apr=(ec.trade_funding_apr(trade, math.fsum(paid) / n, interval_h)
                              if n and exit_index is not None else None),
        funding=funding, borrow=borrow, fees=opp.round_trip_fee, slippage=slippage, total=total,
        total_apr=total * HOURS_PER_YEAR / hours if hours > 0 else None, exit_reason=reason)


def run_backtest(symbol: str, slot_ms: Sequence[int], rates: Sequence[float], interval_h: float,
                 settings: BacktestSettings = BacktestSettings(),
                 progress: Callable[[int, int], None] | None = None) -> BacktestResult:
    """Walk the settlements in order; `progress(done, total)` is called every 100 of them."""
    if len(slot_ms) != len(rates):
        raise ValueError("slot_ms and rates must be the same length")
    scfg, strat = settings.scanner, settings.strategy
    terms = StrategyTerms.from_strategy(strat)
    fee = _fee_fraction(scfg)
    types = [TradeType(t) for t in strat.types if t != TradeType.LONG_SHORT.value]
    decisions = settings.decisions_per_settlement or max(strat.entry_confirm, strat.exit_confirm)
    step_ms = round(strat.decision_interval_s * 1000)
    state = StrategyState()
    held: dict[str, _Held] = {}
    trades: list[BacktestTrade] = []
    fits = 0
    total = len(rates)
    for i, (slot, rate) in enumerate(zip(slot_ms, rates)):
        if progress is not None and i % 100 == 0:
            progress(i, total)
        fit = _fit(rates[max(0, i + 1 - settings.window):i + 1], interval_h, scfg.min_history)
        fits += fit is not None
        opps = [_opportunity(settings, terms, t, symbol, rate, interval_h, fit, slot, fee)
                for t in types]
        by_type = {o.type: o for o in opps}
        for k in range(decisions):
            now = slot + _DECISION_OFFSET_MS + k * step_ms
            decision = decide(strat, opps, [h.view for h in held.values()], state, now_ms=now)
            state = decision.state
            for intent in decision.intents:
                if isinstance(intent, OpenIntent):
                    pid = f"bt{len(trades) + len(held)}"
                    view = PairView(id=pid, type=intent.type, symbol=symbol,
                                    venues=dict(intent.venues), notional_usd=intent.notional_usd,
                                    state="open", opened_ms=now)
                    held[pid] = _Held(view=view, index=i, opp=by_type[intent.type])
                elif isinstance(intent, CloseIntent):
                    h = held.pop(intent.pair_id)
                    trades.append(_close(h, rates, slot_ms, i, interval_h, settings,
                                         intent.reason))
    for h in held.values():
        trades.append(_close(h, rates, slot_ms, None, interval_h, settings, "history ended"))
    if progress is not None:
        progress(total, total)
    trades.sort(key=lambda t: t.entry_ms)
    closed = [t for t in trades if t.exit_ms is not None]
    return BacktestResult(
        symbol=symbol, interval_h=interval_h, settlements=total, fits=fits, trades=trades,
        calibration=calibration(closed),
        by_type={t.value: calibration([x for x in closed if x.type == t.value]) for t in types},
        total=math.fsum(t.total for t in closed))

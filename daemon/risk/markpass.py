"""Which pairs a mark frame must re-evaluate (pure bookkeeping of the watchdog).

A mark of one symbol moves, for every other pair on its venue, only account-wide figures: the
cross-margin account's excess E = assets - bar * liabilities (and the all-coins-together shock
root), and the futures wallet's D = unrealised PnL - maintenance of all positions. A quiet pair
(daemon/risk/quiet.py) decides nothing but warnings and journals nothing while its legs' ladder
steps stay put, so it only needs evaluating when E or D crosses a value at which one of its
steps changes. Both distances are monotone in those figures, so each quiet pair's evaluation
leaves a *band*: the open interval of E (and of D per perp leg) inside which its steps cannot
move, narrowed by a rounding guard. A mark then evaluates the pairs trading its symbol, the
venue's loud pairs and those whose band it leaves, in the full pass's order (a mark is handled
like a book frame whose loud pairs are these).

Cross margin, one coin alone (daemon/risk/margin.py `_liq_root`): with slope = bar*owed - held
and price P, the liquidation root gives distance E / (|slope| * P) (for a net long only while
that is below 1; beyond, no fall liquidates: inf). Perp (daemon/risk/perp.py): the own-formula
distance exceeds t iff X > mm(p_t) - qty * (p_t - entry) at the price p_t a move of t away, where
X = wallet + other uPnL - other maintenance = wallet + D - (this position's uPnL - maintenance).
The venue's liquidation price and the coins' own figures do not move with another symbol's mark.

Whatever may move a band's premises bumps the quiet epoch or is an account event (a full pass,
which recomputes every band): a mark is only handled here while the venue's last full pass is
current, its coin is not one a spot book priced until now (`VenuePass.mids`), and its price > 0.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from connectors.types import InstrumentKey
import msgspec

from daemon.risk.distance import distance
from daemon.risk.ladder import level
from daemon.risk.margin import MarginBook
from daemon.risk.perp import maint_margin, perp_distance
from daemon.risk.quiet import QuietIndex

_GUARD = 1e-9      # relative rounding guard on every band edge


def _limits(lv: int, thr: Any) -> tuple[float, float]:
    """The distances (lower, exclusive; upper, inclusive) between which `level` stays `lv`."""
    steps = (thr.warn, thr.collateral, thr.deleverage, thr.unwind)
    return (steps[lv] if lv < 4 else -math.inf), (steps[lv - 1] if lv > 0 else math.inf)


def together(book: MarginBook, bar: float, thr: Any) -> tuple[int, int]:
    """The step the all-coins-together shock puts the account at, and that shock's direction."""
    shock, s_dir = book.shock_root(bar)
    return level(math.inf if shock is None else s_dir * shock, thr), s_dir


class Band:
    """Where one quiet pair's ladder steps cannot move, in its venues' account figures."""

    __slots__ = ("keys", "m_venue", "bar", "e_lo", "e_hi", "tog", "perps", "thr", "inputs", "funding")

    def __init__(self) -> None:
        self.keys: set[tuple[str, str]] = set()      # (venue, symbol) marks it reads directly
        self.m_venue: str | None = None
        self.bar = 0.0
        self.e_lo = -math.inf
        self.e_hi = math.inf
        self.tog: tuple[int, int] | None = None
        self.perps: list[tuple[str, float, float]] = []    # (venue, D low, D high)
        self.thr: Any = None
        # what its own mark re-derives it from: (margin leg input, its step; perp inputs, steps)
        self.inputs: tuple[Any, int, list[tuple[Any, int]]] | None = None
        self.funding: dict[tuple[str, str], tuple[float, float]] = {}

    def holds(self, venue: str, margin: Callable[[str], Any], futures: Callable[[str], Any],
              tog: dict[float, tuple[int, int]]) -> bool:
        if self.m_venue == venue:
            book = margin(venue)[0]
            e = book.total_a - self.bar * book.total_l
            if not self.e_lo < e < self.e_hi:
                return False
            if self.tog is not None:
                got = tog.get(self.bar)
                if got is None:
                    got = tog[self.bar] = together(book, self.bar, self.thr)
                if got != self.tog:
                    return False
        for v, lo, hi in self.perps:
            if v == venue:
                fb = futures(venue)
                if not lo < fb.total_upnl - fb.total_mm < hi:
                    return False
        return True


def _margin_band(band: Band, m: Any, lv_seen: int, cfg: Any) -> bool:
    book: MarginBook = m.account()
    band.m_venue = m.venue
    band.bar = m.bar
    band.keys.add((m.venue, m.asset + "USDT"))
    if book.owing == 0:
        return True                      # nothing owed: no mark can liquidate (inf)
    c = book.coins.get(m.asset)
    if c is None or not c.price > 0:
        return False
    slope = m.bar * c.owed - c.held
    k = abs(slope) * c.price
    if not (k > 0 and math.isfinite(k)):
        return False
    thr = cfg.margin
    e = book.total_a - m.bar * book.total_l
    alone = e / k if slope > 0 or e < k else math.inf
    lv = level(alone, thr)
    tog = together(book, m.bar, thr)
    if max(lv, tog[0] if tog[1] == (1 if slope > 0 else -1) else 0) != lv_seen:
        return False                     # not the step the evaluation found: leave it loud
    lo, hi = _limits(lv, thr)

    def at(t: float) -> float:
        if math.isinf(t):
            return t
        return (t if slope > 0 else min(t, 1.0)) * k

    guard = _GUARD * (abs(book.total_a) + m.bar * abs(book.total_l) + k)
    band.e_lo, band.e_hi = at(lo) + guard, at(hi) - guard
    band.tog = tog
    band.thr = thr
    return band.e_lo < e < band.e_hi


def _perp_band(band: Band, p: Any, lv_seen: int, cfg: Any, total_d: float) -> bool:
    band.keys.add((p.venue, p.symbol))
    thr = cfg.perp
    own = perp_distance(p.qty, p.entry, p.wallet, p.brackets, p.mark, None, p.other_mm,
                        p.other_upnl)[0]
    lv = level(own, thr)
    if lv > lv_seen:
        return False
    lo, hi = _limits(lv, thr)
    side = -1.0 if p.qty > 0 else 1.0      # the way the price moves against the position

    def at(t: float) -> float | None:
        if math.isinf(t):
            return t
        px = p.mark * (1.0 + side * t)
        if px <= 0:
            return None
        return maint_margin(p.brackets, p.qty * px) - p.qty * (px - p.entry)

    x_lo, x_hi = at(lo), at(hi)
    if x_lo is None or x_hi is None:
        return False
    x = p.wallet + p.other_upnl - p.other_mm
    offset = total_d - x
    guard = _GUARD * (abs(total_d) + abs(p.wallet) + abs(p.qty * p.mark) + 1.0)
    d_lo, d_hi = x_lo + offset + guard, x_hi + offset - guard
    band.perps.append((p.venue, d_lo, d_hi))
    return d_lo < total_d < d_hi


def _derive(pair: Any, inputs: tuple[Any, int, list[tuple[Any, int]]],
            funding: dict[tuple[str, str], tuple[float, float]], cfg: Any,
            futures: Callable[[str], Any]) -> Band | None:
    band = Band()
    band.inputs = inputs
    band.funding = funding
    for leg in pair.legs:
        band.keys.add((leg.venue, leg.symbol))
    m, lv_m, perps = inputs
    if m is not None and not _margin_band(band, m, lv_m, cfg):
        return None
    for p, lv in perps:
        fb = futures(p.venue)
        if not _perp_band(band, p, lv, cfg, fb.total_upnl - fb.total_mm):
            return None
    return band


def _steady(p: Any, lv: int, thr: Any) -> bool:
    """The perp leg, at its new mark, is at the step `lv` (the nearer of its own and the venue's
    liquidation price), away from either edge by more than the rounding guard."""
    d = perp_distance(p.qty, p.entry, p.wallet, p.brackets, p.mark, None, p.other_mm, p.other_upnl)[0]
    if p.venue_liq is not None:
        if p.venue_liq >= p.mark if p.qty > 0 else p.venue_liq <= p.mark:
            return False                  # past the mark: the evaluation would drop it
        d = min(d, distance(p.mark, p.venue_liq, -1 if p.qty > 0 else 1))
    lo, hi = _limits(lv, thr)
    guard = _GUARD * (1.0 + (abs(d) if math.isfinite(d) else 0.0))
    return level(d, thr) == lv and lo + guard < d and (d < hi - guard or hi == math.inf)


class _Hull:
    """Per venue, a band every banded pair there holds (the tightest edges seen since it was last
    rebuilt: a replaced band's edges stay in it, which only sends a mark the slow way)."""

    __slots__ = ("e_lo", "e_hi", "bar", "tog", "d_lo", "d_hi", "ok")

    def __init__(self) -> None:
        self.e_lo, self.e_hi, self.d_lo, self.d_hi = -math.inf, math.inf, -math.inf, math.inf
        self.bar: float | None = None
        self.tog: tuple[int, int] | None = None
        self.ok = True

    def add(self, venue: str, band: Band) -> None:
        if band.m_venue == venue:
            self.e_lo, self.e_hi = max(self.e_lo, band.e_lo), min(self.e_hi, band.e_hi)
            if band.tog is not None:
                if self.bar is None:
                    self.bar, self.tog = band.bar, band.tog
                elif self.bar != band.bar or self.tog != band.tog:
                    self.ok = False
        for v, lo, hi in band.perps:
            if v == venue:
                self.d_lo, self.d_hi = max(self.d_lo, lo), min(self.d_hi, hi)

    def holds(self, venue: str, margin: Callable[[str], Any], futures: Callable[[str], Any],
              thr: Any) -> bool:
        if not self.ok:
            return False
        if self.e_lo > -math.inf or self.e_hi < math.inf or self.bar is not None:
            book = margin(venue)[0]
            bar = self.bar if self.bar is not None else 0.0
            if self.bar is None and (self.e_lo > -math.inf or self.e_hi < math.inf):
                return False          # edges without a bar to read them at: the slow way
            if not self.e_lo < book.total_a - bar * book.total_l < self.e_hi:
                return False
            if self.tog is not None and together(book, bar, thr) != self.tog:
                return False
        if self.d_lo > -math.inf or self.d_hi < math.inf:
            fb = futures(venue)
            if not self.d_lo < fb.total_upnl - fb.total_mm < self.d_hi:
                return False
        return True


class MarkIndex:
    def __init__(self) -> None:
        self.bands: dict[str, Band] = {}
        self.frames_narrowed = 0       # marks that evaluated fewer than every pair on the venue
        self._hulls: dict[str, _Hull] = {}
        # per venue: the pass the index is of, (venue, symbol) -> ids of the pairs reading it
        self._touch: dict[str, tuple[Any, dict[tuple[str, str], list[str]]]] = {}

    def note(self, pair: Any, inp: Any, levels: dict[str, int], cfg: Any,
             futures: Callable[[str], Any], quiet: bool, marks: Any = None) -> None:
        """The pair's evaluation just left it quiet (a band from its inputs) or not (none)."""
        if not quiet:
            self.bands.pop(pair.id, None)
            return
        perps = [(p, levels.get("perp:" + p.venue, 0)) for p in inp.perps]
        funding = {}
        for leg in pair.legs:
            m = marks.get((leg.venue, leg.symbol)) if marks is not None else None
            funding[(leg.venue, leg.symbol)] = (m.funding_rate, m.interval_h) if m is not None else (0.0, 0.0)
        band = _derive(pair, (inp.margin, levels.get("margin:" + inp.margin.venue, 0) if inp.margin else 0,
                              perps), funding, cfg, futures)
        self._keep(pair, band)

    def _keep(self, pair: Any, band: Band | None) -> None:
        if band is None:
            self.bands.pop(pair.id, None)
            return
        old = self.bands.get(pair.id)
        self.bands[pair.id] = band
        for v in {leg.venue for leg in pair.legs}:
            hull = self._hulls.get(v)
            if hull is not None:
                hull.add(v, band)
            touch = self._touch.get(v)
            if touch is not None and (old is None or old.keys != band.keys):
                del self._touch[v]

    def _own(self, pair: Any, band: Band, mark: Any, cfg: Any, margin: Callable[[str], Any],
             futures: Callable[[str], Any], positions: Any) -> bool:
        """Whether a quiet pair trading the marked symbol keeps its steps at the new mark: its
        band derived again from the figures it was judged on, repriced (and kept if so)."""
        key = (mark.venue, mark.symbol)
        if band.inputs is None or band.funding.get(key) != (mark.funding_rate, mark.interval_h):
            return False                  # funding moves the pair's net APR: evaluate it
        m, lv_m, perps = band.inputs
        # every account figure as it is now (a leg on another venue too: its band is of them)
        if m is not None:
            m = msgspec.structs.replace(m, book=margin(m.venue)[0])
        moved = []
        for p, lv in perps:
            other_mm, other_upnl = futures(p.venue).others(p.symbol)
            if (p.venue, p.symbol) == key:
                pos = positions.get(key)
                if p.venue_liq is None and pos is not None and pos.liquidation_price:
                    return False          # the venue's figure left out (stale or past): evaluate
                p = msgspec.structs.replace(p, mark=mark.mark_price, other_mm=other_mm,
                                            other_upnl=other_upnl)
                if not _steady(p, lv, cfg.perp):
                    return False
            else:
                p = msgspec.structs.replace(p, other_mm=other_mm, other_upnl=other_upnl)
            moved.append((p, lv))
        again = _derive(pair, (m, lv_m, moved), band.funding, cfg, futures)
        if again is None:
            return False
        self._keep(pair, again)
        return True

    def frame(self, mark: Any, quiet: QuietIndex, cfg: Any, margin: Callable[[str], Any],
              futures: Callable[[str], Any], positions: Any = None) -> list[Any] | None:
        """The pairs a mark must evaluate, in the pass's order; None: a full pass is due."""
        venue = mark.venue
        vp = quiet.passes.get(venue)
        if vp is None or vp.epoch != quiet.epoch or vp.cfg is not cfg or not mark.mark_price > 0:
            return None
        if vp.mids and InstrumentKey(venue, "spot", mark.symbol) in vp.mids:
            return None                   # its coin was priced by a book until now
        loud = quiet.loud.get(venue) or ()
        if loud and not set(loud).issubset(vp.order.keys()):
            return None
        key = (venue, mark.symbol)
        bands = self.bands
        self.frames_narrowed += 1
        hull = self._hulls.get(venue)
        if hull is not None and hull.holds(venue, margin, futures, cfg.margin):
            touch = self._touch.get(venue)
            if touch is None or touch[0] is not vp:
                index: dict[tuple[str, str], list[str]] = {}
                for pair in vp.pairs:
                    band = bands.get(pair.id)
                    for k in (band.keys if band is not None else ()):
                        index.setdefault(k, []).append(pair.id)
                touch = self._touch[venue] = (vp, index)
            ids = {pid for pid in touch[1].get(key, ())
                   if pid not in bands or not self._own(vp.pairs[vp.order[pid]], bands[pid], mark, cfg,
                                                        margin, futures, positions)}
            ids.update(loud)
            ids.update(p.id for p in vp.pairs if p.id not in bands) if len(bands) < len(vp.pairs) else None
            order = vp.order
            return [vp.pairs[i] for i in sorted(order[pid] for pid in ids if pid in order)]
        # the slow way: every banded pair asked, and the hull rebuilt of the bands that stay
        tog: dict[float, tuple[int, int]] = {}
        few = []
        hull = self._hulls[venue] = _Hull()
        for pair in vp.pairs:
            band = bands.get(pair.id)
            if band is None or pair.id in loud or (
                    not self._own(pair, band, mark, cfg, margin, futures, positions) if key in band.keys
                    else not band.holds(venue, margin, futures, tog)):
                few.append(pair)
            else:
                hull.add(venue, band)
        return few

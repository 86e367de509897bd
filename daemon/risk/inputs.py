"""Read one pair's risk inputs out of the hub (pure over a hub snapshot: no I/O, no clock).

What the venue says is what counts: the margin account is every balance of the venue's cross
margin wallet (liabilities include accrued interest), the perp leg is the venue's position and
wallet, and the venue's own liquidation price is kept next to ours (the nearer wins later).
Prices: the perp mark of the coin on the same venue (what the crossing frame carries), else the
spot mid.
Account-level figures (a venue's cross-margin book, its futures positions) are read through
`AccountViews`, once per hub event however many pairs share the account.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from daemon.core import economics
from daemon.core import netting
from daemon.risk import maths as risk
from connectors.types import Health, InstrumentKey, book_stream
from daemon.hub import Hub
from daemon.core.netting import Claim
from daemon.core.pairs import Pair, State, open_targets
from daemon.risk.maths import Bracket, MarginAsset, MarginBook
from daemon.risk.margin import exact, rounded
from daemon.risk.assess import MarginLegInput, PairInputs, PerpLegInput

STABLES = frozenset({"USDT", "USDC", "FDUSD", "BUSD", "TUSD", "DAI"})
BracketSource = Callable[[str, str], Sequence[Bracket] | None]
VenueLiqCheck = Callable[[str, str, float], bool]
# A pair's signed exposure per leg as its own books hold it (the legging engine's fills and
# charges); None: not known, the targets of its operation stand in.
Exposures = Callable[[Pair], tuple[float, float] | None]
# States in which a pair may hold something on a venue (its claim on the netted figures).
HOLDING = frozenset({State.OPENING, State.OPEN, State.ADJUSTING, State.CLOSING, State.FAILED})


def base_asset(hub: Hub, venue: str, symbol: str) -> str:
    for market in ("spot", "perp"):
        inst = hub.instruments.get(InstrumentKey(venue, market, symbol))
        if inst is not None:
            return inst.base
    for quote in ("USDT", "USDC", "FDUSD", "BUSD"):
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)]
    return symbol


def coin_price(hub: Hub, venue: str, asset: str) -> float | None:
    if asset in STABLES:
        return 1.0
    symbol = f"{asset}USDT"
    mark = hub.marks.get((venue, symbol))
    if mark is not None and mark.mark_price > 0:
        return mark.mark_price
    book = hub.books.get(InstrumentKey(venue, "spot", symbol))
    if book is not None:
        return book.mid()
    return None


def margin_assets(hub: Hub, venue: str) -> tuple[tuple[MarginAsset, ...], bool]:
    """The venue's cross-margin account; False when a coin held or owed has no price."""
    out: list[MarginAsset] = []
    priced = True
    for (v, wallet, asset), bal in hub.balances.items():
        if v != venue or wallet != "margin":
            continue
        held = bal.free + bal.locked
        owed = bal.borrowed + bal.interest
        if held == 0 and owed == 0:
            continue
        price = coin_price(hub, venue, asset)
        if price is None:
            priced = False
            continue
        out.append(MarginAsset(asset=asset, held=held, liability=owed, price=price,
                               moves=asset not in STABLES))
    return tuple(out), priced


def liquidation_bar(hub: Hub, venue: str) -> float:
    """The venue's force-liquidation margin level for its cross-margin account, else the default."""
    acct = hub.margin_accounts.get(venue)
    if acct is not None and acct.force_liquidation_bar > 1.0:
        return acct.force_liquidation_bar
    return risk.FORCE_LIQUIDATION_BAR


def _stream_bad(hub: Hub, venue: str, stream: str) -> bool:
    state = hub.streams.get((venue, stream))
    return state is not None and state.health is not Health.HEALTHY


class FuturesBook:
    """A venue's USD-M cross positions summed once: maintenance and unrealised PnL of each and of
    all, so a pair's "other positions" figures are all minus its own (O(1) per pair)."""

    __slots__ = ("total_mm", "total_upnl", "own", "_sums")

    def __init__(self, hub: Hub, venue: str, brackets: BracketSource, fallback_mmr: float) -> None:
        self.total_mm = self.total_upnl = 0.0
        self.own: dict[str, tuple[float, float]] = {}
        for (v, sym), pos in hub.positions.items():
            if v != venue or pos.qty == 0:
                continue
            mm, upnl = self.own[sym] = self._figures(hub, v, sym, pos, brackets, fallback_mmr)
            self.total_mm += mm
            self.total_upnl += upnl
        # exactly (margin.exact): a fresh sum and one repriced by `moved` round alike
        self._sums: list[int] | None = None
        try:
            sums = [sum(exact(mm) for mm, _u in self.own.values()), sum(exact(u) for _m, u in self.own.values())]
            self.total_mm, self.total_upnl = rounded(sums[0]), rounded(sums[1])
            self._sums = sums
        except (ValueError, OverflowError):
            pass

    def moved(self, hub: Hub, venue: str, symbol: str, brackets: BracketSource,
              fallback_mmr: float) -> None:
        """`symbol`'s mark moved: its position's figures again, the totals by their change."""
        old = self.own.get(symbol)
        pos = hub.positions.get((venue, symbol))
        if old is None or pos is None:
            return
        mm, upnl = self._figures(hub, venue, symbol, pos, brackets, fallback_mmr)
        sums = self._sums
        try:
            if sums is None:
                raise ValueError("not exact")
            d_mm, d_upnl = exact(mm) - exact(old[0]), exact(upnl) - exact(old[1])
        except (ValueError, OverflowError):
            self.__init__(hub, venue, brackets, fallback_mmr)  # type: ignore[misc]
            return
        self.own[symbol] = (mm, upnl)
        sums[0] += d_mm
        sums[1] += d_upnl
        self.total_mm, self.total_upnl = rounded(sums[0]), rounded(sums[1])

    @staticmethod
    def _figures(hub: Hub, venue: str, symbol: str, pos: Any, brackets: BracketSource,
                 fallback_mmr: float) -> tuple[float, float]:
        om = hub.marks.get((venue, symbol))
        px = om.mark_price if om is not None else pos.entry_price
        return (risk.maint_margin(risk.fallback_tiers(brackets(venue, symbol), fallback_mmr), pos.qty * px),
                pos.qty * (px - pos.entry_price))

    def others(self, symbol: str) -> tuple[float, float]:
        """(maintenance, unrealised PnL) of every position on the wallet but `symbol`'s."""
        mm, upnl = self.own.get(symbol, (0.0, 0.0))
        if len(self.own) - (symbol in self.own) == 0:
            return 0.0, 0.0                # exactly: nothing else is on the wallet
        return self.total_mm - mm, self.total_upnl - upnl


class AccountViews:
    """Account-level figures of a hub (a venue's cross-margin book, its futures positions, each
    pair's share of the netted venue figures), each computed at most once until `reset`. The
    watchdog resets on every hub event, so every pair an event re-evaluates shares one set of
    account figures: the per-event cost is one pass over each account and over the pairs plus
    O(1) per pair, instead of one pass per pair.

    `pairs` / `exposures`: every pair and its books, for the shares (daemon/core/netting.py);
    without them no pair has a share and the venue figures are read as the pair's alone."""

    __slots__ = ("hub", "brackets", "fallback_mmr", "pairs", "exposures", "_margin", "_futures",
                 "_claims", "_holding", "_shares")

    def __init__(self, hub: Hub, brackets: BracketSource, fallback_mmr: float,
                 pairs: Callable[[], Iterable[Pair]] | None = None,
                 exposures: Exposures | None = None) -> None:
        self.hub = hub
        self.brackets = brackets
        self.fallback_mmr = fallback_mmr
        self.pairs = pairs
        self.exposures = exposures
        self._margin: dict[str, tuple[MarginBook, bool]] = {}
        self._futures: dict[str, FuturesBook] = {}
        # (venue, "perp" | "owed", symbol | coin) -> (pair, leg index, sign) of each claim on it
        self._claims: dict[tuple[str, str, str], list[tuple[Pair, int, float]]] | None = None
        self._holding: dict[str, Pair] = {}
        self._shares: dict[tuple[str, str, str], tuple[float, dict[str, float], float]] = {}

    def reset(self) -> None:
        if self._margin:
            self._margin.clear()
        if self._futures:
            self._futures.clear()
        if self._claims is not None:
            self._claims = None
            self._holding.clear()
        if self._shares:
            self._shares.clear()

    def mark_moved(self, venue: str, symbol: str) -> None:
        """A mark of one symbol, instead of `reset`: it moves no balance, position or pair, so the
        venue's books are repriced by that one coin (and position) and the rest is kept; the
        shares are read afresh (a pair's own books are not announced by the hub)."""
        got = self._margin.get(venue)
        if got is not None:
            book, priced = got
            coin = symbol[:-4] if symbol.endswith("USDT") else ""
            if coin in book.coins:
                price = coin_price(self.hub, venue, coin)
                moved = book.repriced(coin, price) if price is not None else None
                if moved is None:
                    del self._margin[venue]
                else:
                    self._margin[venue] = (moved, priced)
            elif not priced:
                del self._margin[venue]         # the mark may price a coin that had none
        fb = self._futures.get(venue)
        if fb is not None:
            fb.moved(self.hub, venue, symbol, self.brackets, self.fallback_mmr)
        if self._shares:
            self._shares.clear()

    def margin(self, venue: str) -> tuple[MarginBook, bool]:
        """The venue's cross-margin account (see `margin_assets`), summed."""
        got = self._margin.get(venue)
        if got is None:
            assets, priced = margin_assets(self.hub, venue)
            got = self._margin[venue] = (MarginBook(assets), priced)
        return got

    def futures(self, venue: str) -> FuturesBook:
        got = self._futures.get(venue)
        if got is None:
            got = self._futures[venue] = FuturesBook(self.hub, venue, self.brackets, self.fallback_mmr)
        return got

    def _claim_index(self) -> dict[tuple[str, str, str], list[tuple[Pair, int, float]]]:
        if self._claims is not None:
            return self._claims
        index: dict[tuple[str, str, str], list[tuple[Pair, int, float]]] = {}
        for pair in self.pairs() if self.pairs is not None else ():
            if pair.state not in HOLDING:
                continue
            self._holding[pair.id] = pair
            for i, leg in enumerate(pair.legs):
                if leg.market == "perp":
                    index.setdefault((leg.venue, "perp", leg.symbol), []).append((pair, i, 1.0))
                elif leg.borrows:       # the liability is the exposure: coins owed, > 0
                    key = (leg.venue, "owed", base_asset(self.hub, leg.venue, leg.symbol))
                    index.setdefault(key, []).append((pair, i, -1.0))
        self._claims = index
        return index

    def _held(self, pair: Pair) -> tuple[float, float]:
        books = self.exposures(pair) if self.exposures is not None else None
        # without the books: the operation's targets, or the pair's size (none recorded)
        return books if books is not None else (
            pair.targets if any(pair.targets) else open_targets(pair, pair.target_qty))

    def _share_of(self, key: tuple[str, str, str], venue_qty: float) -> tuple[float, dict[str, float], float]:
        got = self._shares.get(key)
        if got is None:
            claims = [Claim(pair_id=pair.id, qty=sign * self._held(pair)[i], busy=pair.state is not State.OPEN)
                      for pair, i, sign in self._claim_index().get(key, ())]
            by_pair = netting.shares(venue_qty, claims)
            got = self._shares[key] = (venue_qty, by_pair, netting.aligned(venue_qty, by_pair))
        return got

    def perp_shares(self, venue: str, symbol: str) -> tuple[float, dict[str, float], float]:
        """(the venue's net position, each pair's share of it, the shares on its side)."""
        pos = self.hub.positions.get((venue, symbol))
        return self._share_of((venue, "perp", symbol), pos.qty if pos is not None else 0.0)

    def owed_shares(self, venue: str, asset: str) -> tuple[float, dict[str, float], float]:
        """(the coin's liability on the venue's cross margin, incl. interest; each pair's share)."""
        bal = self.hub.balances.get((venue, "margin", asset))
        return self._share_of((venue, "owed", asset), bal.liability if bal is not None else 0.0)

    def own_exposure(self, pair_id: str) -> tuple[float, float] | None:
        """The pair's exposures as its books hold them (None: not known)."""
        self._claim_index()
        pair = self._holding.get(pair_id)
        return None if pair is None or self.exposures is None else self.exposures(pair)


def _perp_leg(hub: Hub, venue: str, symbol: str, brackets: BracketSource, fallback_mmr: float,
              venue_liq_ok: VenueLiqCheck | None = None, wallet_asset: str = "USDT",
              views: AccountViews | None = None, share: float | None = None,
              aligned_qty: float | None = None) -> PerpLegInput | None:
    pos = hub.positions.get((venue, symbol))
    mark = hub.marks.get((venue, symbol))
    if pos is None or pos.qty == 0 or mark is None:
        return None
    tiers = risk.fallback_tiers(brackets(venue, symbol), fallback_mmr)
    bal = hub.balances.get((venue, "futures", wallet_asset))
    wallet = (bal.free + bal.locked) if bal is not None else 0.0
    available = bal.free if bal is not None else 0.0
    # `free` is availableBalance after a REST refresh but the cross wallet balance after a stream
    # ACCOUNT_UPDATE (Binance sends no available figure there): bound it, at the current mark, by
    # the venue's own rule, maxWithdraw = min(wallet, wallet + uPnL - notional / leverage).
    lev = pos.leverage if pos.leverage > 0 else 1.0
    available = min(available, wallet, wallet + pos.qty * (mark.mark_price - (pos.entry_price or
                                                                              mark.mark_price))
                    - abs(pos.qty) * mark.mark_price / lev)
    if views is None:
        views = AccountViews(hub, brackets, fallback_mmr)
    other_mm, other_upnl = views.futures(venue).others(symbol)
    healthy = not _stream_bad(hub, venue, book_stream(InstrumentKey(venue, "perp", symbol)))
    venue_liq = pos.liquidation_price or None
    if venue_liq is not None and venue_liq_ok is not None and not venue_liq_ok(venue, symbol, venue_liq):
        venue_liq = None
    if venue_liq is not None and (venue_liq >= mark.mark_price if pos.qty > 0 else venue_liq <= mark.mark_price):
        # Past the mark on the wrong side: the venue would be liquidating this very position,
        # so the figure describes another one (a netted position that has since flipped side;
        # liquidation prices come from REST and lag). Our own formula judges it meanwhile.
        venue_liq = None
    return PerpLegInput(venue=venue, symbol=symbol, qty=pos.qty, entry=pos.entry_price or mark.mark_price,
                        mark=mark.mark_price, wallet=wallet, brackets=tiers,
                        venue_liq=venue_liq, other_mm=other_mm, other_upnl=other_upnl,
                        available=available, healthy=healthy, share=share, aligned_qty=aligned_qty)


def _net_apr(hub: Hub, pair: Pair) -> float | None:
    try:
        if pair.type == "long_short":
            lm = hub.marks.get((pair.legs[0].venue, pair.legs[0].symbol))
            sm = hub.marks.get((pair.legs[1].venue, pair.legs[1].symbol))
            if lm is None or sm is None:
                return None
            return economics.trade_funding_apr("long_short", sm.funding_rate, sm.interval_h,
                                               lm.funding_rate, lm.interval_h)
        m = hub.marks.get((pair.legs[1].venue, pair.legs[1].symbol))
        if m is None:
            return None
        borrow = 0.0
        if pair.type == "reverse_basis":
            b = hub.borrow.get((pair.legs[0].venue, base_asset(hub, pair.legs[0].venue, pair.symbol)))
            borrow = b.hourly_rate if b is not None else 0.0
        # Entry fees are sunk: what matters for staying is what the pair earns from now on.
        return economics.net_apr(pair.type, m.funding_rate, m.interval_h, holding_hours=24.0,
                                 borrow_hourly_rate=borrow).net_apr
    except ValueError:
        return None


def pair_inputs(hub: Hub, pair: Pair, brackets: BracketSource, fallback_mmr: float,
                venue_liq_ok: VenueLiqCheck | None = None,
                views: AccountViews | None = None) -> tuple[PairInputs, bool]:
    """The pair's inputs, and whether every leg's data is present, priced and healthy. `views`:
    account figures shared with the other pairs of this event (must be of this hub, brackets
    and fallback; fresh ones when None).

    The legs are judged as the venue judges them (the whole cross-margin account, the venue's
    net position); what the pair may do about them is its share (daemon/core/netting.py): a trim
    of every pair on the at-risk side by one fraction, a re-hedge of the pair's own share of the
    liability against its own share of the position."""
    if views is None:
        views = AccountViews(hub, brackets, fallback_mmr)
    margin: MarginLegInput | None = None
    perps: list[PerpLegInput] = []
    ok = True
    owed_share: float | None = None
    perp_share: float | None = None
    hedge_gap = 0.0
    perp_long = 0.0
    for leg in pair.legs:
        if leg.market == "spot_margin":
            asset = base_asset(hub, leg.venue, leg.symbol)
            book, priced = views.margin(leg.venue)
            bar = liquidation_bar(hub, leg.venue)
            bal = hub.balances.get((leg.venue, "margin", asset))
            owed = bal.liability if bal is not None else 0.0
            healthy = priced and not _stream_bad(hub, leg.venue, book_stream(
                InstrumentKey(leg.venue, "spot", leg.symbol)))
            ok = ok and healthy
            account_qty: float | None = None
            if leg.borrows:
                total, by_pair, _side = views.owed_shares(leg.venue, asset)
                owed_share = by_pair.get(pair.id)
                if owed_share is not None:
                    account_qty = total      # every pair owing the coin trims by one fraction
            if asset in book.coins:
                qty = pair.target_qty * (-leg.sign)      # > 0 for a short (bought back on a trim)
                margin = MarginLegInput(venue=leg.venue, asset=asset, qty=qty, assets=book.assets,
                                        bar=bar, healthy=healthy, book=book,
                                        account_qty=account_qty, share=owed_share)
            if leg.borrows:
                hedge_gap += owed
        else:
            net, by_pair, side = views.perp_shares(leg.venue, leg.symbol)
            share = by_pair.get(pair.id)
            p = _perp_leg(hub, leg.venue, leg.symbol, brackets, fallback_mmr, venue_liq_ok, views=views,
                          share=share, aligned_qty=side if share is not None else None)
            if p is None:
                ok = ok and (leg.venue, leg.symbol) in hub.marks
                continue
            ok = ok and p.healthy
            perps.append(p)
            if pair.type == "reverse_basis" and share is not None:
                perp_share = share
            if p.qty > 0:
                perp_long += p.qty
    if pair.type != "reverse_basis":
        gap = 0.0
    elif owed_share is not None and perp_share is not None:
        own = views.own_exposure(pair.id)
        gap = netting.agreed_gap(owed_share - perp_share,
                                 None if own is None else -(own[0] + own[1]))
    else:
        gap = hedge_gap - perp_long if hedge_gap > 0 else 0.0
    inp = PairInputs(pair_id=pair.id, margin=margin, perps=tuple(perps), net_apr=_net_apr(hub, pair),
                     hedge_gap=gap, hedge_qty=pair.target_qty)
    return inp, ok and not math.isnan(gap)


def account_equity(hub: Hub, views: AccountViews | None = None) -> float | None:
    """USDT equity over every venue: margin net assets + futures wallets + unrealised PnL.
    `views`: this event's account figures (the margin books are then not summed again)."""
    if not hub.balances:
        return None     # no account seen yet (venues still connecting): not an equity of 0
    total = 0.0
    venues = {v for (v, _w, _a) in hub.balances}
    for venue in venues:
        if views is not None:
            book, priced = views.margin(venue)
            if not priced:
                return None
            total += book.total_a - book.total_l
            continue
        assets, priced = margin_assets(hub, venue)
        if not priced:
            return None
        total += sum((a.held - a.liability) * a.price for a in assets)
    for (_v, wallet, asset), bal in hub.balances.items():
        if wallet == "futures" and asset == "USDT":
            total += bal.free + bal.locked
    for (v, sym), pos in hub.positions.items():
        m = hub.marks.get((v, sym))
        if m is not None and pos.qty:
            total += pos.qty * (m.mark_price - pos.entry_price)
    return total


def price_books(hub: Hub, venue: str) -> dict[InstrumentKey, float | None]:
    """The spot books whose mid prices a coin of the venue's cross-margin account (a coin held
    or owed with no perp mark there: `coin_price`), each with its mid now. No other book figure
    enters a pair's risk inputs."""
    out: dict[InstrumentKey, float | None] = {}
    for (v, wallet, asset), bal in hub.balances.items():
        if v != venue or wallet != "margin" or asset in STABLES:
            continue
        if bal.free + bal.locked == 0 and bal.borrowed + bal.interest == 0:
            continue
        symbol = f"{asset}USDT"
        mark = hub.marks.get((venue, symbol))
        if mark is not None and mark.mark_price > 0:
            continue
        key = InstrumentKey(venue, "spot", symbol)
        book = hub.books.get(key)
        out[key] = book.mid() if book is not None else None
    return out

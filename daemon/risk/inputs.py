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
from collections.abc import Callable, Sequence

from daemon.core import economics
from daemon.risk import maths as risk
from connectors.types import Health, InstrumentKey, book_stream
from daemon.hub import Hub
from daemon.core.pairs import Pair
from daemon.risk.maths import Bracket, MarginAsset, MarginBook
from daemon.risk.assess import MarginLegInput, PairInputs, PerpLegInput

STABLES = frozenset({"USDT", "USDC", "FDUSD", "BUSD", "TUSD", "DAI"})
BracketSource = Callable[[str, str], Sequence[Bracket] | None]
VenueLiqCheck = Callable[[str, str, float], bool]


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

    __slots__ = ("total_mm", "total_upnl", "own")

    def __init__(self, hub: Hub, venue: str, brackets: BracketSource, fallback_mmr: float) -> None:
        self.total_mm = self.total_upnl = 0.0
        self.own: dict[str, tuple[float, float]] = {}
        for (v, sym), pos in hub.positions.items():
            if v != venue or pos.qty == 0:
                continue
            om = hub.marks.get((v, sym))
            px = om.mark_price if om is not None else pos.entry_price
            upnl = pos.qty * (px - pos.entry_price)
            mm = risk.maint_margin(risk.fallback_tiers(brackets(v, sym), fallback_mmr), pos.qty * px)
            self.own[sym] = (mm, upnl)
            self.total_mm += mm
            self.total_upnl += upnl

    def others(self, symbol: str) -> tuple[float, float]:
        """(maintenance, unrealised PnL) of every position on the wallet but `symbol`'s."""
        mm, upnl = self.own.get(symbol, (0.0, 0.0))
        if len(self.own) - (symbol in self.own) == 0:
            return 0.0, 0.0                # exactly: nothing else is on the wallet
        return self.total_mm - mm, self.total_upnl - upnl


class AccountViews:
    """Account-level figures of a hub (a venue's cross-margin book, its futures positions), each
    computed at most once until `reset`. The watchdog resets on every hub event, so every pair an
    event re-evaluates shares one set of account figures: the per-event cost is one pass over
    each account plus O(1) per pair, instead of one pass per pair."""

    __slots__ = ("hub", "brackets", "fallback_mmr", "_margin", "_futures")

    def __init__(self, hub: Hub, brackets: BracketSource, fallback_mmr: float) -> None:
        self.hub = hub
        self.brackets = brackets
        self.fallback_mmr = fallback_mmr
        self._margin: dict[str, tuple[MarginBook, bool]] = {}
        self._futures: dict[str, FuturesBook] = {}

    def reset(self) -> None:
        if self._margin:
            self._margin.clear()
        if self._futures:
            self._futures.clear()

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


def _perp_leg(hub: Hub, venue: str, symbol: str, brackets: BracketSource, fallback_mmr: float,
              venue_liq_ok: VenueLiqCheck | None = None, wallet_asset: str = "USDT",
              views: AccountViews | None = None) -> PerpLegInput | None:
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
    return PerpLegInput(venue=venue, symbol=symbol, qty=pos.qty, entry=pos.entry_price or mark.mark_price,
                        mark=mark.mark_price, wallet=wallet, brackets=tiers,
                        venue_liq=venue_liq, other_mm=other_mm, other_upnl=other_upnl,
                        available=available, healthy=healthy)


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
    and fallback; fresh ones when None)."""
    if views is None:
        views = AccountViews(hub, brackets, fallback_mmr)
    margin: MarginLegInput | None = None
    perps: list[PerpLegInput] = []
    ok = True
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
            if asset in book.coins:
                qty = pair.target_qty * (-leg.sign)      # > 0 for a short (bought back on a trim)
                margin = MarginLegInput(venue=leg.venue, asset=asset, qty=qty, assets=book.assets,
                                        bar=bar, healthy=healthy, book=book)
            if leg.borrows:
                hedge_gap += owed
        else:
            p = _perp_leg(hub, leg.venue, leg.symbol, brackets, fallback_mmr, venue_liq_ok, views=views)
            if p is None:
                ok = ok and (leg.venue, leg.symbol) in hub.marks
                continue
            ok = ok and p.healthy
            perps.append(p)
            if p.qty > 0:
                perp_long += p.qty
    gap = hedge_gap - perp_long if pair.type == "reverse_basis" and hedge_gap > 0 else 0.0
    inp = PairInputs(pair_id=pair.id, margin=margin, perps=tuple(perps), net_apr=_net_apr(hub, pair),
                     hedge_gap=gap, hedge_qty=pair.target_qty)
    return inp, ok and not math.isnan(gap)

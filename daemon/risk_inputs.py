"""Read one pair's risk inputs out of the hub (pure over a hub snapshot: no I/O, no clock).

What the venue says is what counts: the margin account is every balance of the venue's cross
margin wallet (liabilities include accrued interest), the perp leg is the venue's position and
wallet, and the venue's own liquidation price is kept next to ours (the nearer wins later).
Prices: the perp mark of the coin on the same venue (what the crossing frame carries), else the
spot mid.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from daemon import economics, risk
from daemon.hub import Health, Hub, InstrumentKey, book_stream
from daemon.pairs import Pair
from daemon.risk import Bracket, MarginAsset
from daemon.risk_assess import MarginLegInput, PairInputs, PerpLegInput

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


def _stream_bad(hub: Hub, venue: str, stream: str) -> bool:
    state = hub.streams.get((venue, stream))
    return state is not None and state.health is not Health.HEALTHY


def _perp_leg(hub: Hub, venue: str, symbol: str, brackets: BracketSource, fallback_mmr: float,
              venue_liq_ok: VenueLiqCheck | None = None, wallet_asset: str = "USDT") -> PerpLegInput | None:
    pos = hub.positions.get((venue, symbol))
    mark = hub.marks.get((venue, symbol))
    if pos is None or pos.qty == 0 or mark is None:
        return None
    tiers = tuple(brackets(venue, symbol) or ()) or risk.flat_brackets(fallback_mmr)
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
    other_mm = other_upnl = 0.0
    for (v, sym), other in hub.positions.items():
        if v != venue or sym == symbol or other.qty == 0:
            continue
        om = hub.marks.get((v, sym))
        px = om.mark_price if om is not None else other.entry_price
        other_upnl += other.qty * (px - other.entry_price)
        other_mm += risk.maint_margin(tuple(brackets(v, sym) or ()) or risk.flat_brackets(fallback_mmr),
                                      other.qty * px)
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
                venue_liq_ok: VenueLiqCheck | None = None) -> tuple[PairInputs, bool]:
    """The pair's inputs, and whether every leg's data is present, priced and healthy."""
    margin: MarginLegInput | None = None
    perps: list[PerpLegInput] = []
    ok = True
    hedge_gap = 0.0
    perp_long = 0.0
    for leg in pair.legs:
        if leg.market == "spot_margin":
            asset = base_asset(hub, leg.venue, leg.symbol)
            assets, priced = margin_assets(hub, leg.venue)
            acct = hub.margin_accounts.get(leg.venue)
            bar = acct.force_liquidation_bar if acct is not None else 1.1
            bal = hub.balances.get((leg.venue, "margin", asset))
            owed = bal.liability if bal is not None else 0.0
            healthy = priced and not _stream_bad(hub, leg.venue, book_stream(
                InstrumentKey(leg.venue, "spot", leg.symbol)))
            ok = ok and healthy
            if any(a.asset == asset for a in assets):
                qty = pair.target_qty * (-leg.sign)      # > 0 for a short (bought back on a trim)
                margin = MarginLegInput(venue=leg.venue, asset=asset, qty=qty, assets=assets, bar=bar,
                                        healthy=healthy)
            if leg.borrows:
                hedge_gap += owed
        else:
            p = _perp_leg(hub, leg.venue, leg.symbol, brackets, fallback_mmr, venue_liq_ok)
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

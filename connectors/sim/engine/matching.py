"""Matching against the model book: taker walks (partial fills across levels, consuming depth that
the depth model then refills) and resting orders filled when the market trades through them.
User orders never match each other; resting ones are shown in the book (overlay) but takers see
only model liquidity."""
from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from connectors.sim.engine.errors import err
from connectors.sim.engine.state import Order

if TYPE_CHECKING:
    from connectors.sim.engine.book import Book, DepthModel, Levels
    from connectors.sim.engine.params import SymbolSpec

Q8 = Decimal("0.00000001")
Fill = tuple[int, int]   # (price tick, lots)


def dec_param(params: dict[str, str], name: str, required: bool = True) -> Decimal | None:
    v = params.get(name)
    if v is None or v == "":
        if required:
            raise err(-1102, name)
        return None
    try:
        d = Decimal(str(v))
    except Exception:
        raise err(-1102, name) from None
    if not d.is_finite():
        raise err(-1102, name)
    return d


def fee_of(notional: Decimal, rate: Decimal) -> Decimal:
    # Truncated per fill, so that the fees of partial fills never exceed what was locked.
    return (notional * rate).quantize(Q8, ROUND_DOWN)


def walk(book: Book, overlay: dict[int, int], is_buy: bool, lots: int | None,
         limit_tick: int | None, quote_budget: Decimal | None = None,
         tick: Decimal = Decimal(1), step: Decimal = Decimal(1)) -> list[Fill]:
    """Fills a taker would get, best price first, without changing the book."""
    levels = book.sorted_asks() if is_buy else book.sorted_bids()
    out: list[Fill] = []
    left = lots
    budget = quote_budget
    for p, q in levels:
        if limit_tick is not None and (p > limit_tick if is_buy else p < limit_tick):
            break
        avail = q - overlay.get(p, 0)
        if avail <= 0:
            continue
        take = avail if left is None else min(avail, left)
        if budget is not None:
            take = min(take, int(budget / (p * tick * step)))
            if take <= 0:
                break
            budget -= p * tick * step * take
        out.append((p, take))
        if left is not None:
            left -= take
            if left <= 0:
                break
    return out


def consume(book: Book, model: DepthModel, is_buy: bool, fills: list[Fill]) -> None:
    for p, lots in fills:
        book.take(not is_buy, p, lots)
        model.deplete(not is_buy, p, lots)


def trim(fills: list[Fill], max_lots: int) -> list[Fill]:
    """The first `max_lots` of a walk (the fill_fraction fault)."""
    out = []
    left = max_lots
    for p, q in fills:
        if left <= 0:
            break
        out.append((p, min(q, left)))
        left -= min(q, left)
    return out


def book_market(o: Order) -> str:
    """The book an order rests on: "spot" or "fut"."""
    return "spot" if o.market == "spot" else "fut"


class Matching:
    """Book-side plumbing shared by margin and futures: resting orders and their overlay."""

    def __init__(self, specs: dict[str, SymbolSpec]) -> None:
        self.specs = specs
        self.open_orders: dict[tuple[str, str], list[Order]] = {}
        self.overlays: dict[tuple[str, str], tuple[dict[int, int], dict[int, int]]] = {}

    def tick_step(self, mkt: str, sym: str) -> tuple[Decimal, Decimal]:
        s = self.specs[sym]
        return (s.spot_tick, s.spot_step) if mkt == "spot" else (s.perp_tick, s.perp_step)

    def rest(self, o: Order) -> None:
        self.open_orders.setdefault((book_market(o), o.symbol), []).append(o)

    def unrest(self, o: Order) -> None:
        lst = self.open_orders.get((book_market(o), o.symbol), [])
        if o in lst:
            lst.remove(o)

    def match_resting(self, mkt: str, sym: str, bids: Levels, asks: Levels,
                      model: DepthModel, fill: Callable[[Order, Decimal], None]) -> None:
        """Fills (through `fill`) the resting orders the fresh model levels trade through."""
        orders = self.open_orders.get((mkt, sym))
        if not orders:
            return
        tick, step = self.tick_step(mkt, sym)
        for o in list(orders):
            if not o.is_open:
                continue
            ptick = int(o.price / tick)
            is_buy = o.side == "BUY"
            side = asks if is_buy else bids
            want = int(o.remaining / step)
            got = 0
            for p in sorted(side) if is_buy else sorted(side, reverse=True):
                if want - got <= 0 or (p > ptick if is_buy else p < ptick):
                    break
                take = min(side[p], want - got)
                side[p] -= take
                if side[p] <= 0:
                    del side[p]
                model.deplete(not is_buy, p, take)
                got += take
            if got > 0:
                fill(o, Decimal(got) * step)

    def overlay(self, mkt: str, sym: str, bids: Levels, asks: Levels) -> None:
        ob: dict[int, int] = {}
        oa: dict[int, int] = {}
        tick, step = self.tick_step(mkt, sym)
        for o in self.open_orders.get((mkt, sym), ()):
            if not o.is_open:
                continue
            p, lots = int(o.price / tick), int(o.remaining / step)
            d = ob if o.side == "BUY" else oa
            d[p] = d.get(p, 0) + lots
        for p, q in ob.items():
            bids[p] = bids.get(p, 0) + q
        for p, q in oa.items():
            asks[p] = asks.get(p, 0) + q
        self.overlays[(mkt, sym)] = (ob, oa)

    def overlay_for(self, mkt: str, sym: str, is_buy: bool) -> dict[int, int]:
        ob, oa = self.overlays.get((mkt, sym), ({}, {}))
        return oa if is_buy else ob

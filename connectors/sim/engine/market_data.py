"""Market data: the books refreshed from the depth models each step (resting user orders matched
and overlaid), the public depth/bookTicker/markPrice events, and the public REST views."""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from connectors.sim.engine import refdata
from connectors.sim.engine.errors import err
from connectors.sim.engine.matching import Matching
from connectors.sim.engine.params import SymbolSpec
from connectors.sim.engine.state import Order
from connectors.sim.engine.venue_state import VenueState

LevelFormatter = Callable[[list[tuple[int, int]]], list[list[str]]]


def fmt_levels(mkt: str, tick: Decimal, step: Decimal) -> LevelFormatter:
    """(tick, lots) levels -> Binance's [[price, qty], ...] strings for one market."""
    if mkt == "spot":
        def f(levels: list[tuple[int, int]]) -> list[list[str]]:
            return [[f"{p * tick:.8f}", f"{q * step:.8f}"] for p, q in levels]
    else:
        pd, qd = refdata.decimals(tick), refdata.decimals(step)

        def f(levels: list[tuple[int, int]]) -> list[list[str]]:
            return [[f"{p * tick:.{pd}f}", f"{q * step:.{qd}f}"] for p, q in levels]
    return f


def limit_param(limit: int | str | None, default: int) -> int:
    try:
        n = int(limit) if limit not in (None, "") else default
    except (TypeError, ValueError):
        raise err(-1100) from None
    return max(1, min(n, 5000))


class MarketData:
    def __init__(self, venue: VenueState, matching: Matching) -> None:
        self.venue = venue
        self.matching = matching

    # ---------------------------------------------------------------- books
    def refresh_books(self, h: float, fill_resting: Callable[[Order, Decimal], None]) -> None:
        """Refills the depth models by `h` seconds around the current mids; resting orders the
        new levels trade through are filled through `fill_resting`."""
        venue = self.venue
        for sym, spec in venue.specs.items():
            m = venue.markets[sym]
            for book, model, mid, mkt in (
                (venue.spot_books[sym], venue.spot_models[sym], m.mid / float(spec.spot_tick),
                 "spot"),
                (venue.fut_books[sym], venue.fut_models[sym], m.perp_mid / float(spec.perp_tick),
                 "futures"),
            ):
                if h > 0:
                    model.refresh(h)
                bids, asks = model.levels_for(mid)
                self.matching.match_resting(mkt, sym, bids, asks, model, fill_resting)
                self.matching.overlay(mkt, sym, bids, asks)
                book.replace(bids, asks)

    def publish(self, second_tick: bool) -> None:
        """Depth diffs and bookTicker changes since the last publish; markPrice once a second."""
        venue = self.venue
        now = venue.now_ms()
        for sym, spec in venue.specs.items():
            low = sym.lower()
            for mkt, book, tick, step in (
                ("spot", venue.spot_books[sym], spec.spot_tick, spec.spot_step),
                ("fut", venue.fut_books[sym], spec.perp_tick, spec.perp_step),
            ):
                top_before = (book._pub_bids and max(book._pub_bids),
                              book._pub_asks and min(book._pub_asks))
                bb0 = book._pub_bids.get(top_before[0]) if top_before[0] else None
                ba0 = book._pub_asks.get(top_before[1]) if top_before[1] else None
                diff = book.publish()
                if diff is None:
                    continue
                U, u, pu, b, a = diff
                b = venue.faults.crossing_bids(mkt, sym, b, book.best_ask())
                fmt = fmt_levels(mkt, tick, step)
                if venue.faults.take_skip_diff(mkt, sym):
                    pass  # the ids are consumed: subscribers see a gap, as on a lossy feed
                elif mkt == "spot":
                    venue.emit(f"spot:{low}@depth@100ms", {
                        "e": "depthUpdate", "E": now, "s": sym, "U": U, "u": u,
                        "b": fmt(b), "a": fmt(a)})
                else:
                    venue.emit(f"fut:{low}@depth@100ms", {
                        "e": "depthUpdate", "E": now, "T": now, "s": sym, "U": U, "u": u,
                        "pu": pu, "b": fmt(b), "a": fmt(a)})
                bb, ba = book.best_bid(), book.best_ask()
                if bb is None or ba is None:
                    continue
                if (bb[0], bb[1], ba[0], ba[1]) != (top_before[0], bb0, top_before[1], ba0):
                    tk = {"u": u, "s": sym, "b": fmt([bb])[0][0], "B": fmt([bb])[0][1],
                          "a": fmt([ba])[0][0], "A": fmt([ba])[0][1]}
                    if mkt == "spot":
                        venue.emit(f"spot:{low}@bookTicker", tk)
                    else:
                        venue.emit(f"fut:{low}@bookTicker",
                                   {"e": "bookTicker", **tk, "E": now, "T": now})
            if second_tick:
                pi = self._premium_index_one(sym)
                venue.emit(f"fut:{low}@markPrice@1s", {
                    "e": "markPriceUpdate", "E": now, "s": sym, "p": pi["markPrice"],
                    "i": pi["indexPrice"], "P": pi["estimatedSettlePrice"],
                    "r": pi["lastFundingRate"], "T": pi["nextFundingTime"]})

    # ---------------------------------------------------------------- REST views
    def spot_exchange_info(self) -> dict[str, Any]:
        return refdata.spot_exchange_info(list(self.venue.specs.values()), self.venue.now_ms())

    def futures_exchange_info(self) -> dict[str, Any]:
        return refdata.futures_exchange_info(list(self.venue.specs.values()), self.venue.now_ms())

    def funding_info(self) -> list[dict[str, Any]]:
        return refdata.funding_info(list(self.venue.specs.values()))

    def spot_depth(self, symbol: str, limit: int | str | None = 100) -> dict[str, Any]:
        spec = self.venue.spec(symbol)
        book = self.venue.spot_books[spec.symbol]
        n = limit_param(limit, 100)
        f = fmt_levels("spot", spec.spot_tick, spec.spot_step)
        return {"lastUpdateId": book.snapshot_id(), "bids": f(book.sorted_bids(n)),
                "asks": f(book.sorted_asks(n))}

    def futures_depth(self, symbol: str, limit: int | str | None = 500) -> dict[str, Any]:
        spec = self.venue.spec(symbol)
        book = self.venue.fut_books[spec.symbol]
        n = limit_param(limit, 500)
        f = fmt_levels("fut", spec.perp_tick, spec.perp_step)
        now = self.venue.now_ms()
        return {"lastUpdateId": book.snapshot_id(), "E": now, "T": now,
                "bids": f(book.sorted_bids(n)), "asks": f(book.sorted_asks(n))}

    def _spot_ticker(self, spec: SymbolSpec) -> dict[str, Any]:
        book = self.venue.spot_books[spec.symbol]
        bb, ba = book.best_bid() or (0, 0), book.best_ask() or (0, 0)
        t, s = spec.spot_tick, spec.spot_step
        return {"symbol": spec.symbol, "bidPrice": f"{bb[0] * t:.8f}", "bidQty": f"{bb[1] * s:.8f}",
                "askPrice": f"{ba[0] * t:.8f}", "askQty": f"{ba[1] * s:.8f}"}

    def spot_book_ticker(self, symbol: str | None = None) -> Any:
        if symbol:
            return self._spot_ticker(self.venue.spec(symbol))
        return [self._spot_ticker(s) for s in self.venue.specs.values()]

    def _futures_ticker(self, spec: SymbolSpec) -> dict[str, Any]:
        book = self.venue.fut_books[spec.symbol]
        bb, ba = book.best_bid() or (0, 0), book.best_ask() or (0, 0)
        t, s = spec.perp_tick, spec.perp_step
        pd, qd = refdata.decimals(t), refdata.decimals(s)
        return {"symbol": spec.symbol, "bidPrice": f"{bb[0] * t:.{pd}f}",
                "bidQty": f"{bb[1] * s:.{qd}f}", "askPrice": f"{ba[0] * t:.{pd}f}",
                "askQty": f"{ba[1] * s:.{qd}f}", "time": self.venue.now_ms(),
                "lastUpdateId": book.update_id}

    def futures_book_ticker(self, symbol: str | None = None) -> Any:
        if symbol:
            return self._futures_ticker(self.venue.spec(symbol))
        return [self._futures_ticker(s) for s in self.venue.specs.values()]

    def _premium_index_one(self, sym: str) -> dict[str, Any]:
        venue = self.venue
        m = venue.markets[sym]
        return {"symbol": sym, "markPrice": f"{m.mark_price():.8f}",
                "indexPrice": f"{m.index_price():.8f}",
                "estimatedSettlePrice": f"{m.mark_price():.8f}",
                # Binance's naming: lastFundingRate here is the predicted rate of the coming
                # settlement; interestRate the per-interval interest component.
                "lastFundingRate": f"{m.predicted_rate(venue.p):.8f}",
                "interestRate": f"{self._interest_per_interval(sym):.8f}",
                "nextFundingTime": venue.next_funding_ms[sym], "time": venue.now_ms()}

    def _interest_per_interval(self, sym: str) -> Decimal:
        return self.venue.p.funding_interest_8h * self.venue.specs[sym].funding_interval_h / 8

    def premium_index(self, symbol: str | None = None) -> Any:
        if symbol:
            return self._premium_index_one(self.venue.spec(symbol).symbol)
        return [self._premium_index_one(s) for s in self.venue.specs]

    def funding_rate_history(self, symbol: str | None = None,
                             limit: int | str | None = 100) -> list[dict[str, Any]]:
        n = limit_param(limit, 100)
        if symbol:
            return self.venue.funding_history[self.venue.spec(symbol).symbol][-n:]
        rows = [r for h in self.venue.funding_history.values() for r in h]
        return sorted(rows, key=lambda r: r["fundingTime"])[-n:]

    def leverage_brackets(self, account: str | None = None, symbol: str | None = None) -> Any:
        specs = [self.venue.spec(symbol)] if symbol else list(self.venue.specs.values())
        return refdata.leverage_brackets(specs, symbol)

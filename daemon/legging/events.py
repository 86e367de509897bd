"""The legging engine's hub subscriber: order updates, funding fees and interest charges.

Order updates with one of our client ids fold into the pair's order table (idempotent, see
legging_runtime); an order the runtime does not know (sent before a crash) is adopted. Venue-wide
funding and interest are shared among the managed pairs' legs by size.
"""
from __future__ import annotations

from typing import Any

from daemon.core import client_ids
from daemon.core.accounting import apply_funding, apply_interest
from connectors.types import FundingFee, InterestCharge, OrderUpdate
from daemon.hub import FUNDING_FEE, INTEREST, ORDER
from daemon.legging.orders import Executor
from daemon.legging.preflight import leg_key
from daemon.legging.runtime import OrderTrack, PairRuntime


class HubEvents(Executor):
    """Mixin of LeggingEngine (which sets `pairs`)."""

    pairs: dict[str, PairRuntime]

    def _on_hub(self, kind: str, item: Any) -> None:
        if kind is ORDER:
            u: OrderUpdate = item
            if not u.client_id.startswith(client_ids.PREFIX):
                return
            parsed = client_ids.parse(u.client_id)
            if parsed is None:
                return
            rt = self.pairs.get(parsed.pair)
            if rt is None or not rt.pair.managed:
                return
            track = rt.orders.get(u.client_id) or self._adopt(rt, u, parsed)
            self._fold(rt, track, u)
            self._persist(rt)
        elif kind is FUNDING_FEE:
            self._on_funding(item)
        elif kind is INTEREST:
            self._on_interest(item)

    def _adopt(self, rt: PairRuntime, u: OrderUpdate, parsed: client_ids.ClientId) -> OrderTrack:
        """One of our orders the runtime does not know (sent before a crash): take it in."""
        leg = rt.pair.legs[parsed.leg]
        track = OrderTrack(client_id=u.client_id, venue=leg.venue, market=leg.market,
                           symbol=leg.symbol, leg=parsed.leg, op=parsed.op, kind=parsed.kind,
                           side=u.side, qty=u.qty, price=u.price or None, status="UNKNOWN",
                           ts_ms=u.ts_ms)
        rt.orders[u.client_id] = track
        rt.bump_attempt_floor(parsed.op, parsed.leg, parsed.attempt)
        return track

    def _share(self, legs: list[tuple[PairRuntime, int]], amount: float
               ) -> list[tuple[PairRuntime, int, float]]:
        """Split a venue-wide charge by leg size. A MARGIN_BUY order borrows (and is charged the
        first hour's interest) before its fill is reported, so legs still at zero are weighed by
        the target of their running operation rather than dropping the charge."""
        total = sum(abs(rt.exposure(i)) for rt, i in legs)
        if total > 0:
            return [(rt, i, amount * abs(rt.exposure(i)) / total) for rt, i in legs]
        total = sum(abs(rt.pair.targets[i]) for rt, i in legs)
        if total <= 0:
            return []
        return [(rt, i, amount * abs(rt.pair.targets[i]) / total) for rt, i in legs]

    def _on_funding(self, fee: FundingFee) -> None:
        legs = [(rt, i) for rt in self.pairs.values() if rt.pair.managed
                for i, leg in enumerate(rt.pair.legs)
                if leg.market == "perp" and leg.venue == fee.venue and leg.symbol == fee.symbol]
        for rt, i, amount in self._share(legs, fee.amount):
            apply_funding(rt.books[i], amount)
            if self.journal is not None:
                self.journal.put("funding", {"pair_id": rt.pair.id, "venue": fee.venue,
                                             "symbol": fee.symbol, "amount": amount,
                                             "ts_ms": fee.ts_ms})
            self._persist(rt)

    def _on_interest(self, charge: InterestCharge) -> None:
        legs = [(rt, 0) for rt in self.pairs.values() if rt.pair.managed
                and rt.pair.legs[0].borrows and rt.pair.legs[0].venue == charge.venue
                and rt.meta[0].base == charge.asset]
        for rt, i, coin in self._share(legs, charge.amount):
            mark = self._mark(rt, i) or rt.books[i].avg_price
            apply_interest(rt.books[i], coin, mark)
            if self.journal is not None:
                self.journal.put("interest", {"pair_id": rt.pair.id, "venue": charge.venue,
                                              "asset": charge.asset, "coin": coin, "mark": mark,
                                              "ts_ms": charge.ts_ms})
            self._persist(rt)
            self._notify(rt)

    def _mark(self, rt: PairRuntime, i: int) -> float | None:
        leg = rt.pair.legs[i]
        m = self.hub.marks.get((leg.venue, leg.symbol))
        if m is not None:
            return m.mark_price
        book = self.hub.books.get(leg_key(leg))
        return book.mid() if book is not None else None

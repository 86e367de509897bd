"""The legging engine's hub subscriber: order updates, funding fees and interest charges.

Order updates with one of our client ids fold into the pair's order table (idempotent, see
runtime.py) through `OrderExecutor.fold`; an order the runtime does not know (sent before a
crash) is adopted. Funding and interest on a venue with a settlement history are attributed from
that history (income.py: per symbol, by size at the settlement time); elsewhere the event is
shared among the managed pairs' legs by their size now.
"""
from __future__ import annotations

from typing import Any

from daemon.core import client_ids
from daemon.core.accounting import apply_funding, apply_interest
from connectors.types import FundingFee, InterestCharge, OrderUpdate
from daemon.hub import FUNDING_FEE, INTEREST, ORDER, Hub
from daemon.journal import Journal
from daemon.legging.income import IncomeReconciler
from daemon.legging.orders import OrderExecutor
from daemon.legging.runtime import PairRuntime

# after the watchdog (10), before the scanner: a fill is in the pair before anything sizes on it
PRIORITY = 20


class HubEvents:
    """Subscribed to `hub` from construction until `close()`; `pairs` is the engine's map."""

    def __init__(self, hub: Hub, pairs: dict[str, PairRuntime], executor: OrderExecutor,
                 journal: Journal | None) -> None:
        self.pairs = pairs
        self.executor = executor
        self.journal = journal
        self.income = IncomeReconciler(pairs, executor, journal)
        self._unsubscribe = hub.subscribe(self.on_hub, priority=PRIORITY)

    def close(self) -> None:
        self._unsubscribe()
        self.income.close()

    def on_hub(self, kind: str, item: Any) -> None:
        if kind is ORDER:
            self.on_order(item)
        elif kind is FUNDING_FEE:
            self.on_funding(item)
        elif kind is INTEREST:
            self.on_interest(item)

    def on_order(self, u: OrderUpdate) -> None:
        if not u.client_id.startswith(client_ids.PREFIX):
            return
        parsed = client_ids.parse(u.client_id)
        if parsed is None:
            return
        rt = self.pairs.get(parsed.pair)
        if rt is None or not rt.pair.managed:
            return
        track = rt.orders.get(u.client_id) or rt.adopt(u, parsed)
        self.executor.fold(rt, track, u)
        self.executor.persist(rt)

    def on_funding(self, fee: FundingFee) -> None:
        if self.income.supports(fee.venue):
            self.income.poke(fee.venue, "funding", fee.ts_ms)
            return
        legs = [(rt, i) for rt in self.pairs.values() if rt.pair.managed
                for i, leg in enumerate(rt.pair.legs)
                if leg.market == "perp" and leg.venue == fee.venue and leg.symbol == fee.symbol]
        for rt, i, amount in share_by_size(legs, fee.amount):
            apply_funding(rt.books[i], amount)
            if self.journal is not None:
                self.journal.put("funding", {"pair_id": rt.pair.id, "venue": fee.venue,
                                             "symbol": fee.symbol, "amount": amount,
                                             "ts_ms": fee.ts_ms})
            self.executor.persist(rt)

    def on_interest(self, charge: InterestCharge) -> None:
        if self.income.supports(charge.venue):
            self.income.poke(charge.venue, "interest", charge.ts_ms)
            return
        legs = [(rt, 0) for rt in self.pairs.values() if rt.pair.managed
                and rt.pair.legs[0].borrows and rt.pair.legs[0].venue == charge.venue
                and rt.meta[0].base == charge.asset]
        for rt, i, coin in share_by_size(legs, charge.amount):
            mark = self.executor.mark(rt, i) or rt.books[i].avg_price
            apply_interest(rt.books[i], coin, mark)
            if self.journal is not None:
                self.journal.put("interest", {"pair_id": rt.pair.id, "venue": charge.venue,
                                              "asset": charge.asset, "coin": coin, "mark": mark,
                                              "ts_ms": charge.ts_ms})
            self.executor.persist(rt)
            self.executor.notify(rt)


def share_by_size(legs: list[tuple[PairRuntime, int]], amount: float
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

"""The state hub: the single source of current market and account state.

Connectors write into it; the watchdog, legging engine and scanner read from it. Subscribers are
called synchronously, in priority order, in the task that made the change (no queue hop between a
frame and the decision it triggers). Everything runs on one event loop, so a snapshot taken in one
synchronous call is consistent.

Keys: instruments and books are keyed by `InstrumentKey(venue, market, symbol)` with market
"spot" or "perp"; marks by `(venue, symbol)` (perp); balances by `(venue, wallet, asset)` with
wallet "margin" or "futures".
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from msgspec import Struct, structs

from connectors.types import (
    Balance, Borrow, FundingFee, Health, Instrument, InstrumentKey, InterestCharge, MarginAccount,
    Mark, OrderUpdate, PerpPosition, book_stream,
)
from daemon.core.book import OrderBook

# Change kinds passed to subscribers (interned strings: cheap to compare, readable in logs).
BOOK = "book"
MARK = "mark"
BORROW = "borrow"
BALANCE = "balance"
MARGIN = "margin"
POSITION = "position"
ORDER = "order"
FUNDING_FEE = "funding_fee"
INTEREST = "interest"
HEALTH = "health"
INSTRUMENT = "instrument"
PAIR = "pair"

Subscriber = Callable[[str, Any], None]
# (histogram name, seconds, venue): the metrics sink, a no-op until the daemon sets one.
Observer = Callable[[str, float, str], None]


def _ignore(_name: str, _seconds: float, _venue: str) -> None:
    return None


class StreamState(Struct, kw_only=True):
    health: Health
    since_ms: int
    reason: str = ""
    last_msg_ms: int = 0


_perf_ns = time.perf_counter_ns


def _now_ms() -> int:
    return int(time.time() * 1000)


class Hub:
    def __init__(self, event_log_size: int = 1000) -> None:
        self.instruments: dict[InstrumentKey, Instrument] = {}
        self.books: dict[InstrumentKey, OrderBook] = {}
        self.marks: dict[tuple[str, str], Mark] = {}
        self.borrow: dict[tuple[str, str], Borrow] = {}
        self.balances: dict[tuple[str, str, str], Balance] = {}
        self.margin_accounts: dict[str, MarginAccount] = {}
        self.positions: dict[tuple[str, str], PerpPosition] = {}
        self.orders: dict[tuple[str, str], OrderUpdate] = {}     # (venue, client_id) -> latest
        self.funding_fees: deque[FundingFee] = deque(maxlen=event_log_size)
        self.interest_charges: deque[InterestCharge] = deque(maxlen=event_log_size)
        self.streams: dict[tuple[str, str], StreamState] = {}
        self.pairs: dict[str, Any] = {}       # pair id -> daemon.core.pairs.Pair (the engine's object)
        self._subscribers: list[tuple[int, Subscriber]] = []
        self._callbacks: tuple[Subscriber, ...] = ()
        self.subscriber_errors = 0
        self.observe: Observer = _ignore
        # Called on each stream health transition (never per message): operator events.
        self.on_health: Callable[[str, str, StreamState], None] | None = None
        # perf_counter_ns of each book's last change (tick-to-order); venue event ms last seen
        self.book_ns: dict[InstrumentKey, int] = {}
        self._book_event_ms: dict[InstrumentKey, int] = {}
        # each book's current StreamState, for book_changed; forgotten on every health transition
        self._book_stream_state: dict[InstrumentKey, StreamState] = {}
        self.last_subscriber_error: str = ""

    # -- subscriptions -------------------------------------------------------------------------
    def subscribe(self, callback: Subscriber, priority: int = 100) -> Callable[[], None]:
        """Lower priority runs first (watchdog 10, legging 20, scanner 50). Returns unsubscribe."""
        entry = (priority, callback)
        self._subscribers.append(entry)
        self._subscribers.sort(key=lambda e: e[0])
        self._callbacks = tuple(cb for _, cb in self._subscribers)

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)
                self._callbacks = tuple(cb for _, cb in self._subscribers)
        return unsubscribe

    def publish(self, kind: str, item: Any) -> None:
        for callback in self._callbacks:
            try:
                callback(kind, item)
            except Exception as exc:  # a subscriber bug must never kill the connector feeding us
                self._subscriber_failed(callback, exc)

    def _subscriber_failed(self, callback: Subscriber, exc: Exception) -> None:
        self.subscriber_errors += 1
        self.last_subscriber_error = f"{getattr(callback, '__qualname__', callback)}: {exc!r}"

    # -- reference data ------------------------------------------------------------------------
    def set_instrument(self, inst: Instrument) -> None:
        self.instruments[inst.key] = inst
        self.publish(INSTRUMENT, inst)

    def book(self, key: InstrumentKey) -> OrderBook:
        """The book for `key`, created on first use with the instrument's tick size."""
        book = self.books.get(key)
        if book is None:
            inst = self.instruments.get(key)
            book = OrderBook(inst.tick_size if inst else 1e-8, symbol=key.symbol)
            self.books[key] = book
        return book

    # -- market data ---------------------------------------------------------------------------
    def book_changed(self, key: InstrumentKey, msg_ms: int = 0) -> None:
        """Connectors call this after applying a diff/snapshot to `self.books[key]`; `msg_ms`
        (when given) is the frame's arrival, as `touch` records it for the book's stream. Once
        per depth frame: `publish` is inlined."""
        self.book_ns[key] = _perf_ns()
        if msg_ms:
            state = self._book_stream_state.get(key)
            if state is None:
                state = self.streams.get((key.venue, book_stream(key)))
                if state is not None:
                    self._book_stream_state[key] = state
            if state is not None:
                state.last_msg_ms = msg_ms
        for callback in self._callbacks:
            try:
                callback(BOOK, key)
            except Exception as exc:
                self._subscriber_failed(callback, exc)
        if self.observe is not _ignore:
            self._feed_lag(key)

    def _feed_lag(self, key: InstrumentKey) -> None:
        """The venue's event time -> now, once per new event (a resync repeats one); an event
        "from the future" is the two clocks disagreeing, not a latency: not counted."""
        book = self.books.get(key)
        if book is not None and book.ts_ms and book.ts_ms != self._book_event_ms.get(key):
            self._book_event_ms[key] = book.ts_ms
            lag = time.time() - book.ts_ms / 1000
            if lag >= 0:
                self.observe("feed_lag", lag, key.venue)

    def set_mark(self, mark: Mark) -> None:
        self.marks[(mark.venue, mark.symbol)] = mark
        self.publish(MARK, mark)

    def set_borrow(self, borrow: Borrow) -> None:
        self.borrow[(borrow.venue, borrow.asset)] = borrow
        self.publish(BORROW, borrow)

    # -- account -------------------------------------------------------------------------------
    def set_balance(self, balance: Balance) -> None:
        self.balances[(balance.venue, balance.wallet, balance.asset)] = balance
        self.publish(BALANCE, balance)

    def set_balances(self, balances: Iterable[Balance]) -> None:
        """Several assets from one venue message: every one is stored before any is published,
        so no subscriber reads a torn account (a sale's coin gone, its USDT not yet in: a margin
        level of 0.5 on a healthy 3x pair, which the watchdog once unwound)."""
        batch = list(balances)
        for b in batch:
            self.balances[(b.venue, b.wallet, b.asset)] = b
        for b in batch:
            self.publish(BALANCE, b)

    def set_margin_account(self, account: MarginAccount) -> None:
        self.margin_accounts[account.venue] = account
        self.publish(MARGIN, account)

    def set_position(self, position: PerpPosition) -> None:
        self.positions[(position.venue, position.symbol)] = position
        self.publish(POSITION, position)

    def order_update(self, update: OrderUpdate) -> None:
        self.orders[(update.venue, update.client_id)] = update
        self.publish(ORDER, update)

    def funding_fee(self, fee: FundingFee) -> None:
        self.funding_fees.append(fee)
        self.publish(FUNDING_FEE, fee)

    def interest_charge(self, charge: InterestCharge) -> None:
        self.interest_charges.append(charge)
        self.publish(INTEREST, charge)

    # -- pairs ---------------------------------------------------------------------------------
    def set_pair(self, pair: Any) -> None:
        """The legging engine registers each pair and calls this on every state change."""
        self.pairs[pair.id] = pair
        self.publish(PAIR, pair)

    # -- health --------------------------------------------------------------------------------
    def set_health(self, venue: str, stream: str, health: Health, reason: str = "") -> None:
        key = (venue, stream)
        current = self.streams.get(key)
        if current is not None and current.health is health and current.reason == reason:
            return
        state = StreamState(health=health, since_ms=_now_ms(), reason=reason,
                            last_msg_ms=current.last_msg_ms if current else 0)
        self.streams[key] = state
        self._book_stream_state.clear()
        self.publish(HEALTH, (venue, stream, state))
        if self.on_health is not None:
            self.on_health(venue, stream, state)

    def touch(self, venue: str, stream: str, ts_ms: int) -> None:
        """Record message arrival without a health transition (cheap, hot path)."""
        state = self.streams.get((venue, stream))
        if state is not None:
            state.last_msg_ms = ts_ms

    def health(self, venue: str, stream: str) -> Health:
        state = self.streams.get((venue, stream))
        return state.health if state is not None else Health.DOWN

    def book_ready(self, key: InstrumentKey, max_age_ms: int | None = None,
                   now_ms: int | None = None) -> tuple[bool, str]:
        """Fail closed: the book must exist, be healthy, uncrossed, two-sided and fresh."""
        stream = book_stream(key)
        state = self.streams.get((key.venue, stream))
        if state is None or state.health is not Health.HEALTHY:
            return False, f"{key.venue} {stream} is {state.health.value if state else 'down'}"
        book = self.books.get(key)
        if book is None or book.best_bid() is None or book.best_ask() is None:
            return False, f"{key.venue} {stream} is empty"
        if book.is_crossed():
            return False, f"{key.venue} {stream} is crossed"
        if max_age_ms is not None and state.last_msg_ms:
            age = (now_ms if now_ms is not None else _now_ms()) - state.last_msg_ms
            if age > max_age_ms:
                return False, f"{key.venue} {stream} last update {age} ms ago"
        return True, ""

    # -- snapshot ------------------------------------------------------------------------------
    def snapshot(self, depth: int = 5) -> dict[str, Any]:
        """A consistent, JSON-ready copy (taken in one synchronous call on the loop)."""
        books = {}
        for key, book in self.books.items():
            bb, ba = book.best_bid(), book.best_ask()
            books[f"{key.venue}:{key.market}:{key.symbol}"] = {
                "bid": bb, "ask": ba, "crossed": book.is_crossed(),
                "bids": book.levels(0, depth), "asks": book.levels(1, depth),
                "last_update_id": book.last_update_id, "ts_ms": book.ts_ms,
            }
        return {
            "instruments": [structs.asdict(i) for i in self.instruments.values()],
            "books": books,
            "marks": [structs.asdict(m) for m in self.marks.values()],
            "borrow": [structs.asdict(b) for b in self.borrow.values()],
            "balances": [structs.asdict(b) for b in self.balances.values()],
            "margin_accounts": [structs.asdict(a) for a in self.margin_accounts.values()],
            "positions": [structs.asdict(p) for p in self.positions.values()],
            "streams": self.stream_summary(),
            "pairs": {pid: {"type": p.type, "symbol": p.symbol, "state": p.state.value,
                            "reason": p.reason} for pid, p in self.pairs.items()},
        }

    def stream_summary(self) -> dict[str, dict[str, dict[str, Any]]]:
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for (venue, stream), st in self.streams.items():
            out.setdefault(venue, {})[stream] = {
                "health": st.health.value, "since_ms": st.since_ms, "reason": st.reason,
                "last_msg_ms": st.last_msg_ms,
            }
        return out

"""Per-pair runtime state of the legging engine: the order table, leg books, attempt counters.

Fills are applied from cumulative per-order figures (filled qty, average price), so the same
execution reported twice (REST acknowledgement, then the user stream; or again after a restart)
moves nothing the second time. Fees are booked once per (order, trade id).
"""
from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from msgspec import Struct, field

from daemon.core import accounting as acc
from daemon.core.attribution import QtyLog
from daemon.core.client_ids import ClientId
from connectors.types import OrderUpdate
from daemon.core.pairs import Pair

FINAL = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH", "NOT_SENT"})
_EPS = 1e-12


class OrderTrack(Struct, kw_only=True):
    client_id: str
    venue: str
    market: str
    symbol: str
    leg: int
    op: int
    kind: str
    side: str
    qty: float
    price: float | None = None
    order_type: str = "LIMIT"
    order_id: str = ""
    # PENDING: intent written, no answer yet; UNKNOWN: outcome unknown (timeout / crash)
    status: str = "PENDING"
    filled: float = 0.0
    avg: float = 0.0
    fee_trades: list[str] = field(default_factory=list)
    ts_ms: int = 0
    error: str = ""

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def remaining(self) -> float:
        return max(0.0, self.qty - self.filled)


class LegMeta(Struct, kw_only=True):
    base: str = ""
    quote: str = "USDT"
    step: float = 0.0
    min_qty: float = 0.0
    tick: float = 0.0
    min_notional: float = 0.0


class PairDoc(Struct, kw_only=True):
    """What the journal stores per pair (one row, replaced on every change)."""

    pair: Pair
    books: tuple[acc.LegBook, acc.LegBook]
    orders: list[OrderTrack]
    attempts: dict[str, int]
    meta: tuple[LegMeta, LegMeta]
    entry_notional: float = 0.0
    opened_ms: int = 0
    execution_override: str = ""


_doc_encoder = msgspec.json.Encoder()
_doc_decoder = msgspec.json.Decoder(PairDoc)


class PairRuntime:
    def __init__(self, pair: Pair, meta: tuple[LegMeta, LegMeta]) -> None:
        self.pair = pair
        self.meta = meta
        self.books: tuple[acc.LegBook, acc.LegBook] = (acc.LegBook(), acc.LegBook())
        # each leg's quantity over venue time: settlements are shared by size at settlement
        self.qty_logs = (QtyLog(), QtyLog())
        self.orders: dict[str, OrderTrack] = {}
        self.attempts: dict[str, int] = {}
        self.blocked = [False, False]
        self.blocked_reason = ["", ""]
        self.wake = asyncio.Event()
        self.task: asyncio.Task[Any] | None = None
        self.entry_notional = 0.0
        self.opened_ms = 0
        self.op_orders = 0
        self.last_fill_ms = 0
        self.alerts: list[str] = []

    # -- counters ------------------------------------------------------------------------------
    def next_attempt(self, op: int, leg: int) -> int:
        key = f"{op}:{leg}"
        n = self.attempts.get(key, 0)
        self.attempts[key] = n + 1
        return n

    def bump_attempt_floor(self, op: int, leg: int, attempt: int) -> None:
        key = f"{op}:{leg}"
        if self.attempts.get(key, 0) <= attempt:
            self.attempts[key] = attempt + 1

    # -- hedge views -----------------------------------------------------------------------------
    def exposure(self, leg: int) -> float:
        return self.books[leg].qty

    def residual(self) -> float:
        return self.books[0].qty + self.books[1].qty

    def inflight(self, leg: int) -> bool:
        return any(o.leg == leg and not o.final for o in self.orders.values())

    def dust(self) -> list[dict[str, Any]]:
        """What a leg still holds (coins > 0) or owes (< 0), by coin: on a closed pair, the
        rounding left by lot steps, coin-paid fees and the last interest charges."""
        out = []
        for i, leg in enumerate(self.pair.legs):
            qty = self.books[i].qty
            if abs(qty) > _EPS:
                out.append({"leg": i, "venue": leg.venue, "market": leg.market,
                            "asset": self.meta[i].base, "amount": qty})
        return out

    def live_orders(self) -> list[OrderTrack]:
        return [o for o in self.orders.values() if not o.final]

    # -- venue events --------------------------------------------------------------------------
    def adopt(self, u: OrderUpdate, parsed: ClientId) -> OrderTrack:
        """One of our orders the table does not know (sent before a crash): take it in, and keep
        its attempt number from ever being used again."""
        leg = self.pair.legs[parsed.leg]
        track = OrderTrack(client_id=u.client_id, venue=leg.venue, market=leg.market,
                           symbol=leg.symbol, leg=parsed.leg, op=parsed.op, kind=parsed.kind,
                           side=u.side, qty=u.qty, price=u.price or None, status="UNKNOWN",
                           ts_ms=u.ts_ms)
        self.orders[u.client_id] = track
        self.bump_attempt_floor(parsed.op, parsed.leg, parsed.attempt)
        return track

    def apply_update(self, track: OrderTrack, u: OrderUpdate) -> list[dict[str, Any]]:
        """Fold one order update into the track and the leg book; returns fill rows to journal.

        The only place a fill moves a leg book, so the only place a fill moves the hedge
        residual (`residual()`: e0 + e1). Cumulative figures make it idempotent."""
        rows: list[dict[str, Any]] = []
        book = self.books[track.leg]
        meta = self.meta[track.leg]
        if u.order_id not in ("", 0, None):
            track.order_id = str(u.order_id)
        filled = u.filled_qty
        if filled > track.filled + _EPS:
            dq = filled - track.filled
            if u.avg_price > 0:
                px = (u.avg_price * filled - track.avg * track.filled) / dq
            else:
                px = u.last_fill_price or u.price
            acc.apply_fill(book, track.side, dq, px)
            self.qty_logs[track.leg].add(u.ts_ms, dq if track.side == "BUY" else -dq)
            rows.append({"venue": track.venue, "client_id": track.client_id,
                         "trade_id": f"cum:{filled:.12g}", "pair_id": self.pair.id, "qty": dq,
                         "price": px, "fee": 0.0, "fee_asset": "", "ts_ms": u.ts_ms})
            track.filled = filled
            track.avg = u.avg_price if u.avg_price > 0 else px
            self.last_fill_ms = u.ts_ms
        if u.fee and u.trade_id is not None:
            tid = str(u.trade_id)
            if tid not in track.fee_trades:
                track.fee_trades.append(tid)
                price = u.last_fill_price or track.avg
                fee_asset = u.fee_asset
                acc.apply_fee(book, u.fee, fee_asset, price, base=meta.base, quote=meta.quote,
                              value=u.fee_quote)
                if fee_asset and fee_asset == meta.base:
                    self.qty_logs[track.leg].add(u.ts_ms, -u.fee)
                rows.append({"venue": track.venue, "client_id": track.client_id,
                             "trade_id": f"fee:{tid}", "pair_id": self.pair.id, "qty": 0.0,
                             "price": price, "fee": u.fee, "fee_asset": fee_asset,
                             "ts_ms": u.ts_ms})
        if not track.final or u.status in FINAL:
            # never move a final order back to live (a late NEW after FILLED)
            if not (track.final and u.status not in FINAL):
                track.status = u.status
        track.ts_ms = max(track.ts_ms, u.ts_ms)
        return rows

    # -- persistence -----------------------------------------------------------------------------
    def doc(self) -> bytes:
        # Final orders of earlier operations are kept: recovery needs their cumulative fills.
        return _doc_encoder.encode(PairDoc(
            pair=self.pair, books=self.books, orders=list(self.orders.values()),
            attempts=self.attempts, meta=self.meta, entry_notional=self.entry_notional,
            opened_ms=self.opened_ms))

    def journal_row(self) -> dict[str, Any]:
        p = self.pair
        return {"id": p.id, "type": p.type, "symbol": p.symbol, "state": p.state.value,
                "created_ms": p.created_ms, "updated_ms": p.updated_ms, "doc": self.doc()}

    @classmethod
    def from_doc(cls, raw: bytes | str | dict[str, Any]) -> PairRuntime:
        doc = (msgspec.convert(raw, PairDoc) if isinstance(raw, dict)
               else _doc_decoder.decode(raw))
        rt = cls(doc.pair, doc.meta)
        rt.books = doc.books
        rt.qty_logs = _restored_logs(doc)
        rt.orders = {o.client_id: o for o in doc.orders}
        rt.attempts = dict(doc.attempts)
        rt.entry_notional = doc.entry_notional
        rt.opened_ms = doc.opened_ms
        return rt


def _restored_logs(doc: PairDoc) -> tuple[QtyLog, QtyLog]:
    """Quantity over venue time from the journaled orders, each at its last update (weights
    only: interest and coin fees are left out, they are a rounding of the size)."""
    logs = (QtyLog(), QtyLog())
    for o in doc.orders:
        if o.filled > 0:
            logs[o.leg].add(o.ts_ms, o.filled if o.side == "BUY" else -o.filled)
    return logs

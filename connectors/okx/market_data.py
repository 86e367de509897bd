"""Public websocket shell: `books` (seqId chain + checksum, sync.py), `funding-rate`,
`mark-price` and `index-tickers` into the hub.

One connection carries every subscription. Per frame, in the websocket's task: dispatch on the
channel (a byte-prefix test for `books`, the hot one), decode with its precompiled decoder,
sequence, hub.book_changed. A gap, a checksum mismatch or a crossed book marks the book
RESYNCING and resubscribes that one book (OKX answers with a fresh snapshot); a reconnect marks
every book DOWN until its snapshot arrives.

Marks: the hub's Mark joins the three channels per symbol: mark price (mark-price), index
(index-tickers of the spot pair) and the funding rate with its settlement time (funding-rate;
`fundingRate` applies at `fundingTime`, the interval is nextFundingTime - fundingTime).
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from connectors.base import StateHub
from connectors.okx import constants as C
from connectors.okx import schemas
from connectors.okx.config import OkxUrls
from connectors.okx.reference import ContractSizes, funding_interval_h
from connectors.okx.schemas import num
from connectors.okx.symbols import market_of, spot_inst_id, swap_inst_id, symbol_of
from connectors.okx.sync import OkxBookSync, Sync
from connectors.tasks import cancel_and_wait
from connectors.transport.backoff import Backoff
from connectors.transport.ws import WsStream
from connectors.types import Health, InstrumentKey, Mark, book_stream

_BOOKS_PREFIX = b'{"arg":{"channel":"books"'


class _MarkParts:
    __slots__ = ("mark", "index", "rate", "next_ms", "interval_h", "ts")

    def __init__(self) -> None:
        self.mark = self.index = self.rate = 0.0
        self.next_ms = 0
        self.interval_h = 8.0
        self.ts = 0


class OkxMarketData:
    def __init__(self, hub: StateHub, venue: str, urls: OkxUrls, symbols: list[str],
                 sizes: ContractSizes, *, stale_after_s: float = 10.0,
                 backoff: Callable[[], Backoff] = Backoff) -> None:
        self.hub = hub
        self.venue = venue
        self.symbols = symbols
        self.sizes = sizes
        self.keys: dict[str, InstrumentKey] = {}
        self.streams: dict[str, str] = {}
        self.syncs: dict[str, OkxBookSync] = {}
        for sym in symbols:
            for market, inst in (("spot", spot_inst_id(sym)), ("perp", swap_inst_id(sym))):
                key = InstrumentKey(venue, market, sym)
                self.keys[inst] = key
                self.streams[inst] = book_stream(key)
        self.marks = {sym: _MarkParts() for sym in symbols}
        self.ws = WsStream("public", urls.public_ws, self.on_frame, hub=hub, venue=venue,
                           stale_after_s=stale_after_s, on_open=self.on_open,
                           on_down=self.on_down, backoff=backoff())
        self._resubscribing: dict[str, asyncio.Task[None]] = {}
        self.gaps_detected = 0
        self.checksum_errors = 0
        self.crossed_books = 0
        self.bad_frames = 0
        self.last_error = ""

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        for inst in self.keys:
            self.hub.set_health(self.venue, self.streams[inst], Health.DOWN, "starting")
        self.ws.start()

    async def stop(self) -> None:
        await cancel_and_wait(*self._resubscribing.values())
        self._resubscribing.clear()
        await self.ws.stop()

    def _sync(self, inst: str) -> OkxBookSync:
        sync = self.syncs.get(inst)
        if sync is None:
            key = self.keys[inst]
            sync = self.syncs[inst] = OkxBookSync(
                self.hub.book(key), contract_size=self.sizes.of(key.symbol, key.market))
        return sync

    def subscriptions(self) -> list[dict[str, str]]:
        args = [{"channel": C.CH_BOOKS, "instId": inst} for inst in self.keys]
        for sym in self.symbols:
            swap = swap_inst_id(sym)
            args += [{"channel": C.CH_FUNDING, "instId": swap},
                     {"channel": C.CH_MARK, "instId": swap},
                     {"channel": C.CH_INDEX, "instId": spot_inst_id(sym)}]
        return args

    async def on_open(self, ws: Any) -> None:
        for inst in self.keys:
            self._sync(inst).reset()
            self.hub.set_health(self.venue, self.streams[inst], Health.RESYNCING,
                                "connected; snapshot pending")
        await ws.send(orjson.dumps({"op": "subscribe", "args": self.subscriptions()}).decode())

    def on_down(self, reason: str) -> None:
        health = Health.STALE if reason == "stale" else Health.DOWN
        for inst, key in self.keys.items():
            self._sync(inst).reset()
            self.hub.set_health(self.venue, self.streams[inst], health, reason)
            self.hub.book_changed(key)

    # -- frames ----------------------------------------------------------------------------------
    def on_frame(self, data: bytes) -> None:
        if data.startswith(_BOOKS_PREFIX):
            self._on_books(data)
            return
        try:
            head = schemas.CHANNEL_ONLY.decode(data)
        except msgspec.DecodeError:
            self.bad_frames += 1     # "pong" and venue notices
            return
        if head.arg is None or head.event:
            if head.event == "error":
                self.last_error = data.decode(errors="replace")[:200]
            return
        channel = head.arg.channel
        try:
            if channel == C.CH_BOOKS:
                self._on_books(data)
            elif channel == C.CH_FUNDING:
                self._on_funding(schemas.FUNDING_MESSAGE.decode(data))
            elif channel == C.CH_MARK:
                self._on_mark(schemas.MARK_MESSAGE.decode(data))
            elif channel == C.CH_INDEX:
                self._on_index(schemas.INDEX_MESSAGE.decode(data))
        except msgspec.DecodeError:
            self.bad_frames += 1

    def _on_books(self, data: bytes) -> None:
        try:
            msg = schemas.BOOK_MESSAGE.decode(data)
        except msgspec.DecodeError:
            self.bad_frames += 1
            return
        inst = msg.arg.instId
        key = self.keys.get(inst)
        if key is None:
            return
        sync = self._sync(inst)
        hub = self.hub
        for d in msg.data:
            result = sync.on_message(msg.action, d.bids, d.asks, checksum=d.checksum,
                                     seq_id=d.seqId, prev_seq_id=d.prevSeqId, ts_ms=int(d.ts))
            if result is Sync.APPLIED:
                hub.touch(self.venue, self.streams[inst], int(time.time() * 1000))
                hub.book_changed(key)
            elif result is Sync.SYNCED:
                hub.touch(self.venue, self.streams[inst], int(time.time() * 1000))
                hub.set_health(self.venue, self.streams[inst], Health.HEALTHY)
                hub.book_changed(key)
            elif result is not Sync.WAITING:
                if result is Sync.GAP:
                    self.gaps_detected += 1
                elif result is Sync.CHECKSUM:
                    self.checksum_errors += 1
                else:
                    self.crossed_books += 1
                self._resubscribe(inst, f"{result.name.lower()} at seqId={d.seqId}")
                return

    def _resubscribe(self, inst: str, reason: str) -> None:
        self.hub.set_health(self.venue, self.streams[inst], Health.RESYNCING, reason)
        self.hub.book_changed(self.keys[inst])
        self.last_error = f"{inst}: {reason}"
        old = self._resubscribing.pop(inst, None)
        if old is not None:
            old.cancel()
        self._resubscribing[inst] = asyncio.create_task(self._resubscribe_book(inst),
                                                        name=f"okx-resubscribe:{inst}")

    async def _resubscribe_book(self, inst: str) -> None:
        arg = [{"channel": C.CH_BOOKS, "instId": inst}]
        try:
            await self.ws.send(orjson.dumps({"op": "unsubscribe", "args": arg}).decode())
            await self.ws.send(orjson.dumps({"op": "subscribe", "args": arg}).decode())
        except ConnectionError:
            pass            # the reconnect resubscribes everything

    def _on_funding(self, msg: schemas.FundingMessage) -> None:
        for d in msg.data:
            parts = self.marks.get(symbol_of(d.instId))
            if parts is None:
                continue
            parts.rate = num(d.fundingRate)
            parts.next_ms = int(d.fundingTime or 0)
            parts.interval_h = funding_interval_h(d) or parts.interval_h
            self._publish_mark(symbol_of(d.instId), int(d.ts or 0))

    def _on_mark(self, msg: schemas.MarkMessage) -> None:
        for d in msg.data:
            if market_of(d.instId) != "perp":
                continue
            sym = symbol_of(d.instId)
            parts = self.marks.get(sym)
            if parts is not None:
                parts.mark = num(d.markPx)
                self._publish_mark(sym, int(d.ts or 0))

    def _on_index(self, msg: schemas.IndexMessage) -> None:
        for d in msg.data:
            parts = self.marks.get(symbol_of(d.instId))
            if parts is not None:
                parts.index = num(d.idxPx)

    def _publish_mark(self, sym: str, ts_ms: int) -> None:
        p = self.marks[sym]
        if not p.mark or not p.next_ms:
            return          # a Mark needs both the price and the coming settlement
        self.hub.set_mark(Mark(venue=self.venue, symbol=sym, mark_price=p.mark,
                               index_price=p.index or p.mark, funding_rate=p.rate,
                               next_funding_ms=p.next_ms, interval_h=p.interval_h,
                               ts_ms=ts_ms or int(time.time() * 1000)))

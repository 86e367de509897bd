"""Public websockets -> hub: `orderbook.50.{symbol}` books (spot and linear, sync.py) and linear
`tickers` (mark, index, predicted funding, next funding time, funding interval).

Per frame, in the websocket's task: decode (precompiled msgspec) -> BookSync -> hub. A gap or a
crossed book marks the book RESYNCING and resubscribes its topic, which makes Bybit send a
fresh snapshot; a reconnect resubscribes everything. A `tickers` delta carries only the fields
that changed: it is merged into the last snapshot of the symbol before the hub gets a Mark.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import msgspec
import orjson

from connectors.bybit import constants as C
from connectors.bybit import schemas
from connectors.bybit.config import BybitUrls
from connectors.bybit.sync import BookSync, Sync
from connectors.base import StateHub
from connectors.transport.backoff import Backoff
from connectors.transport.ws import WsStream
from connectors.types import Health, InstrumentKey, Mark, book_stream

_TICKER_FIELDS = ("markPrice", "indexPrice", "fundingRate", "nextFundingTime",
                  "fundingIntervalHour")


def book_topic(symbol: str) -> str:
    return f"{C.TOPIC_ORDERBOOK}.{C.BOOK_DEPTH}.{symbol}"


def merge_ticker(last: dict[str, str], delta: schemas.TickerData) -> dict[str, str]:
    """The snapshot with the delta's non-empty fields laid over it (pure)."""
    out = dict(last)
    for name in _TICKER_FIELDS:
        value = getattr(delta, name)
        if value != "":
            out[name] = value
    return out


class _BookFeed:
    def __init__(self, owner: BybitMarketData, market: str, url: str) -> None:
        self.owner = owner
        self.market = market
        hub, venue = owner.hub, owner.venue
        self.keys = {s: InstrumentKey(venue, market, s) for s in owner.symbols}
        self.streams = {s: book_stream(k) for s, k in self.keys.items()}
        self.syncs = {s: BookSync(hub.book(k)) for s, k in self.keys.items()}
        self.by_topic = {book_topic(s): s for s in owner.symbols}
        self.ws = WsStream(f"{market}-book", url, self.on_frame, hub=hub, venue=venue,
                           stale_after_s=owner.stale_after_s, on_open=self.on_open,
                           on_down=self.on_down, backoff=owner.backoff())
        self.decode = schemas.BOOK_MESSAGE.decode

    async def on_open(self, ws: object) -> None:
        for sym in self.syncs:
            self.owner.hub.set_health(self.owner.venue, self.streams[sym], Health.RESYNCING,
                                      "connected; snapshot pending")
        await self.ws.send(_subscribe(list(self.by_topic)))

    def on_down(self, reason: str) -> None:
        health = Health.STALE if reason == "stale" else Health.DOWN
        for sym, sync in self.syncs.items():
            sync.reset()
            self.owner.hub.set_health(self.owner.venue, self.streams[sym], health, reason)
            self.owner.hub.book_changed(self.keys[sym])

    def on_frame(self, data: bytes) -> None:
        try:
            msg = self.decode(data)
        except msgspec.DecodeError:
            return           # subscription acks, pongs
        sym = self.by_topic.get(msg.topic)
        if sym is None:
            return
        result = self.syncs[sym].apply_message(msg)
        hub, venue = self.owner.hub, self.owner.venue
        if result is Sync.APPLIED or result is Sync.SYNCED:
            hub.touch(venue, self.streams[sym], int(time.time() * 1000))
            if result is Sync.SYNCED:
                hub.set_health(venue, self.streams[sym], Health.HEALTHY)
            hub.book_changed(self.keys[sym])
        elif result is Sync.GAP or result is Sync.CROSSED:
            if result is Sync.GAP:
                self.owner.gaps_detected += 1
            else:
                self.owner.crossed_books += 1
            hub.set_health(venue, self.streams[sym], Health.RESYNCING,
                           f"{result.name.lower()} at u={msg.data.u}")
            hub.book_changed(self.keys[sym])
            self.owner.resubscribe(self, msg.topic)


def _subscribe(topics: list[str], op: str = "subscribe") -> str:
    return orjson.dumps({"op": op, "args": topics}).decode()


class BybitMarketData:
    def __init__(self, hub: StateHub, venue: str, urls: BybitUrls, symbols: list[str], *,
                 stale_after_s: float = 10.0,
                 funding_intervals: Callable[[], dict[str, float]] | None = None,
                 backoff: Callable[[], Backoff] = Backoff) -> None:
        self.hub = hub
        self.venue = venue
        self.urls = urls
        self.symbols = symbols
        self.stale_after_s = stale_after_s
        self.backoff = backoff
        self._intervals = funding_intervals or dict
        self.gaps_detected = 0
        self.crossed_books = 0
        self.resubscribes = 0
        self.feeds = {"spot": _BookFeed(self, "spot", urls.public_spot()),
                      "perp": _BookFeed(self, "perp", urls.public_linear())}
        self.tickers: dict[str, dict[str, str]] = {}
        self.ticker_ws = WsStream("perp-tickers", urls.public_linear(), self._on_ticker,
                                  hub=hub, venue=venue, stale_after_s=max(stale_after_s, 5.0),
                                  on_open=self._tickers_open, backoff=backoff())
        self._ticker_decode = schemas.TICKER_MESSAGE.decode

    def start(self) -> None:
        for feed in self.feeds.values():
            for sym in feed.syncs:
                self.hub.set_health(self.venue, feed.streams[sym], Health.DOWN, "starting")
            feed.ws.start()
        self.ticker_ws.start()

    async def stop(self) -> None:
        for feed in self.feeds.values():
            await feed.ws.stop()
        await self.ticker_ws.stop()

    def resubscribe(self, feed: _BookFeed, topic: str) -> None:
        """Bybit re-sends a snapshot on subscribe: that is how a broken book is restored."""
        self.resubscribes += 1

        async def again() -> None:
            try:
                await feed.ws.send(_subscribe([topic], "unsubscribe"))
                await feed.ws.send(_subscribe([topic]))
            except ConnectionError:
                pass          # the reconnect subscribes everything anyway
        asyncio.get_running_loop().create_task(again())

    async def _tickers_open(self, ws: object) -> None:
        self.tickers.clear()
        await self.ticker_ws.send(_subscribe([f"{C.TOPIC_TICKERS}.{s}" for s in self.symbols]))

    def _on_ticker(self, data: bytes) -> None:
        try:
            msg = self._ticker_decode(data)
        except msgspec.DecodeError:
            return
        d = msg.data
        if msg.type == "snapshot":
            merged = merge_ticker({}, d)
        else:
            last = self.tickers.get(d.symbol)
            if last is None:
                return        # a delta before its snapshot: nothing to merge it into
            merged = merge_ticker(last, d)
        self.tickers[d.symbol] = merged
        if not merged.get("markPrice") or not merged.get("fundingRate"):
            return
        interval = (float(merged["fundingIntervalHour"]) if merged.get("fundingIntervalHour")
                    else self._intervals().get(d.symbol, 8.0))
        self.hub.set_mark(Mark(
            venue=self.venue, symbol=d.symbol, mark_price=float(merged["markPrice"]),
            index_price=float(merged.get("indexPrice") or merged["markPrice"]),
            funding_rate=float(merged["fundingRate"]),
            next_funding_ms=int(merged.get("nextFundingTime") or 0), interval_h=interval,
            ts_ms=msg.ts))

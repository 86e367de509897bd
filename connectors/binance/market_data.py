"""Market data shell: spot and USD-M books (Binance's sync procedures) and markPrice into the hub.

One websocket per (market, kind): spot depth on the combined `/stream`, USD-M depth on `/public`,
markPrice on `/market`. Per frame, in the websocket's task: decode (precompiled msgspec) -> BookSync
-> hub.book_changed. Snapshots are fetched by separate tasks while diffs buffer; a gap, a crossed
book or a reconnect marks the book RESYNCING/DOWN in the hub until a fresh snapshot has been
replayed (a snapshot that itself comes out crossed is fetched again, with backoff).
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import msgspec

from connectors.transport.backoff import Backoff
from connectors.binance import constants as C
from connectors.binance import schemas
from connectors.binance.errors import BinanceError
from connectors.binance.sync import BookSync, Rule, Sync
from connectors.binance.config import BinanceUrls
from connectors.transport.rest import RestSession
from connectors.transport.ws import WsStream
from connectors.types import Health, InstrumentKey, Mark, book_stream
from connectors.base import StateHub

SNAPSHOT_LIMIT = 1000
_APPLIED = Sync.APPLIED
_time = time.time
_SNAPSHOT_WEIGHT = {"spot": 50, "perp": 20}   # weight of depth?limit=1000 on /api and /fapi


class _BookFeed:
    """Books of one market (spot or perp) on one websocket."""

    def __init__(self, owner: BinanceMarketData, market: str, symbols: list[str]) -> None:
        self.owner = owner
        self.market = market
        hub, venue = owner.hub, owner.venue
        self.keys = {s: InstrumentKey(venue, market, s) for s in symbols}
        self.streams = {s: book_stream(k) for s, k in self.keys.items()}
        rule = Rule.SPOT if market == "spot" else Rule.FUTURES
        self.syncs = {s: BookSync(hub.book(k), rule) for s, k in self.keys.items()}
        self.generation = dict.fromkeys(symbols, 0)
        self.pending: dict[str, asyncio.Task[None]] = {}
        urls = owner.urls
        url = urls.spot_depth_url(symbols) if market == "spot" else urls.futures_depth_url(symbols)
        self.ws = WsStream(f"{market}-depth", url, self.on_frame, hub=hub, venue=venue,
                           stale_after_s=owner.stale_after_s, on_open=self.on_open,
                           on_down=self.on_down, backoff=owner.backoff())
        self.decode = schemas.DEPTH_ENVELOPE.decode
        self.bad_frames = 0
        # per symbol, what a frame needs (one look-up per frame)
        self.route = {s: (self.syncs[s], self.keys[s]) for s in symbols}
        self.hub = hub

    # -- websocket callbacks -------------------------------------------------------------------
    async def on_open(self, _ws: object) -> None:
        for sym in self.syncs:
            self._resync(sym, "connected; snapshot pending")

    def on_down(self, reason: str) -> None:
        health = Health.STALE if reason == "stale" else Health.DOWN
        for sym, sync in self.syncs.items():
            self.generation[sym] += 1
            sync.reset()
            task = self.pending.pop(sym, None)
            if task is not None:
                task.cancel()
            self.owner.hub.set_health(self.owner.venue, self.streams[sym], health, reason)
            self.owner.hub.book_changed(self.keys[sym])

    def on_frame(self, data: bytes) -> None:
        try:
            ev = self.decode(data).data
        except msgspec.DecodeError:
            self.bad_frames += 1     # subscription acks, venue notices: not book data
            return
        route = self.route.get(ev.s)
        if route is None:
            return
        sync, key = route
        result = sync.apply_event(ev)
        if result is _APPLIED:
            self.hub.book_changed(key, int(_time() * 1000))
            return
        sym = ev.s
        if result is Sync.GAP:
            self.owner.gaps_detected += 1
            self._resync(sym, f"sequence gap at U={ev.U}")
        elif result is Sync.CROSSED:
            self.owner.crossed_books += 1
            self._resync(sym, f"crossed book at u={ev.u}")

    # -- snapshots -----------------------------------------------------------------------------
    def _resync(self, sym: str, reason: str) -> None:
        hub = self.owner.hub
        hub.set_health(self.owner.venue, self.streams[sym], Health.RESYNCING, reason)
        hub.book_changed(self.keys[sym])
        self.generation[sym] += 1
        old = self.pending.pop(sym, None)
        if old is not None:
            old.cancel()
        self.pending[sym] = asyncio.create_task(self._snapshot(sym, self.generation[sym]),
                                                name=f"snapshot:{self.market}:{sym}")

    async def _snapshot(self, sym: str, generation: int) -> None:
        owner = self.owner
        backoff = owner.backoff()
        base, path = ((owner.urls.rest, C.SPOT_DEPTH) if self.market == "spot"
                      else (owner.urls.futures_rest, C.FUTURES_DEPTH))
        while True:
            try:
                raw = await owner.rest.request("GET", base, path,
                                               {"symbol": sym, "limit": SNAPSHOT_LIMIT},
                                               weight=_SNAPSHOT_WEIGHT[self.market])
                snap = schemas.DEPTH_SNAPSHOT.decode(raw)
            except (BinanceError, msgspec.DecodeError) as exc:
                owner.snapshot_errors += 1
                owner.last_error = f"{self.market} {sym} snapshot: {exc}"
                await asyncio.sleep(backoff.next_delay())
                continue
            if self.generation[sym] != generation:   # a reconnect or newer gap superseded us
                return
            result = self.syncs[sym].on_snapshot(snap.lastUpdateId, snap.bids, snap.asks,
                                                 snap.T or snap.E)
            owner.snapshots += 1
            if result is Sync.SYNCED:
                hub = owner.hub
                hub.touch(owner.venue, self.streams[sym], int(time.time() * 1000))
                hub.set_health(owner.venue, self.streams[sym], Health.HEALTHY)
                hub.book_changed(self.keys[sym])
                self.pending.pop(sym, None)
                return
            if result is Sync.CROSSED:
                owner.crossed_books += 1
                owner.last_error = f"{self.market} {sym} snapshot {snap.lastUpdateId} is crossed"
                owner.hub.set_health(owner.venue, self.streams[sym], Health.RESYNCING,
                                     "crossed snapshot")
            # else the snapshot is older than the buffered diffs: the venue's cache lags
            await asyncio.sleep(backoff.next_delay())


class BinanceMarketData:
    def __init__(self, hub: StateHub, venue: str, rest: RestSession, urls: BinanceUrls,
                 symbols: list[str], *, stale_after_s: float = 10.0,
                 funding_intervals: Callable[[], dict[str, float]] | None = None,
                 backoff: Callable[[], Backoff] = Backoff, spot: bool = True,
                 perp: bool = True) -> None:
        self.hub = hub
        self.venue = venue
        self.rest = rest
        self.urls = urls
        self.symbols = symbols
        self.stale_after_s = stale_after_s
        self.backoff = backoff
        self._intervals = funding_intervals or dict
        self.gaps_detected = 0
        self.crossed_books = 0
        self.snapshots = 0
        self.snapshot_errors = 0
        self.last_error = ""
        self.feeds: dict[str, _BookFeed] = {}
        if spot:
            self.feeds["spot"] = _BookFeed(self, "spot", symbols)
        if perp:
            self.feeds["perp"] = _BookFeed(self, "perp", symbols)
        self.mark_ws = (WsStream("perp-mark", urls.futures_mark_url(symbols), self._on_mark,
                                 hub=hub, venue=venue, stale_after_s=max(stale_after_s, 5.0),
                                 backoff=backoff()) if perp else None)
        self._mark_decode = schemas.MARK_ENVELOPE.decode

    def start(self) -> None:
        for feed in self.feeds.values():
            for sym in feed.syncs:
                self.hub.set_health(self.venue, feed.streams[sym], Health.DOWN, "starting")
            feed.ws.start()
        if self.mark_ws is not None:
            self.mark_ws.start()

    async def stop(self) -> None:
        for feed in self.feeds.values():
            for task in feed.pending.values():
                task.cancel()
            await feed.ws.stop()
            for task in list(feed.pending.values()):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            feed.pending.clear()
        if self.mark_ws is not None:
            await self.mark_ws.stop()

    def _on_mark(self, data: bytes) -> None:
        try:
            m = self._mark_decode(data).data
        except msgspec.DecodeError:
            return
        self.hub.set_mark(Mark(
            venue=self.venue, symbol=m.s, mark_price=float(m.p), index_price=float(m.i),
            funding_rate=float(m.r), next_funding_ms=m.T,
            interval_h=self._intervals().get(m.s, 8.0), ts_ms=m.E))

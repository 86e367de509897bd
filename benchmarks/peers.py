"""The depth-stream consumers the ingest benchmark compares, each on the same generated frames.

Every consumer is seeded with the same REST snapshot (untimed), then handles each frame and reads
the best bid and ask after it (timed per frame):
  ours        connectors/binance/market_data `_BookFeed.on_frame` (precompiled msgspec decode ->
              BookSync pu chain -> the book -> hub.touch + hub.book_changed) on a real Hub.
  baseline    msgspec decode into a Struct, the pu check, and a sortedcontainers SortedDict per
              side keyed by float price (what a careful library user writes in an afternoon).
  cryptofeed  BinanceFutures.message_handler (yapic.json decode, its sequence check, Decimal
              prices into the order_book C book, book_callback to a no-op async callback).
  ccxt        ccxt.pro binanceusdm: the websocket client's text handler (orjson decode) ->
              handle_message -> handle_order_book -> its OrderBook side deltas.
Peers are benchmark-only dependencies (requirements-bench.lock); `unavailable()` says why one
cannot run. Async handlers are stepped by hand (`coro.send(None)`): none of them suspends, so no
event-loop cost is charged to them.
"""
from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from typing import Any

import msgspec

from benchmarks.stream import SYMBOL, TICK, DepthStream, inner

Handler = Callable[[Any], None]
PEERS = ("baseline", "cryptofeed", "ccxt")


def unavailable(name: str) -> str | None:
    """Why a consumer cannot run here (a missing benchmark-only package), else None."""
    needs = {"baseline": ("sortedcontainers",), "cryptofeed": ("cryptofeed", "yapic"),
             "cryptofeed_no_top": ("cryptofeed", "yapic"), "ccxt": ("ccxt",)}.get(name, ())
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    if missing:
        return (f"not installed: {', '.join(missing)} (benchmark-only; `make bench` installs "
                f"requirements-bench.lock)")
    return None


class Consumer:
    """One consumer: `inputs` are the frames as its transport delivers them, `reset()` seeds the
    snapshot, `handle(frame)` processes one frame and reads the top of book."""

    name = ""

    def __init__(self, stream: DepthStream) -> None:
        self.stream = stream

    def inputs(self) -> list[Any]:
        return self.stream.frames

    def reset(self) -> None:
        raise NotImplementedError

    def handle(self, frame: Any) -> None:
        raise NotImplementedError

    def top(self) -> tuple[float, float]:
        """(best bid, best ask) as floats, to check every consumer built the same book."""
        raise NotImplementedError


class Ours(Consumer):
    name = "ours"
    VENUE = "bench"

    def __init__(self, stream: DepthStream, hub: Any = None, venue: str = VENUE) -> None:
        super().__init__(stream)
        self.VENUE = venue
        from connectors.binance import schemas
        from connectors.binance.config import BinanceUrls
        from connectors.binance.market_data import BinanceMarketData
        from connectors.binance.rest import BINANCE
        from connectors.transport.rest import RestSession
        from connectors.types import Health, Instrument, InstrumentKey, book_stream
        from daemon.hub import Hub

        self.hub = hub if hub is not None else Hub()
        self.hub.set_instrument(Instrument(venue=self.VENUE, market="perp", symbol=SYMBOL,
                                           base="BTC", quote="USDT", tick_size=float(TICK),
                                           step_size=0.001))
        md = BinanceMarketData(self.hub, self.VENUE, RestSession(BINANCE), BinanceUrls(), [SYMBOL],
                               spot=False, perp=True)
        self.feed = md.feeds["perp"]
        self.md = md
        self.sync = self.feed.syncs[SYMBOL]
        self.book = self.sync.book
        self.snap = schemas.DEPTH_SNAPSHOT.decode(stream.snapshot)
        self.hub.set_health(self.VENUE, book_stream(InstrumentKey(self.VENUE, "perp", SYMBOL)),
                            Health.HEALTHY)
        on_frame, book = self.feed.on_frame, self.book
        bb, ba = book.best_bid, book.best_ask

        def handle(frame: bytes) -> None:
            on_frame(frame)
            bb()
            ba()
        self.handle = handle  # type: ignore[method-assign]

    def reset(self) -> None:
        from connectors.binance.sync import Sync
        s = self.snap
        self.sync.reset()
        assert self.sync.on_snapshot(s.lastUpdateId, s.bids, s.asks, s.T or s.E) is Sync.SYNCED

    def errors(self) -> int:
        return self.sync.gaps + self.feed.bad_frames + self.md.crossed_books

    def top(self) -> tuple[float, float]:
        bid, ask = self.book.best_bid(), self.book.best_ask()
        assert bid is not None and ask is not None
        return bid[0], ask[0]


class _Diff(msgspec.Struct, gc=False):
    U: int
    u: int
    pu: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]


class _Env(msgspec.Struct, gc=False):
    data: _Diff


def _apply(side: Any, levels: list[tuple[str, str]]) -> None:
    for p, q in levels:
        px, qty = float(p), float(q)
        if qty == 0.0:
            side.pop(px, None)
        else:
            side[px] = qty


class Baseline(Consumer):
    name = "baseline"

    def __init__(self, stream: DepthStream) -> None:
        super().__init__(stream)
        from sortedcontainers import SortedDict
        self._sd = SortedDict
        self.bids: Any = SortedDict()
        self.asks: Any = SortedDict()
        self.last = 0
        self.gaps = 0
        decode = msgspec.json.Decoder(_Env).decode

        def handle(frame: bytes) -> None:
            ev = decode(frame).data
            if ev.pu != self.last and not ev.U <= self.last <= ev.u:
                self.gaps += 1
                return
            self.last = ev.u
            _apply(self.bids, ev.b)
            _apply(self.asks, ev.a)
            self.bids.peekitem(-1)
            self.asks.peekitem(0)
        self.handle = handle  # type: ignore[method-assign]

    def reset(self) -> None:
        b, a = self.stream.snapshot_levels()
        self.bids = self._sd({float(p): float(q) for p, q in b})
        self.asks = self._sd({float(p): float(q) for p, q in a})
        self.last = self.stream.last_update_id

    def errors(self) -> int:
        return self.gaps

    def top(self) -> tuple[float, float]:
        return self.bids.peekitem(-1)[0], self.asks.peekitem(0)[0]


def _step(coro: Any) -> None:
    try:
        coro.send(None)
    except StopIteration:
        return
    raise RuntimeError("a peer handler suspended: it is not a pure in-memory handler")


class Cryptofeed(Consumer):
    name = "cryptofeed"

    def __init__(self, stream: DepthStream, read_top: bool = True) -> None:
        super().__init__(stream)
        if not read_top:
            self.name = "cryptofeed_no_top"
        import logging
        from cryptofeed.defines import BINANCE_FUTURES, L2_BOOK
        from cryptofeed.exchanges import BinanceFutures
        from cryptofeed.symbols import Symbols
        logging.getLogger("feedhandler").setLevel(logging.CRITICAL)
        info = {"symbols": [{"symbol": SYMBOL, "baseAsset": "BTC", "quoteAsset": "USDT",
                             "contractType": "PERPETUAL", "status": "TRADING",
                             "filters": [{"filterType": "PRICE_FILTER", "tickSize": TICK}]}]}
        syms, sym_info = BinanceFutures._parse_symbol_data(info)
        Symbols.set(BINANCE_FUTURES, syms, sym_info)      # no exchangeInfo request
        self.std = next(iter(syms))
        self.calls = 0

        async def noop(book: Any, receipt: float) -> None:
            self.calls += 1
        self.feed = BinanceFutures(symbols=[self.std], channels=[L2_BOOK],
                                   callbacks={L2_BOOK: noop})
        feed = self.feed
        handler = feed.message_handler
        std = self.std

        def handle(frame: str) -> None:
            _step(handler(frame, None, 0.0))
            book = feed._l2_book[std].book      # _reset() replaces the dict
            book.bids.index(0)
            book.asks.index(0)

        def handle_only(frame: str) -> None:
            _step(handler(frame, None, 0.0))
        self.handle = handle if read_top else handle_only  # type: ignore[method-assign]

    def inputs(self) -> list[Any]:
        return [f.decode() for f in self.stream.frames]     # websockets delivers text as str

    def reset(self) -> None:
        from decimal import Decimal
        from order_book import OrderBook as _  # noqa: F401  (cryptofeed's book backend)
        from cryptofeed.types import OrderBook
        b, a = self.stream.snapshot_levels()
        feed = self.feed
        feed._reset()
        feed.last_update_id[self.std] = self.stream.last_update_id
        feed._l2_book[self.std] = OrderBook(feed.id, self.std, max_depth=feed.max_depth,
                                            bids={Decimal(p): Decimal(q) for p, q in b},
                                            asks={Decimal(p): Decimal(q) for p, q in a})

    def errors(self) -> int:
        return 0 if self.std in self.feed._l2_book else 1

    def top(self) -> tuple[float, float]:
        book = self.feed._l2_book[self.std].book
        return float(book.bids.index(0)[0]), float(book.asks.index(0)[0])


class Ccxt(Consumer):
    name = "ccxt"
    URL = "wss://fstream.binance.com/ws"

    def __init__(self, stream: DepthStream) -> None:
        super().__init__(stream)
        import ccxt.pro
        self.ex = ccxt.pro.binanceusdm({"enableRateLimit": False})
        market = self.ex.parse_market({
            "symbol": SYMBOL, "pair": SYMBOL, "contractType": "PERPETUAL", "status": "TRADING",
            "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
            "pricePrecision": 2, "quantityPrecision": 3, "baseAssetPrecision": 8,
            "quotePrecision": 8, "underlyingType": "COIN", "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000, "orderTypes": ["LIMIT", "MARKET"],
            "timeInForce": ["GTC"],
            "filters": [{"filterType": "PRICE_FILTER", "tickSize": TICK, "minPrice": "0.1",
                         "maxPrice": "4529764"},
                        {"filterType": "LOT_SIZE", "stepSize": "0.001", "minQty": "0.001",
                         "maxQty": "1000"}]})
        self.ex.set_markets([market])
        self.symbol = market["symbol"]
        self.client: Any = None

    def inputs(self) -> list[Any]:
        return [inner(f).decode() for f in self.stream.frames]

    def reset(self) -> None:
        if self.client is None:
            # ccxt's client makes futures on the running loop: build it inside one
            asyncio.run(self._make_client())
        b, a = self.stream.snapshot_levels()
        ob = self.ex.order_book({}, 1000)
        snap = self.ex.parse_order_book({"bids": b, "asks": a}, self.symbol)
        snap["nonce"] = self.stream.last_update_id
        ob.reset(snap)
        self.ex.orderbooks[self.symbol] = ob
        on_text = self.client.handle_text_or_binary_message

        def handle(frame: str) -> None:
            on_text(frame)
            ob["bids"][0]
            ob["asks"][0]
        self.handle = handle  # type: ignore[method-assign]

    async def _make_client(self) -> None:
        self.client = self.ex.client(self.URL)

    def errors(self) -> int:
        return 0

    def top(self) -> tuple[float, float]:
        ob = self.ex.orderbooks[self.symbol]
        return float(ob["bids"][0][0]), float(ob["asks"][0][0])


def make(name: str, stream: DepthStream) -> Consumer:
    if name == "cryptofeed_no_top":
        return Cryptofeed(stream, read_top=False)
    return {"ours": Ours, "baseline": Baseline, "cryptofeed": Cryptofeed, "ccxt": Ccxt}[name](stream)

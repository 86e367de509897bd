"""Build a Hub by hand for scanner/strategy tests (no venue, no I/O)."""
from __future__ import annotations

from connectors.types import Borrow, Health, Instrument, InstrumentKey, Mark, book_stream
from daemon.hub import Hub

NOW_MS = 1_700_000_000_000 // 28_800_000 * 28_800_000 + 3_600_000   # 1 h after an 8 h slot


def add_market(hub: Hub, venue: str, symbol: str, *, interval_h: float, mark: float,
               index: float | None = None, rate: float = 0.0, next_funding_ms: int | None = None,
               last_settled: float | None = None, spot: bool = True, depth_qty: float = 1_000.0,
               perp_asks: list[tuple[float, float]] | None = None,
               spot_bids: list[tuple[float, float]] | None = None, tick: float = 0.1,
               now_ms: int = NOW_MS) -> None:
    """A perp (and its spot) with one deep level each side at +-1 tick around `mark`."""
    base = symbol.removesuffix("USDT")
    markets = ["perp", "spot"] if spot else ["perp"]
    for market in markets:
        inst = Instrument(venue=venue, market=market, symbol=symbol, base=base, quote="USDT",
                          tick_size=tick, step_size=0.001,
                          funding_interval_h=interval_h if market == "perp" else 8.0)
        hub.set_instrument(inst)
        key = InstrumentKey(venue, market, symbol)
        book = hub.book(key)
        bids = [(mark - tick, depth_qty)]
        asks = [(mark + tick, depth_qty)]
        if market == "perp" and perp_asks is not None:
            asks = perp_asks
        if market == "spot" and spot_bids is not None:
            bids = spot_bids
        book.load_snapshot(bids, asks, last_update_id=1)
        hub.set_health(venue, book_stream(key), Health.HEALTHY)
        hub.touch(venue, book_stream(key), now_ms)
    interval_ms = int(interval_h * 3_600_000)
    nxt = (next_funding_ms if next_funding_ms is not None
           else (now_ms // interval_ms + 1) * interval_ms)
    hub.set_mark(Mark(venue=venue, symbol=symbol, mark_price=mark,
                      index_price=index if index is not None else mark, funding_rate=rate,
                      next_funding_ms=nxt, interval_h=interval_h, ts_ms=now_ms,
                      last_settled_rate=last_settled))


def add_borrow(hub: Hub, venue: str, asset: str, hourly: float, max_borrowable: float | None = 1e9
               ) -> None:
    hub.set_borrow(Borrow(venue=venue, asset=asset, hourly_rate=hourly,
                          max_borrowable=max_borrowable, ts_ms=NOW_MS))

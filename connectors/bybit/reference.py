"""Reference data: `/v5/market/instruments-info` (spot and linear) -> connectors.types.Instrument
with the tick, the lot and, for a perp, Bybit's own funding interval (minutes -> hours)."""
from __future__ import annotations

from collections.abc import Iterable

from connectors.bybit import constants as C
from connectors.bybit import schemas
from connectors.transport.rest import RestSession
from connectors.types import Instrument

_MINUTES_PER_HOUR = 60.0


def instrument_from_row(row: schemas.InstrumentRow, *, venue: str, market: str) -> Instrument:
    lot = row.lotSizeFilter
    step = lot.qtyStep or lot.basePrecision or "0.00000001"
    notional = lot.minNotionalValue if market == "perp" else lot.minOrderAmt
    interval = row.fundingInterval / _MINUTES_PER_HOUR if market == "perp" else 8.0
    return Instrument(venue=venue, market=market, symbol=row.symbol, base=row.baseCoin,
                      quote=row.quoteCoin, tick_size=float(row.priceFilter.tickSize),
                      step_size=float(step), min_qty=float(lot.minOrderQty or 0),
                      min_notional=float(notional or 0), funding_interval_h=interval)


def instruments(rows: Iterable[schemas.InstrumentRow], *, venue: str, market: str,
                symbols: Iterable[str]) -> list[Instrument]:
    wanted = set(symbols)
    return [instrument_from_row(r, venue=venue, market=market) for r in rows
            if r.symbol in wanted and (market == "spot" or r.contractType in ("", "LinearPerpetual"))]


async def load_instruments(rest: RestSession, base: str, *, venue: str,
                           symbols: list[str]) -> list[Instrument]:
    out: list[Instrument] = []
    for market, cat in C.CATEGORY_OF_MARKET.items():
        raw = await rest.request("GET", base, C.INSTRUMENTS_INFO, {"category": cat})
        out += instruments(schemas.INSTRUMENTS.decode(raw).result.rows, venue=venue,
                           market=market, symbols=symbols)
    return out

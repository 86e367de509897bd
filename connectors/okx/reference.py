"""Reference data: /api/v5/public/instruments -> hub Instruments (pure parsers + a thin loader).

Quantities in the hub are coins. A linear swap trades in contracts of `ctVal` coins
(`ctValCcy` the base coin): its Instrument carries `contract_size = ctVal` and its step and
minimum in coins (lotSz x ctVal, minSz x ctVal); market_data, trading and user_stream convert at
the edge with `ContractSizes`. Inverse swaps and dated futures are not traded (their ctVal is in
USD, not coins) and are left out.

The funding interval is not in the instrument row; it is the distance between `fundingTime` and
`nextFundingTime` of the funding-rate endpoint/channel (8 h until known).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from connectors.okx import constants as C
from connectors.okx import schemas
from connectors.okx.schemas import num
from connectors.okx.rest import data_of
from connectors.okx.symbols import swap_inst_id, symbol_of
from connectors.types import Instrument

if TYPE_CHECKING:
    from connectors.transport.rest import RestSession

DEFAULT_FUNDING_INTERVAL_H = 8.0
HOUR_MS = 3_600_000


def is_linear_swap(row: schemas.InstrumentRow) -> bool:
    return row.instType == C.SWAP and row.ctType == "linear" and bool(row.ctVal)


def instrument_from_row(row: schemas.InstrumentRow, *, venue: str,
                        funding_interval_h: float = DEFAULT_FUNDING_INTERVAL_H) -> Instrument:
    symbol = symbol_of(row.instId)
    if row.instType == C.SWAP:
        ct = num(row.ctVal, 1.0)
        return Instrument(venue=venue, market="perp", symbol=symbol,
                          base=row.ctValCcy or row.uly.split("-")[0],
                          quote=row.settleCcy or row.uly.split("-")[-1],
                          tick_size=float(row.tickSz), step_size=float(row.lotSz) * ct,
                          min_qty=num(row.minSz) * ct, contract_size=ct,
                          funding_interval_h=funding_interval_h)
    return Instrument(venue=venue, market="spot", symbol=symbol, base=row.baseCcy,
                      quote=row.quoteCcy, tick_size=float(row.tickSz),
                      step_size=float(row.lotSz), min_qty=num(row.minSz))


def instruments(rows: Iterable[schemas.InstrumentRow], *, venue: str, symbols: Iterable[str],
                funding_intervals: dict[str, float] | None = None) -> list[Instrument]:
    """Spot and linear-swap Instruments for `symbols` (daemon naming); others ignored."""
    wanted = set(symbols)
    intervals = funding_intervals or {}
    out = []
    for row in rows:
        if row.state != "live" or symbol_of(row.instId) not in wanted:
            continue
        if row.instType == C.SPOT or is_linear_swap(row):
            out.append(instrument_from_row(
                row, venue=venue,
                funding_interval_h=intervals.get(symbol_of(row.instId),
                                                 DEFAULT_FUNDING_INTERVAL_H)))
    return out


def funding_interval_h(row: schemas.FundingRateData) -> float | None:
    if not row.fundingTime or not row.nextFundingTime:
        return None
    gap = int(row.nextFundingTime) - int(row.fundingTime)
    return gap / HOUR_MS if gap > 0 else None


class ContractSizes:
    """Coins per contract by daemon symbol (perp only); 1 for spot and unknown symbols."""

    def __init__(self) -> None:
        self.by_symbol: dict[str, float] = {}

    def update(self, insts: Iterable[Instrument]) -> None:
        for inst in insts:
            if inst.market == "perp":
                self.by_symbol[inst.symbol] = inst.contract_size

    def of(self, symbol: str, market: str) -> float:
        return self.by_symbol.get(symbol, 1.0) if market == "perp" else 1.0

    def to_coins(self, symbol: str, market: str, contracts: float) -> float:
        return contracts * self.of(symbol, market)

    def to_contracts(self, symbol: str, market: str, coins: float) -> float:
        return coins / self.of(symbol, market)


async def load_reference(rest: RestSession, base: str, *, venue: str,
                         symbols: list[str]) -> list[Instrument]:
    rows: list[schemas.InstrumentRow] = []
    for inst_type in (C.SPOT, C.SWAP):
        raw = await rest.request("GET", base, C.INSTRUMENTS, {"instType": inst_type}, weight=1)
        rows += schemas.INSTRUMENTS.decode(data_of(raw))
    intervals: dict[str, float] = {}
    for sym in symbols:
        try:
            raw = await rest.request("GET", base, C.FUNDING_RATE, {"instId": swap_inst_id(sym)})
        except Exception:       # funding interval is a refinement; 8 h until the channel says
            continue
        for fr in schemas.FUNDING_ROWS.decode(data_of(raw)):
            h = funding_interval_h(fr)
            if h:
                intervals[sym] = h
    return instruments(rows, venue=venue, symbols=symbols, funding_intervals=intervals)

"""Reference data: exchangeInfo -> hub Instruments, fundingInfo -> interval per symbol,
leverageBracket -> maintenance-margin tiers. Pure parsers plus one thin async loader."""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from msgspec import Struct

from connectors.binance import constants as C
from connectors.binance import schemas
from connectors.types import Instrument

if TYPE_CHECKING:
    from connectors.transport.rest import RestSession

DEFAULT_FUNDING_INTERVAL_H = 8.0


class MaintTier(Struct, frozen=True):
    """One leverage bracket: notional in [floor, cap) -> maintenance margin ratio and `cum`."""

    notional_floor: float
    notional_cap: float
    maint_margin_ratio: float
    cum: float
    max_leverage: int


def _filters(sym: schemas.ExchangeSymbol) -> dict[str, schemas.SymbolFilter]:
    return {f.filterType: f for f in sym.filters}


def instrument_from_symbol(sym: schemas.ExchangeSymbol, *, venue: str, market: str,
                           funding_interval_h: float = DEFAULT_FUNDING_INTERVAL_H) -> Instrument:
    f = _filters(sym)
    price = f.get("PRICE_FILTER")
    lot = f.get("LOT_SIZE")
    # spot: NOTIONAL (current) or MIN_NOTIONAL (older) with minNotional; USD-M: MIN_NOTIONAL.notional
    notional = f.get("NOTIONAL") or f.get("MIN_NOTIONAL")
    min_notional = 0.0
    if notional is not None:
        min_notional = float(notional.minNotional or notional.notional or 0.0)
    return Instrument(
        venue=venue, market=market, symbol=sym.symbol, base=sym.baseAsset, quote=sym.quoteAsset,
        tick_size=float(price.tickSize) if price and price.tickSize else 1e-8,
        step_size=float(lot.stepSize) if lot and lot.stepSize else 1e-8,
        min_qty=float(lot.minQty) if lot and lot.minQty else 0.0,
        min_notional=min_notional,
        funding_interval_h=funding_interval_h if market == "perp" else DEFAULT_FUNDING_INTERVAL_H,
    )


def instruments(info: schemas.ExchangeInfo, *, venue: str, market: str, symbols: Iterable[str],
                funding_intervals: dict[str, float] | None = None) -> list[Instrument]:
    """Instruments for `symbols` (others ignored). USD-M: perpetuals only."""
    wanted = set(symbols)
    intervals = funding_intervals or {}
    out = []
    for sym in info.symbols:
        if sym.symbol not in wanted:
            continue
        if market == "perp" and sym.contractType not in (None, "PERPETUAL"):
            continue
        out.append(instrument_from_symbol(
            sym, venue=venue, market=market,
            funding_interval_h=intervals.get(sym.symbol, DEFAULT_FUNDING_INTERVAL_H)))
    return out


def funding_intervals(rows: Iterable[schemas.FundingInfo]) -> dict[str, float]:
    """fundingInfo lists only symbols with adjusted caps/intervals; the rest are 8 h (caller default)."""
    return {r.symbol: float(r.fundingIntervalHours) for r in rows}


def maint_tiers(rows: Iterable[schemas.LeverageBracket]) -> dict[str, list[MaintTier]]:
    out: dict[str, list[MaintTier]] = {}
    for row in rows:
        tiers = [MaintTier(b.notionalFloor, b.notionalCap, b.maintMarginRatio, b.cum,
                           b.initialLeverage) for b in row.brackets]
        tiers.sort(key=lambda t: t.notional_floor)
        out[row.symbol] = tiers
    return out


def tier_for(tiers: list[MaintTier], notional: float) -> MaintTier:
    """The bracket whose [floor, cap) holds |notional| (the last one beyond the top cap)."""
    n = abs(notional)
    for t in tiers:
        if t.notional_floor <= n < t.notional_cap:
            return t
    return tiers[-1]


class ReferenceData:
    """What the loader fetched: the hub gets instruments; tiers stay here for the watchdog."""

    def __init__(self) -> None:
        self.tiers: dict[str, list[MaintTier]] = {}
        self.funding_intervals: dict[str, float] = {}


async def load_reference(rest: RestSession, spot_base: str, fut_base: str, *, venue: str,
                         symbols: list[str], signed_brackets: bool) -> tuple[list[Instrument],
                                                                            ReferenceData]:
    """Fetch spot + USD-M exchangeInfo, fundingInfo and (with keys) leverageBracket."""
    ref = ReferenceData()
    spot_raw = await rest.request("GET", spot_base, C.SPOT_EXCHANGE_INFO, weight=20)
    fut_raw = await rest.request("GET", fut_base, C.FUTURES_EXCHANGE_INFO, weight=1)
    fi_raw = await rest.request("GET", fut_base, C.FUTURES_FUNDING_INFO, weight=1)
    ref.funding_intervals = funding_intervals(schemas.FUNDING_INFO.decode(fi_raw))
    insts = instruments(schemas.EXCHANGE_INFO.decode(spot_raw), venue=venue, market="spot",
                        symbols=symbols)
    insts += instruments(schemas.EXCHANGE_INFO.decode(fut_raw), venue=venue, market="perp",
                         symbols=symbols, funding_intervals=ref.funding_intervals)
    if signed_brackets:
        raw = await rest.request("GET", fut_base, C.FUTURES_LEVERAGE_BRACKET, signed=True, weight=1)
        ref.tiers = maint_tiers(schemas.LEVERAGE_BRACKETS.decode(raw))
    return insts, ref

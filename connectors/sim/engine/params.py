"""Static parameters of the simulated venue: per-symbol filters and market-model knobs, per-asset
borrow terms, fees, margin bars. Values are Binance-like; model rates are per SCENARIO second."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

D = Decimal


@dataclass(frozen=True)
class Bracket:
    bracket: int
    initial_leverage: int
    floor: Decimal
    cap: Decimal
    mmr: Decimal
    cum: Decimal


def make_brackets(rows: list[tuple[int, int, str]]) -> tuple[Bracket, ...]:
    """rows: (notionalCap, initialLeverage, maintMarginRatio); cum as Binance derives it so that
    maintenance margin is continuous across tiers: cum_i = cum_{i-1} + floor_i*(mmr_i - mmr_{i-1})."""
    out: list[Bracket] = []
    floor, cum, prev_mmr = D(0), D(0), D(0)
    for i, (cap, lev, mmr_s) in enumerate(rows, start=1):
        mmr = D(mmr_s)
        cum = cum + floor * (mmr - prev_mmr)
        out.append(Bracket(i, lev, floor, D(cap), mmr, cum))
        floor, prev_mmr = D(cap), mmr
    return tuple(out)


_BTC_BRACKETS = make_brackets([
    (50_000, 125, "0.004"), (600_000, 100, "0.005"), (3_000_000, 75, "0.0065"),
    (12_000_000, 50, "0.01"), (70_000_000, 25, "0.02"), (100_000_000, 20, "0.025"),
    (230_000_000, 10, "0.05"), (480_000_000, 5, "0.1"), (600_000_000, 4, "0.125"),
    (800_000_000, 3, "0.15"), (1_200_000_000, 2, "0.25"), (1_800_000_000, 1, "0.5"),
])
_ETH_BRACKETS = make_brackets([
    (50_000, 125, "0.004"), (600_000, 100, "0.005"), (3_000_000, 75, "0.0065"),
    (12_000_000, 50, "0.01"), (50_000_000, 25, "0.02"), (65_000_000, 20, "0.025"),
    (150_000_000, 10, "0.05"), (320_000_000, 5, "0.1"), (400_000_000, 4, "0.125"),
    (530_000_000, 3, "0.15"), (800_000_000, 2, "0.25"), (1_200_000_000, 1, "0.5"),
])
_ALT_BRACKETS = make_brackets([
    (5_000, 75, "0.01"), (25_000, 50, "0.02"), (100_000, 25, "0.025"), (1_000_000, 10, "0.05"),
    (5_000_000, 5, "0.1"), (10_000_000, 2, "0.25"), (20_000_000, 1, "0.5"),
])


@dataclass(frozen=True)
class SymbolSpec:
    symbol: str
    base: str
    quote: str
    price0: float
    spot_tick: Decimal
    spot_step: Decimal
    spot_min_notional: Decimal
    perp_tick: Decimal
    perp_step: Decimal
    perp_min_notional: Decimal
    funding_interval_h: int
    brackets: tuple[Bracket, ...]
    # model, per scenario second: log-price diffusion, Poisson jumps, OU basis
    vol: float = 0.00025
    jump_rate: float = 0.01
    jump_sigma: float = 0.004
    basis_mean: float = 0.0002
    basis_theta: float = 0.2
    basis_sigma: float = 0.00012
    # book shape: touch quantity (base units), thinning per level, grid spacing in ticks
    spot_touch_qty: float = 1.5
    perp_touch_qty: float = 4.0
    depth_decay: float = 0.03
    spot_level_ticks: int = 50
    perp_level_ticks: int = 5
    spot_max_qty: Decimal = D("9000")
    perp_max_qty: Decimal = D("1000")


_SPECS: dict[str, SymbolSpec] = {
    "BTCUSDT": SymbolSpec(
        "BTCUSDT", "BTC", "USDT", 60000.0,
        D("0.01"), D("0.00001"), D("5"), D("0.1"), D("0.001"), D("100"), 8, _BTC_BRACKETS,
    ),
    # 4 h on purpose: the daemon must read the interval from fundingInfo, never assume 8 h.
    "ETHUSDT": SymbolSpec(
        "ETHUSDT", "ETH", "USDT", 3000.0,
        D("0.01"), D("0.0001"), D("5"), D("0.01"), D("0.001"), D("20"), 4, _ETH_BRACKETS,
        spot_touch_qty=20.0, perp_touch_qty=60.0, spot_level_ticks=5, perp_level_ticks=5,
        spot_max_qty=D("9000"), perp_max_qty=D("10000"),
    ),
}


def symbol_spec(symbol: str) -> SymbolSpec:
    if symbol in _SPECS:
        return _SPECS[symbol]
    if not symbol.endswith("USDT") or len(symbol) <= 4:
        raise ValueError(f"sim supports only <BASE>USDT symbols, not {symbol!r}")
    return SymbolSpec(
        symbol, symbol[:-4], "USDT", 100.0,
        D("0.01"), D("0.01"), D("5"), D("0.01"), D("0.01"), D("5"), 8, _ALT_BRACKETS,
        spot_touch_qty=300.0, perp_touch_qty=800.0, spot_level_ticks=2, perp_level_ticks=2,
        spot_max_qty=D("900000"), perp_max_qty=D("1000000"),
    )


@dataclass(frozen=True)
class AssetSpec:
    asset: str
    hourly_rate: float          # long-run mean of the hourly borrow rate
    rate_vol: float = 0.05      # log-rate OU noise per sqrt(scenario s)
    rate_theta: float = 0.05    # log-rate OU pull per scenario s
    spike_rate: float = 0.002   # spikes per scenario s
    spike_mult: float = 6.0
    pool: Decimal = D("1000")   # venue-wide lendable amount
    borrow_limit: Decimal = D("1000")  # per-account cap (maxBorrowable "borrowLimit")


_ASSETS: dict[str, AssetSpec] = {
    "USDT": AssetSpec("USDT", 0.0000057, pool=D("50000000"), borrow_limit=D("5000000")),
    "BTC": AssetSpec("BTC", 0.0000012, pool=D("200"), borrow_limit=D("60")),
    "ETH": AssetSpec("ETH", 0.0000025, pool=D("4000"), borrow_limit=D("1500")),
}


def asset_spec(asset: str) -> AssetSpec:
    return _ASSETS.get(asset) or AssetSpec(asset, 0.000005, pool=D("1000000"),
                                           borrow_limit=D("100000"))


@dataclass(frozen=True)
class EngineParams:
    levels: int = 50
    step_s: float = 0.1                 # scenario seconds per market step (diffs every 100 ms)
    refill_tau_s: float = 2.0           # consumed book liquidity comes back with this time constant
    spot_maker_fee: Decimal = D("0.001")
    spot_taker_fee: Decimal = D("0.001")
    fut_maker_fee: Decimal = D("0.0002")
    fut_taker_fee: Decimal = D("0.0005")
    normal_bar: Decimal = D("1.5")
    margin_call_bar: Decimal = D("1.3")
    force_liquidation_bar: Decimal = D("1.1")
    margin_max_leverage: int = 3        # cross margin classic: liabilities <= (3-1) x net equity
    margin_liquidation_fee: Decimal = D("0.01")
    futures_liquidation_fee: Decimal = D("0.012")
    funding_interest_8h: Decimal = D("0.0001")   # 0.01 % per 8 h, scaled to the interval
    funding_clamp: Decimal = D("0.0005")
    funding_cap: Decimal = D("0.02")
    default_epoch0_ms: int = 1_767_225_600_000   # 2026-01-01T00:00Z, when the config says 0
    house_funding: dict[str, Decimal] = field(default_factory=lambda: {
        "USDT": D("1000000000000"), "BTC": D("100000000"), "ETH": D("1000000000")})


def log_drift_per_s(pct: float, over_s: float) -> float:
    """Drift that moves a price by `pct` % in `over_s` seconds."""
    return math.log1p(pct / 100.0) / over_s

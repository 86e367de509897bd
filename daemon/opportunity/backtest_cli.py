"""`basisd backtest`: read a funding history CSV, run `backtest.run_backtest`, print the result.

The shell: file reading, the interval guess, progress on a terminal (stderr, only if it is a
tty), a table or JSON on stdout. Everything it prints is computed by the pure core.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

import msgspec

from daemon.core.funding_history import FundingHistoryError, FundingSeries, parse_funding_csv
from daemon.opportunity.backtest import BacktestResult, BacktestSettings, Calibration, run_backtest
from daemon.opportunity.config import ScannerConfig, StrategyConfig, VenueFees

_INTERVALS_H = (8.0, 4.0, 2.0, 1.0)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--funding", required=True, help="funding history CSV (Symbol,Date,Funding Rate)")
    p.add_argument("--borrow-apr", type=float, default=5.0,
                   help="borrow APR of the coin, percent (before the scanner's borrow_stress)")
    p.add_argument("--fees", help="fee per fill, percent: SPOT,PERP (default: [scanner] defaults)")
    p.add_argument("--slippage-bps", type=float, default=2.0,
                   help="slippage of all four fills from the mid, bps (no book in a funding file)")
    p.add_argument("--window", type=int, default=1000,
                   help="settlements the OU model is fitted on before each decision")
    p.add_argument("--config", help="daemon TOML: its [scanner] and [strategy] are used")
    p.add_argument("--tz-offset-h", type=float, default=3.0,
                   help="UTC offset of the CSV's naive dates (the shared dumps are UTC+3)")
    p.add_argument("--interval-h", type=float, default=None,
                   help="funding interval, hours (default: the largest of 8/4/2/1 the dates fit)")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")


def read_series(text: str, tz_offset_h: float, interval_h: float | None) -> FundingSeries:
    """Parse on the given interval, else on the coarsest grid every date sits on."""
    if interval_h is not None:
        return parse_funding_csv(text, tz_offset_hours=tz_offset_h, interval_hours=interval_h)
    for hours in _INTERVALS_H:
        series = parse_funding_csv(text, tz_offset_hours=tz_offset_h, interval_hours=hours)
        if not series.off_grid and not series.duplicates:
            return series
    return series


def settings_from(args: argparse.Namespace) -> BacktestSettings:
    scanner, strategy = ScannerConfig(), StrategyConfig(enabled=True,
                                                        types=["basis", "reverse_basis"])
    if args.config:
        from daemon.config import load_config   # the daemon's own validation and messages
        cfg = load_config(args.config)
        scanner, strategy = cfg.scanner, cfg.strategy
    if args.fees:
        spot, perp = (float(x) for x in args.fees.split(","))
        fees = VenueFees(spot_taker_pct=spot, spot_maker_pct=spot, perp_taker_pct=perp,
                         perp_maker_pct=perp)
        scanner = msgspec.structs.replace(scanner, default_fees=fees)
    return BacktestSettings(scanner=scanner, strategy=strategy, borrow_apr=args.borrow_apr / 100,
                            slippage_bps=args.slippage_bps, window=args.window)


def _pct(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x * 100:.{digits}f}"


def calibration_line(label: str, c: Calibration) -> str:
    if not c.entries:
        return f"calibration {label}: no closed entries"
    err = "-" if c.relative_error is None else f"{c.relative_error * 100:+.1f} %"
    return (f"calibration {label}: {c.entries} entries, mean predicted funding APR "
            f"{_pct(c.mean_predicted_funding_apr)} % vs realised {_pct(c.mean_realised_funding_apr)}"
            f" % ({err}); today's rate held for ever would have said "
            f"{_pct(c.mean_current_funding_apr)} %")


def render(result: BacktestResult) -> str:
    from daemon.ctl import table
    rows: list[list[Any]] = []
    for i, t in enumerate(result.trades, 1):
        rows.append([i, t.type, _ts(t.entry_ms), t.settlements, _pct(t.predicted_net_apr),
                     _pct(t.predicted_funding_apr), _pct(t.realised_funding_apr),
                     _pct(t.fees, 3), _pct(t.total, 3), _pct(t.total_apr), t.exit_reason])
    lines = [f"{result.symbol}: {result.settlements} settlements every {result.interval_h:g} h, "
             f"{result.fits} with an OU fit"]
    if rows:
        lines.append(table(rows, ["#", "TYPE", "ENTRY (UTC)", "HELD", "PRED NET APR%",
                                  "PRED FUNDING APR%", "REAL FUNDING APR%", "FEES%", "TOTAL%",
                                  "TOTAL APR%", "EXIT"]))
    else:
        lines.append("no entries")
    lines.append(f"strategy total: {_pct(result.total, 3)} % of notional (closed trades)")
    lines.append(calibration_line("all", result.calibration))
    for name, c in result.by_type.items():
        lines.append(calibration_line(name, c))
    return "\n".join(lines)


def _ts(ms: int) -> str:
    import datetime as dt
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _progress(stream: TextIO) -> Any:
    def report(done: int, total: int) -> None:
        stream.write(f"\rbacktest: {done}/{total} settlements")
        if done >= total:
            stream.write("\n")
        stream.flush()
    return report


def main(args: argparse.Namespace) -> int:
    path = Path(args.funding)
    try:
        series = read_series(path.read_text(), args.tz_offset_h, args.interval_h)
        settings = settings_from(args)
    except (OSError, FundingHistoryError, ValueError) as exc:
        print(f"basisd backtest: {exc}", file=sys.stderr)
        return 2
    if series.missing_slots_ms:
        print(f"basisd backtest: {len(series.missing_slots_ms)} missing settlements in {path}; "
              "the fit treats the series as evenly spaced", file=sys.stderr)
    progress = _progress(sys.stderr) if sys.stderr.isatty() else None
    result = run_backtest(series.symbol, series.slot_ms, series.rate,
                          series.interval_ms / 3_600_000, settings, progress)
    if args.json:
        sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
    else:
        print(render(result))
    return 0

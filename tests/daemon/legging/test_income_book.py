"""The income reconciler's booking, fed rows directly: per symbol, by size at the settlement
time, exact, and never twice (also across a restart from the journaled pair documents)."""
from __future__ import annotations

from typing import Any

from connectors.types import IncomeRow
from daemon.core.attribution import to_units
from daemon.core.pairs import Pair, make_legs
from daemon.legging.income import IncomeReconciler
from daemon.legging.runtime import LegMeta, PairRuntime


class _Executor:
    venues: dict[str, Any] = {}

    def mark(self, rt: PairRuntime, i: int) -> float:
        return 60_000.0

    def persist(self, rt: PairRuntime) -> None:
        pass

    def notify(self, rt: PairRuntime) -> None:
        pass


def _pair(pid: str, symbol: str, fills: list[tuple[int, float]]) -> PairRuntime:
    legs = make_legs("reverse_basis", symbol, {"spot": "v", "perp": "v"})
    rt = PairRuntime(Pair(id=pid, type="reverse_basis", symbol=symbol, legs=legs, target_qty=1.0,
                          notional_usd=1.0, execution="taker"),
                     (LegMeta(base=symbol[:-4]), LegMeta(base=symbol[:-4])))
    for ts, q in fills:           # perp long and spot short, the same size
        rt.qty_logs[1].add(ts, q)
        rt.qty_logs[0].add(ts, -q)
        rt.books[1].qty += q
        rt.books[0].qty -= q
    return rt


def _row(tx: str, symbol: str, amount: str, ts: int, kind: str = "funding") -> IncomeRow:
    return IncomeRow(venue="v", kind=kind, tx_id=tx, symbol=symbol if kind == "funding" else "",
                     asset="USDT" if kind == "funding" else symbol[:-4], amount=amount, ts_ms=ts)


def test_rows_go_to_their_symbol_by_size_at_settlement() -> None:
    pairs = {"a": _pair("a", "BTCUSDT", [(100, 0.3)]),
             "b": _pair("b", "BTCUSDT", [(100, 0.1), (500, 0.4)]),     # grew after t=200
             "e": _pair("e", "ETHUSDT", [(100, 2.0)])}
    rec = IncomeReconciler(pairs, _Executor(), None)  # type: ignore[arg-type]
    rows = [_row("1", "BTCUSDT", "-4.00000001", 200), _row("2", "ETHUSDT", "1.23456789", 200),
            _row("3", "BTCUSDT", "-8.00000000", 600), _row("4", "BTCUSDT", "0.5", 600, "interest")]
    assert rec.book(rows) == 4
    a, b, e = (pairs[k].books for k in "abe")
    assert to_units(repr(e[1].funding)) == 123_456_789
    # t=200: 0.3 vs 0.1 -> 3:1; t=600: 0.3 vs 0.5 -> 3:5
    assert to_units(repr(a[1].funding)) == -300_000_001 - 300_000_000
    assert to_units(repr(b[1].funding)) == -100_000_000 - 500_000_000
    assert a[0].interest_coin == 0.1875 and b[0].interest_coin == 0.3125
    assert rec.book(rows) == 0 and rec.unattributed == []
    assert rec.attributed_units[("v", "funding", "USDT")] == -1_200_000_001 + 123_456_789


def test_restart_books_nothing_twice() -> None:
    pairs = {"a": _pair("a", "BTCUSDT", [(100, 0.3)]), "b": _pair("b", "BTCUSDT", [(100, 0.1)])}
    rows = [_row("1", "BTCUSDT", "-4", 200), _row("2", "BTCUSDT", "-4", 300)]
    IncomeReconciler(pairs, _Executor(), None).book(rows)  # type: ignore[arg-type]
    before = {k: rt.books[1].funding for k, rt in pairs.items()}
    # restored from their documents: the quantity history is rebuilt differently (here, none)
    restored = {k: PairRuntime.from_doc(rt.doc()) for k, rt in pairs.items()}
    later = _row("3", "BTCUSDT", "-4", 400)
    IncomeReconciler(restored, _Executor(), None).book(rows + [later])  # type: ignore[arg-type]
    after = {k: rt.books[1].funding for k, rt in restored.items()}
    # rows 1 and 2 not again; row 3 (no quantity history after the restore) by the targets
    assert sum(after.values()) - sum(before.values()) == -4.0


def test_a_row_no_pair_held_is_kept_not_dropped() -> None:
    pairs = {"a": _pair("a", "BTCUSDT", [(100, 0.3)])}
    rec = IncomeReconciler(pairs, _Executor(), None)  # type: ignore[arg-type]
    rec.book([_row("9", "SOLUSDT", "-1", 200)])
    assert [r.tx_id for r in rec.unattributed] == ["9"]

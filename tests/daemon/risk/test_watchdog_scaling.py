"""The watchdog stays linear in pairs: account figures are summed once per hub event per account
and shared by the pairs on it (daemon/risk.MarginBook, daemon/risk_inputs.AccountViews), and the
shared figures give the same answers as the per-pair tuple functions they replace."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.risk import maths as risk, inputs as risk_inputs
from connectors.types import Balance, Instrument, MarginAccount, Mark, PerpPosition
from daemon.hub import Hub
from daemon.core.pairs import Pair, State, make_legs
from daemon.risk.maths import MarginAsset, MarginBook
from daemon.risk.inputs import FuturesBook, margin_assets
from daemon.risk.watchdog import Watchdog
from daemon.risk.config import WatchdogConfig

V = "v"
BRACKETS = [{"bracket": 1, "initialLeverage": 125, "notionalCap": 50_000, "notionalFloor": 0,
             "maintMarginRatio": 0.004, "cum": 0},
            {"bracket": 2, "initialLeverage": 100, "notionalCap": 600_000, "notionalFloor": 50_000,
             "maintMarginRatio": 0.005, "cum": 50}]


class NoActions:
    def __init__(self) -> None:
        self.calls = 0

    def _hit(self, *_a: Any) -> None:
        self.calls += 1

    transfer = deleverage = unwind = close = rehedge = _hit


def mark(sym: str, price: float) -> Mark:
    return Mark(venue=V, symbol=sym, mark_price=price, index_price=price, funding_rate=-0.0003,
                next_funding_ms=0, interval_h=8.0, ts_ms=0)


def rig(n: int, collateral_per_pair: float = 8_000.0) -> tuple[Hub, Watchdog, NoActions, list[Pair]]:
    """n open reverse-basis pairs on one venue: one cross-margin account (every coin shorted in
    it) and one futures cross wallet (every perp long on it)."""
    hub = Hub()
    hub.set_margin_account(MarginAccount(venue=V, margin_level=8.0))
    hub.set_balance(Balance(venue=V, wallet="margin", asset="USDT", free=n * (1_000 + collateral_per_pair)))
    hub.set_balance(Balance(venue=V, wallet="futures", asset="USDT", free=n * 1_000.0, locked=n * 400.0))
    pairs = []
    for i in range(n):
        sym, base = f"C{i:03d}USDT", f"C{i:03d}"
        for market in ("spot", "perp"):
            hub.set_instrument(Instrument(venue=V, market=market, symbol=sym, base=base, quote="USDT",
                                          tick_size=0.01, step_size=0.001))
        hub.set_balance(Balance(venue=V, wallet="margin", asset=base, borrowed=10.0))
        hub.set_position(PerpPosition(venue=V, symbol=sym, qty=10.0, entry_price=100.0, leverage=3))
        hub.set_mark(mark(sym, 100.0))
        pairs.append(Pair(id=f"p{i}", type="reverse_basis", symbol=sym,
                          legs=make_legs("reverse_basis", sym, {"spot": V, "perp": V}), target_qty=10.0,
                          notional_usd=1_000.0, execution="taker", state=State.OPEN))
    actions = NoActions()
    # a daily loss limit far away: equity is tracked on every mark, from the same shared figures
    wd = Watchdog(hub, WatchdogConfig(net_apr_grace_s=1e9, daily_loss_limit=1e12), lambda: pairs, actions)
    for p in pairs:
        wd.set_brackets(V, p.symbol, BRACKETS)
    wd.start()
    return hub, wd, actions, pairs


class Counter:
    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.n = 0

    def __call__(self, *a: Any, **k: Any) -> Any:
        self.n += 1
        return self.fn(*a, **k)


@pytest.mark.parametrize("n", [1, 7, 40])
def test_account_figures_are_summed_once_per_event_whatever_the_number_of_pairs(
        n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    hub, wd, actions, _pairs = rig(n)
    accounts = Counter(risk_inputs.margin_assets)
    prices = Counter(risk_inputs.coin_price)
    futures = Counter(FuturesBook.__init__)
    free = Counter(MarginBook._transferable)
    monkeypatch.setattr(risk_inputs, "margin_assets", accounts)
    monkeypatch.setattr(risk_inputs, "coin_price", prices)
    monkeypatch.setattr(FuturesBook, "__init__", lambda self, *a: futures(self, *a))
    monkeypatch.setattr(MarginBook, "_transferable", lambda self, *a: free(self, *a))
    before = wd.evaluations
    for k, price in enumerate((100.5, 101.0, 99.5)):
        hub.set_mark(mark(f"C{k % n:03d}USDT", price))
    # the first mark is a full pass over the venue; after it a mark of one coin moves the margin
    # level of every pair on the shared account (and its own pair's legs) but no pair's ladder
    # step (collateral is ample, funding unchanged), so no pair is re-evaluated
    # (daemon/risk/markpass.py) ...
    assert wd.evaluations - before == n
    # ... from one reading of each account (margin, equity and transfer-out included) on the
    # first event, one price per coin held or owed; each later mark reprices its one coin and
    # position in the books kept (inputs.AccountViews.mark_moved): not N readings of N coins
    assert accounts.n <= 1 and futures.n <= 1 and free.n == 1, (accounts.n, futures.n, free.n)
    assert prices.n == 3 + accounts.n * (n + 1), prices.n
    assert actions.calls == 0 and hub.subscriber_errors == 0, hub.last_subscriber_error


def test_a_mark_of_one_coin_re_evaluates_the_other_pairs_on_the_account_from_fresh_figures() -> None:
    hub, wd, actions, pairs = rig(3, collateral_per_pair=400.0)
    wd.evaluate_all()
    before = wd.status()["pairs"]["p2"]["legs"][0]["distance"]
    hub.set_mark(mark("C000USDT", 112.0))         # C000 pumps: the whole account is nearer the bar
    after = wd.status()["pairs"]["p2"]["legs"][0]["distance"]
    assert after < before
    assets, priced = margin_assets(hub, V)
    assert priced
    assert after == pytest.approx(risk.margin_asset_distance(assets, "C002", 1.1), rel=1e-12)
    # and the next event reads the account again (nothing cached across events)
    hub.set_mark(mark("C001USDT", 90.0))
    assets, _ = margin_assets(hub, V)
    for p in pairs:
        got = wd.status()["pairs"][p.id]["legs"][0]["distance"]
        assert got == pytest.approx(risk.margin_asset_distance(assets, p.symbol[:4], 1.1), rel=1e-12)
    assert actions.calls == 0


def test_other_positions_on_the_wallet_match_a_direct_sum() -> None:
    hub, wd, _actions, pairs = rig(4)
    hub.set_mark(mark("C001USDT", 104.0))
    book = FuturesBook(hub, V, wd._bracket_source, 0.01)
    for p in pairs:
        mm = upnl = 0.0
        for (_v, sym), pos in hub.positions.items():
            if sym != p.symbol:
                px = hub.marks[(V, sym)].mark_price
                upnl += pos.qty * (px - pos.entry_price)
                mm += risk.maint_margin(tuple(wd._bracket_source(V, sym) or ()), pos.qty * px)
        got_mm, got_upnl = book.others(p.symbol)
        assert got_mm == pytest.approx(mm, rel=1e-12) and got_upnl == pytest.approx(upnl, abs=1e-9)
    # a position alone on its wallet has exactly nothing beside it
    hub2, wd2, _a, pairs2 = rig(1)
    assert FuturesBook(hub2, V, wd2._bracket_source, 0.01).others(pairs2[0].symbol) == (0.0, 0.0)


# -- MarginBook answers as the tuple functions do ------------------------------------------------

def _quadratic_transferable(assets: Sequence[MarginAsset], bar: float, target: float,
                            stable: str = "USDT", min_level: float = 0.0) -> float:
    """The former margin_transferable (every coin, totals over every coin for each): reference."""
    held = sum(a.held - a.liability for a in assets if a.asset == stable)
    if held <= 0:
        return 0.0
    worst = math.inf
    if min_level > 0:
        total_a, total_l = risk.margin_totals(assets)
        if total_l > 0:
            worst = total_a - min_level * total_l
    for shock in (target, -target):
        worst = min(worst, risk.margin_excess(assets, bar, shock))
        for a in assets:
            if a.moves:
                worst = min(worst, risk.margin_excess(assets, bar, shock, only=a.asset))
    return max(0.0, min(held, worst))


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None or not math.isfinite(a) or not math.isfinite(b):
        return a == b
    return a == pytest.approx(b, rel=1e-9, abs=1e-6)


coins = st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(1, 5_000)),
                 min_size=1, max_size=5)


@st.composite
def accounts(draw: st.DrawFn) -> tuple[MarginAsset, ...]:
    usdt = MarginAsset(asset="USDT", held=float(draw(st.integers(0, 400_000))),
                       liability=float(draw(st.integers(0, 2_000))), moves=False)
    rest = tuple(MarginAsset(asset=f"C{i}", held=float(h), liability=float(owed), price=float(px))
                 for i, (h, owed, px) in enumerate(draw(coins)))
    return (usdt, *rest) if draw(st.booleans()) else (*rest, usdt)


@settings(max_examples=300, deadline=None)
@given(acct=accounts(), bar=st.sampled_from([1.05, 1.1, 1.3]), target=st.sampled_from([0.1, 0.3, 0.6]),
       min_level=st.sampled_from([0.0, 2.0]))
def test_book_transferable_is_the_quadratic_answer(acct: tuple[MarginAsset, ...], bar: float,
                                                    target: float, min_level: float) -> None:
    want = _quadratic_transferable(acct, bar, target, min_level=min_level)
    assert risk.margin_transferable(acct, bar, target, min_level=min_level) == pytest.approx(want, abs=1e-6)
    book = MarginBook(acct)
    assert book.transferable(bar, target, min_level=min_level) == pytest.approx(want, abs=1e-6)


@settings(max_examples=300, deadline=None)
@given(acct=accounts(), bar=st.sampled_from([1.05, 1.1, 1.3]), target=st.sampled_from([0.1, 0.3]),
       f=st.floats(0.0, 1.0), qty=st.integers(-30, 30), deposit=st.integers(-5_000, 5_000),
       direction=st.sampled_from([risk.UP, risk.DOWN]))
def test_book_distances_are_the_tuple_answers(acct: tuple[MarginAsset, ...], bar: float, target: float,
                                              f: float, qty: int, deposit: int, direction: int) -> None:
    book = MarginBook(acct)
    assert book.owing == sum(1 for a in acct if a.liability > 0)
    assert book.level() == risk.margin_level(*risk.margin_totals(acct))
    for a in acct:
        if not a.moves:
            continue
        x = a.asset
        (got_liq, got_dir), (want_liq, want_dir) = book.liq_price(x, bar), risk.margin_liq_price(acct, x, bar)
        assert got_dir == want_dir and _same(got_liq, want_liq)
        assert _same(book.distance(x, bar), risk.margin_asset_distance(acct, x, bar))
        assert book.collateral_needed(x, bar, target, direction) == pytest.approx(
            risk.margin_collateral_needed(acct, x, bar, target, direction), abs=1e-6)
        if qty != 0 and (qty < 0 or a.liability > 0):
            moved = risk.margin_with_deposit(acct, float(deposit))
            want = risk.margin_distance_after_trim(moved, x, float(qty), f, bar, 0.001)
            got = book.distance_after_trim(x, float(qty), f, bar, 0.001, deposit=float(deposit))
            assert _same(got, want), (got, want)

"""Cross-margin liquidation maths (Binance), account-wide (pure: floats in, floats out).

Margin level ML = total assets / (liabilities + interest), all valued in USDT; force liquidation
at ML <= `forceLiquidationBar` (1.1 on Binance classic). The account is evaluated as a whole:
every coin held or owed counts, so several pairs sharing one account share one fate. Two views
are computed and the nearer wins: one coin moving alone (the others fixed), and every non-stable
coin moving together (crypto is correlated in a crash or a squeeze). Conventions (prices in
USDT, quantities in coins, signed distances): see daemon/risk/maths.py and daemon/risk/distance.py.

The tuple functions (`margin_*`) and `MarginBook` (the same answers from one pass over the
account) live together: `margin_transferable` is answered by a MarginBook. This is the one home
of the cross-margin level (`margin_level`) and of the price at which it meets the bar
(`_liq_root`, behind `margin_liq_price` and `MarginBook.liq_price`): the watchdog, pre-flight
and strategy sizing all judge a margin short through a MarginBook.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import msgspec
from msgspec import Struct

from daemon.risk.distance import DOWN, UP, distance

__all__ = [
    "DOWN", "FORCE_LIQUIDATION_BAR", "UP", "MarginAsset", "MarginBook", "margin_after_buyback", "margin_after_sale",
    "margin_asset_distance", "margin_collateral_needed", "margin_distance_after_trim",
    "margin_excess", "margin_level", "margin_liq_price", "margin_liq_shock",
    "margin_short_distance", "margin_totals", "margin_transferable", "margin_with_deposit",
]


# Binance classic cross margin force-liquidates at margin level 1.1 (`forceLiquidationBar` of
# GET /sapi/v1/margin/tradeCoeff); used until the venue's own figure for the account is known.
FORCE_LIQUIDATION_BAR = 1.1


class MarginAsset(Struct, frozen=True, kw_only=True):
    """One asset of a cross-margin account. `held` = free + locked, `liability` = borrowed +
    interest, both in coin units; `price` in USDT. Stables do not move under a shock."""

    asset: str
    held: float = 0.0
    liability: float = 0.0
    price: float = 1.0
    moves: bool = True


def margin_level(total_assets: float, liabilities: float, interest: float = 0.0) -> float:
    """Binance cross-margin level; inf with nothing owed."""
    owed = liabilities + interest
    if owed <= 0:
        return math.inf
    return total_assets / owed


def _factor(a: MarginAsset, shock: float, only: str | None) -> float:
    if not a.moves:
        return 1.0
    if only is not None and a.asset != only:
        return 1.0
    return 1.0 + shock


def margin_totals(assets: Iterable[MarginAsset], shock: float = 0.0,
                  only: str | None = None) -> tuple[float, float]:
    """(total assets, total liabilities) in USDT after moving `only` (or every moving asset)."""
    total_a = 0.0
    total_l = 0.0
    for a in assets:
        p = a.price * _factor(a, shock, only)
        total_a += a.held * p
        total_l += a.liability * p
    return total_a, total_l


def margin_excess(assets: Iterable[MarginAsset], bar: float, shock: float = 0.0,
                  only: str | None = None) -> float:
    """assets - bar * liabilities (USDT) after the shock: < 0 is the collateral missing to stay
    above the bar there, > 0 the stable collateral that could leave and still stay above it."""
    total_a, total_l = margin_totals(assets, shock, only)
    return total_a - bar * total_l


def _liq_root(held: float, owed: float, a_o: float, l_o: float, bar: float) -> tuple[float | None, int]:
    # Solves A_o + h*P = bar*(L_o + l*P) for the price P of one coin (see margin_liq_price).
    slope = bar * owed - held          # > 0: a rise in this coin lowers ML (net short in ML terms)
    rest = a_o - bar * l_o
    if slope > 0:
        return max(rest / slope, 0.0), UP
    if slope < 0:
        if rest >= 0:
            return None, DOWN          # stables alone cover the bar: no fall liquidates
        return -rest / -slope, DOWN
    return (None, UP) if rest > 0 else (0.0, UP)


def _shock_root(a_m: float, l_m: float, a_s: float, l_s: float, bar: float) -> tuple[float | None, int]:
    # The common factor on moving values at which ML hits the bar (see margin_liq_shock).
    slope = bar * l_m - a_m
    rest = a_s - bar * l_s
    if slope > 0:
        return max(rest / slope, 0.0) - 1.0, UP
    if slope < 0:
        if rest >= 0:
            return None, DOWN
        return -rest / -slope - 1.0, DOWN
    return (None, UP) if rest > 0 else (-1.0, UP)


def _nearer_of(price: float, liq: float | None, direction: int, shock: float | None, s_dir: int) -> float:
    alone = distance(price, liq, direction)
    # All coins together only count when they hurt the account the same way round as this coin
    # (a net-long account dies in a crash, which trimming a short would not help).
    together = math.inf if shock is None or s_dir != direction else s_dir * shock
    return min(alone, together)


def margin_liq_price(assets: Sequence[MarginAsset], asset: str, bar: float) -> tuple[float | None, int]:
    """Price of `asset` (others fixed) at which ML hits `bar`, and the direction that gets there.

    Solves A_o + h*P = bar*(L_o + l*P). Returns (None, UP) when no price liquidates the account,
    and a price <= 0 clamped to 0.0 when the account is beyond the bar at any price of this coin
    in that direction."""
    a_o = l_o = 0.0
    held = owed = 0.0
    for a in assets:
        if a.asset == asset:
            held += a.held
            owed += a.liability
        else:
            a_o += a.held * a.price
            l_o += a.liability * a.price
    return _liq_root(held, owed, a_o, l_o, bar)


def margin_liq_shock(assets: Sequence[MarginAsset], bar: float) -> tuple[float | None, int]:
    """The common move of every non-stable asset at which ML hits `bar` (as a signed fraction),
    and its direction; (None, UP) when no common move liquidates the account."""
    a_s = l_s = a_m = l_m = 0.0
    for a in assets:
        v_a, v_l = a.held * a.price, a.liability * a.price
        if a.moves:
            a_m += v_a
            l_m += v_l
        else:
            a_s += v_a
            l_s += v_l
    return _shock_root(a_m, l_m, a_s, l_s, bar)


def margin_asset_distance(assets: Sequence[MarginAsset], asset: str, bar: float) -> float:
    """Distance of the account, seen from one coin: the nearer of that coin moving alone and all
    coins moving together (in the direction that hurts this coin's position)."""
    price = next((a.price for a in assets if a.asset == asset), 0.0)
    if price <= 0:
        raise ValueError(f"no price for {asset!r} in the margin account")
    liq, direction = margin_liq_price(assets, asset, bar)
    shock, s_dir = margin_liq_shock(assets, bar)
    return _nearer_of(price, liq, direction, shock, s_dir)


def margin_collateral_needed(assets: Sequence[MarginAsset], asset: str, bar: float,
                             target: float, direction: int = UP) -> float:
    """USDT to add so that `asset` (alone, and all coins together) can move `target` against the
    account without reaching the bar. 0 when nothing is missing."""
    shock = direction * target
    missing = max(-margin_excess(assets, bar, shock, only=asset),
                  -margin_excess(assets, bar, shock))
    return max(missing, 0.0)


def margin_transferable(assets: Sequence[MarginAsset], bar: float, target: float,
                        stable: str = "USDT", min_level: float = 0.0) -> float:
    """Stable collateral that may leave the account and keep every coin `target` away from the
    bar, both ways, alone and together; never more than the stable actually held, nor more than
    leaves the margin level at `min_level` (the venue's own transfer-out rule). O(assets)."""
    return MarginBook(assets).transferable(bar, target, stable, min_level)


_FIXED = 1074          # 2**-1074: the least subnormal, so every finite float is an integer of them


def exact(x: float) -> int:
    """A finite float exactly, as an integer of 2**-1074 (sums of these do not round)."""
    n, d = x.as_integer_ratio()
    return n << (_FIXED + 1 - d.bit_length())


def rounded(s: int) -> float:
    """The float nearest an `exact` sum (int / int divides correctly rounded)."""
    return s / (1 << _FIXED)


def _renet(got: tuple[float, int, float, int], old: float, new: float
           ) -> tuple[float, int, float, int] | None:
    """The extreme nets after one coin's went from `old` to `new` (None: an extreme left, sum again)."""
    lo, n_lo, hi, n_hi = got
    if old == lo:
        n_lo -= 1
    if old == hi:
        n_hi -= 1
    if n_lo == 0 or n_hi == 0:
        return None
    if new < lo:
        lo, n_lo = new, 1
    elif new == lo:
        n_lo += 1
    if new > hi:
        hi, n_hi = new, 1
    elif new == hi:
        n_hi += 1
    return lo, n_lo, hi, n_hi


class _Coin:
    """One coin's share of a MarginBook (sums over its entries; price of the first)."""

    __slots__ = ("held", "owed", "price", "moves", "value_a", "value_l", "move_a", "move_l", "any_moves",
                 "entries")

    def __init__(self, price: float, moves: bool) -> None:
        self.held = self.owed = 0.0
        self.price = price
        self.moves = moves
        self.value_a = self.value_l = 0.0    # held * price, liability * price
        self.move_a = self.move_l = 0.0      # the same, over entries that move under a shock
        self.any_moves = False
        self.entries = 0


class MarginBook:
    """A cross-margin account summed once: every figure a pair on it needs in O(1) per coin.

    The account is shared by every pair on the venue; building this once per hub event and
    asking it per pair keeps the watchdog linear in pairs (each query of the tuple functions
    above walks the whole account). Answers equal theirs up to float rounding (sums minus one
    coin's share instead of sums over the others). A trim or a deposit is asked as a delta
    (`d_held`/`d_owed` of the coin, `d_stable` of the stable) instead of a copied account; that
    assumes one balance per coin, as venues report it."""

    __slots__ = ("_assets", "total_a", "total_l", "move_a", "move_l", "stable_a", "stable_l", "coins",
                 "owing", "_free", "_repriced", "_nets", "_sums")

    def __init__(self, assets: Sequence[MarginAsset]) -> None:
        self._assets: tuple[MarginAsset, ...] = tuple(assets)
        self._repriced = False           # `_assets` still has the prices before `repriced`
        coins: dict[str, _Coin] = {}
        total_a = total_l = move_a = move_l = stable_a = stable_l = 0.0
        owing = 0
        for a in assets:
            v_a, v_l = a.held * a.price, a.liability * a.price
            total_a += v_a
            total_l += v_l
            c = coins.get(a.asset)
            if c is None:
                c = coins[a.asset] = _Coin(a.price, a.moves)
            c.held += a.held
            c.owed += a.liability
            c.entries += 1
            c.value_a += v_a
            c.value_l += v_l
            if a.moves:
                move_a += v_a
                move_l += v_l
                c.move_a += v_a
                c.move_l += v_l
                c.any_moves = True
            else:
                stable_a += v_a
                stable_l += v_l
            if a.liability > 0:
                owing += 1
        # The totals exactly (fixed point, see `exact`), rounded once: the same floats whichever
        # way they were reached, a fresh sum or `repriced` one coin at a time.
        self._sums: list[int] | None = None
        try:
            sums = [0] * 6
            for a in self._assets:
                v_a, v_l = exact(a.held * a.price), exact(a.liability * a.price)
                k = 2 if a.moves else 4
                sums[0] += v_a
                sums[1] += v_l
                sums[k] += v_a
                sums[k + 1] += v_l
            total_a, total_l, move_a, move_l, stable_a, stable_l = (rounded(x) for x in sums)
            self._sums = sums
        except (ValueError, OverflowError):
            pass                           # a figure not finite: the float sums stand
        self.total_a, self.total_l = total_a, total_l
        self.move_a, self.move_l, self.stable_a, self.stable_l = move_a, move_l, stable_a, stable_l
        self.coins = coins
        self.owing = owing                 # entries with a liability (0: nothing can liquidate)
        self._free: dict[tuple[float, float, str, float], float] = {}
        # bar -> the lowest and highest net moving value (move_a - bar * move_l) of a coin, each with
        # how many coins are at it (None: no coin moves)
        self._nets: dict[float, tuple[float, int, float, int] | None] = {}

    @property
    def assets(self) -> tuple[MarginAsset, ...]:
        """The account's entries (at the coins' current prices)."""
        if self._repriced:
            self._assets = tuple(msgspec.structs.replace(a, price=self.coins[a.asset].price)
                                 if a.price != self.coins[a.asset].price else a for a in self._assets)
            self._repriced = False
        return self._assets

    def repriced(self, asset: str, price: float) -> MarginBook | None:
        """The account, in place, with `asset` (in it, one entry) at `price`: one coin's mark moved.
        The totals change by that coin's change, exactly (the same floats as a fresh sum); None:
        the coin has several entries or a figure is not finite (sum the account afresh)."""
        c = self.coins[asset]
        if c.entries != 1 or self._sums is None or not math.isfinite(price):
            return None
        n = _Coin(price, c.moves)
        n.held, n.owed, n.entries, n.any_moves = c.held, c.owed, 1, c.any_moves
        n.value_a, n.value_l = c.held * price, c.owed * price
        try:
            d_a, d_l = exact(n.value_a) - exact(c.value_a), exact(n.value_l) - exact(c.value_l)
        except (ValueError, OverflowError):
            return None
        if c.moves:
            n.move_a, n.move_l = n.value_a, n.value_l
        # the extreme nets again: exact (a min or max rounds nothing) when this coin was not one
        if c.any_moves:
            for bar, got in list(self._nets.items()):
                moved = None if got is None else _renet(got, c.move_a - bar * c.move_l,
                                                        n.value_a - bar * n.value_l)
                if moved is None:
                    del self._nets[bar]
                else:
                    self._nets[bar] = moved
        self.coins[asset] = n
        sums = self._sums
        k = 2 if c.moves else 4
        sums[0] += d_a
        sums[1] += d_l
        sums[k] += d_a
        sums[k + 1] += d_l
        self.total_a, self.total_l = rounded(sums[0]), rounded(sums[1])
        self.move_a, self.move_l = rounded(sums[2]), rounded(sums[3])
        self.stable_a, self.stable_l = rounded(sums[4]), rounded(sums[5])
        self._free.clear()
        self._repriced = True
        return self

    def price(self, asset: str) -> float:
        c = self.coins.get(asset)
        return c.price if c is not None else 0.0

    def level(self) -> float:
        return margin_level(self.total_a, self.total_l)

    def excess(self, bar: float, shock: float = 0.0, only: str | None = None) -> float:
        """margin_excess of the account."""
        if only is None:
            return self.total_a + shock * self.move_a - bar * (self.total_l + shock * self.move_l)
        c = self.coins.get(only)
        if c is None:
            return self.total_a - bar * self.total_l
        return self.total_a + shock * c.move_a - bar * (self.total_l + shock * c.move_l)

    def collateral_needed(self, asset: str, bar: float, target: float, direction: int = UP) -> float:
        """margin_collateral_needed of the account."""
        shock = direction * target
        return max(-self.excess(bar, shock, asset), -self.excess(bar, shock), 0.0)

    def transferable(self, bar: float, target: float, stable: str = "USDT", min_level: float = 0.0) -> float:
        """margin_transferable of the account, computed once per argument set (O(coins))."""
        key = (bar, target, stable, min_level)
        got = self._free.get(key)
        if got is None:
            got = self._free[key] = self._transferable(bar, target, stable, min_level)
        return got

    def _transferable(self, bar: float, target: float, stable: str, min_level: float) -> float:
        s = self.coins.get(stable)
        held = s.held - s.owed if s is not None else 0.0
        if held <= 0:
            return 0.0
        worst = math.inf
        if min_level > 0 and self.total_l > 0:
            worst = self.total_a - min_level * self.total_l
        base = self.total_a - bar * self.total_l
        # One coin moving alone by `shock` adds shock * (move_a - bar * move_l): the worst coin
        # is the one with the extreme net, so one pass over the coins covers both directions.
        nets = self._extreme_nets(bar)
        for shock in (target, -target):
            worst = min(worst, self.excess(bar, shock))
            if nets is not None:
                worst = min(worst, base + shock * (nets[0] if shock > 0 else nets[2]))
        return max(0.0, min(held, worst))

    def _extreme_nets(self, bar: float) -> tuple[float, int, float, int] | None:
        if bar in self._nets:
            return self._nets[bar]
        nets = [c.move_a - bar * c.move_l for c in self.coins.values() if c.any_moves]
        got = None
        if nets:
            lo, hi = min(nets), max(nets)
            got = (lo, nets.count(lo), hi, nets.count(hi))
        self._nets[bar] = got
        return got

    def _roots(self, asset: str, bar: float, d_held: float, d_owed: float, d_stable: float,
               stable: str) -> tuple[float, float | None, int, float | None, int]:
        c = self.coins.get(asset)
        if c is None or c.price <= 0:
            raise ValueError(f"no price for {asset!r} in the margin account")
        px = c.price
        a_o, l_o = self.total_a - c.value_a, self.total_l - c.value_l
        a_m, l_m, a_s, l_s = self.move_a, self.move_l, self.stable_a, self.stable_l
        if d_held or d_owed:
            if c.moves:
                a_m += d_held * px
                l_m += d_owed * px
            else:
                a_s += d_held * px
                l_s += d_owed * px
        if d_stable:
            s = self.coins.get(stable)
            v = d_stable * (s.price if s is not None else 1.0)
            a_o += v
            if s is not None and s.moves:
                a_m += v
            else:
                a_s += v
        liq, direction = _liq_root(c.held + d_held, c.owed + d_owed, a_o, l_o, bar)
        shock, s_dir = _shock_root(a_m, l_m, a_s, l_s, bar)
        return px, liq, direction, shock, s_dir

    def shock_root(self, bar: float) -> tuple[float | None, int]:
        """margin_liq_shock of the account."""
        return _shock_root(self.move_a, self.move_l, self.stable_a, self.stable_l, bar)

    def liq_price(self, asset: str, bar: float) -> tuple[float | None, int]:
        """margin_liq_price of the account (the coin must be in it)."""
        _px, liq, direction, _s, _d = self._roots(asset, bar, 0.0, 0.0, 0.0, "")
        return liq, direction

    def distance(self, asset: str, bar: float, d_held: float = 0.0, d_owed: float = 0.0,
                 d_stable: float = 0.0, stable: str = "USDT") -> float:
        """margin_asset_distance of the account, after the given changes of `asset` and `stable`."""
        px, liq, direction, shock, s_dir = self._roots(asset, bar, d_held, d_owed, d_stable, stable)
        return _nearer_of(px, liq, direction, shock, s_dir)

    def distance_after_trim(self, asset: str, qty: float, f: float, bar: float,
                            cost_fraction: float = 0.0, deposit: float = 0.0,
                            stable: str = "USDT") -> float:
        """margin_distance_after_trim of the account after `deposit` of the stable arrived."""
        c = self.coins[asset]
        if qty > 0:       # a short: buy back f*qty at the coin's price and repay
            q = f * qty
            repay = min(q, c.owed)
            d_held, d_owed = q - repay, -repay
            d_stable = deposit - q * c.price * (1.0 + cost_fraction)
        else:             # a long: sell
            q = -f * qty
            d_held, d_owed = -q, 0.0
            d_stable = deposit + q * c.price * (1.0 - cost_fraction)
        owing = self.owing - (1 if c.owed > 0 and c.owed + d_owed <= 0 else 0)
        if owing <= 0:
            return math.inf
        return self.distance(asset, bar, d_held, d_owed, d_stable, stable)


def margin_short_distance(collateral: float, qty: float, price: float,
                          bar: float = FORCE_LIQUIDATION_BAR) -> float:
    """Distance of a short of `qty` coins borrowed and sold at `price` on `collateral` USDT, alone
    in the account: ML(P) = (C + q P0) / (q P) meets `bar` at P = (C + q P0) / (bar q)."""
    if qty <= 0:
        return math.inf
    book = MarginBook((MarginAsset(asset="USDT", held=collateral + qty * price, moves=False),
                       MarginAsset(asset="COIN", liability=qty, price=price)))
    return book.distance("COIN", bar)


def margin_after_buyback(assets: Sequence[MarginAsset], asset: str, qty: float,
                         price: float | None = None, cost_fraction: float = 0.0,
                         stable: str = "USDT") -> tuple[MarginAsset, ...]:
    """The account after buying back `qty` of a shorted coin with `stable` and repaying it.
    `cost_fraction` (fees + slippage) is charged on the notional."""
    out: list[MarginAsset] = []
    px = price
    if px is None:
        px = next(a.price for a in assets if a.asset == asset)
    cash = qty * px * (1.0 + cost_fraction)
    seen_stable = False
    for a in assets:
        if a.asset == asset:
            repay = min(qty, a.liability)
            out.append(MarginAsset(asset=a.asset, held=a.held + qty - repay, liability=a.liability - repay,
                                   price=a.price, moves=a.moves))
        elif a.asset == stable:
            seen_stable = True
            out.append(MarginAsset(asset=a.asset, held=a.held - cash, liability=a.liability,
                                   price=a.price, moves=a.moves))
        else:
            out.append(a)
    if not seen_stable:
        out.append(MarginAsset(asset=stable, held=-cash, moves=False))
    return tuple(out)


def margin_after_sale(assets: Sequence[MarginAsset], asset: str, qty: float,
                      price: float | None = None, cost_fraction: float = 0.0,
                      stable: str = "USDT") -> tuple[MarginAsset, ...]:
    """The account after selling `qty` of a held coin for `stable` (trimming a margin long)."""
    px = price if price is not None else next(a.price for a in assets if a.asset == asset)
    sold = margin_with_deposit(assets, qty * px * (1.0 - cost_fraction), stable)
    return tuple(MarginAsset(asset=a.asset, held=a.held - qty, liability=a.liability, price=a.price,
                             moves=a.moves) if a.asset == asset else a for a in sold)


def margin_with_deposit(assets: Sequence[MarginAsset], amount: float,
                        stable: str = "USDT") -> tuple[MarginAsset, ...]:
    """The account after `amount` of the stable coin arrives (or leaves, if negative)."""
    out = []
    done = False
    for a in assets:
        if a.asset == stable and not done:
            out.append(MarginAsset(asset=a.asset, held=a.held + amount, liability=a.liability,
                                   price=a.price, moves=a.moves))
            done = True
        else:
            out.append(a)
    if not done:
        out.append(MarginAsset(asset=stable, held=amount, moves=False))
    return tuple(out)


def margin_distance_after_trim(assets: Sequence[MarginAsset], asset: str, qty: float, f: float,
                               bar: float, cost_fraction: float = 0.0) -> float:
    """Distance of the account seen from `asset` after closing fraction f of a margin position of
    `qty` coins (> 0 a short: bought back and repaid; < 0 a long: sold)."""
    if qty > 0:
        after = margin_after_buyback(assets, asset, f * qty, cost_fraction=cost_fraction)
    else:
        after = margin_after_sale(assets, asset, -f * qty, cost_fraction=cost_fraction)
    if not any(a.liability > 0 for a in after):
        return math.inf
    return margin_asset_distance(after, asset, bar)

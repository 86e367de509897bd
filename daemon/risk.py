"""Liquidation maths for both legs of a pair (pure: floats in, floats out, no I/O).

Conventions, because a sign error here liquidates someone:
- Prices and values are in the quote stable coin (USDT). Quantities are base-coin units.
- A *distance* is a signed fraction of the current price: how far the price must move against the
  leg before it is liquidated. > 0 is safe, <= 0 means at or beyond the liquidation price.
  A leg hurt by a rise (margin short, perp short) has direction UP (+1); a leg hurt by a fall
  (perp long, margin long) has direction DOWN (-1). distance = direction * (liq - mark) / mark.
- A *shock* is a signed fractional price move applied to every moving asset (or one of them).
- `math.inf` distance means "no price can liquidate this leg" (e.g. a long perp whose wallet
  covers the whole notional).

Cross margin (Binance): margin level ML = total assets / (liabilities + interest), all valued in
USDT; force liquidation at ML <= `forceLiquidationBar` (1.1 on Binance classic). The account is
evaluated as a whole: every coin held or owed counts, so several pairs sharing one account share
one fate. Two views are computed and the nearer wins: one coin moving alone (the others fixed),
and every non-stable coin moving together (crypto is correlated in a crash or a squeeze).

USD-M perpetuals (Binance): maintenance margin = notional * maintMarginRatio - cum, where the
bracket is the one the notional falls in (`GET /fapi/v1/leverageBracket`). The liquidation price
solves  WB - TMM1 + UPNL1 + cumB + side*Q*(LP - EP) = Q*LP*MMR  (WB: cross wallet balance, or the
isolated wallet; TMM1 / UPNL1: maintenance and unrealised PnL of the *other* cross positions).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

from msgspec import Struct

UP = 1
DOWN = -1


# ---------------------------------------------------------------------------------------------
# Distances
# ---------------------------------------------------------------------------------------------


def distance(mark: float, liq: float | None, direction: int) -> float:
    """Signed fraction the price may move against the leg before liquidation (inf: never)."""
    if liq is None or not math.isfinite(liq):
        return math.inf
    if mark <= 0:
        raise ValueError(f"mark must be > 0, got {mark!r}")
    return direction * (liq - mark) / mark


def shocked_price(mark: float, distance_: float, direction: int) -> float:
    """The price at which a leg of `direction` would sit `distance_` from the current mark."""
    return mark * (1.0 + direction * distance_)


# ---------------------------------------------------------------------------------------------
# Cross margin (spot margin leg, account-wide)
# ---------------------------------------------------------------------------------------------


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


def margin_level_of(assets: Iterable[MarginAsset], shock: float = 0.0, only: str | None = None) -> float:
    total_a, total_l = margin_totals(assets, shock, only)
    return margin_level(total_a, total_l)


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


class _Coin:
    """One coin's share of a MarginBook (sums over its entries; price of the first)."""

    __slots__ = ("held", "owed", "price", "moves", "value_a", "value_l", "move_a", "move_l", "any_moves")

    def __init__(self, price: float, moves: bool) -> None:
        self.held = self.owed = 0.0
        self.price = price
        self.moves = moves
        self.value_a = self.value_l = 0.0    # held * price, liability * price
        self.move_a = self.move_l = 0.0      # the same, over entries that move under a shock
        self.any_moves = False


class MarginBook:
    """A cross-margin account summed once: every figure a pair on it needs in O(1) per coin.

    The account is shared by every pair on the venue; building this once per hub event and
    asking it per pair keeps the watchdog linear in pairs (each query of the tuple functions
    above walks the whole account). Answers equal theirs up to float rounding (sums minus one
    coin's share instead of sums over the others). A trim or a deposit is asked as a delta
    (`d_held`/`d_owed` of the coin, `d_stable` of the stable) instead of a copied account; that
    assumes one balance per coin, as venues report it."""

    __slots__ = ("assets", "total_a", "total_l", "move_a", "move_l", "stable_a", "stable_l", "coins",
                 "owing", "_free")

    def __init__(self, assets: Sequence[MarginAsset]) -> None:
        self.assets: tuple[MarginAsset, ...] = tuple(assets)
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
        self.total_a, self.total_l = total_a, total_l
        self.move_a, self.move_l, self.stable_a, self.stable_l = move_a, move_l, stable_a, stable_l
        self.coins = coins
        self.owing = owing                 # entries with a liability (0: nothing can liquidate)
        self._free: dict[tuple[float, float, str, float], float] = {}

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
        lo = hi = 0.0
        seen = False
        for c in self.coins.values():
            if c.any_moves:
                net = c.move_a - bar * c.move_l
                lo, hi = (net, net) if not seen else (min(lo, net), max(hi, net))
                seen = True
        for shock in (target, -target):
            worst = min(worst, self.excess(bar, shock))
            if seen:
                worst = min(worst, base + shock * (lo if shock > 0 else hi))
        return max(0.0, min(held, worst))

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


# ---------------------------------------------------------------------------------------------
# USD-M perpetual (tiered maintenance margin)
# ---------------------------------------------------------------------------------------------


class Bracket(Struct, frozen=True, kw_only=True):
    """One tier of `GET /fapi/v1/leverageBracket` (field names as Binance sends them)."""

    bracket: int
    initialLeverage: int
    notionalCap: float
    notionalFloor: float
    maintMarginRatio: float
    cum: float


def bracket_for(brackets: Sequence[Bracket], notional: float) -> Bracket:
    """The tier a notional falls in (floor < notional <= cap; the last tier beyond its cap)."""
    if not brackets:
        raise ValueError("no leverage brackets")
    n = abs(notional)
    for b in brackets:
        if n <= b.notionalCap:
            return b
    return brackets[-1]


def maint_margin(brackets: Sequence[Bracket], notional: float) -> float:
    """notional * maintMarginRatio - cum, with the tier of that notional (never < 0)."""
    n = abs(notional)
    b = bracket_for(brackets, n)
    return max(n * b.maintMarginRatio - b.cum, 0.0)


def flat_brackets(mmr: float) -> tuple[Bracket, ...]:
    """A single tier: used when the venue's brackets are not known yet (pass a conservative mmr)."""
    return (Bracket(bracket=1, initialLeverage=1, notionalCap=math.inf, notionalFloor=0.0,
                    maintMarginRatio=mmr, cum=0.0),)


def perp_liq_price(qty: float, entry: float, wallet: float, brackets: Sequence[Bracket],
                   other_mm: float = 0.0, other_upnl: float = 0.0) -> float | None:
    """Binance's liquidation price of a one-way position of signed `qty` at `entry`.

    Cross: `wallet` is the cross wallet balance and `other_*` the other cross positions; isolated:
    `wallet` is the isolated wallet and the others are 0. Margin balance minus maintenance is
    monotone in the price (slope q*(1 - mmr)), so exactly one tier holds the root: solve per tier
    and keep the solution whose notional falls in that tier. None: no positive price liquidates
    (a long covered down to zero); 0.0: a short already beyond maintenance at any price."""
    if qty == 0:
        return None
    side = 1.0 if qty > 0 else -1.0
    q = abs(qty)
    base = wallet - other_mm + other_upnl - side * q * entry
    for b in brackets:
        lp = (base + b.cum) / (q * b.maintMarginRatio - side * q)
        if lp <= 0:
            continue
        if b.notionalFloor <= q * lp <= b.notionalCap:
            return lp
    if side < 0:
        return 0.0 if base + brackets[0].cum <= 0 else _fallback_liq(q, side, entry, base, brackets)
    # A long with no root above zero is never liquidated; a root may still exist if the input
    # tiers are inconsistent (cum not continuous): use the entry notional's tier then.
    lp = _fallback_liq(q, side, entry, base, brackets)
    return lp if lp is not None and lp > 0 else None


def _fallback_liq(q: float, side: float, entry: float, base: float,
                  brackets: Sequence[Bracket]) -> float | None:
    b = bracket_for(brackets, q * entry)
    lp = (base + b.cum) / (q * b.maintMarginRatio - side * q)
    return lp if lp > 0 else None


def perp_margin_balance(qty: float, entry: float, wallet: float, price: float,
                        other_upnl: float = 0.0) -> float:
    return wallet + qty * (price - entry) + other_upnl


def perp_collateral_needed(qty: float, entry: float, wallet: float, brackets: Sequence[Bracket],
                           mark: float, target: float, other_mm: float = 0.0,
                           other_upnl: float = 0.0) -> float:
    """USDT to add to the futures wallet so the position survives a `target` move against it."""
    if qty == 0:
        return 0.0
    direction = DOWN if qty > 0 else UP
    p = shocked_price(mark, target, direction)
    if p <= 0:
        p = 0.0
    need = maint_margin(brackets, qty * p) + other_mm - perp_margin_balance(qty, entry, wallet, p, other_upnl)
    return max(need, 0.0)


def perp_transferable(qty: float, entry: float, wallet: float, brackets: Sequence[Bracket],
                      mark: float, target: float, venue_available: float,
                      other_mm: float = 0.0, other_upnl: float = 0.0) -> float:
    """USDT that may leave the futures wallet: what the venue lets go (`maxWithdrawAmount`) and
    no more than keeps this position `target` away from liquidation."""
    if qty == 0:
        return max(0.0, venue_available)
    direction = DOWN if qty > 0 else UP
    p = max(shocked_price(mark, target, direction), 0.0)
    surplus = perp_margin_balance(qty, entry, wallet, p, other_upnl) - maint_margin(brackets, qty * p) - other_mm
    # Unrealised profit cannot be withdrawn on Binance: cap by the wallet less losses at the mark.
    cash = wallet + min(qty * (mark - entry), 0.0)
    return max(0.0, min(venue_available, surplus, cash))


def nearer_liq(mark: float, direction: int, own: float | None, venue: float | None) -> float | None:
    """The liquidation price nearer to the mark, of ours and the venue's (0 / None = none)."""
    cands = [p for p in (own, venue) if p is not None and p > 0 and math.isfinite(p)]
    if direction == DOWN:
        # a long: venue says 0 when no price liquidates; our figure can still be positive
        return max(cands) if cands else None
    return min(cands) if cands else None


def perp_distance(qty: float, entry: float, wallet: float, brackets: Sequence[Bracket], mark: float,
                  venue_liq: float | None = None, other_mm: float = 0.0,
                  other_upnl: float = 0.0) -> tuple[float, float | None]:
    """(distance, liquidation price used): own formula and the venue's figure, nearer wins."""
    if qty == 0:
        return math.inf, None
    direction = DOWN if qty > 0 else UP
    own = perp_liq_price(qty, entry, wallet, brackets, other_mm, other_upnl)
    liq = nearer_liq(mark, direction, own, venue_liq)
    return distance(mark, liq, direction), liq


# ---------------------------------------------------------------------------------------------
# Proportional deleverage
# ---------------------------------------------------------------------------------------------


def solve_fraction(ok: Callable[[float], bool], tol: float = 1e-4) -> float:
    """Smallest f in [0, 1] with ok(f) (ok monotone: once true stays true); 1.0 if none."""
    if ok(0.0):
        return 0.0
    if not ok(1.0):
        return 1.0
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


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


def perp_distance_after_trim(qty: float, entry: float, wallet: float, brackets: Sequence[Bracket],
                             mark: float, f: float, cost_fraction: float = 0.0, other_mm: float = 0.0,
                             other_upnl: float = 0.0) -> float:
    """Own-formula distance after closing fraction f at the mark (PnL realised into the wallet)."""
    realised = f * qty * (mark - entry) - abs(f * qty) * mark * cost_fraction
    q = (1.0 - f) * qty
    if abs(q) <= 1e-12 * max(abs(qty), 1e-300):
        return math.inf
    return perp_distance(q, entry, wallet + realised, brackets, mark, None, other_mm, other_upnl)[0]


def deleverage_fraction(
    *,
    target: float,
    margin_assets: Sequence[MarginAsset] | None = None,
    margin_asset: str = "",
    margin_qty: float = 0.0,
    margin_bar: float = 1.1,
    perp_qty: float = 0.0,
    perp_entry: float = 0.0,
    perp_wallet: float = 0.0,
    perp_brackets: Sequence[Bracket] = (),
    perp_mark: float = 0.0,
    perp_other_mm: float = 0.0,
    perp_other_upnl: float = 0.0,
    cost_fraction: float = 0.0,
) -> float:
    """Fraction f of both legs to close (in proportion, so the pair stays hedged) after which
    each leg is at least `target` away from liquidation."""

    def ok(f: float) -> bool:
        if margin_assets is not None and margin_qty != 0:
            if margin_distance_after_trim(margin_assets, margin_asset, margin_qty, f, margin_bar,
                                          cost_fraction) < target:
                return False
        if perp_qty != 0:
            if perp_distance_after_trim(perp_qty, perp_entry, perp_wallet, perp_brackets, perp_mark, f,
                                        cost_fraction, perp_other_mm, perp_other_upnl) < target:
                return False
        return True

    return solve_fraction(ok)


# ---------------------------------------------------------------------------------------------
# Hedge drift (interest accrues in coin units)
# ---------------------------------------------------------------------------------------------


def hedge_gap(short_liability: float, perp_long_qty: float) -> float:
    """Coins the perp long is short of covering the margin liability (> 0: re-hedge up)."""
    return short_liability - perp_long_qty

"""Per-pair accounting from venue events (pure).

Each leg keeps a signed base position with an average entry price, realised PnL on reductions,
fees (quote), funding (perp; signed, > 0 received) and borrow interest (spot short; coin units,
valued at the mark when charged). Interest is booked as if the charged coins were sold at that mark:
it enlarges the short (the liability really grows) and costs `coin x mark` now; buying the extra
coins back later realises only the price move on them. This makes the books reconcile with the cash
ledger exactly: sell S @ P0, interest i, buy back S + i @ P1 -> cash = S(P0 - P1) - i P1 = realised
[S(P0 - P1) + i(m - P1)] - interest [i m].

basis PnL = realised + unrealised price PnL of both legs: with each leg valued at its own price
(spot leg at the spot book, perp leg at the mark; see OrderExecutor.mark) a hedged pair's basis
PnL is the change of (perp - spot) times quantity, e.g. short spot @60000, long perp @59900, now
spot 61000 / perp 60800: (60800 - 61000) - (59900 - 60000) = -100;
net = basis + funding - interest - fees; realised net APR annualises the realised part over the
time held, on the entry notional.
"""
from __future__ import annotations

import math

from msgspec import Struct

_YEAR_MS = 365.0 * 86_400_000.0
_EPS = 1e-12


class LegBook(Struct, kw_only=True):
    qty: float = 0.0               # signed base (includes charged interest on a short spot leg)
    avg_price: float = 0.0
    realised: float = 0.0
    fees: float = 0.0              # value in the quote at each fill, >= 0 paid (any asset)
    fees_in_kind: float = 0.0      # the part of `fees` paid in another asset (coin, BNB)
    fee_coin: float = 0.0          # base coins paid as fees (they left the position)
    fee_other: dict[str, float] = {}   # third-asset fees by asset (BNB), in that asset
    funding: float = 0.0           # quote, signed, > 0 received
    interest_coin: float = 0.0
    interest_quote: float = 0.0
    bought_qty: float = 0.0
    bought_quote: float = 0.0
    sold_qty: float = 0.0
    sold_quote: float = 0.0
    fills: int = 0
    settled_ms: int = 0            # venue time of the last funding / interest row booked here
    settled_tx: list[str] = []     # the rows booked at settled_ms (several may share it)

    def copy(self) -> LegBook:
        book = LegBook(**{f: getattr(self, f) for f in self.__struct_fields__})
        book.settled_tx = list(self.settled_tx)
        book.fee_other = dict(self.fee_other)
        return book

    def settled(self, ts_ms: int, tx_id: str) -> None:
        if ts_ms > self.settled_ms:
            self.settled_ms, self.settled_tx = ts_ms, []
        self.settled_tx.append(tx_id)


def _trade(book: LegBook, dq: float, price: float) -> None:
    """Move the position by signed `dq` at `price`, realising PnL on the reduced part."""
    q = book.qty
    if q == 0.0 or (q > 0) == (dq > 0):
        new = q + dq
        book.avg_price = (abs(q) * book.avg_price + abs(dq) * price) / abs(new) if new else 0.0
        book.qty = new
        return
    closing = min(abs(dq), abs(q))
    book.realised += closing * (price - book.avg_price) * (1.0 if q > 0 else -1.0)
    new = q + dq
    if abs(new) <= _EPS:
        book.qty, book.avg_price = 0.0, 0.0
    elif (new > 0) == (q > 0):
        book.qty = new                  # reduced, same side: average unchanged
    else:
        book.qty, book.avg_price = new, price   # flipped through zero


def apply_fill(book: LegBook, side: str, qty: float, price: float, fee: float = 0.0,
               fee_asset: str = "", base: str = "", quote: str = "") -> None:
    """One execution, and its fee (see `apply_fee`)."""
    if qty <= 0:
        return
    if side == "BUY":
        book.bought_qty += qty
        book.bought_quote += qty * price
    else:
        book.sold_qty += qty
        book.sold_quote += qty * price
    _trade(book, qty if side == "BUY" else -qty, price)
    book.fills += 1
    apply_fee(book, fee, fee_asset, price, base=base, quote=quote)


def apply_fee(book: LegBook, fee: float, asset: str, price: float, *, base: str = "",
              quote: str = "", value: float | None = None) -> None:
    """A fee, booked once at its value at the fill, in whatever asset the venue charged it.

    - quote (or unnamed): costs `fee` of the quote.
    - the base coin (Binance's default on a spot buy): those coins never reach the position.
      They are booked as if sold at the fill price to pay a quote fee: the position shrinks by
      `fee` at `price` (nothing realised on it), the cost is `fee x price`. Later price moves on
      the missing coins are position PnL, not fee.
    - a third asset (BNB): costs `value`, its worth in the quote at the fill (the connector
      prices it); the position is untouched. Unpriced (None): counted by asset only.
    """
    if fee <= 0:
        return
    if base and asset == base:
        cost = fee * price
        _trade(book, -fee, price)
        book.fee_coin += fee
        book.fees_in_kind += cost
    elif not asset or asset == quote:
        cost = fee
    else:
        cost = value or 0.0
        book.fee_other[asset] = book.fee_other.get(asset, 0.0) + fee
        book.fees_in_kind += cost
    book.fees += cost


def apply_interest(book: LegBook, coin: float, mark: float) -> None:
    """Interest charged in coin on a borrowed asset: the liability (short) grows by `coin`."""
    if coin == 0:
        return
    book.interest_coin += coin
    book.interest_quote += coin * mark
    _trade(book, -coin, mark)


def apply_funding(book: LegBook, amount: float) -> None:
    book.funding += amount


def unrealised(book: LegBook, mark: float | None) -> float:
    if not book.qty or mark is None or not math.isfinite(mark):
        return 0.0
    return book.qty * (mark - book.avg_price)


class PairPnl(Struct, kw_only=True):
    funding: float
    interest: float
    fees: float
    basis: float
    realised: float
    unrealised: float
    net: float
    realised_net: float
    realised_net_apr: float | None
    legs: list[dict[str, float]]


def pair_pnl(books: tuple[LegBook, LegBook], marks: tuple[float | None, float | None],
             entry_notional: float, held_ms: float) -> PairPnl:
    realised = books[0].realised + books[1].realised
    unreal = unrealised(books[0], marks[0]) + unrealised(books[1], marks[1])
    funding = books[0].funding + books[1].funding
    interest = books[0].interest_quote + books[1].interest_quote
    fees = books[0].fees + books[1].fees
    basis = realised + unreal
    net = basis + funding - interest - fees
    realised_net = realised + funding - interest - fees
    apr = None
    if entry_notional > 0 and held_ms > 0:
        apr = realised_net / entry_notional * (_YEAR_MS / held_ms)
    legs = [{"realised": b.realised, "unrealised": unrealised(b, m), "fees": b.fees,
             "funding": b.funding, "interest": b.interest_quote, "interest_coin": b.interest_coin}
            for b, m in zip(books, marks)]
    return PairPnl(funding=funding, interest=interest, fees=fees, basis=basis, realised=realised,
                   unrealised=unreal, net=net, realised_net=realised_net, realised_net_apr=apr,
                   legs=legs)


def cash_flow(book: LegBook) -> float:
    """Quote cash the leg moved: sells - buys - fees paid in the quote + funding (the venue
    ledger's view; fees paid in the coin or BNB moved those assets, not the quote)."""
    return book.sold_quote - book.bought_quote - (book.fees - book.fees_in_kind) + book.funding

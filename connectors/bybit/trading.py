"""Trading on the unified account: spot margin orders (`isLeverage=1`: Bybit borrows what a sell
lacks and repays from a buy), linear perp orders, cancels, queries, and the account reads
(wallet with liabilities and the account IM/MM rates, positions with Bybit's liqPrice, borrow
rates and availability from collateral-info) into the hub.

`prepare_order` builds and signs without I/O; `send` writes. Bybit's create answers only
`{orderId, orderLinkId}`: an ack, never a fill. The ack becomes a NEW OrderUpdate; fills and the
final status come from the private stream (user_stream.py) or a query. An order whose outcome
is unknown is never resent: `resolve_unknown` asks by orderLinkId until the recv_window rule
makes "not found" final.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

from connectors.base import StateHub
from connectors.binance.trading import fmt_num
from connectors.bybit import constants as C
from connectors.bybit import errors as E
from connectors.bybit import schemas
from connectors.bybit.config import BybitUrls
from connectors.transport.resolve import resolve_by_client_id
from connectors.transport.rest import Prepared, RestSession
from connectors.types import Balance, Borrow, MarginAccount, OrderUpdate, PerpPosition

_SIDE = {"BUY": "Buy", "SELL": "Sell"}
_SIDE_BACK = {"Buy": "BUY", "Sell": "SELL"}


def order_update_from(row: schemas.OrderRow, *, venue: str) -> OrderUpdate:
    market = "spot" if row.category == C.SPOT else "perp"
    filled = float(row.cumExecQty or 0)
    value = float(row.cumExecValue or 0)
    avg = float(row.avgPrice) if row.avgPrice not in ("", "0") else (value / filled if filled
                                                                      else 0.0)
    return OrderUpdate(venue=venue, market=market, symbol=row.symbol, client_id=row.orderLinkId,
                       order_id=row.orderId, side=_SIDE_BACK.get(row.side, row.side),
                       status=C.STATUS_TO_HUB.get(row.orderStatus, "NEW"),
                       qty=float(row.qty or 0), price=float(row.price or 0), filled_qty=filled,
                       avg_price=avg, fee=float(row.cumExecFee or 0),
                       ts_ms=int(row.updatedTime or 0))


class OrderNotPlaced(E.BybitError):
    """An unknown outcome resolved: the venue never placed the order."""


class BybitTrading:
    def __init__(self, hub: StateHub, venue: str, rest: RestSession, urls: BybitUrls, *,
                 recv_window_ms: int = 5000) -> None:
        self.hub = hub
        self.venue = venue
        self.rest = rest
        self.urls = urls
        self.recv_window_ms = recv_window_ms
        self.unknown_resolved = 0
        self._market_of: dict[str, str] = {}      # orderLinkId -> "spot" | "perp"

    # -- orders (no I/O) -----------------------------------------------------------------------
    def prepare_order(self, market: str, symbol: str, side: str, qty: float | str, *,
                      client_id: str, order_type: str = "MARKET", price: float | str | None = None,
                      time_in_force: str | None = None, post_only: bool = False,
                      leverage: bool = True, reduce_only: bool = False) -> Prepared:
        """`market` "spot" (unified-account spot margin) or "perp" (linear)."""
        cat = C.CATEGORY_OF_MARKET[market]
        params: list[tuple[str, Any]] = [("category", cat), ("symbol", symbol),
                                         ("side", _SIDE[side]),
                                         ("orderType", "Market" if order_type == "MARKET"
                                          else "Limit"), ("qty", fmt_num(qty))]
        if order_type != "MARKET":
            params.append(("price", fmt_num(price if price is not None else 0)))
            params.append(("timeInForce", "PostOnly" if post_only else (time_in_force or "GTC")))
        elif cat == C.SPOT:
            params.append(("marketUnit", "baseCoin"))     # qty in coins, not in USDT
        if cat == C.SPOT:
            params.append(("isLeverage", 1 if leverage else 0))
        elif reduce_only:
            params.append(("reduceOnly", True))
        params.append(("orderLinkId", client_id))
        self._market_of[client_id] = market
        return self.rest.prepare("POST", self.urls.rest, C.ORDER_CREATE, params, signed=True,
                                 idempotent=False, client_id=client_id)

    async def send(self, prep: Prepared) -> OrderUpdate:
        return await self.complete(prep, self.rest.send(prep))

    async def complete(self, prep: Prepared, written: Awaitable[bytes]) -> OrderUpdate:
        try:
            raw = await written
        except E.UnknownOutcome:
            return await self.resolve_unknown(prep)
        except E.ClockSkew:
            fresh = self._resign(prep)
            try:
                raw = await self.rest.send(fresh)
            except E.UnknownOutcome:
                return await self.resolve_unknown(fresh)
        ack = schemas.ORDER_ACK.decode(raw).result
        p = dict(prep.params)
        update = OrderUpdate(venue=self.venue, market=self._market(prep), symbol=p["symbol"],
                             client_id=ack.orderLinkId or str(prep.client_id),
                             order_id=ack.orderId, side=_SIDE_BACK[p["side"]], status="NEW",
                             qty=float(p["qty"]), price=float(p.get("price") or 0),
                             ts_ms=int(time.time() * 1000))
        self._publish(update)
        return update

    def _market(self, prep: Prepared) -> str:
        return "spot" if dict(prep.params).get("category") == C.SPOT else "perp"

    def _resign(self, prep: Prepared) -> Prepared:
        base = str(prep.url).split(prep.path, 1)[0]
        return self.rest.prepare(prep.method, base, prep.path, list(prep.params), signed=True,
                                 idempotent=False, client_id=prep.client_id)

    async def resolve_unknown(self, prep: Prepared) -> OrderUpdate:
        assert prep.client_id is not None
        p = dict(prep.params)
        sent = int(prep.headers.get(C.H_TIMESTAMP, "0") or 0)
        deadline = (sent / 1000 if sent else time.time()) + self.recv_window_ms / 1000 + 1.0

        def never_placed() -> Exception:
            self.unknown_resolved += 1
            return OrderNotPlaced(0, C.ORDER_NOT_FOUND, "order was never placed",
                                  method=prep.method, path=prep.path, idempotent=False)

        update = await resolve_by_client_id(
            lambda: self.get_order(p["symbol"], market=self._market(prep),
                                   client_id=prep.client_id),
            deadline_s=deadline, not_found=E.UnknownOrder, never_placed=never_placed,
            transient=lambda err: isinstance(err, E.BybitError) and (
                E.is_retryable(err) or isinstance(err, E.UnknownOutcome)))
        self.unknown_resolved += 1
        return update

    def _publish(self, update: OrderUpdate) -> None:
        """Acks can arrive after the stream's later events: never regress the hub."""
        prev = self.hub.orders.get((self.venue, update.client_id))
        if prev is not None and (prev.is_final or prev.filled_qty > update.filled_qty
                                 or (prev.status != "NEW" and update.status == "NEW")):
            return
        self.hub.order_update(update)

    async def get_order(self, symbol: str, *, market: str, client_id: str) -> OrderUpdate:
        raw = await self.rest.request("GET", self.urls.rest, C.ORDER_REALTIME,
                                      [("category", C.CATEGORY_OF_MARKET[market]),
                                       ("symbol", symbol), ("orderLinkId", client_id)],
                                      signed=True)
        rows = schemas.ORDER_LIST.decode(raw).result.rows
        if not rows:
            raise E.UnknownOrder(200, C.ORDER_NOT_FOUND, "order does not exist",
                                 method="GET", path=C.ORDER_REALTIME)
        update = order_update_from(rows[0], venue=self.venue)
        self._publish(update)
        return update

    async def cancel_order(self, symbol: str, *, market: str, client_id: str) -> OrderUpdate:
        await self.rest.request("POST", self.urls.rest, C.ORDER_CANCEL,
                                [("category", C.CATEGORY_OF_MARKET[market]), ("symbol", symbol),
                                 ("orderLinkId", client_id)], signed=True, idempotent=True)
        return await self.get_order(symbol, market=market, client_id=client_id)

    async def orders_since(self, market: str, symbol: str, since_ms: int) -> list[OrderUpdate]:
        raw = await self.rest.request("GET", self.urls.rest, C.ORDER_HISTORY,
                                      [("category", C.CATEGORY_OF_MARKET[market]),
                                       ("symbol", symbol), ("startTime", str(since_ms)),
                                       ("limit", "50")], signed=True)
        return [order_update_from(r, venue=self.venue)
                for r in schemas.ORDER_LIST.decode(raw).result.rows]

    # -- account -------------------------------------------------------------------------------
    async def wallet(self) -> None:
        raw = await self.rest.request("GET", self.urls.rest, C.WALLET_BALANCE,
                                      [("accountType", C.UNIFIED)], signed=True)
        for acct in schemas.WALLET.decode(raw).result.rows:
            self.apply_wallet(acct)
        if self.urls.contract_wallet:
            raw = await self.rest.request("GET", self.urls.rest, C.WALLET_BALANCE,
                                          [("accountType", C.CONTRACT)], signed=True)
            for acct in schemas.WALLET.decode(raw).result.rows:
                self.apply_wallet(acct)

    def apply_wallet(self, acct: schemas.WalletAccount) -> None:
        """A wallet (REST or stream) -> hub balances and, for UNIFIED, the account's margin.
        walletBalance is net of the liability: what is held = wallet + borrowed + interest."""
        now = int(time.time() * 1000)
        batch: list[Balance] = []
        if acct.accountType == C.CONTRACT:
            for c in acct.coin:
                wallet = float(c.walletBalance or 0)
                free = float(c.availableToWithdraw) if c.availableToWithdraw else wallet
                batch.append(Balance(venue=self.venue, wallet="futures", asset=c.coin,
                                     free=free, locked=max(0.0, wallet - free)))
            self.hub.set_balances(batch)
            return
        for c in acct.coin:
            borrowed, interest = float(c.borrowAmount or 0), float(c.accruedInterest or 0)
            locked = float(c.locked or 0)
            held = float(c.walletBalance or 0) + borrowed + interest
            batch.append(Balance(venue=self.venue, wallet="margin", asset=c.coin,
                                 free=max(0.0, held - locked), locked=locked,
                                 borrowed=borrowed, interest=interest))
        if not self.urls.contract_wallet:
            # one unified account: what a perp can still use is the account's available balance
            batch.append(Balance(venue=self.venue, wallet="futures", asset="USDT",
                                 free=float(acct.totalAvailableBalance or 0)))
        self.hub.set_balances(batch)
        mm = float(acct.accountMMRate or 0)
        im = float(acct.accountIMRate or 0)
        # Bybit liquidates at accountMMRate >= 100 %: as a margin level that is 1 / MMRate
        # against a bar of 1, and the initial-margin bar IM/MM (where IMRate reaches 100 %).
        self.hub.set_margin_account(MarginAccount(
            venue=self.venue, margin_level=1.0 / mm if mm > 0 else 999.0,
            total_asset_usdt=float(acct.totalMarginBalance or 0),
            margin_call_bar=im / mm if mm > 0 and im > 0 else 1.3,
            force_liquidation_bar=1.0, ts_ms=now))

    async def positions(self) -> None:
        raw = await self.rest.request("GET", self.urls.rest, C.POSITION_LIST,
                                      [("category", C.LINEAR), ("settleCoin", "USDT")],
                                      signed=True)
        for row in schemas.POSITIONS.decode(raw).result.rows:
            self.apply_position(row)

    def apply_position(self, r: schemas.PositionRow) -> None:
        size = float(r.size or 0)
        qty = size if r.side == "Buy" else -size if r.side == "Sell" else 0.0
        self.hub.set_position(PerpPosition(
            venue=self.venue, symbol=r.symbol, qty=qty,
            entry_price=float(r.avgPrice or r.entryPrice or 0),
            liquidation_price=float(r.liqPrice) if r.liqPrice else 0.0,
            leverage=float(r.leverage or 1), unrealized_pnl=float(r.unrealisedPnl or 0),
            ts_ms=int(r.updatedTime or 0)))

    async def collateral(self, asset: str | None = None) -> list[schemas.CollateralRow]:
        """Borrow rate (hourly) and availability -> hub.borrow."""
        params = [("currency", asset)] if asset else []
        raw = await self.rest.request("GET", self.urls.rest, C.COLLATERAL_INFO, params,
                                      signed=True)
        rows = schemas.COLLATERAL.decode(raw).result.rows
        now = int(time.time() * 1000)
        for r in rows:
            self.hub.set_borrow(Borrow(venue=self.venue, asset=r.currency,
                                       hourly_rate=float(r.hourlyBorrowRate or 0),
                                       max_borrowable=float(r.availableToBorrow or 0)
                                       if r.borrowable else 0.0, ts_ms=now))
        return rows

    async def repay(self, asset: str, amount: float | str) -> None:
        await self.rest.request("POST", self.urls.rest, C.REPAY,
                                [("coin", asset), ("amount", fmt_num(amount))], signed=True,
                                idempotent=False)

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        await self.rest.request("POST", self.urls.rest, C.SET_LEVERAGE,
                                [("category", C.LINEAR), ("symbol", symbol),
                                 ("buyLeverage", str(leverage)), ("sellLeverage", str(leverage))],
                                signed=True, idempotent=True)

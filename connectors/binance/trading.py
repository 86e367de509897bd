"""Trading: cross-margin (borrow-sell / buy-repay), USD-M orders, borrow/repay, transfers, account.

`prepare_*` build and sign without I/O; `send(prepared)` writes. The legging engine prepares both
legs, then creates both send tasks back to back so they leave in the same loop iteration.

An order whose outcome is unknown (timeout, 5xx, -1006/-1007) is never sent again: `send` resolves
it by querying the client order id until Binance's own recvWindow rule makes the answer final (a
request that has not reached the matching engine by timestamp + recvWindow is rejected, so "not
found" after that instant means "never placed").
"""
from __future__ import annotations

from decimal import Decimal

import os
import time
from collections.abc import Awaitable
from typing import Any

from connectors.transport.resolve import resolve_by_client_id
from connectors.binance import constants as C
from connectors.binance import errors as E
from connectors.binance import schemas
from connectors.binance.config import BinanceUrls
from connectors.transport.rest import Prepared, RestSession
from connectors.types import Balance, Borrow, MarginAccount, OrderUpdate, PerpPosition
from connectors.base import StateHub


def new_client_id() -> str:
    return "bd-x-" + os.urandom(8).hex()


def fmt_num(x: float | str) -> str:
    """Decimal text Binance accepts (no exponent, no trailing zeros)."""
    if isinstance(x, str):
        return x
    # repr() is the shortest text that round-trips, so 59891.9 stays 59891.9 (not ...00001)
    text = repr(float(x))
    if "e" in text:  # rare (tiny or huge): Binance takes no exponents
        text = format(Decimal(text), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def order_update_from(resp: schemas.OrderResponse, *, venue: str, market: str) -> OrderUpdate:
    filled = float(resp.executedQty)
    quote = float(resp.cumQuote if market == "perp" else resp.cummulativeQuoteQty)
    avg = float(resp.avgPrice) if market == "perp" else 0.0
    if not avg and filled:
        avg = quote / filled
    return OrderUpdate(venue=venue, market=market, symbol=resp.symbol,
                       client_id=resp.clientOrderId, order_id=resp.orderId, side=resp.side,
                       status=resp.status, qty=float(resp.origQty), price=float(resp.price),
                       filled_qty=filled, avg_price=avg,
                       ts_ms=resp.updateTime or resp.transactTime)


class OrderNotPlaced(E.BinanceError):
    """An unknown outcome resolved: the venue never placed the order (safe to decide anew)."""


class BinanceTrading:
    def __init__(self, hub: StateHub, venue: str, rest: RestSession, urls: BinanceUrls, *,
                 recv_window_ms: int = 5000) -> None:
        self.hub = hub
        self.venue = venue
        self.rest = rest
        self.urls = urls
        self.recv_window_ms = recv_window_ms
        self.unknown_resolved = 0

    # -- order building (no I/O) ---------------------------------------------------------------
    def prepare_margin_order(self, symbol: str, side: str, quantity: float | str, *,
                             order_type: str = "MARKET", price: float | str | None = None,
                             time_in_force: str | None = None,
                             side_effect: str = "NO_SIDE_EFFECT", client_id: str | None = None,
                             quote_qty: float | str | None = None,
                             post_only: bool = False) -> Prepared:
        """Cross-margin order. `side_effect`: MARGIN_BUY borrows what a SELL needs (borrow-and-
        sell); AUTO_REPAY repays the liability from a BUY's proceeds (buy-and-repay)."""
        cid = client_id or new_client_id()
        otype = "LIMIT_MAKER" if post_only else order_type
        params: list[tuple[str, Any]] = [
            ("symbol", symbol), ("isIsolated", "FALSE"), ("side", side), ("type", otype)]
        if quote_qty is not None:
            params.append(("quoteOrderQty", fmt_num(quote_qty)))
        else:
            params.append(("quantity", fmt_num(quantity)))
        if otype in ("LIMIT", "LIMIT_MAKER"):
            params.append(("price", fmt_num(price if price is not None else 0)))
        if otype == "LIMIT":
            params.append(("timeInForce", time_in_force or "GTC"))
        params += [("newClientOrderId", cid), ("sideEffectType", side_effect),
                   ("newOrderRespType", "FULL")]
        return self.rest.prepare("POST", self.urls.rest, C.MARGIN_ORDER, params,
                                 signed=True, weight=6, idempotent=False, client_id=cid)

    def prepare_futures_order(self, symbol: str, side: str, quantity: float | str, *,
                              order_type: str = "MARKET", price: float | str | None = None,
                              time_in_force: str | None = None, reduce_only: bool = False,
                              client_id: str | None = None, post_only: bool = False) -> Prepared:
        """USD-M order (one-way mode). `post_only` = LIMIT + GTX; IOC via `time_in_force`."""
        cid = client_id or new_client_id()
        params: list[tuple[str, Any]] = [("symbol", symbol), ("side", side), ("type", order_type),
                                         ("quantity", fmt_num(quantity))]
        if order_type == "LIMIT":
            params.append(("price", fmt_num(price if price is not None else 0)))
            params.append(("timeInForce", "GTX" if post_only else (time_in_force or "GTC")))
        if reduce_only:
            params.append(("reduceOnly", "true"))
        params += [("newClientOrderId", cid), ("newOrderRespType", "RESULT")]
        return self.rest.prepare("POST", self.urls.futures_rest, C.FUTURES_ORDER, params,
                                 signed=True, weight=1, idempotent=False, client_id=cid)

    # -- sending -------------------------------------------------------------------------------
    async def send(self, prep: Prepared) -> OrderUpdate:
        """Write a prepared order; on an unknown outcome resolve it by client id (never resend)."""
        return await self.complete(prep, self.rest.send(prep))

    async def complete(self, prep: Prepared, written: Awaitable[bytes]) -> OrderUpdate:
        """`send`'s handling of the answer to `prep`, whose request `written` is already under
        way (RestSession.send_now wrote it in the caller's pass, or `rest.send(prep)`)."""
        market = _market_of(prep)
        try:
            raw = await written
        except E.UnknownOutcome:
            return await self.resolve_unknown(prep)
        except E.ClockSkew:
            # rejected before execution: re-measure the clock, re-sign the same order (same client
            # id) once
            if self.urls.use_server_time:
                base = self.urls.futures_rest if market == "perp" else self.urls.rest
                await self.rest.sync_time(base, C.FUTURES_TIME if market == "perp" else C.SPOT_TIME)
            fresh = self._resign(prep)
            try:
                raw = await self.rest.send(fresh)
            except E.UnknownOutcome:
                return await self.resolve_unknown(fresh)
        update = order_update_from(schemas.ORDER.decode(raw), venue=self.venue, market=market)
        self._publish(update)
        return update

    def _resign(self, prep: Prepared) -> Prepared:
        base = str(prep.url).split(prep.path, 1)[0]
        params = [(k, v) for k, v in prep.params]
        return self.rest.prepare(prep.method, base, prep.path, params, signed=True,
                                 weight=prep.weight, idempotent=False, client_id=prep.client_id)

    async def resolve_unknown(self, prep: Prepared) -> OrderUpdate:
        """Query the client id until found, or until the request can no longer be accepted."""
        assert prep.client_id is not None
        symbol = dict(prep.params)["symbol"]
        market = _market_of(prep)
        sent_ts = next((int(v) for k, v in _query_items(prep) if k == "timestamp"), None)
        deadline = (sent_ts / 1000 if sent_ts else time.time()) + self.recv_window_ms / 1000 + 1.0

        def never_placed() -> Exception:
            self.unknown_resolved += 1
            return OrderNotPlaced(0, C.NO_SUCH_ORDER, "order was never placed", method=prep.method,
                                  path=prep.path, idempotent=False)

        update = await resolve_by_client_id(
            lambda: self.get_order(symbol, market=market, client_id=prep.client_id),
            deadline_s=deadline, not_found=E.UnknownOrder, never_placed=never_placed,
            transient=lambda err: isinstance(err, E.BinanceError) and (
                E.is_retryable(err) or isinstance(err, E.UnknownOutcome)))
        self.unknown_resolved += 1
        return update

    def _publish(self, update: OrderUpdate) -> None:
        """REST acks can arrive after the user stream's later events: never regress the hub."""
        prev = self.hub.orders.get((self.venue, update.client_id))
        if prev is not None and (prev.is_final or prev.filled_qty > update.filled_qty):
            return
        self.hub.order_update(update)

    # -- orders: query / cancel ----------------------------------------------------------------
    async def get_order(self, symbol: str, *, market: str, client_id: str) -> OrderUpdate:
        base, path = self._order_path(market)
        params = [("symbol", symbol), ("origClientOrderId", client_id)]
        if market == "spot":
            params.append(("isIsolated", "FALSE"))
        raw = await self.rest.request("GET", base, path, params, signed=True,
                                      weight=10 if market == "spot" else 1)
        update = order_update_from(schemas.ORDER.decode(raw), venue=self.venue, market=market)
        self._publish(update)
        return update

    async def cancel_order(self, symbol: str, *, market: str, client_id: str) -> OrderUpdate:
        base, path = self._order_path(market)
        params = [("symbol", symbol), ("origClientOrderId", client_id)]
        if market == "spot":
            params.append(("isIsolated", "FALSE"))
        raw = await self.rest.request("DELETE", base, path, params, signed=True,
                                      weight=10 if market == "spot" else 1, idempotent=True)
        update = order_update_from(schemas.ORDER.decode(raw), venue=self.venue, market=market)
        self._publish(update)
        return update

    def _order_path(self, market: str) -> tuple[str, str]:
        if market == "spot":
            return self.urls.rest, C.MARGIN_ORDER
        return self.urls.futures_rest, C.FUTURES_ORDER

    # -- cross margin --------------------------------------------------------------------------
    async def borrow(self, asset: str, amount: float | str) -> int:
        return await self._borrow_repay(asset, amount, "BORROW")

    async def repay(self, asset: str, amount: float | str) -> int:
        return await self._borrow_repay(asset, amount, "REPAY")

    async def _borrow_repay(self, asset: str, amount: float | str, kind: str) -> int:
        raw = await self.rest.request(
            "POST", self.urls.rest, C.MARGIN_BORROW_REPAY,
            [("asset", asset), ("isIsolated", "FALSE"), ("amount", fmt_num(amount)),
             ("type", kind)], signed=True, weight=1500, idempotent=False)
        return schemas.TRAN_ID.decode(raw).tranId

    async def max_borrowable(self, asset: str) -> float:
        raw = await self.rest.request("GET", self.urls.rest, C.MARGIN_MAX_BORROWABLE,
                                      {"asset": asset}, signed=True, weight=50)
        amount = float(schemas.MAX_BORROWABLE.decode(raw).amount)
        prev = self.hub.borrow.get((self.venue, asset))
        self.hub.set_borrow(Borrow(venue=self.venue, asset=asset,
                                   hourly_rate=prev.hourly_rate if prev else 0.0,
                                   max_borrowable=amount, ts_ms=int(time.time() * 1000)))
        return amount

    async def next_hourly_interest_rates(self, assets: list[str]) -> dict[str, float]:
        raw = await self.rest.request(
            "GET", self.urls.rest, C.MARGIN_NEXT_HOURLY_RATE,
            {"assets": ",".join(assets), "isIsolated": "FALSE"}, signed=True, weight=100)
        out = {}
        now = int(time.time() * 1000)
        for row in schemas.NEXT_HOURLY_RATES.decode(raw):
            rate = float(row.nextHourlyInterestRate)
            out[row.asset] = rate
            prev = self.hub.borrow.get((self.venue, row.asset))
            self.hub.set_borrow(Borrow(venue=self.venue, asset=row.asset, hourly_rate=rate,
                                       max_borrowable=prev.max_borrowable if prev else None,
                                       ts_ms=now))
        return out

    async def trade_coeff(self) -> schemas.TradeCoeff:
        raw = await self.rest.request("GET", self.urls.rest, C.MARGIN_TRADE_COEFF,
                                      signed=True, weight=10)
        return schemas.TRADE_COEFF.decode(raw)

    async def margin_account(self, coeff: schemas.TradeCoeff | None = None
                             ) -> schemas.MarginAccountResponse:
        """Cross-margin account -> hub balances (free, locked, borrowed, interest) + margin level."""
        raw = await self.rest.request("GET", self.urls.rest, C.MARGIN_ACCOUNT,
                                      signed=True, weight=10)
        acct = schemas.MARGIN_ACCOUNT.decode(raw)
        now = int(time.time() * 1000)
        self.hub.set_balances(
            Balance(venue=self.venue, wallet="margin", asset=a.asset, free=float(a.free),
                    locked=float(a.locked), borrowed=float(a.borrowed), interest=float(a.interest))
            for a in acct.userAssets)
        level = float(acct.marginLevel) if acct.marginLevel else 999.0
        call_bar = float(coeff.marginCallBar) if coeff else float(acct.marginCallBar or 1.3)
        liq_bar = float(coeff.forceLiquidationBar) if coeff else 1.1
        self.hub.set_margin_account(MarginAccount(
            venue=self.venue, margin_level=level,
            total_asset_usdt=float(acct.totalCollateralValueInUSDT or 0.0),
            margin_call_bar=call_bar, force_liquidation_bar=liq_bar, ts_ms=now))
        return acct

    async def interest_history(self, asset: str | None = None, start_ms: int | None = None,
                               size: int = 100) -> list[schemas.InterestHistoryRow]:
        params = {"asset": asset, "startTime": start_ms, "size": size}
        raw = await self.rest.request("GET", self.urls.rest, C.MARGIN_INTEREST_HISTORY,
                                      params, signed=True, weight=1)
        return schemas.INTEREST_HISTORY.decode(raw).rows

    async def ticker_price(self, symbol: str) -> float:
        raw = await self.rest.request("GET", self.urls.rest, C.SPOT_TICKER_PRICE,
                                      {"symbol": symbol}, weight=2)
        return float(schemas.TICKER_PRICE.decode(raw).price)

    async def interest_since(self, start_ms: int, size: int = 100
                             ) -> list[schemas.InterestHistoryRow]:
        """Every margin interest charge from `start_ms` (the venue pages newest first)."""
        out: list[schemas.InterestHistoryRow] = []
        for page in range(1, 101):
            raw = await self.rest.request("GET", self.urls.rest, C.MARGIN_INTEREST_HISTORY,
                                          {"startTime": start_ms, "size": size,
                                           "current": page}, signed=True, weight=1)
            rows = schemas.INTEREST_HISTORY.decode(raw).rows
            out.extend(rows)
            if len(rows) < size:
                break
        return out

    async def funding_income_since(self, start_ms: int, limit: int = 1000
                                   ) -> list[schemas.IncomeHistoryRow]:
        """Every FUNDING_FEE row from `start_ms`, oldest first (the venue answers from
        startTime up to `limit` rows; the next page starts at the last row's time, so rows of
        that millisecond come twice: callers dedupe by tranId)."""
        out: list[schemas.IncomeHistoryRow] = []
        seen: set[int] = set()
        for _ in range(100):
            raw = await self.rest.request("GET", self.urls.futures_rest, C.FUTURES_INCOME,
                                          {"incomeType": "FUNDING_FEE", "startTime": start_ms,
                                           "limit": limit}, signed=True, weight=30)
            rows = schemas.INCOME_HISTORY.decode(raw)
            fresh = [r for r in rows if r.tranId not in seen]
            seen.update(r.tranId for r in fresh)
            out.extend(fresh)
            if len(rows) < limit or not fresh:
                break
            start_ms = rows[-1].time
        return out

    # -- USD-M ---------------------------------------------------------------------------------
    async def set_leverage(self, symbol: str, leverage: int) -> int:
        raw = await self.rest.request("POST", self.urls.futures_rest, C.FUTURES_LEVERAGE,
                                      {"symbol": symbol, "leverage": leverage}, signed=True,
                                      idempotent=True)
        return schemas.LEVERAGE.decode(raw).leverage

    async def position_risk(self, symbol: str | None = None) -> list[schemas.PositionRisk]:
        raw = await self.rest.request("GET", self.urls.futures_rest, C.FUTURES_POSITION_RISK,
                                      {"symbol": symbol}, signed=True, weight=5)
        rows = schemas.POSITION_RISK.decode(raw)
        now = int(time.time() * 1000)
        for r in rows:
            self.hub.set_position(PerpPosition(
                venue=self.venue, symbol=r.symbol, qty=float(r.positionAmt),
                entry_price=float(r.entryPrice), liquidation_price=float(r.liquidationPrice),
                leverage=float(r.leverage), unrealized_pnl=float(r.unRealizedProfit), ts_ms=now))
        return rows

    async def futures_account(self) -> schemas.FuturesAccount:
        raw = await self.rest.request("GET", self.urls.futures_rest, C.FUTURES_ACCOUNT,
                                      signed=True, weight=5)
        acct = schemas.FUTURES_ACCOUNT.decode(raw)
        self.hub.set_balances(
            Balance(venue=self.venue, wallet="futures", asset=a.asset,
                    free=float(a.availableBalance),
                    locked=max(0.0, float(a.walletBalance) - float(a.availableBalance)))
            for a in acct.assets)
        return acct

    # -- wallets -------------------------------------------------------------------------------
    def prepare_transfer(self, asset: str, amount: float | str, *, to_futures: bool) -> Prepared:
        """The universal transfer below, built and signed without I/O (for a synchronous write)."""
        kind = "MARGIN_UMFUTURE" if to_futures else "UMFUTURE_MARGIN"
        return self.rest.prepare("POST", self.urls.rest, C.ASSET_TRANSFER,
                                 [("type", kind), ("asset", asset), ("amount", fmt_num(amount))],
                                 signed=True, weight=900, idempotent=False)

    async def transfer(self, asset: str, amount: float | str, *, to_futures: bool) -> int:
        """Universal transfer between the cross-margin and USD-M wallets."""
        kind = "MARGIN_UMFUTURE" if to_futures else "UMFUTURE_MARGIN"
        raw = await self.rest.request("POST", self.urls.rest, C.ASSET_TRANSFER,
                                      [("type", kind), ("asset", asset),
                                       ("amount", fmt_num(amount))],
                                      signed=True, weight=900, idempotent=False)
        return schemas.TRAN_ID.decode(raw).tranId


def _market_of(prep: Prepared) -> str:
    return "perp" if prep.path.startswith(C.FUTURES_PREFIX) else "spot"


def _query_items(prep: Prepared) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl
    text = prep.body.decode() if prep.body else (prep.url.raw_query_string or "")
    return parse_qsl(text)

"""Trading on the OKX cross account: orders (spot margin and swaps, both `tdMode=cross`),
cancels, queries, borrow rates and max loan, account and position snapshots into the hub.

Spot margin on OKX's cross account borrows automatically what a sell needs beyond the balance
and repays the liability from a buy of the coin: no side-effect flag per order. Swaps trade in
contracts: quantities are converted from coins with the instrument's ctVal here (and back in
every OrderUpdate), so the daemon only sees coins.

An order ack (`sCode` "0") carries ids only: it is not a fill. `send` reports it as NEW; fills
come from the private `orders` channel (user_stream.py) or from a query.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from connectors.base import StateHub
from connectors.okx import constants as C
from connectors.okx import schemas
from connectors.okx.errors import OkxError
from connectors.okx.reference import ContractSizes
from connectors.okx.rest import data_of
from connectors.okx.schemas import num
from connectors.okx.symbols import from_cl_ord_id, inst_id, market_of, symbol_of, to_cl_ord_id
from connectors.transport.rest import Prepared, RestSession
from connectors.types import (Balance, Borrow, InterestCharge, MarginAccount, OrderUpdate,
                              PerpPosition)


def fmt_num(x: float | str) -> str:
    if isinstance(x, str):
        return x
    text = repr(float(x))
    if "e" in text or "E" in text:
        text = f"{x:.12f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def order_update_from(o: schemas.OrderData, *, venue: str, sizes: ContractSizes) -> OrderUpdate:
    market = market_of(o.instId)
    symbol = symbol_of(o.instId)
    ct = sizes.of(symbol, market)
    fee = -num(o.fillFee or o.fee)     # OKX: negative = charged; the hub: positive = paid
    return OrderUpdate(
        venue=venue, market=market, symbol=symbol, client_id=from_cl_ord_id(o.clOrdId),
        order_id=o.ordId, side=o.side.upper(), status=C.STATUS.get(o.state, "NEW"),
        qty=num(o.sz) * ct, price=num(o.px), filled_qty=num(o.accFillSz) * ct,
        avg_price=num(o.avgPx), last_fill_qty=num(o.fillSz) * ct,
        last_fill_price=num(o.fillPx), fee=fee, fee_asset=o.fillFeeCcy or o.feeCcy,
        trade_id=o.tradeId or None, ts_ms=int(o.uTime or 0))


class OkxTrading:
    def __init__(self, hub: StateHub, venue: str, rest: RestSession, base: str,
                 sizes: ContractSizes) -> None:
        self.hub = hub
        self.venue = venue
        self.rest = rest
        self.base = base
        self.sizes = sizes
        self.unknown_resolved = 0
        # accrued interest per currency as of the newest account view (None: none yet)
        self._accrued: dict[str, float] | None = None
        self._accrued_ms = 0

    # -- orders (build without I/O) -------------------------------------------------------------
    def prepare_order(self, market: str, symbol: str, side: str, qty: float, *,
                      order_type: str = "MARKET", price: float | None = None,
                      time_in_force: str | None = None, reduce_only: bool = False,
                      client_id: str) -> Prepared:
        """`market` "spot_margin" | "perp"; `qty` in coins; post-only is order_type LIMIT_MAKER
        or time_in_force GTX."""
        hub_market = "perp" if market == "perp" else "spot"
        size = self.sizes.to_contracts(symbol, hub_market, qty)
        if order_type == "MARKET":
            ord_type = "market"
        elif order_type == "LIMIT_MAKER" or time_in_force == "GTX":
            ord_type = "post_only"
        elif time_in_force == "IOC":
            ord_type = "ioc"
        elif time_in_force == "FOK":
            ord_type = "fok"
        else:
            ord_type = "limit"
        params: list[tuple[str, Any]] = [
            ("instId", inst_id(symbol, hub_market)), ("tdMode", C.TD_CROSS),
            ("side", side.lower()), ("ordType", ord_type), ("sz", fmt_num(size)),
            ("clOrdId", to_cl_ord_id(client_id))]
        if ord_type != "market":
            params.append(("px", fmt_num(price if price is not None else 0.0)))
        if hub_market == "spot":
            params.append(("tgtCcy", "base_ccy"))   # a market buy's sz in coins, not USDT
        if reduce_only and hub_market == "perp":
            params.append(("reduceOnly", True))
        return self.rest.prepare("POST", self.base, C.ORDER, params, signed=True,
                                 idempotent=False, client_id=client_id)

    async def send(self, prep: Prepared) -> OrderUpdate:
        return await self.complete(prep, self.rest.send(prep))

    async def complete(self, prep: Prepared, written: Any) -> OrderUpdate:
        try:
            raw = await written
            data_of(raw, method=prep.method, path=prep.path, idempotent=False)
        except OkxError as err:
            if err.unknown_outcome:
                return await self.resolve_unknown(prep)
            raise
        return self._ack(prep)

    def _ack(self, prep: Prepared) -> OrderUpdate:
        p = dict(prep.params)
        market = market_of(p["instId"])
        symbol = symbol_of(p["instId"])
        assert prep.client_id is not None
        prev = self.hub.orders.get((self.venue, prep.client_id))
        if prev is not None:        # the private stream was faster than the ack
            return prev
        return OrderUpdate(venue=self.venue, market=market, symbol=symbol,
                           client_id=prep.client_id, order_id="", side=str(p["side"]).upper(),
                           status="NEW", qty=self.sizes.to_coins(symbol, market, float(p["sz"])),
                           price=num(str(p.get("px", ""))), ts_ms=int(time.time() * 1000))

    async def resolve_unknown(self, prep: Prepared, *, tries: int = 10) -> OrderUpdate:
        """Query the client id a few times; never resend."""
        p = dict(prep.params)
        assert prep.client_id is not None
        symbol, market = symbol_of(p["instId"]), market_of(p["instId"])
        for i in range(tries):
            update = await self.query(symbol, market, prep.client_id)
            if update is not None:
                self.unknown_resolved += 1
                return update
            await asyncio.sleep(min(2.0, 0.2 * 2 ** i))
        raise OkxError(0, C.NO_SUCH_ORDER, "order was never placed", method=prep.method,
                       path=prep.path, idempotent=False)

    def publish(self, update: OrderUpdate) -> None:
        """REST answers can arrive after the stream's later events: never regress the hub."""
        prev = self.hub.orders.get((self.venue, update.client_id))
        if prev is not None and (prev.is_final or prev.filled_qty > update.filled_qty):
            return
        self.hub.order_update(update)

    async def query(self, symbol: str, market: str, client_id: str) -> OrderUpdate | None:
        params = [("instId", inst_id(symbol, market)), ("clOrdId", to_cl_ord_id(client_id))]
        raw = await self.rest.request("GET", self.base, C.ORDER, params, signed=True)
        try:
            rows = schemas.ORDERS.decode(data_of(raw, method="GET", path=C.ORDER))
        except OkxError as err:
            if err.code == C.NO_SUCH_ORDER:
                return None
            raise
        if not rows:
            return None
        update = order_update_from(rows[0], venue=self.venue, sizes=self.sizes)
        self.publish(update)
        return update

    async def cancel(self, symbol: str, market: str, client_id: str) -> OrderUpdate | None:
        body = [("instId", inst_id(symbol, market)), ("clOrdId", to_cl_ord_id(client_id))]
        raw = await self.rest.request("POST", self.base, C.CANCEL_ORDER, body, signed=True,
                                      idempotent=True)
        try:
            data_of(raw, method="POST", path=C.CANCEL_ORDER)
        except OkxError as err:
            if err.code == C.NO_SUCH_ORDER:
                return None
            if err.code not in C.FINAL_CANCEL_CODES:
                raise
        return await self.query(symbol, market, client_id)

    async def orders_since(self, symbol: str, market: str, since_ms: int) -> list[OrderUpdate]:
        inst = inst_id(symbol, market)
        inst_type = C.SWAP if market == "perp" else C.SPOT
        out: dict[str, OrderUpdate] = {}
        for path, extra in ((C.ORDERS_HISTORY, [("begin", str(since_ms))]),
                            (C.ORDERS_PENDING, [])):
            raw = await self.rest.request("GET", self.base, path,
                                          [("instType", inst_type), ("instId", inst), *extra],
                                          signed=True)
            for row in schemas.ORDERS.decode(data_of(raw, method="GET", path=path)):
                if int(row.cTime or 0) >= since_ms:
                    u = order_update_from(row, venue=self.venue, sizes=self.sizes)
                    out[u.client_id] = u
        return list(out.values())

    # -- borrow ------------------------------------------------------------------------------------
    async def max_loan(self, asset: str, symbol_hint: str | None = None) -> float | None:
        """Max borrowable `asset` on the cross account (what a sell of the coin may borrow)."""
        params = [("instId", inst_id(symbol_hint, "spot")) if symbol_hint else ("ccy", asset),
                  ("mgnMode", C.TD_CROSS)]
        raw = await self.rest.request("GET", self.base, C.MAX_LOAN, params, signed=True)
        for row in schemas.MAX_LOANS.decode(data_of(raw, method="GET", path=C.MAX_LOAN)):
            if (row.ccy or row.mgnCcy) == asset:
                return num(row.maxLoan)
        return None

    async def interest_rates(self, assets: list[str]) -> dict[str, float]:
        """Hourly borrow rate per asset (OKX's `interestRate` is per hour), into the hub."""
        raw = await self.rest.request("GET", self.base, C.INTEREST_RATE, signed=True)
        rates = {r.ccy: num(r.interestRate) for r in schemas.INTEREST_RATES.decode(
            data_of(raw, method="GET", path=C.INTEREST_RATE)) if r.ccy in assets}
        now = int(time.time() * 1000)
        for asset, rate in rates.items():
            prev = self.hub.borrow.get((self.venue, asset))
            self.hub.set_borrow(Borrow(venue=self.venue, asset=asset, hourly_rate=rate,
                                       max_borrowable=prev.max_borrowable if prev else None,
                                       ts_ms=now))
        return rates

    async def repay(self, asset: str, amount: float) -> None:
        body = [("ccy", asset), ("side", "repay"), ("amt", fmt_num(amount))]
        raw = await self.rest.request("POST", self.base, C.BORROW_REPAY, body, signed=True,
                                      idempotent=False)
        data_of(raw, method="POST", path=C.BORROW_REPAY)

    # -- account snapshots ------------------------------------------------------------------------
    async def balance(self) -> None:
        raw = await self.rest.request("GET", self.base, C.BALANCE, signed=True)
        for acct in schemas.ACCOUNTS.decode(data_of(raw, method="GET", path=C.BALANCE)):
            self.publish_account(acct)

    def publish_account(self, acct: schemas.AccountData) -> None:
        """One cross account holds spot, margin and swap collateral. The hub's two wallets are
        both this account: "margin" carries every currency with its liability, "futures" the
        settlement currency (USDT) that swaps draw on (the same coins: never add the two)."""
        hub, venue = self.hub, self.venue
        now = int(acct.uTime or 0) or int(time.time() * 1000)
        self._charge_interest(acct, now)
        batch: list[Balance] = []
        for d in acct.details:
            cash = num(d.cashBal)
            frozen = num(d.frozenBal)
            interest = num(d.interest)
            liab = abs(num(d.liab or d.crossLiab))
            borrowed = max(0.0, liab - interest)
            free = max(0.0, cash - frozen) if cash > 0 else 0.0
            batch.append(Balance(venue=venue, wallet="margin", asset=d.ccy, free=free,
                                 locked=frozen, borrowed=borrowed, interest=interest))
            if d.ccy == "USDT":
                batch.append(Balance(venue=venue, wallet="futures", asset=d.ccy,
                                     free=num(d.availBal, free), locked=frozen))
        hub.set_balances(batch)
        ratio = num(acct.mgnRatio)
        hub.set_margin_account(MarginAccount(venue=venue, margin_level=ratio or 999.0,
                                             total_asset_usdt=num(acct.totalEq), ts_ms=now))

    def _charge_interest(self, acct: schemas.AccountData, now: int) -> None:
        """OKX reports no interest event: each currency's `interest` is what accrued since the
        last repay. Its rise from one account view to the next is the charge, published as the
        hub's InterestCharge; the first view is the baseline (interest from before we looked),
        and a currency absent from a view owes nothing. A view older than the newest one (a
        REST answer overtaken by a push) is skipped: its lower figure would charge twice."""
        if now < self._accrued_ms:
            return
        self._accrued_ms = now
        accrued = {d.ccy: num(d.interest) for d in acct.details}
        if self._accrued is not None:
            for ccy, now_accrued in accrued.items():
                charged = round(now_accrued - self._accrued.get(ccy, 0.0), 12)
                if charged > 0:
                    self.hub.interest_charge(InterestCharge(venue=self.venue, asset=ccy,
                                                            amount=charged, ts_ms=now))
        self._accrued = accrued

    async def positions(self) -> None:
        raw = await self.rest.request("GET", self.base, C.POSITIONS, [("instType", C.SWAP)],
                                      signed=True)
        for p in schemas.POSITIONS.decode(data_of(raw, method="GET", path=C.POSITIONS)):
            self.publish_position(p)

    def publish_position(self, p: schemas.PositionData) -> None:
        symbol = symbol_of(p.instId)
        qty = self.sizes.to_coins(symbol, "perp", num(p.pos))
        self.hub.set_position(PerpPosition(
            venue=self.venue, symbol=symbol, qty=qty, entry_price=num(p.avgPx),
            liquidation_price=num(p.liqPx), leverage=num(p.lever, 1.0),
            unrealized_pnl=num(p.upl), ts_ms=int(p.uTime or 0)))

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        body = [("instId", inst_id(symbol, "perp")), ("lever", str(leverage)),
                ("mgnMode", C.TD_CROSS)]
        raw = await self.rest.request("POST", self.base, C.SET_LEVERAGE, body, signed=True)
        data_of(raw, method="POST", path=C.SET_LEVERAGE)


def order_body(prep: Prepared) -> dict[str, Any]:
    """The JSON body of a prepared order (tests, logs without secrets)."""
    return orjson.loads(prep.body or b"{}")


"""User data streams -> hub: orders and fills, balances, positions, funding fees, liabilities.

USD-M: listenKey (`POST /fapi/v1/listenKey`), socket on `/private/ws/<key>`, keepalive (PUT) every
30 min. Events: ORDER_TRADE_UPDATE -> hub.order_update (with the fill and its fee),
ACCOUNT_UPDATE -> balances + positions, and reason FUNDING_FEE -> hub.funding_fee.

Cross margin, two flows (see urls.py):
- "listen_key" (the embedded exchange; Binance's older flow): `POST /sapi/v1/userDataStream`,
  socket on the spot host `/ws/<key>`, keepalive every 30 min. executionReport,
  outboundAccountPosition, balanceUpdate and USER_LIABILITY_CHANGE arrive on it.
- "listen_token" (Binance today): `POST /sapi/v1/userListenToken` then
  `userDataStream.subscribe.listenToken` on the spot WS-API (the ack is awaited before the stream
  counts as connected; an error, or `eventStreamTerminated`, reconnects with a new token), renewed
  before expiry; liability and margin-level events on the risk stream
  (`/sapi/v1/margin/listen-key`, USER_LIABILITY_CHANGE without a total: applied incrementally).
  Exercised against the embedded exchange by tests/binance/test_margin_listen_token.py.
Liability events and the venue's REST account snapshots are reconciled by event time
(liability_sync.LiabilityGate, driven by BinanceVenue.refresh_account): an event the latest
snapshot already contains is not added again; an ambiguous one asks for a re-read (`on_reread`).
A `listenKeyExpired` on a listenKey stream drops that socket: the reconnect creates a new key.
AUTO_REPAY fills (orders announced by `expect_auto_repay`, which BinanceVenue.prepare_spot_order
calls): the venue repays out of the fill, but its REPAY event may come after the balance it paid
with (another socket on Binance today; or dropped as ambiguous until a re-read). The liability is
lowered at the executionReport by what the fill certainly repays, and the REPAY event is matched
against it (liability_sync.ProvisionalRepays): nothing is counted twice, and the account never
reads as "quote spent, nothing repaid". A provisional repay no event confirms within
PROVISIONAL_CHECK_S asks for a re-read.
Interest: USER_LIABILITY_CHANGE with t=INTEREST -> hub.interest_charge. When no such event has been
seen, a slow poll of `/sapi/v1/margin/interestHistory` supplies the charges instead.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable

import msgspec
import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from connectors.transport.backoff import Backoff
from connectors.binance import constants as C
from connectors.binance import schemas
from connectors.binance.errors import BinanceError
from connectors.binance.liability_sync import LiabilityGate, ProvisionalRepays, Verdict
from connectors.binance.trading import BinanceTrading
from connectors.binance.config import BinanceUrls
from connectors.transport.rest import RestSession
from connectors.transport.ws import WsStream
from connectors.types import Balance, FundingFee, InstrumentKey, InterestCharge, OrderUpdate, PerpPosition
from connectors.base import StateHub
from connectors.tasks import cancel_and_wait

KEEPALIVE_S = 30 * 60
WS_API_ACK_S = 10.0
INTEREST_POLL_S = 600.0
PROVISIONAL_CHECK_S = 5.0
AUTO_REPAY_EFFECTS = frozenset({"AUTO_REPAY", "AUTO_BORROW_REPAY"})
_TERMINAL = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH"})
_AUTO_REPAY_MAX = 1024       # announced orders remembered (one that is never sent is forgotten)


def fut_order_update(ev: schemas.OrderTradeUpdate, venue: str) -> OrderUpdate:
    o = ev.o
    return OrderUpdate(venue=venue, market="perp", symbol=o.s, client_id=o.c, order_id=o.i,
                       side=o.S, status=o.X, qty=float(o.q), price=float(o.p),
                       filled_qty=float(o.z), avg_price=float(o.ap), last_fill_qty=float(o.l),
                       last_fill_price=float(o.L), fee=float(o.n), fee_asset=o.N or "",
                       trade_id=o.t or None, ts_ms=o.T or ev.T or ev.E)


def margin_order_update(ev: schemas.ExecutionReport, venue: str,
                        fee_prices: dict[str, float] | None = None) -> OrderUpdate:
    """`fee_prices`: USDT prices of third fee assets (BNB); such a fee gets its value at the
    fill (`fee_quote`), the pair's own assets are valued by the daemon at the fill price."""
    filled = float(ev.z)
    fee, fee_asset = float(ev.n), ev.N or ""
    fee_quote = None
    if fee and fee_asset and not (ev.s.startswith(fee_asset) or ev.s.endswith(fee_asset)):
        px = (fee_prices or {}).get(fee_asset)
        fee_quote = fee * px if px else None
    quote = float(ev.Z)
    # on cancels Binance puts the original client id in C and a new one in c
    cid = ev.C if ev.x == "CANCELED" and ev.C else ev.c
    return OrderUpdate(venue=venue, market="spot", symbol=ev.s, client_id=cid, order_id=ev.i,
                       side=ev.S, status=ev.X, qty=float(ev.q), price=float(ev.p),
                       filled_qty=filled, avg_price=quote / filled if filled else 0.0,
                       last_fill_qty=float(ev.l), last_fill_price=float(ev.L), fee=fee,
                       fee_asset=fee_asset, fee_quote=fee_quote,
                       trade_id=ev.t if ev.t >= 0 else None, ts_ms=ev.T or ev.E)


class _ListenKeyStream:
    """A websocket whose URL comes from a listenKey that is created per connect and kept alive."""

    def __init__(self, name: str, rest: RestSession, base: str, path: str,
                 url_for: Callable[[str], str], on_frame: Callable[[bytes], None], *, hub: StateHub,
                 venue: str, backoff: Callable[[], Backoff], signed: bool = False) -> None:
        self.rest, self.base, self.path, self.url_for = rest, base, path, url_for
        self.signed = signed
        self.key = ""
        # user streams can be silent for hours: staleness is judged by keepalive, not frames
        self.ws = WsStream(name, self._url, on_frame, hub=hub, venue=venue,
                           stale_after_s=24 * 3600, backoff=backoff())
        self._keepalive: asyncio.Task[None] | None = None

    async def _url(self) -> str:
        raw = await self.rest.request("POST", self.base, self.path, api_key=True,
                                      signed=self.signed, idempotent=True)
        self.key = schemas.LISTEN_KEY.decode(raw).listenKey
        return self.url_for(self.key)

    def start(self) -> None:
        self.ws.start()
        self._keepalive = asyncio.create_task(self._keep(), name=f"keepalive:{self.ws.name}")

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            if not self.key:
                continue
            try:
                await self.rest.request("PUT", self.base, self.path, {"listenKey": self.key},
                                        api_key=True, signed=self.signed, idempotent=True)
            except BinanceError:
                self.ws.drop("keepalive failed")    # reconnect creates a fresh key

    async def stop(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        await self.ws.stop()


class BinanceUserStreams:
    def __init__(self, hub: StateHub, venue: str, rest: RestSession, urls: BinanceUrls,
                 trading: BinanceTrading, *, backoff: Callable[[], Backoff] = Backoff,
                 interest_poll_s: float = INTEREST_POLL_S,
                 on_event: Callable[[object], None] | None = None) -> None:
        self.hub = hub
        self.venue = venue
        self.rest = rest
        self.urls = urls
        self.trading = trading
        self.backoff = backoff
        self.interest_poll_s = interest_poll_s
        self._on_event = on_event
        self.interest_events_seen = 0
        self.unknown_events = 0
        self.fee_prices: dict[str, float] = {}   # USDT price of each FEE_ASSET (the venue sets)
        self._seen_interest_tx: set[int] = set()
        self.liabilities: LiabilityGate[schemas.UserLiabilityChange] = LiabilityGate()
        self.repays = ProvisionalRepays()
        # client id of an AUTO_REPAY order -> last trade id counted (a replayed fill is not)
        self._auto_repay: dict[str, int] = {}
        self._repay_check: asyncio.TimerHandle | None = None
        # set by the venue: an ambiguous liability event needs a fresh account snapshot
        self.on_reread: Callable[[], None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._fut_decode = msgspec.json.Decoder(schemas.FutUserEvent).decode
        self._margin_decode = msgspec.json.Decoder(schemas.MarginUserEvent).decode
        self.futures = _ListenKeyStream("perp-user", rest, urls.futures_rest, C.FUTURES_LISTEN_KEY,
                                        urls.futures_user_url, self._on_futures, hub=hub,
                                        venue=venue, backoff=backoff)
        self.margin: _ListenKeyStream | None = None
        self.margin_risk: _ListenKeyStream | None = None
        self.margin_ws_api: WsStream | None = None
        if urls.margin_flow == "listen_key":
            self.margin = _ListenKeyStream("margin-user", rest, urls.rest,
                                           C.MARGIN_USER_DATA_STREAM, urls.margin_user_url,
                                           self._on_margin, hub=hub, venue=venue, backoff=backoff)
        else:
            if urls.margin_risk_ws is not None:
                self.margin_risk = _ListenKeyStream(
                    "margin-risk", rest, urls.rest, C.MARGIN_RISK_LISTEN_KEY,
                    urls.margin_risk_url, self._on_risk, hub=hub, venue=venue,
                    backoff=backoff)
            if urls.ws_api is not None:
                self.margin_ws_api = WsStream("margin-user", urls.ws_api, self._on_ws_api,
                                              hub=hub, venue=venue, stale_after_s=24 * 3600,
                                              on_open=self._subscribe_token, backoff=backoff())
        self._ids = itertools.count(1)

    async def start(self) -> None:
        self.futures.start()
        for s in (self.margin, self.margin_risk):
            if s is not None:
                s.start()
        if self.margin_ws_api is not None:
            self.margin_ws_api.start()
            self._tasks.append(asyncio.create_task(self._renew_token()))
        self._tasks.append(asyncio.create_task(self._poll_interest()))

    async def stop(self) -> None:
        if self._repay_check is not None:
            self._repay_check.cancel()
            self._repay_check = None
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()
        await self.futures.stop()
        for s in (self.margin, self.margin_risk):
            if s is not None:
                await s.stop()
        if self.margin_ws_api is not None:
            await self.margin_ws_api.stop()

    async def wait_connected(self, timeout_s: float = 10.0) -> None:
        waits: list[Awaitable[bool]] = [self.futures.ws.connected.wait()]
        for s in (self.margin, self.margin_risk):
            if s is not None:
                waits.append(s.ws.connected.wait())
        if self.margin_ws_api is not None:
            waits.append(self.margin_ws_api.connected.wait())
        await asyncio.wait_for(asyncio.gather(*waits), timeout_s)

    # -- USD-M ---------------------------------------------------------------------------------
    def _on_futures(self, data: bytes) -> None:
        try:
            ev = self._fut_decode(data)
        except msgspec.ValidationError:
            self.unknown_events += 1
            return
        hub, venue = self.hub, self.venue
        if isinstance(ev, schemas.OrderTradeUpdate):
            hub.order_update(fut_order_update(ev, venue))
        elif isinstance(ev, schemas.AccountUpdate):
            acct = ev.a
            ts = ev.T or ev.E
            hub.set_balances(Balance(venue=venue, wallet="futures", asset=b.a, free=float(b.cw),
                                     locked=max(0.0, float(b.wb) - float(b.cw))) for b in acct.B)
            for p in acct.P:
                if p.ps not in ("BOTH", "LONG", "SHORT"):
                    continue
                prev = hub.positions.get((venue, p.s))
                hub.set_position(PerpPosition(
                    venue=venue, symbol=p.s, qty=float(p.pa), entry_price=float(p.ep),
                    unrealized_pnl=float(p.up),
                    liquidation_price=prev.liquidation_price if prev else 0.0,
                    leverage=prev.leverage if prev else 1.0, ts_ms=ts))
            if acct.m == "FUNDING_FEE":
                symbol = self._funding_symbol(acct)
                for b in acct.B:
                    hub.funding_fee(FundingFee(venue=venue, symbol=symbol, asset=b.a,
                                               amount=float(b.bc), ts_ms=ts))
        elif isinstance(ev, schemas.ListenKeyExpired):
            self.futures.ws.drop("listenKey expired")   # silent until reconnected otherwise
        if self._on_event is not None:
            self._on_event(ev)

    def _funding_symbol(self, acct: schemas.FutAccountData) -> str:
        """Binance omits positions from cross-margin FUNDING_FEE updates: attribute the fee to the
        only open position if there is exactly one, else leave the symbol empty."""
        if acct.P:
            return acct.P[0].s
        open_ = [s for (v, s), p in self.hub.positions.items() if v == self.venue and p.qty]
        return open_[0] if len(open_) == 1 else ""

    # -- cross margin --------------------------------------------------------------------------
    def _on_margin(self, data: bytes) -> None:
        self._on_listen_key_frame(data, self.margin)

    def _on_risk(self, data: bytes) -> None:
        self._on_listen_key_frame(data, self.margin_risk)

    def _on_listen_key_frame(self, data: bytes, stream: _ListenKeyStream | None) -> None:
        try:
            ev = self._margin_decode(data)
        except msgspec.ValidationError:
            self.unknown_events += 1
            return
        if isinstance(ev, schemas.ListenKeyExpired) and stream is not None:
            stream.ws.drop("listenKey expired")
        self._margin_event(ev)

    def _margin_event(self, ev: object) -> None:
        hub, venue = self.hub, self.venue
        if isinstance(ev, schemas.ExecutionReport):
            hub.order_update(margin_order_update(ev, venue, self.fee_prices))
            if self._auto_repay:
                self._auto_repay_fill(ev)
        elif isinstance(ev, schemas.OutboundAccountPosition):
            batch = []
            for b in ev.B:
                prev = hub.balances.get((venue, "margin", b.a))
                batch.append(Balance(venue=venue, wallet="margin", asset=b.a, free=float(b.f),
                                     locked=float(b.l), borrowed=prev.borrowed if prev else 0.0,
                                     interest=prev.interest if prev else 0.0))
            hub.set_balances(batch)
        elif isinstance(ev, schemas.UserLiabilityChange):
            self._liability(ev)
        elif isinstance(ev, schemas.MarginLevelStatusChange):
            acct = hub.margin_accounts.get(venue)
            if acct is not None:
                # ts_ms on the local clock, as the REST snapshot stamps it (E is venue time)
                hub.set_margin_account(msgspec.structs.replace(
                    acct, margin_level=float(ev.l), ts_ms=int(time.time() * 1000)))
        if self._on_event is not None:
            self._on_event(ev)

    # -- AUTO_REPAY fills (see module docstring) ------------------------------------------------
    def expect_auto_repay(self, client_id: str) -> None:
        """The order `client_id` repays from its fills (sideEffectType AUTO_REPAY or
        AUTO_BORROW_REPAY): count its repays from the executionReports."""
        if len(self._auto_repay) >= _AUTO_REPAY_MAX:
            del self._auto_repay[next(iter(self._auto_repay))]
        self._auto_repay.setdefault(client_id, -1)

    def _auto_repay_fill(self, ev: schemas.ExecutionReport) -> None:
        cid = ev.C if ev.x == "CANCELED" and ev.C else ev.c
        last = self._auto_repay.get(cid)
        if last is None:
            return
        if ev.X in _TERMINAL:
            del self._auto_repay[cid]
        elif ev.t > last:
            self._auto_repay[cid] = ev.t
        if ev.x != "TRADE" or ev.t <= last:
            return
        base, quote = self._assets_of(ev.s)
        qty, fee = float(ev.l), float(ev.n)
        # what the fill put in the account, net of a commission charged in that coin
        if ev.S == "BUY":
            asset, received = base, qty - (fee if ev.N == base else 0.0)
        else:
            asset, received = quote, qty * float(ev.L) - (fee if ev.N == quote else 0.0)
        prev = self.hub.balances.get((self.venue, "margin", asset))
        if prev is None:
            return
        amount = self.repays.on_fill(asset, received, prev.liability)
        if amount > 0:
            self._take_off(prev, amount)
            self._schedule_repay_check()

    def _assets_of(self, symbol: str) -> tuple[str, str]:
        inst = self.hub.instruments.get(InstrumentKey(self.venue, "spot", symbol))
        if inst is not None:
            return inst.base, inst.quote
        for quote in ("USDT", "USDC", "FDUSD", "BTC", "BNB", "ETH"):
            if symbol.endswith(quote) and len(symbol) > len(quote):
                return symbol[: -len(quote)], quote
        return symbol, ""

    def _take_off(self, prev: Balance, amount: float) -> None:
        """Repay `amount` off the hub's liability as Binance does: interest first."""
        pi = min(amount, prev.interest)
        self.hub.set_balance(Balance(venue=prev.venue, wallet="margin", asset=prev.asset,
                                     free=prev.free, locked=prev.locked,
                                     borrowed=max(0.0, prev.borrowed - (amount - pi)),
                                     interest=prev.interest - pi))

    def _schedule_repay_check(self) -> None:
        if self._repay_check is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:      # fed outside a loop (unit tests): nothing to check later
            return
        self._repay_check = loop.call_later(PROVISIONAL_CHECK_S, self._repay_check_due,
                                            self.repays.generation)

    def _repay_check_due(self, generation: int) -> None:
        self._repay_check = None
        # the venue never confirmed what a fill was counted as repaying: ask the account
        if generation == self.repays.generation and self.repays.outstanding() \
                and self.on_reread is not None:
            self.on_reread()

    def _liability(self, ev: schemas.UserLiabilityChange) -> None:
        verdict = self.liabilities.on_event(ev.E, ev)
        if verdict is Verdict.APPLY:
            self._apply_liability(ev)
        elif ev.t == "REPAY" and verdict is not Verdict.HELD:
            # not applied (the snapshot has it, or a re-read will), but it is the venue's word
            # on a repay a fill may have been counted for: that one is no longer pending
            self.repays.on_repay(ev.a, float(ev.p) + float(ev.i))
        # A borrow is charged its first hour at once (Binance's ON_BORROW): that event is t=BORROW
        # with i > 0, and it is an interest charge like any t=INTEREST accrual. The charge is an
        # event of its own: it counts once whatever a snapshot did to the balance.
        i = float(ev.i)
        if ev.t != "REPAY" and i > 0:
            self.interest_events_seen += 1
            self.hub.interest_charge(InterestCharge(venue=self.venue, asset=ev.a, amount=i,
                                                    ts_ms=ev.E))
        if verdict is Verdict.AMBIGUOUS and self.on_reread is not None:
            self.on_reread()

    def _apply_liability(self, ev: schemas.UserLiabilityChange) -> None:
        hub, venue = self.hub, self.venue
        prev = hub.balances.get((venue, "margin", ev.a))
        borrowed = prev.borrowed if prev else 0.0
        interest = prev.interest if prev else 0.0
        p, i = float(ev.p), float(ev.i)
        if ev.t == "REPAY":
            # A fill may already have taken part of it off (interest first, as the venue does):
            # take off the rest alike. By the total: our split of it may differ from the venue's.
            rest = p + i - self.repays.on_repay(ev.a, p + i)
            ri = min(rest, interest)
            borrowed, interest = max(0.0, borrowed - (rest - ri)), interest - ri
        else:   # BORROW, INTEREST (and any other accrual kind) add to the liability
            borrowed, interest = borrowed + p, interest + i
        if ev.l is not None:
            # the venue's total wins; split it keeping our interest estimate
            total = float(ev.l)
            interest = min(interest, total)
            borrowed = total - interest
        hub.set_balance(Balance(venue=venue, wallet="margin", asset=ev.a,
                                free=prev.free if prev else 0.0,
                                locked=prev.locked if prev else 0.0,
                                borrowed=borrowed, interest=interest))

    # -- snapshots (BinanceVenue.refresh_account drives these around GET margin/account) -------
    def snapshot_begin(self) -> None:
        self.liabilities.begin()

    def snapshot_end(self, t0_ms: int, t1_ms: int | None) -> None:
        """The account snapshot is in the hub; [t0, t1] brackets it on the venue's clock."""
        # absolute figures: repays counted from fills are in them, or their events follow
        self.repays.clear()
        for ev in self.liabilities.end(t0_ms, t1_ms):
            self._apply_liability(ev)
        if self.liabilities.reread_wanted and self.on_reread is not None:
            self.on_reread()

    def snapshot_abort(self) -> None:
        """The snapshot failed before the account was read."""
        for ev in self.liabilities.abort():
            self._apply_liability(ev)
        if self.liabilities.reread_wanted and self.on_reread is not None:
            self.on_reread()

    async def _poll_interest(self) -> None:
        """Fallback when no interest events arrive on the streams (see module docstring)."""
        start_ms = int(time.time() * 1000)
        while True:
            await asyncio.sleep(self.interest_poll_s)
            if self.interest_events_seen:
                continue
            try:
                rows = await self.trading.interest_history(start_ms=start_ms)
            except BinanceError:
                continue
            for r in rows:
                if r.txId in self._seen_interest_tx:
                    continue
                self._seen_interest_tx.add(r.txId)
                self.hub.interest_charge(InterestCharge(venue=self.venue, asset=r.asset,
                                                        amount=float(r.interest),
                                                        ts_ms=r.interestAccuredTime))

    # -- listenToken flow (production) ---------------------------------------------------------
    async def _new_token(self) -> schemas.ListenToken:
        raw = await self.rest.request("POST", self.urls.rest, C.MARGIN_LISTEN_TOKEN,
                                      signed=True, idempotent=True)
        return schemas.LISTEN_TOKEN.decode(raw)

    def _subscribe_msg(self, req_id: int, token: str) -> str:
        return orjson.dumps({"id": req_id, "method": "userDataStream.subscribe.listenToken",
                             "params": {"listenToken": token}}).decode()

    async def _subscribe_token(self, ws: ClientConnection) -> None:
        """on_open: subscribe and wait for the ack, so that `connected` means subscribed and a
        refused token (-1209) reconnects instead of leaving a silent socket."""
        token = await self._new_token()
        req_id = next(self._ids)
        await ws.send(self._subscribe_msg(req_id, token.token))
        async with asyncio.timeout(WS_API_ACK_S):
            while True:
                data = await ws.recv(decode=False)
                resp = schemas.WS_API_RESPONSE.decode(data)
                if resp.id != req_id:
                    self._on_ws_api(data)      # an event (or another ack) before ours
                    continue
                if resp.error is not None or resp.status != 200:
                    err = resp.error
                    raise ConnectionError(f"listenToken subscribe refused: "
                                          f"{err.code if err else resp.status} "
                                          f"{err.msg if err else ''}")
                self._token_expiry_ms = token.expirationTime
                return

    async def _renew_token(self) -> None:
        while True:
            expiry = getattr(self, "_token_expiry_ms", 0)
            wait = max(60.0, (expiry / 1000 - time.time()) - 600) if expiry else 60.0
            await asyncio.sleep(wait)
            if self.margin_ws_api is not None and getattr(self, "_token_expiry_ms", 0):
                # ConnectionClosed is not a ConnectionError: it used to end this task for good
                with contextlib.suppress(BinanceError, ConnectionError, ConnectionClosed):
                    token = await self._new_token()
                    await self.margin_ws_api.send(self._subscribe_msg(next(self._ids),
                                                                      token.token))
                    self._token_expiry_ms = token.expirationTime

    def _on_ws_api(self, data: bytes) -> None:
        try:
            push = schemas.WS_API_EVENT.decode(data)
        except (msgspec.ValidationError, msgspec.DecodeError):
            self._on_ws_api_response(data)
            return
        try:
            ev = self._margin_decode(push.event)
        except (msgspec.ValidationError, msgspec.DecodeError):
            self.unknown_events += 1
            return
        if isinstance(ev, schemas.StreamTerminated) and self.margin_ws_api is not None:
            # the subscription expired (renewal missed or refused): resubscribe on a new socket
            self.margin_ws_api.drop("eventStreamTerminated")
        self._margin_event(ev)

    def _on_ws_api_response(self, data: bytes) -> None:
        """Acks of renewals: a refused one would let the subscription lapse silently."""
        try:
            resp = schemas.WS_API_RESPONSE.decode(data)
        except (msgspec.ValidationError, msgspec.DecodeError):
            self.unknown_events += 1
            return
        if (resp.error is not None or resp.status >= 400) and self.margin_ws_api is not None:
            self.margin_ws_api.drop("ws-api request refused")

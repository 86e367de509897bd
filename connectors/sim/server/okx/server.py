"""One simulated venue in OKX v5's dialect on loopback: REST (`/api/v5/...`, `OK-ACCESS-*`
signing with a passphrase) and websockets (`/ws/v5/public`, `/ws/v5/private` with login) over
the same pure engine as the Binance dialect. Shapes and codes are translated in translate.py.

Auth: `OK-ACCESS-SIGN` = base64 HMAC-SHA256(secret, timestamp + METHOD + path?query + body);
the ISO timestamp must be within 30 s of the wall clock (the engine clock runs `speedup` times
faster, which no client can follow: see server/venue.py); the passphrase of an account is derived
from its secret (`passphrase_for`), and `basisd sim` prints it.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from connectors.okx.signing import iso_to_ms
from connectors.sim.config import ClockMode, SimVenueConfig
from connectors.sim.engine.errors import BinanceError
from connectors.sim.server.okx import translate as T
from connectors.sim.server.venue import make_exchange

_TIMESTAMP_WINDOW_MS = 30_000
_BOOK_DEPTH = 400


def passphrase_for(secret: str) -> str:
    return "Sim" + hashlib.sha256(f"okx-passphrase:{secret}".encode()).hexdigest()[:13]


class OkxApiError(Exception):
    def __init__(self, status: int, code: str, msg: str, data: list[Any] | None = None) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status, self.code, self.msg, self.data = status, code, msg, data or []


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    private: bool
    account: str | None = None
    subs: set[tuple[str, str]] = field(default_factory=set)   # (channel, instId or "")
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(20000))

    def push(self, payload: Any) -> None:
        try:
            self.queue.put_nowait(payload if isinstance(payload, str)
                                  else orjson.dumps(payload).decode())
        except asyncio.QueueFull:
            pass


class OkxVenueServer:
    dialect = "okx"

    def __init__(self, cfg: SimVenueConfig, seed: int, *, clock: ClockMode = "realtime",
                 exchange: Any | None = None) -> None:
        import msgspec
        if clock == "realtime" and cfg.epoch0_ms == 0:
            cfg = msgspec.structs.replace(cfg, epoch0_ms=int(time.time() * 1000))
        self.cfg = cfg
        self.name = cfg.name
        self.clock = clock
        self.exchange = exchange if exchange is not None else make_exchange(cfg, seed)
        self.api_key, self.api_secret = self.exchange.default_account()
        self.passphrase = passphrase_for(self.api_secret)
        self.conns: set[_Conn] = set()
        self.feeds: dict[str, T.BookFeed] = {}
        self._last_marks_s = 0.0
        self._runners: list[web.AppRunner] = []
        self.rest_url = self.spot_ws_url = self.futures_ws_url = ""
        self.ws_api_url = self.margin_risk_ws_url = ""

    # -- specs and accounts --------------------------------------------------------------------
    def spec(self, inst_id: str) -> Any:
        spec = self.exchange.specs.get(T.symbol_of(inst_id))
        if spec is None:
            raise OkxApiError(200, "51001", f"Instrument ID {inst_id} does not exist")
        return spec

    def account_of(self, key: str) -> tuple[str, str] | None:
        acct = self.exchange.account_for_key(key)
        record = self.exchange.accounts.get(acct) if acct is not None else None
        secret = getattr(record, "api_secret", None)
        return (acct, secret) if acct is not None and secret is not None else None

    def authenticate(self, request: web.Request, body: str) -> str:
        h = request.headers
        key, sign, ts = h.get("OK-ACCESS-KEY"), h.get("OK-ACCESS-SIGN"), \
            h.get("OK-ACCESS-TIMESTAMP")
        if not key:
            raise OkxApiError(401, "50103", 'Request header "OK-ACCESS-KEY" cannot be empty.')
        found = self.account_of(key)
        if found is None:
            raise OkxApiError(401, "50111", "Invalid OK-ACCESS-KEY.")
        acct, secret = found
        if h.get("OK-ACCESS-PASSPHRASE") != passphrase_for(secret):
            raise OkxApiError(401, "50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.')
        try:
            ts_ms = iso_to_ms(ts or "")
        except ValueError:
            raise OkxApiError(401, "50112", "Invalid OK-ACCESS-TIMESTAMP.") from None
        if abs(ts_ms - time.time() * 1000) > _TIMESTAMP_WINDOW_MS:
            raise OkxApiError(401, "50102", "Timestamp request expired.")
        path = request.path_qs if request.method == "GET" else request.path
        expected = _sign(secret, f"{ts}{request.method}{path}{body}")
        if not hmac.compare_digest(expected, sign or ""):
            raise OkxApiError(401, "50113", "Invalid Sign.")
        return acct

    # -- REST ------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        body = (await request.read()).decode()
        route = _ROUTES.get((request.method, request.path))
        try:
            if route is None:
                raise OkxApiError(404, "50000", "Not Found")
            fn, signed = route
            acct = self.authenticate(request, body) if signed else None
            params: dict[str, Any] = dict(request.query)
            if body:
                params.update(orjson.loads(body))
            data = fn(self, acct, params)
            self.flush()
            return web.json_response({"code": "0", "msg": "", "data": data})
        except OkxApiError as e:
            self.flush()
            return web.json_response({"code": e.code, "msg": e.msg, "data": e.data},
                                     status=e.status)
        except BinanceError as e:
            self.flush()
            return web.json_response({"code": T.okx_code(e), "msg": e.msg, "data": []})

    # -- events ------------------------------------------------------------------------------------
    def advance(self, dt_s: float) -> None:
        self._on_events(self.exchange.advance(dt_s))
        self.flush()
        self._push_books()
        now = time.monotonic()
        if now - self._last_marks_s >= 1.0:
            self._last_marks_s = now
            self._push_marks()

    def expire_listen_keys(self) -> None:
        """The Binance dialect's listenKey sweep; OKX has none."""

    def flush(self) -> None:
        drain = getattr(self.exchange, "drain_events", None)
        if drain is not None:
            self._on_events(drain())

    def _on_events(self, events: Any) -> None:
        dirty: set[str] = set()
        for key, payload in events or ():
            if not key.startswith("user:"):
                continue
            acct = key.split(":")[1]
            dirty.add(acct)
            sym = payload.get("s") or payload.get("o", {}).get("s") if isinstance(payload, dict) \
                else None
            spec = self.exchange.specs.get(sym) if sym else None
            if spec is None:
                continue
            order = T.order_from_event(payload, spec)
            if order is not None:
                self._push_private(acct, "orders", {"arg": {"channel": "orders",
                                                            "instType": "ANY"},
                                                    "data": [order]})
        for acct in dirty:
            self._push_private(acct, "account", {"arg": {"channel": "account"},
                                                 "data": [self._account(acct)]})
            self._push_private(acct, "positions", {"arg": {"channel": "positions",
                                                           "instType": "ANY"},
                                                   "data": self._positions(acct, all_rows=True)})

    def _push_private(self, acct: str, channel: str, msg: dict[str, Any]) -> None:
        for conn in self.conns:
            if conn.private and conn.account == acct and (channel, "") in conn.subs:
                conn.push(msg)

    def _levels(self, inst: str) -> tuple[Any, Any, T.BookFeed]:
        spec = self.spec(inst)
        swap = T.is_swap(inst)
        st = self.exchange.state
        book = (st.fut_books if swap else st.spot_books)[spec.symbol]
        feed = self.feeds.get(inst)
        if feed is None:
            feed = self.feeds[inst] = T.BookFeed(
                inst, spec.perp_tick if swap else spec.spot_tick,
                spec.perp_step if swap else spec.spot_step, contracts=swap, depth=_BOOK_DEPTH)
        return book.sorted_bids(_BOOK_DEPTH), book.sorted_asks(_BOOK_DEPTH), feed

    def _push_books(self) -> None:
        now = self.exchange.now_ms()
        for inst, feed in self.feeds.items():
            subs = [c for c in self.conns if ("books", inst) in c.subs]
            if not subs:
                continue
            bids, asks, _ = self._levels(inst)
            msg = feed.update(bids, asks, now)
            if msg is not None:
                text = orjson.dumps(msg).decode()
                for c in subs:
                    c.push(text)

    def _book_snapshot(self, inst: str) -> dict[str, Any]:
        bids, asks, feed = self._levels(inst)
        now = self.exchange.now_ms()
        if not feed.bids and not feed.asks:
            feed.snapshot(bids, asks, now)
        else:       # bring the shared feed up to date for its current subscribers first
            msg = feed.update(bids, asks, now)
            if msg is not None:
                for c in self.conns:
                    if ("books", inst) in c.subs:
                        c.push(msg)
        return feed.current(now)

    def _funding_row(self, inst: str) -> dict[str, str]:
        spec = self.spec(inst)
        pi = self.exchange.premium_index(spec.symbol)
        nxt = int(pi["nextFundingTime"])
        interval = int(spec.funding_interval_h) * 3_600_000
        return {"instId": T.swap_id(spec), "instType": "SWAP",
                "fundingRate": T.dec_text(pi["lastFundingRate"]), "fundingTime": str(nxt),
                "nextFundingRate": "", "nextFundingTime": str(nxt + interval),
                "ts": str(self.exchange.now_ms())}

    def _mark_message(self, channel: str, inst: str) -> dict[str, Any]:
        spec = self.spec(inst)
        pi = self.exchange.premium_index(spec.symbol)
        now = str(self.exchange.now_ms())
        if channel == "funding-rate":
            data = [self._funding_row(inst)]
        elif channel == "mark-price":
            data = [{"instId": inst, "instType": "SWAP",
                     "markPx": T.dec_text(pi["markPrice"]), "ts": now}]
        else:
            data = [{"instId": inst, "idxPx": T.dec_text(pi["indexPrice"]), "ts": now}]
        return {"arg": {"channel": channel, "instId": inst}, "data": data}

    def _push_marks(self) -> None:
        for conn in self.conns:
            for channel, inst in conn.subs:
                if channel in ("funding-rate", "mark-price", "index-tickers"):
                    conn.push(self._mark_message(channel, inst))

    # -- account views ---------------------------------------------------------------------------
    def _account(self, acct: str) -> dict[str, Any]:
        ex = self.exchange
        margin = ex.margin_account(acct)
        details = T.balance_details(margin, ex.futures_account(acct))
        return {"details": details, "totalEq": margin.get("TotalCollateralValueInUSDT", ""),
                "mgnRatio": margin.get("marginLevel", ""), "uTime": str(ex.now_ms())}

    def _positions(self, acct: str, all_rows: bool = False) -> list[dict[str, str]]:
        rows = []
        for p in self.exchange.futures_position_risk(acct):
            spec = self.exchange.specs[p["symbol"]]
            if all_rows or Decimal(str(p["positionAmt"])) != 0:
                rows.append(T.position_row(p, spec))
        return rows

    # -- websockets ------------------------------------------------------------------------------
    async def ws_handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, autoping=True)
        await ws.prepare(request)
        conn = _Conn(ws=ws, private=request.path.endswith("/private"))
        self.conns.add(conn)
        writer = asyncio.create_task(_writer(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_ws_text(conn, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.conns.discard(conn)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        return ws

    def _on_ws_text(self, conn: _Conn, text: str) -> None:
        if text == "ping":
            conn.push("pong")
            return
        try:
            req = orjson.loads(text)
            op, args = req["op"], req.get("args", [])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            conn.push({"event": "error", "code": "60012", "msg": f"Invalid request: {text}"})
            return
        if op == "login":
            conn.push(self._login(conn, args))
            return
        for arg in args:
            channel, inst = arg.get("channel", ""), arg.get("instId", "")
            if conn.private and conn.account is None:
                conn.push({"event": "error", "code": "60011", "msg": "Please log in"})
                return
            key = (channel, inst if not conn.private else "")
            if op == "unsubscribe":
                conn.subs.discard(key)
                conn.push({"event": "unsubscribe", "arg": arg})
                continue
            try:
                first = self._first_message(conn, channel, inst)
            except OkxApiError as e:
                conn.push({"event": "error", "code": "60018", "msg": e.msg})
                continue
            conn.subs.add(key)
            conn.push({"event": "subscribe", "arg": arg})
            if first is not None:
                conn.push(first)

    def _first_message(self, conn: _Conn, channel: str, inst: str) -> dict[str, Any] | None:
        if channel == "books":
            return self._book_snapshot(inst)
        if channel in ("funding-rate", "mark-price", "index-tickers"):
            return self._mark_message(channel, inst)
        if channel in ("orders", "positions", "account", "balance_and_position"):
            if conn.account is None:
                raise OkxApiError(200, "60011", "Please log in")
            if channel == "account":
                return {"arg": {"channel": "account"}, "data": [self._account(conn.account)]}
            if channel == "positions":
                return {"arg": {"channel": "positions", "instType": "ANY"},
                        "data": self._positions(conn.account)}
            return None
        raise OkxApiError(200, "60018", f"Wrong URL or channel:{channel} doesn't exist.")

    def _login(self, conn: _Conn, args: list[dict[str, str]]) -> dict[str, Any]:
        a = args[0] if args else {}
        found = self.account_of(a.get("apiKey", ""))
        if found is None:
            return {"event": "error", "code": "60005", "msg": "Invalid apiKey"}
        acct, secret = found
        if a.get("passphrase") != passphrase_for(secret):
            return {"event": "error", "code": "60024", "msg": "Wrong passphrase"}
        ts = a.get("timestamp", "")
        if not ts.isdigit() or abs(int(ts) - time.time()) > 30:
            return {"event": "error", "code": "60006", "msg": "Timestamp request expired"}
        if not hmac.compare_digest(_sign(secret, f"{ts}GET/users/self/verify"),
                                   a.get("sign", "")):
            return {"event": "error", "code": "60007", "msg": "Invalid sign"}
        conn.account = acct
        return {"event": "login", "code": "0", "msg": "", "connId": f"sim{id(conn) % 10**8}"}

    # -- lifecycle -------------------------------------------------------------------------------
    async def _serve(self, app: web.Application, port: int) -> int:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, self.cfg.host, port).start()
        self._runners.append(runner)
        return int(runner.addresses[-1][1])

    async def start(self) -> None:
        rest = web.Application(client_max_size=1 << 20)
        rest.router.add_route("*", "/api/v5/{tail:.*}", self.handle)
        ws = web.Application()
        ws.router.add_get("/ws/v5/public", self.ws_handler)
        ws.router.add_get("/ws/v5/private", self.ws_handler)
        host = self.cfg.host
        self.rest_url = f"http://{host}:{await self._serve(rest, self.cfg.rest_port)}"
        ws_port = await self._serve(ws, self.cfg.spot_ws_port)
        self.spot_ws_url = self.futures_ws_url = f"ws://{host}:{ws_port}"

    async def stop(self) -> None:
        for conn in list(self.conns):
            if conn.ws._req is not None and conn.ws._req.transport is not None:
                conn.ws._req.transport.abort()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()


async def _writer(conn: _Conn) -> None:
    while True:
        text = await conn.queue.get()
        if conn.ws.closed:
            return
        await conn.ws.send_str(text)


def _sign(secret: str, prehash: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), prehash.encode(),
                                     hashlib.sha256).digest()).decode()


# -- endpoints ----------------------------------------------------------------------------------------
def _time(v: OkxVenueServer, acct: str | None, p: dict[str, Any]) -> list[dict[str, str]]:
    return [{"ts": str(v.exchange.now_ms())}]


def _instruments(v: OkxVenueServer, acct: str | None, p: dict[str, Any]) -> list[Any]:
    return T.instrument_rows(list(v.exchange.specs.values()), str(p.get("instType", "")))


def _funding_rate(v: OkxVenueServer, acct: str | None, p: dict[str, Any]) -> list[Any]:
    return [v._funding_row(str(p.get("instId", "")))]


def _new_order(v: OkxVenueServer, acct: str | None, p: dict[str, Any]) -> list[Any]:
    assert acct is not None
    spec = v.spec(str(p.get("instId", "")))
    market, params = T.engine_order_params(p, spec)
    cl = str(p.get("clOrdId", ""))
    try:
        if market == "futures":
            resp = v.exchange.futures_new_order(acct, params)
        else:
            resp = v.exchange.margin_new_order(acct, params)
    except BinanceError as e:
        raise OkxApiError(200, "1", "All operations failed",
                          [{"clOrdId": cl, "ordId": "", "sCode": T.okx_code(e),
                            "sMsg": e.msg, "tag": ""}]) from None
    return [{"clOrdId": cl, "ordId": str(resp.get("orderId", "")), "sCode": "0", "sMsg": "",
             "tag": "", "ts": str(v.exchange.now_ms())}]


def _order_params(v: OkxVenueServer, p: dict[str, Any]) -> tuple[Any, bool, dict[str, str]]:
    inst = str(p.get("instId", ""))
    spec = v.spec(inst)
    q = {"symbol": spec.symbol}
    if p.get("clOrdId"):
        q["origClientOrderId"] = str(p["clOrdId"])
    elif p.get("ordId"):
        q["orderId"] = str(p["ordId"])
    return spec, T.is_swap(inst), q


def _get_order(v: OkxVenueServer, acct: str | None, p: dict[str, Any]) -> list[Any]:
    spec, swap, q = _order_params(v, p)
    try:
        view = (v.exchange.futures_get_order if swap else v.exchange.margin_get_order)(acct, q)
    except BinanceError as e:
        if e.code == -2013:
            raise OkxApiError(200, "51603", "Order does not exist") from None
        raise
    return [T.okx_order(view, spec, swap)]


def _cancel(v: OkxVenueServer, acct: str | None, p: dict[str, Any]) -> list[Any]:
    spec, swap, q = _order_params(v, p)
    cl = str(p.get("clOrdId", ""))
    try:
        resp = (v.exchange.futures_cancel_order if swap else v.exchange.margin_cancel_order)(
            acct, q)
    except BinanceError as e:
        code = "51603" if e.code == -2013 else "51400"
        try:      # a known order that is already final: OKX's "already filled or canceled"
            (v.exchange.futures_get_order if swap else v.exchange.margin_get_order)(acct, q)
        except BinanceError:
            code = "51603"
        raise OkxApiError(200, "1", "All operations failed",
                          [{"clOrdId": cl, "ordId": "", "sCode": code, "sMsg": e.msg}]) from None
    return [{"clOrdId": cl, "ordId": str(resp.get("orderId", "")), "sCode": "0", "sMsg": ""}]


def _orders_list(pending: bool) -> Any:
    def call(v: OkxVenueServer, acct: str | None, p: dict[str, Any]) -> list[Any]:
        inst = str(p.get("instId", ""))
        spec = v.spec(inst)
        swap = T.is_swap(inst)
        ex = v.exchange
        fn = ((ex.futures_open_orders if pending else ex.futures_all_orders) if swap
              else (ex.margin_open_orders if pending else ex.margin_all_orders))
        return [T.okx_order(row, spec, swap) for row in fn(acct, {"symbol": spec.symbol})]
    return call


def _balance(v: OkxVenueServer, acct: str | None, p: dict[str, Any]) -> list[Any]:
    assert acct is not None
    return [v._account(acct)]


def _positions(v: OkxVenueServer, acct: str | None, p: dict[str, Any]) -> list[Any]:
    assert acct is not None
    return v._positions(acct)


def _interest_rate(v: OkxVenueServer, acct: str | None, p: dict[str, Any]) -> list[Any]:
    assets = [str(p["ccy"])] if p.get("ccy") else sorted(v.exchange.assets)
    rows = v.exchange.margin_next_hourly_interest_rate(acct, {"assets": ",".join(assets)})
    return [{"ccy": r["asset"], "interestRate": r["nextHourlyInterestRate"]} for r in rows]


def _max_loan(v: OkxVenueServer, acct: str | None, p: dict[str, Any]) -> list[Any]:
    assert acct is not None
    if p.get("instId"):
        spec = v.spec(str(p["instId"]))
        ccys = [(spec.base, "sell"), (spec.quote, "buy")]
        inst = T.spot_id(spec)
    else:
        ccys, inst = [(str(p.get("ccy", "")), "")], ""
    out = []
    for ccy, side in ccys:
        r = v.exchange.margin_max_borrowable(acct, {"asset": ccy})
        out.append({"instId": inst, "mgnMode": "cross", "mgnCcy": "", "ccy": ccy,
                    "maxLoan": T.dec_text(r["amount"]), "side": side})
    return out


def _set_leverage(v: OkxVenueServer, acct: str | None, p: dict[str, Any]) -> list[Any]:
    spec = v.spec(str(p.get("instId", "")))
    v.exchange.futures_change_leverage(acct, {"symbol": spec.symbol,
                                              "leverage": str(p.get("lever", ""))})
    return [{"instId": T.swap_id(spec), "lever": str(p.get("lever", "")), "mgnMode": "cross",
             "posSide": "net"}]


def _borrow_repay(v: OkxVenueServer, acct: str | None, p: dict[str, Any]) -> list[Any]:
    kind = "BORROW" if p.get("side") == "borrow" else "REPAY"
    v.exchange.margin_borrow_repay(acct, {"asset": str(p.get("ccy", "")),
                                          "amount": str(p.get("amt", "")), "type": kind})
    return [{"ccy": p.get("ccy", ""), "side": p.get("side", ""), "amt": p.get("amt", "")}]


_ROUTES: dict[tuple[str, str], tuple[Any, bool]] = {
    ("GET", "/api/v5/public/time"): (_time, False),
    ("GET", "/api/v5/public/instruments"): (_instruments, False),
    ("GET", "/api/v5/public/funding-rate"): (_funding_rate, False),
    ("POST", "/api/v5/trade/order"): (_new_order, True),
    ("GET", "/api/v5/trade/order"): (_get_order, True),
    ("POST", "/api/v5/trade/cancel-order"): (_cancel, True),
    ("GET", "/api/v5/trade/orders-pending"): (_orders_list(True), True),
    ("GET", "/api/v5/trade/orders-history"): (_orders_list(False), True),
    ("GET", "/api/v5/account/balance"): (_balance, True),
    ("GET", "/api/v5/account/positions"): (_positions, True),
    ("GET", "/api/v5/account/interest-rate"): (_interest_rate, True),
    ("GET", "/api/v5/account/max-loan"): (_max_loan, True),
    ("POST", "/api/v5/account/set-leverage"): (_set_leverage, True),
    ("POST", "/api/v5/account/spot-manual-borrow-repay"): (_borrow_repay, True),
}

"""The pure edge between OKX v5 shapes and the Binance-shaped engine facade.

- Instruments: spot "BTC-USDT" and linear swap "BTC-USDT-SWAP" per engine symbol "BTCUSDT";
  a swap contract is one engine lot (`ctVal` = the perp step), so contract sizes are integers.
- Orders: OKX `tdMode=cross` spot orders borrow what a sell needs and repay from a buy
  (engine sideEffectType AUTO_BORROW_REPAY); post_only is LIMIT_MAKER (spot) / GTX (swap).
- Errors: engine (Binance) codes become OKX codes (`sCode` of the order item).
- Books: `BookFeed` turns the engine's book into OKX `books` messages: a snapshot, then updates
  with seqId/prevSeqId and the checksum of the top 25 levels as sent.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.okx.sync import checksum_of_levels
from connectors.sim.engine.errors import BinanceError
from connectors.sim.engine.params import SymbolSpec

Levels = list[tuple[int, int]]

# engine (Binance) error code -> OKX sCode
_CODES = {-2010: "51008", -2019: "51008", -3045: "59311", -3006: "51008", -1013: "51121",
          -2013: "51603", -2011: "51400", -1102: "51000", -1100: "51000", -1121: "51001",
          -1111: "51121"}


def okx_code(exc: BinanceError) -> str:
    if exc.code == -2010 and "immediately match" in exc.msg:
        return "51019"
    if exc.code == -2010 and "Duplicate" in exc.msg:
        return "51016"
    return _CODES.get(exc.code, "51000")


def dec_text(x: Decimal | str) -> str:
    d = Decimal(x).normalize()
    text = format(d, "f")
    return text if text not in ("-0", "") else "0"


def spot_id(spec: SymbolSpec) -> str:
    return f"{spec.base}-{spec.quote}"


def swap_id(spec: SymbolSpec) -> str:
    return f"{spec.base}-{spec.quote}-SWAP"


def symbol_of(inst_id: str) -> str:
    parts = inst_id.split("-")
    return parts[0] + parts[1] if len(parts) >= 2 else inst_id


def is_swap(inst_id: str) -> bool:
    return inst_id.endswith("-SWAP")


def instrument_rows(specs: list[SymbolSpec], inst_type: str) -> list[dict[str, str]]:
    rows = []
    for s in specs:
        if inst_type == "SPOT":
            rows.append({"instId": spot_id(s), "instType": "SPOT", "baseCcy": s.base,
                         "quoteCcy": s.quote, "tickSz": dec_text(s.spot_tick),
                         "lotSz": dec_text(s.spot_step), "minSz": dec_text(s.spot_step),
                         "ctVal": "", "ctType": "", "settleCcy": "", "state": "live"})
        elif inst_type == "SWAP":
            rows.append({"instId": swap_id(s), "instType": "SWAP", "ctType": "linear",
                         "ctVal": dec_text(s.perp_step), "ctValCcy": s.base, "ctMult": "1",
                         "settleCcy": s.quote, "uly": spot_id(s), "tickSz": dec_text(s.perp_tick),
                         "lotSz": "1", "minSz": "1", "baseCcy": "", "quoteCcy": "",
                         "state": "live"})
    return rows


# -- orders ----------------------------------------------------------------------------------------
def engine_order_params(body: dict[str, Any], spec: SymbolSpec) -> tuple[str, dict[str, str]]:
    """OKX order body -> ("spot" | "futures", engine params)."""
    inst = str(body.get("instId", ""))
    ord_type = str(body.get("ordType", ""))
    side = str(body.get("side", "")).upper()
    swap = is_swap(inst)
    sz = Decimal(str(body.get("sz") or "0"))
    qty = sz * spec.perp_step if swap else sz
    params = {"symbol": spec.symbol, "side": side, "quantity": dec_text(qty),
              "newClientOrderId": str(body.get("clOrdId", ""))}
    if ord_type == "market":
        params["type"] = "MARKET"
    elif ord_type == "post_only":
        if swap:
            params.update(type="LIMIT", timeInForce="GTX")
        else:
            params["type"] = "LIMIT_MAKER"
    else:
        params.update(type="LIMIT", timeInForce={"ioc": "IOC", "fok": "FOK"}.get(ord_type, "GTC"))
    if params["type"] != "MARKET":
        params["price"] = str(body.get("px", "0"))
    if swap:
        if str(body.get("reduceOnly", "false")).lower() == "true":
            params["reduceOnly"] = "true"
        return "futures", params
    params["sideEffectType"] = "AUTO_BORROW_REPAY"
    params["newOrderRespType"] = "RESULT"
    return "spot", params


_STATES = {"NEW": "live", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled",
           "CANCELED": "canceled", "EXPIRED": "canceled", "REJECTED": "canceled",
           "EXPIRED_IN_MATCH": "canceled"}
_TYPES = {"MARKET": "market", "LIMIT_MAKER": "post_only"}


def _ord_type(binance_type: str, tif: str) -> str:
    if tif == "GTX":
        return "post_only"
    if binance_type == "LIMIT":
        return {"IOC": "ioc", "FOK": "fok"}.get(tif, "limit")
    return _TYPES.get(binance_type, "limit")


def okx_order(view: dict[str, Any], spec: SymbolSpec, swap: bool, *, c_time: int = 0,
              last: tuple[str, str, str, str] | None = None) -> dict[str, str]:
    """An engine order view (margin_get_order / futures_get_order) in OKX's order shape;
    `last` = (fillSz coins, fillPx, tradeId, fillFee) of the fill that caused a push."""
    ct = spec.perp_step if swap else Decimal(1)
    executed = Decimal(str(view.get("executedQty", "0")))
    if swap:
        avg = Decimal(str(view.get("avgPrice") or "0"))
    else:
        cum = Decimal(str(view.get("cummulativeQuoteQty", "0")))
        avg = cum / executed if executed else Decimal(0)
    out = {"instId": swap_id(spec) if swap else spot_id(spec),
           "instType": "SWAP" if swap else "SPOT", "ordId": str(view.get("orderId", "")),
           "clOrdId": str(view.get("clientOrderId", "")),
           "side": str(view.get("side", "")).lower(),
           "ordType": _ord_type(str(view.get("type", "")), str(view.get("timeInForce", ""))),
           "state": _STATES.get(str(view.get("status", "")), "live"),
           "sz": dec_text(Decimal(str(view.get("origQty", "0"))) / ct),
           "px": dec_text(str(view.get("price", "0"))),
           "accFillSz": dec_text(executed / ct), "avgPx": dec_text(avg) if executed else "",
           "tdMode": "cross", "reduceOnly": "true" if view.get("reduceOnly") else "false",
           "cTime": str(view.get("time") or view.get("transactTime") or c_time),
           "uTime": str(view.get("updateTime") or c_time), "fillSz": "", "fillPx": "",
           "tradeId": "", "fillFee": "", "fillFeeCcy": "", "feeCcy": spec.quote}
    if last is not None:
        out.update(fillSz=dec_text(Decimal(last[0]) / ct), fillPx=dec_text(last[1]),
                   tradeId=last[2], fillFee=dec_text(-Decimal(last[3])), fillFeeCcy=spec.quote)
    return out


def order_from_event(ev: dict[str, Any], spec: SymbolSpec) -> dict[str, str] | None:
    """An engine user event (executionReport, ORDER_TRADE_UPDATE) as an OKX `orders` push."""
    if ev.get("e") == "executionReport":
        view = {"orderId": ev["i"], "clientOrderId": ev["c"], "side": ev["S"], "type": ev["o"],
                "timeInForce": ev["f"], "status": ev["X"], "origQty": ev["q"], "price": ev["p"],
                "executedQty": ev["z"], "cummulativeQuoteQty": ev["Z"], "time": ev["O"],
                "updateTime": ev["E"]}
        last = (ev["l"], ev["L"], str(ev["t"]), ev["n"]) if Decimal(ev["l"]) > 0 else None
        return okx_order(view, spec, False, last=last)
    if ev.get("e") == "ORDER_TRADE_UPDATE":
        o = ev["o"]
        view = {"orderId": o["i"], "clientOrderId": o["c"], "side": o["S"], "type": o["o"],
                "timeInForce": o["f"], "status": o["X"], "origQty": o["q"], "price": o["p"],
                "executedQty": o["z"], "avgPrice": o["ap"], "reduceOnly": o["R"],
                "time": ev["E"], "updateTime": ev["E"]}
        last = (o["l"], o["L"], str(o["t"]), o["n"]) if Decimal(o["l"]) > 0 else None
        return okx_order(view, spec, True, last=last)
    return None


# -- account ----------------------------------------------------------------------------------------
def balance_details(margin: dict[str, Any], futures: dict[str, Any]) -> list[dict[str, str]]:
    """One OKX cross account from the engine's two wallets: per currency the margin wallet, and
    the USD-M wallet's USDT added to USDT (OKX holds one account for spot, margin and swaps)."""
    fut_usdt = {"wallet": Decimal(0), "avail": Decimal(0)}
    for a in futures.get("assets", []):
        if a.get("asset") == "USDT":
            fut_usdt = {"wallet": Decimal(str(a.get("walletBalance", "0"))),
                        "avail": Decimal(str(a.get("availableBalance", "0")))}
    out = []
    for row in margin.get("userAssets", []):
        free, locked = Decimal(row["free"]), Decimal(row["locked"])
        borrowed, interest = Decimal(row["borrowed"]), Decimal(row["interest"])
        cash, avail = free + locked - borrowed - interest, free
        if row["asset"] == "USDT":
            cash += fut_usdt["wallet"]
            avail += fut_usdt["avail"]
        out.append({"ccy": row["asset"], "cashBal": dec_text(cash), "availBal": dec_text(avail),
                    "frozenBal": dec_text(locked), "eq": dec_text(cash),
                    "liab": dec_text(borrowed + interest), "interest": dec_text(interest),
                    "crossLiab": dec_text(borrowed + interest)})
    return out


def position_row(p: dict[str, Any], spec: SymbolSpec) -> dict[str, str]:
    return {"instId": swap_id(spec), "instType": "SWAP", "mgnMode": "cross", "posSide": "net",
            "pos": dec_text(Decimal(str(p["positionAmt"])) / spec.perp_step),
            "avgPx": dec_text(str(p["entryPrice"])), "liqPx": dec_text(str(p["liquidationPrice"])),
            "lever": str(p["leverage"]), "upl": dec_text(str(p["unRealizedProfit"])),
            "uTime": str(p.get("updateTime", 0))}


# -- books -------------------------------------------------------------------------------------------
class BookFeed:
    """One instrument's `books` stream: the engine book's levels as OKX text, diffed per step."""

    def __init__(self, inst_id: str, tick: Decimal, step: Decimal, contracts: bool,
                 depth: int = 400) -> None:
        self.inst_id = inst_id
        self.tick, self.step, self.contracts = tick, step, contracts
        self.depth = depth
        self.seq = 1000
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}

    def _fmt(self, levels: Levels) -> dict[str, str]:
        return {dec_text(p * self.tick): (str(q) if self.contracts else dec_text(q * self.step))
                for p, q in levels[:self.depth]}

    @staticmethod
    def _rows(side: dict[str, str], reverse: bool) -> list[list[str]]:
        return [[p, s, "0", "1"] for p, s in sorted(side.items(), key=lambda kv: Decimal(kv[0]),
                                                    reverse=reverse)]

    def snapshot(self, bids: Levels, asks: Levels, ts_ms: int) -> dict[str, Any]:
        self.bids, self.asks = self._fmt(bids), self._fmt(asks)
        self.seq += 1
        b, a = self._rows(self.bids, True), self._rows(self.asks, False)
        return self._message("snapshot", b, a, b, a, -1, ts_ms)

    def current(self, ts_ms: int) -> dict[str, Any]:
        """The book as a snapshot at the current seqId (a new subscriber's first message)."""
        b, a = self._rows(self.bids, True), self._rows(self.asks, False)
        return self._message("snapshot", b, a, b, a, -1, ts_ms)

    def update(self, bids: Levels, asks: Levels, ts_ms: int) -> dict[str, Any] | None:
        new_b, new_a = self._fmt(bids), self._fmt(asks)
        db = _diff(self.bids, new_b)
        da = _diff(self.asks, new_a)
        if not db and not da:
            return None
        self.bids, self.asks = new_b, new_a
        prev = self.seq
        self.seq += 1
        return self._message("update", db, da, self._rows(new_b, True),
                             self._rows(new_a, False), prev, ts_ms)

    def _message(self, action: str, bids: list[list[str]], asks: list[list[str]],
                 full_b: list[list[str]], full_a: list[list[str]], prev: int,
                 ts_ms: int) -> dict[str, Any]:
        return {"arg": {"channel": "books", "instId": self.inst_id}, "action": action,
                "data": [{"asks": asks, "bids": bids, "ts": str(ts_ms),
                          "checksum": checksum_of_levels(full_b, full_a), "seqId": self.seq,
                          "prevSeqId": prev}]}


def _diff(old: dict[str, str], new: dict[str, str]) -> list[list[str]]:
    out = [[p, s, "0", "1"] for p, s in new.items() if old.get(p) != s]
    out += [[p, "0", "0", "0"] for p in old if p not in new]
    return out

"""Venue errors exactly as Binance reports them: HTTP status + code + message."""
from __future__ import annotations


class BinanceError(Exception):
    """Raised by every facade call that Binance would answer with {"code": ..., "msg": ...}."""

    def __init__(self, http_status: int, code: int, msg: str) -> None:
        super().__init__(f"{http_status} {code} {msg}")
        self.http_status = http_status
        self.code = code
        self.msg = msg

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


# Binance's own wording; clients match on the code, humans on the text.
MESSAGES: dict[int, str] = {
    -1013: "Filter failure: LOT_SIZE",
    -1100: "Illegal characters found in a parameter.",
    -1102: "Mandatory parameter '{}' was not sent, was empty/null, or malformed.",
    -1106: "Parameter '{}' sent when not required.",
    -1111: "Precision is over the maximum defined for this asset.",
    -1115: "Invalid timeInForce.",
    -1116: "Invalid orderType.",
    -1117: "Invalid side.",
    -1121: "Invalid symbol.",
    -2010: "Account has insufficient balance for requested action.",
    -2011: "Unknown order sent.",
    -2013: "Order does not exist.",
    -2019: "Margin is insufficient.",
    -2021: "Order would immediately trigger.",
    -2022: "ReduceOnly Order is rejected.",
    -2027: "Exceeded the maximum allowable position at current leverage.",
    -3006: "Your borrow amount has exceed maximum borrow amount.",
    -3015: "Repay amount exceeds borrow amount.",
    -3020: "Transfer out amount exceeds max amount.",
    -3041: "Balance is not enough",
    -3045: "The system does not have enough asset now.",
    -4003: "Quantity less than or equal to zero.",
    -4028: "Leverage {} is not valid",
    -4164: "Order's notional must be no smaller than {} (unless you choose reduce only).",
    -5013: "Asset transfer failed: insufficient balance",
    -5022: "Due to the order could not be executed as maker, the Post Only order will be "
    "rejected. The order will not be recorded in the order history",
}


def err(code: int, *fmt: object, http_status: int = 400, msg: str | None = None) -> BinanceError:
    text = msg if msg is not None else MESSAGES.get(code, "Unknown error.")
    if fmt:
        text = text.format(*fmt)
    return BinanceError(http_status, code, text)


def missing(param: str) -> BinanceError:
    return err(-1102, param)

"""Looking up an account's orders, as both markets' query and cancel endpoints do."""
from __future__ import annotations

from connectors.sim.engine.errors import BinanceError, err
from connectors.sim.engine.state import Order
from connectors.sim.engine.venue_state import VenueState


def find_order(st: VenueState, acct: str, market: str, params: dict[str, str]) -> Order:
    """The order named by orderId or origClientOrderId (-2013 when it is not this symbol's)."""
    a = st.acct(acct)
    sym = st.spec(params.get("symbol")).symbol
    oid, cid = params.get("orderId"), params.get("origClientOrderId")
    if not oid and not cid:
        raise BinanceError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be "
                           "sent, but both were empty/null!")
    found = None
    if oid:
        try:
            found = a.orders.get(int(oid))
        except ValueError:
            raise err(-1102, "orderId") from None
    else:
        for o in reversed(a.orders.values()):  # latest wins: client ids may be reused
            if o.client_id == cid and o.market == market:
                found = o
                break
    if found is None or found.market != market or found.symbol != sym:
        raise err(-2013)
    return found


def find_open_order(st: VenueState, acct: str, market: str, params: dict[str, str]) -> Order:
    """The order a cancel names: -2011 when it is unknown or no longer open."""
    try:
        o = find_order(st, acct, market, params)
    except BinanceError as e:
        if e.code == -2013:
            raise err(-2011) from None
        raise
    if not o.is_open:
        raise err(-2011)
    return o


def orders_of(st: VenueState, acct: str, market: str, symbol: str | None, *,
              open_only: bool) -> list[Order]:
    """The account's orders of one market, as openOrders (symbol optional, open only) and
    allOrders (symbol required: -1102 without it) list them."""
    sym = st.spec(symbol).symbol if symbol or not open_only else None
    return [o for o in st.acct(acct).orders.values()
            if o.market == market and (not open_only or o.is_open)
            and (sym is None or o.symbol == sym)]

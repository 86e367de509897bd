"""User-stream events -> hub, fed as raw frames (the exact bytes Binance documents)."""
from __future__ import annotations

from connectors.binance.trading import BinanceTrading
from connectors.binance.config import BinanceUrls
from connectors.binance.user_stream import BinanceUserStreams
from connectors.binance.rest import BINANCE
from connectors.transport.rest import RestSession
from connectors.types import PerpPosition
from daemon.hub import Hub


def streams() -> tuple[BinanceUserStreams, Hub]:
    hub = Hub()
    urls = BinanceUrls.for_sim("http://127.0.0.1:1", "ws://127.0.0.1:1", "ws://127.0.0.1:1")
    rest = RestSession(BINANCE)
    return BinanceUserStreams(hub, "b", rest, urls, BinanceTrading(hub, "b", rest, urls)), hub


def test_futures_fill_and_funding_fee() -> None:
    us, hub = streams()
    us._on_futures(b'{"e":"ORDER_TRADE_UPDATE","E":1,"T":2,"o":{"s":"BTCUSDT","c":"cid1","S":"BUY",'
                   b'"o":"MARKET","f":"GTC","q":"0.010","p":"0","ap":"30000.5","sp":"0","x":"TRADE",'
                   b'"X":"FILLED","i":77,"l":"0.010","z":"0.010","L":"30000.5","N":"USDT",'
                   b'"n":"0.12","T":2,"t":9,"R":false}}')
    o = hub.orders[("b", "cid1")]
    assert (o.status, o.filled_qty, o.avg_price, o.fee, o.fee_asset, o.trade_id) == \
        ("FILLED", 0.01, 30000.5, 0.12, "USDT", 9)
    hub.set_position(PerpPosition(venue="b", symbol="BTCUSDT", qty=0.01))
    us._on_futures(b'{"e":"ACCOUNT_UPDATE","E":5,"T":4,"a":{"m":"FUNDING_FEE","B":[{"a":"USDT",'
                   b'"wb":"999.5","cw":"999.5","bc":"-0.5"}],"P":[]}}')
    fee = hub.funding_fees[-1]
    assert (fee.symbol, fee.asset, fee.amount, fee.ts_ms) == ("BTCUSDT", "USDT", -0.5, 4)
    assert hub.balances[("b", "futures", "USDT")].free == 999.5


def test_margin_cancel_uses_original_client_id_and_liabilities_accumulate() -> None:
    us, hub = streams()
    us._on_margin(b'{"e":"executionReport","E":1,"s":"BTCUSDT","c":"web_new","S":"SELL","o":"LIMIT",'
                  b'"f":"GTC","q":"1.0","p":"10.0","P":"0","F":"0","g":-1,"C":"bd-orig","x":"CANCELED",'
                  b'"X":"CANCELED","r":"NONE","i":5,"l":"0","z":"0","L":"0","n":"0","N":null,"T":3,'
                  b'"t":-1,"I":1,"w":false,"m":false,"M":false,"O":1,"Z":"0","Y":"0","Q":"0"}')
    assert hub.orders[("b", "bd-orig")].status == "CANCELED"
    us._on_margin(b'{"e":"USER_LIABILITY_CHANGE","E":1,"a":"BTC","t":"BORROW","p":"0.5","i":"0"}')
    us._on_margin(b'{"e":"USER_LIABILITY_CHANGE","E":2,"a":"BTC","t":"INTEREST","p":"0",'
                  b'"i":"0.001"}')
    bal = hub.balances[("b", "margin", "BTC")]
    assert (bal.borrowed, bal.interest) == (0.5, 0.001)
    assert hub.interest_charges[-1].amount == 0.001
    us._on_margin(b'{"e":"outboundAccountPosition","E":3,"u":3,"B":[{"a":"BTC","f":"0.2",'
                  b'"l":"0"}]}')
    bal = hub.balances[("b", "margin", "BTC")]
    assert (bal.free, bal.borrowed, bal.interest) == (0.2, 0.5, 0.001)   # liabilities kept
    us._on_margin(b'{"e":"USER_LIABILITY_CHANGE","E":4,"a":"BTC","t":"REPAY","p":"0.5",'
                  b'"i":"0.001","l":"0"}')
    bal = hub.balances[("b", "margin", "BTC")]
    assert bal.liability == 0
    us._on_margin(b'{"e":"somethingNew","E":5}')
    assert us.unknown_events == 1

"""Order building and HMAC signing, per op (connectors/binance/signing.py, trading.prepare_*).

The payload is a typical USD-M market order as `prepare_futures_order` sends it (symbol, side,
type, quantity, client id, resp type, recvWindow, timestamp). The `prepare_*` rows go through
`BinanceVenue` exactly as the legging engine does: parameters -> fmt_num -> percent-encoding ->
HMAC-SHA256 -> yarl URL + headers -> `Prepared`. The component rows show where that time goes.

Run: python -m benchmarks.bench_sign [--n N]
"""
from __future__ import annotations

import argparse
import time

from yarl import URL

from benchmarks._common import Row, print_table, summarize, time_each
from connectors.binance import signing
from connectors.binance.trading import fmt_num, new_client_id
from connectors.binance.venue import BinanceVenue
from connectors.config import VenueConfig
from daemon.hub import Hub
from connectors.secrets import Secret

# A 64-char secret like Binance issues (this one is the documented example key's shape).
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"


def order_params() -> list[tuple[str, object]]:
    return [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "0.013"),
            ("newClientOrderId", "bd-x-3f9c2a7d51e0b684"), ("newOrderRespType", "RESULT"),
            ("recvWindow", 5000), ("timestamp", int(time.time() * 1000))]


def venue() -> BinanceVenue:
    cfg = VenueConfig(name="bench", symbols=["BTCUSDT"])
    return BinanceVenue(cfg, Hub(), api_key=Secret(API_KEY), api_secret=Secret(SECRET))


def run(n: int = 50_000) -> list[Row]:
    params = order_params()
    payload = signing.rest_payload(params)
    key_bytes = SECRET.encode()
    v = venue()
    secret = Secret(SECRET)
    url = f"https://fapi.binance.com/fapi/v1/order?{payload}"
    rows = [
        summarize("hmac_sha256_hex(secret, payload)  [str key]",
                  time_each(lambda: signing.hmac_sha256_hex(SECRET, payload), n)),
        summarize("hmac_sha256_hex(secret, payload)  [bytes key]",
                  time_each(lambda: signing.hmac_sha256_hex(key_bytes, payload), n)),
        summarize("rest_payload(order params)  [percent-encoding]",
                  time_each(lambda: signing.rest_payload(params), n)),
        summarize("sign_rest(secret, order params)",
                  time_each(lambda: signing.sign_rest(SECRET, params), n)),
        summarize("sign_ws_api(secret, order params)",
                  time_each(lambda: signing.sign_ws_api(SECRET, params), n)),
        summarize("fmt_num(0.013)  [Decimal inside]", time_each(lambda: fmt_num(0.013), n)),
        summarize("fmt_num(59891.9)  [Decimal inside]", time_each(lambda: fmt_num(59891.9), n)),
        summarize("new_client_id()  [os.urandom]", time_each(new_client_id, n)),
        summarize("Secret.reveal()", time_each(secret.reveal, n)),
        summarize("yarl URL(signed url, encoded=True)", time_each(lambda: URL(url, encoded=True), n)),
        summarize("BinanceVenue.prepare_perp_order MARKET",
                  time_each(lambda: v.prepare_perp_order("BTCUSDT", "BUY", 0.013), n)),
        summarize("BinanceVenue.prepare_perp_order LIMIT reduceOnly",
                  time_each(lambda: v.prepare_perp_order("BTCUSDT", "SELL", 0.013,
                                                         order_type="LIMIT", price=59891.9,
                                                         time_in_force="IOC", reduce_only=True), n)),
        summarize("BinanceVenue.prepare_spot_order MARKET MARGIN_BUY",
                  time_each(lambda: v.prepare_spot_order("BTCUSDT", "SELL", 0.013,
                                                         side_effect="MARGIN_BUY"), n)),
        summarize("both legs of a reverse basis (spot + perp)",
                  time_each(lambda: (v.prepare_spot_order("BTCUSDT", "SELL", 0.013,
                                                          side_effect="MARGIN_BUY"),
                                     v.prepare_perp_order("BTCUSDT", "BUY", 0.013)), n // 2)),
    ]
    prep = v.prepare_perp_order("BTCUSDT", "BUY", 0.013)
    body = prep.body or b""
    assert b"&signature=" in body and len(body.rsplit(b"=", 1)[1]) == 64
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=50_000)
    args = ap.parse_args(argv if argv is not None else [])
    print_table("signing and order building (per op)", run(args.n))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

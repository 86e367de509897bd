"""Done-when #1: all six documented Binance HMAC vectors, byte for byte, built from parameters."""
from __future__ import annotations

import json

import pytest

from connectors.binance import signing

from .realdata import REALDATA

VECTORS = {v["id"]: v for v in json.loads(
    (REALDATA / "vectors" / "doc_vectors.json").read_text())["binance_hmac_sha256_hex"]}
FULLWIDTH = "\uff11\uff12\uff13\uff14\uff15\uff16"
SPOT_ORDER = [("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", "1"), ("price", "0.1"), ("recvWindow", "5000"),
              ("timestamp", 1499827319559)]


def test_there_are_six_vectors() -> None:
    assert len(VECTORS) == 6


def test_spot_rest_ascii() -> None:
    v = VECTORS["binance-spot-rest-ascii"]
    payload = signing.rest_payload(SPOT_ORDER)
    assert payload == v["payload"]
    assert signing.hmac_sha256_hex(v["secret"], payload) == v["signature"]
    assert signing.sign_rest(v["secret"], SPOT_ORDER) == f"{v['payload']}&signature={v['signature']}"


def test_spot_rest_non_ascii_is_signed_percent_encoded() -> None:
    v = VECTORS["binance-spot-rest-nonascii-percent-encoded"]
    params = [("symbol", FULLWIDTH)] + SPOT_ORDER[1:]
    payload = signing.rest_payload(params)
    assert payload == v["payload"]
    assert signing.hmac_sha256_hex(v["secret"], payload) == v["signature"]


def _ws_params(v: dict, symbol: str, price: str, qty: str, recv: str) -> dict[str, object]:
    # deliberately unsorted: the signer must sort
    return {"symbol": symbol, "side": v["payload"].split("side=")[1].split("&")[0], "type": "LIMIT",
            "timeInForce": "GTC", "quantity": qty, "price": price, "recvWindow": recv,
            "timestamp": 1645423376532,
            "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"}


def test_ws_api_ascii_sorted() -> None:
    v = VECTORS["binance-spot-wsapi-ascii"]
    params = _ws_params(v, "BTCUSDT", "52000.00", "0.01000000", "100")
    assert signing.ws_api_payload(params) == v["payload"]
    signed = signing.sign_ws_api(v["secret"], params)
    assert signed["signature"] == v["signature"]
    assert signed["symbol"] == "BTCUSDT"


def test_ws_api_non_ascii_is_signed_raw_utf8() -> None:
    v = VECTORS["binance-spot-wsapi-nonascii-raw-utf8"]
    params = _ws_params(v, FULLWIDTH, "0.10000000", "1.00000000", "5000")
    assert signing.ws_api_payload(params) == v["payload"]
    assert signing.sign_ws_api(v["secret"], params)["signature"] == v["signature"]
    # and it differs from the REST (percent-encoded) signature of the same parameters
    assert signing.hmac_sha256_hex(v["secret"], signing.rest_payload(sorted(params.items()))) \
        != v["signature"]


def test_usdm_query_or_body() -> None:
    v = VECTORS["binance-usdm-futures-query-or-body"]
    params = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("quantity", 1),
              ("price", 9000), ("timeInForce", "GTC"), ("recvWindow", 5000),
              ("timestamp", 1591702613943)]
    assert signing.rest_payload(params) == v["payload"]
    assert signing.hmac_sha256_hex(v["secret"], signing.rest_payload(params)) == v["signature"]


def test_usdm_mixed_query_and_body_concatenated_without_separator() -> None:
    v = VECTORS["binance-usdm-futures-mixed-query-and-body"]
    query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
    body = "quantity=1&price=9000&recvWindow=5000&timestamp= 1591702613943"  # stray space as documented
    total = signing.usdm_total_params(query, body)
    assert total == v["payload"]
    assert signing.hmac_sha256_hex(v["secret"], total) == v["signature"]


@pytest.mark.parametrize(("value", "encoded"), [(True, "true"), (False, "false"), ("a b", "a%20b"),
                                                ("x/y", "x%2Fy"), ("A-z_0.9~", "A-z_0.9~")])
def test_rest_encoding_edge_cases(value: object, encoded: str) -> None:
    assert signing.rest_payload([("k", value)]) == f"k={encoded}"


def test_none_params_are_omitted() -> None:
    assert signing.rest_payload({"a": 1, "b": None, "c": "x"}) == "a=1&c=x"


@pytest.mark.parametrize("params", [
    [], [("k", "")], [("", "v")], [("a", "1"), ("b", "x=y")], [("a", "1&b=2")], [("a=b", "1")],
    [("a", "1"), ("b", "")], [("a", "x y"), ("b", 2)], [("q", "=="), ("r", "&")],
    [("symbol", "BTCUSDT"), ("quantity", "0.004"), ("reduceOnly", True)]])
def test_the_whole_string_fast_path_encodes_as_each_part_would(params: list[tuple[str, object]]
                                                               ) -> None:
    """rest_payload checks the joined string once; it must equal encoding key and value apart,
    including when a key or value holds "=" or "&" (which the one check alone would let by)."""
    each = "&".join(f"{signing._pct(k)}={signing._pct(signing._fmt(v))}" for k, v in params)
    assert signing.rest_payload(params) == each

"""Pure pieces of the sim server: signing payload, timestamp window, weights/bans, listenKeys."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from connectors.sim.server import auth
from connectors.sim.server.errors import ApiError
from connectors.sim.server.listenkeys import VALIDITY_S, ListenKeys
from connectors.sim.server.weights import WeightLimiter

from tests.conftest import ROOT as _ROOT
REALDATA = Path(os.environ.get("BASISD_REALDATA", _ROOT.parent / "shared" / "realdata"))


def _vectors() -> list[dict[str, str]]:
    data = json.loads((REALDATA / "vectors" / "doc_vectors.json").read_text())
    return [v for v in data["binance_hmac_sha256_hex"] if "wsapi" not in v["id"]]


@pytest.mark.parametrize("vec", _vectors(), ids=lambda v: v["id"])
def test_documented_hmac_vectors_verify(vec: dict[str, str]) -> None:
    # the REST vectors are whole payloads; as a query string, as a body, and split query+body
    payload = vec["payload"]
    assert auth.sign(vec["secret"], payload) == vec["signature"]
    got, sig = auth.signing_payload(payload + "&signature=" + vec["signature"], "")
    assert got == payload and sig == vec["signature"]
    assert auth.signature_ok(vec["secret"], got, sig)
    got, sig = auth.signing_payload("", payload + "&signature=" + vec["signature"].upper())
    assert got == payload and auth.signature_ok(vec["secret"], got, sig or "")


def test_mixed_query_and_body_concatenate_without_ampersand() -> None:
    vectors = json.loads((REALDATA / "vectors" / "doc_vectors.json").read_text())
    vec = next(v for v in vectors["binance_hmac_sha256_hex"]
               if v["id"] == "binance-usdm-futures-mixed-query-and-body")
    query, body = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC", \
        "quantity=1&price=9000&recvWindow=5000&timestamp= 1591702613943"
    got, sig = auth.signing_payload(query, body + "&signature=" + vec["signature"])
    assert got == vec["payload"]
    assert auth.signature_ok(vec["secret"], got, sig or "")
    assert not auth.signature_ok(vec["secret"], query + "&" + body, sig or "")


def test_query_parameter_wins_over_body() -> None:
    assert auth.merge_params("a=1&b=2", "b=3&c=%20x") == {"a": "1", "b": "2", "c": " x"}


def _code(fn, *a) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as info:
        fn(*a)
    return info.value.code


def test_timestamp_window() -> None:
    now = 1_700_000_000_000
    auth.check_timestamp({"timestamp": str(now - 4999)}, (now,))
    auth.check_timestamp({"timestamp": str(now + 999)}, (now,))
    auth.check_timestamp({"timestamp": str(now - 59_000), "recvWindow": "60000"}, (now,))
    assert _code(auth.check_timestamp, {"timestamp": str(now - 5001)}, (now,)) == -1021
    assert _code(auth.check_timestamp, {"timestamp": str(now + 1000)}, (now,)) == -1021
    assert _code(auth.check_timestamp, {"timestamp": str(now), "recvWindow": "60001"},
                 (now,)) == -1131
    assert _code(auth.check_timestamp, {}, (now,)) == -1102
    assert _code(auth.check_timestamp, {"timestamp": "12a"}, (now,)) == -1100
    # either clock may accept
    auth.check_timestamp({"timestamp": str(now)}, (now + 10**9, now))


def test_weights_429_then_418_ban_doubles() -> None:
    lim = WeightLimiter(limit=10, violations_before_ban=2, ban_seconds=120)
    t = 610.5  # 10.5 s past a minute boundary
    assert lim.charge("ip", 6, t).status == 200
    v = lim.charge("ip", 5, t)
    assert (v.status, v.used, v.retry_after) == (429, 6, 50)
    assert lim.charge("ip", 4, t).status == 200            # still fits
    assert lim.charge("ip", 1, t).status == 429
    v = lim.charge("ip", 1, t)                              # third violation: banned
    assert v.status == 418 and v.retry_after == 120
    assert lim.charge("ip", 1, t + 61).status == 418        # a new minute does not lift a ban
    assert lim.charge("ip", 1, t + 121).status == 200
    assert lim.charge("other", 10, t).status == 200         # per IP
    for _ in range(2):
        lim.charge("ip", 100, t + 121)
    v = lim.charge("ip", 100, t + 121)
    assert v.status == 418 and v.retry_after == 240         # repeat offender: doubled


def test_sapi_limiter_never_bans() -> None:
    lim = WeightLimiter(limit=1, violations_before_ban=0, can_ban=False)
    assert lim.charge("k", 1, 0.0).status == 200
    assert {lim.charge("k", 1, 0.0).status for _ in range(10)} == {429}


def test_listen_keys_lifecycle() -> None:
    lks = ListenKeys()
    k = lks.create("a1", "futures", 0.0)
    assert len(k) == 64
    assert lks.create("a1", "futures", 10.0) == k           # same key while active, extended
    assert lks.get(k, VALIDITY_S + 5) is not None
    assert lks.create("a1", "margin", 100.0) != k
    assert not lks.keepalive(k, "a2", "futures", 20.0)      # someone else's key
    assert [x.key for x in lks.expire(10.0 + VALIDITY_S)] == [k]
    assert lks.get(k, 0.0) is None
    k2 = lks.create("a1", "futures", 0.0)
    assert k2 != k and lks.delete(k2, "a1", "futures") and lks.get(k2, 0.0) is None

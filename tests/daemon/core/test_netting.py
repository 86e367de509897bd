"""Shares of netted venue state (daemon/core/netting.py) and the rules a new pair must pass
(daemon/core/pair_rules.py): pure."""
from __future__ import annotations

import math

import pytest

from daemon.core import netting
from daemon.core.netting import Claim
from daemon.core.pair_rules import open_refusal, offsets
from daemon.core.pairs import make_legs


def test_shares_are_the_claims_when_the_venue_agrees() -> None:
    got = netting.shares(0.1, [Claim(pair_id="rb1", qty=0.08), Claim(pair_id="rb2", qty=0.06),
                               Claim(pair_id="ls", qty=-0.04)])
    assert got == pytest.approx({"rb1": 0.08, "rb2": 0.06, "ls": -0.04})
    assert math.fsum(got.values()) == pytest.approx(0.1, abs=1e-15)


def test_the_remainder_goes_to_the_busy_pairs_first_then_to_all_by_size() -> None:
    claims = [Claim(pair_id="a", qty=1.0), Claim(pair_id="b", qty=0.5, busy=True),
              Claim(pair_id="c", qty=-0.5)]
    got = netting.shares(1.3, claims)           # b's last fill is not in its books yet
    assert got == pytest.approx({"a": 1.0, "b": 0.8, "c": -0.5})
    idle = [Claim(pair_id=c.pair_id, qty=c.qty) for c in claims]
    got = netting.shares(1.2, idle)             # 0.2 of interest nobody booked: by |claim|
    assert got == pytest.approx({"a": 1.1, "b": 0.55, "c": -0.45})
    assert math.fsum(got.values()) == pytest.approx(1.2, abs=1e-15)


@pytest.mark.parametrize("venue", [0.0, 0.3, -2.7, 1e-9, 12345.678])
def test_shares_always_sum_to_the_venue_figure(venue: float) -> None:
    claims = [Claim(pair_id=str(i), qty=q) for i, q in enumerate((0.1234567, -0.0333, 0.7, 1e-7))]
    assert math.fsum(netting.shares(venue, claims).values()) == pytest.approx(venue, abs=1e-15)


def test_no_claim_with_size_leaves_the_figure_unexplained() -> None:
    assert netting.shares(0.5, []) == {}
    assert netting.shares(0.5, [Claim(pair_id="a", qty=0.0)]) == {"a": 0.0}


def test_aligned_shares_and_the_venue_fraction_a_trim_closes() -> None:
    by_pair = {"rb1": 0.08, "rb2": 0.06, "ls": -0.04}
    assert netting.aligned(0.1, by_pair) == pytest.approx(0.14)
    assert netting.aligned(-0.1, by_pair) == pytest.approx(-0.04)
    # trimming rb1 and rb2 by 50 % takes 0.07 off a 0.1 position: 70 % of it
    assert netting.trim_fraction_of_venue(0.1, 0.14, 0.5) == pytest.approx(0.7)
    assert netting.trim_fraction_of_venue(0.1, 0.14, 1.0) == 1.0


def test_a_rehedge_needs_the_venue_and_the_pairs_books_to_agree() -> None:
    assert netting.agreed_gap(0.033, 0.0) == 0.0           # a lag between two venue events
    assert netting.agreed_gap(0.033, -0.001) == 0.0
    assert netting.agreed_gap(0.002, 0.005) == 0.002
    assert netting.agreed_gap(-0.004, -0.001) == -0.001
    assert netting.agreed_gap(0.002, None) == 0.002        # books unknown: the venue stands


def test_offsetting_pairs() -> None:
    ls = make_legs("long_short", "BTCUSDT", {"long": "sim-b", "short": "sim-a"})
    assert offsets(make_legs("long_short", "BTCUSDT", {"long": "sim-a", "short": "sim-b"}), ls)
    assert not offsets(make_legs("long_short", "ETHUSDT", {"long": "sim-a", "short": "sim-b"}), ls)
    assert not offsets(make_legs("long_short", "BTCUSDT", {"long": "sim-b", "short": "sim-a"}), ls)
    rb = make_legs("reverse_basis", "BTCUSDT", {"spot": "a", "perp": "a"})
    assert offsets(make_legs("basis", "BTCUSDT", {"spot": "a", "perp": "a"}), rb)
    assert not offsets(make_legs("basis", "BTCUSDT", {"spot": "a", "perp": "b"}), rb)


def test_open_refusals_name_the_field() -> None:
    r = open_refusal("long_short", "BTCUSDT", {"long": "sim-a", "short": "sim-a"}, [])
    assert r is not None and (r.status, r.field) == (400, "venues.short")
    ls = make_legs("long_short", "BTCUSDT", {"long": "sim-b", "short": "sim-a"})
    r = open_refusal("long_short", "BTCUSDT", {"long": "sim-a", "short": "sim-b"}, [("p1", ls)])
    assert r is not None and (r.status, r.field) == (409, "venues") and "p1" in r.message
    assert open_refusal("long_short", "BTCUSDT", {"long": "sim-b", "short": "sim-a"}, [("p1", ls)]) is None

"""basisctl's pure parts fed with data: renderers (units, negative zero, totals, colour on and off),
the health verdict, the wording of daemon errors, and what each command line asks the daemon."""
from __future__ import annotations

import io
import json
import re

import pytest

from daemon.ctl import (
    DaemonError, main, phrase_error, plan, render_opportunities, render_position, render_positions,
    render_status, table,
)
from daemon.ops import render
from daemon.ops.ctl_cli import EXIT_USAGE, UsageError, build_parser, parse

ANSI = re.compile(r"\x1b\[[0-9;]*m")
NOW = 1_800_000_000_000


def test_table_aligns_columns() -> None:
    out = table([["a", 1], ["bbb", None]], ["X", "Y"]).splitlines()
    assert out[0].startswith("X    Y") and out[2].startswith("bbb")


def test_renderers_show_every_pnl_term_and_dashes_for_unknowns() -> None:
    pos = {"id": "p1", "type": "reverse_basis", "symbol": "BTCUSDT", "state": "open",
           "residual_base": 0.0, "pnl": {"funding": 1.5, "interest": -0.2, "fees": 3.0, "basis": -1.0,
                                         "net": -2.7},
           "legs": [{"venue": "sim-a", "market": "perp", "side": "BUY", "qty": 0.1, "avg_price": 60000.0,
                     "liq_distance_pct": None, "venue_qty": 0.25, "venue_share": 0.1}]}
    listing = render_positions({"positions": [pos]})
    assert "FUNDING" in listing and "1.50" in listing and "-2.70" in listing
    detail = render_position(pos)
    assert "LIQ DIST %" in detail and "60,000.00" in detail and " -" in detail
    assert "VENUE NET BTC" in detail and "SHARE BTC" in detail and "0.25" in detail   # netted state
    assert render_positions({"positions": []}) == "no pairs"
    opps = render_opportunities({"opportunities": [{"type": "reverse_basis", "symbol": "ETHUSDT",
                                                   "venues": {"spot": "sim-a", "perp": "sim-a"},
                                                   "net_apr_pct": 19.6, "zscore": None,
                                                   "model": "apr_only", "holding_hours": 168.0}]})
    assert "sim-a/sim-a" in opps and "19.60" in opps and "None" not in opps
    assert "MODEL" in opps and "apr_only" in opps and "168.0" in opps   # no fit, visibly
    status = render_status({"version": "0.1.0", "pid": 1, "uptime_s": 5, "halt": "none", "config": "x",
                            "venues": {"sim-a": {"state": "degraded", "streams": {
                                "spot:BTCUSDT:book": {"health": "resyncing"},
                                "perp:BTCUSDT:book": {"health": "healthy"}}}},
                            "counts": {"books": 2}})
    assert "1/2 healthy" in status and "spot:BTCUSDT:book=resyncing" in status


# -- numbers and units -----------------------------------------------------------------------------
@pytest.mark.parametrize("value", [-0.0, -0.000001, -0.004999, -1e-300])
def test_negative_zero_never_prints_a_minus(value: float) -> None:
    assert render.usd(value) == "0.00"
    assert render.pct(value) == "0.00"
    assert render.bps(value) == "0.0"
    assert not render.coins(value * 1e-6).startswith("-")


def test_units_get_their_own_precision() -> None:
    assert render.usd(1234567.891) == "1,234,567.89"
    assert render.usd(-0.006) == "-0.01"
    assert render.coins(0.03300005) == "0.03300005" and render.coins(0.0330) == "0.033"
    assert render.coins(-5.000000000143778e-08) == "-0.00000005"
    assert render.price(59961.18004610598) == "59,961.18" and render.price(1.5) == "1.5000"
    assert render.price(0.000012346) == "0.00001235"
    assert render.bps(2.062249) == "2.1" and render.pct(10.949) == "10.95"
    assert [render.usd(x) for x in (None, float("nan"), "x", True)] == ["-"] * 4
    assert render.usd(float("inf")) == "inf" and render.usd(float("-inf")) == "-inf"


@pytest.mark.parametrize(("ms", "text"), [(0, "0ms"), (850, "850ms"), (42_000, "42s"),
                                          (192_000, "3m12s"), (7_500_000, "2h05m"),
                                          (3 * 86_400_000 + 4 * 3_600_000, "3d04h"), (-5, "0ms")])
def test_ages_read_like_a_clock(ms: int, text: str) -> None:
    assert render.age(ms) == text


def test_unknown_timestamps_and_clocks_are_dashes() -> None:
    assert render.since(0, NOW) == "-" and render.since(None, NOW) == "-"
    assert render.since(NOW - 1000, None) == "-" and render.since(NOW - 1000, NOW) == "1s"
    assert render.base_asset("ETHUSDC") == "ETH" and render.base_asset("USDT") == "USDT"


# -- positions -------------------------------------------------------------------------------------
def _pair(pid: str, state: str, notional: float, pnl: dict[str, float], **kw: object) -> dict[str, object]:
    return {"id": pid, "type": "reverse_basis", "symbol": "BTCUSDT", "state": state,
            "notional_usd": notional, "created_ms": NOW - 192_000, "residual_base": -0.0,
            "legs": [{"venue": "sim-a", "market": "spot_margin", "side": "SELL", "qty": 0.033,
                      "avg_price": 60000.0, "interest_coin": 1e-7, "liq_distance_pct": 45.5},
                     {"venue": "sim-b", "market": "perp", "side": "BUY", "qty": 0.033,
                      "avg_price": 60010.0, "liq_distance_pct": None}],
            "pnl": pnl, **kw}


PAIRS = [_pair("a1", "open", 2000.0, {"funding": 1.0, "interest": 0.25, "fees": 3.0, "basis": 0.5,
                                      "net": -1.75}),
         _pair("b2", "closed", 1000.0, {"funding": 2.0, "interest": 0.0, "fees": 1.0, "basis": -0.0,
                                        "net": 1.0}, reason="funding flipped")]


def test_pnl_parts_are_contributions_that_add_up_to_net() -> None:
    parts = render.pnl_contributions(PAIRS[0]["pnl"])  # type: ignore[arg-type]
    assert parts == {"funding": 1.0, "interest": -0.25, "fees": -3.0, "basis": 0.5, "net": -1.75}
    assert sum(v for k, v in parts.items() if k != "net") == pytest.approx(parts["net"])  # type: ignore[misc]
    totals = render.position_totals(PAIRS)
    assert totals == {"notional_usd": 2000.0, "funding": 3.0, "interest": -0.25, "fees": -4.0,
                      "basis": 0.5, "net": -0.75}


def test_positions_table_has_notional_venues_age_reason_and_totals() -> None:
    lines = render_positions(PAIRS, NOW).splitlines()
    header, first, closed, total, foot = lines
    for col in ("NOTIONAL USD", "VENUES", "AGE", "REASON", "FUNDING USD", "NET USD"):
        assert col in header
    assert "sim-a/sim-b" in first and "2,000.00" in first and "3m12s" in first and "-3.00" in first
    assert "funding flipped" in closed and "-0.0" not in closed
    assert total.split()[:2] == ["TOTAL", "2,000.00"] and total.split()[-5:] == \
        ["3.00", "-0.25", "-4.00", "0.50", "-0.75"]
    assert "2 pairs (1 live)" in foot
    # numbers are right-aligned under their header
    assert header.index("NET USD") + len("NET USD") == first.index("-1.75") + len("-1.75")


def test_show_has_both_legs_with_units() -> None:
    text = render_position(PAIRS[0], NOW)
    assert "notional 2,000.00 USD" in text and "age 3m12s" in text
    assert "QTY BTC" in text and "INTEREST BTC" in text and "NOTIONAL USD" in text
    legs = [line for line in text.splitlines() if line.startswith(("0 ", "1 "))]
    assert len(legs) == 2 and "spot_margin" in legs[0] and "1,980.00" in legs[0] and "45.50" in legs[0]
    assert "perp" in legs[1] and "60,010.00" in legs[1]
    assert "net -1.75" in text and "-0.0" not in text.replace("-0.0000", "")


# -- status, health, colour ------------------------------------------------------------------------
STATUS = {"version": "0.1.0", "pid": 7, "uptime_s": 192.4, "halt": "no_new", "config": "x.toml",
          "journal": {"healthy": True, "commits": 3},
          "watchdog": {"halt": {"mode": "no_new", "reason": "maintenance", "since_ms": NOW - 60_000}},
          "venues": {"sim-a": {"state": "healthy", "streams": {
              "ws:perp-depth": {"health": "healthy", "since_ms": NOW - 100_000, "last_msg_ms": NOW - 40},
              "ws:perp-user": {"health": "healthy", "since_ms": NOW - 100_000, "last_msg_ms": 0}}}},
          "counts": {"positions": 4, "open_orders": 1, "instruments": 8, "books": 8, "marks": 4}}


def test_status_labels_pairs_apart_from_venue_positions() -> None:
    text = render_status(STATUS, NOW, [PAIRS[0], PAIRS[1], _pair("c3", "open", 1.0, {})])
    assert "pairs: 2 open, 1 closed (3 total)" in text and "venue positions: 4" in text
    assert "up 3m12s" in text and "halted no_new 1m00s ago (operator): maintenance" in text
    assert "40ms" in text                    # the oldest last message of the venue's streams
    streams = render_status(STATUS, NOW, [], streams=True)
    assert "pairs: none" in streams
    user = next(line for line in streams.splitlines() if "ws:perp-user" in line)
    assert user.split()[3:5] == ["1m40s", "-"]     # never a message: a dash, not 0
    assert "pairs: -" in render_status(STATUS, NOW, None)
    failing = render_status({**STATUS, "journal": {"healthy": False, "errors": 2, "pending_rows": 5,
                                                   "last_error": "disk full"}}, NOW)
    assert "journal: FAILING (2 errors, 5 rows held in memory): disk full" in failing


def test_colour_only_when_asked_and_alignment_survives_it() -> None:
    plain = render_positions(PAIRS, NOW)
    coloured = render_positions(PAIRS, NOW, style=render.Style(True))
    assert "\x1b[" not in plain and "\x1b[31m" in coloured and "\x1b[32m" in coloured
    assert ANSI.sub("", coloured) == plain
    status = render_status(STATUS, NOW, [], style=render.Style(True))
    assert "\x1b[33mno_new\x1b[0m" in status and ANSI.sub("", status) == render_status(STATUS, NOW, [])
    assert render.Style(True).signed("0.00", -0.0) == "0.00"


def test_health_verdict() -> None:
    assert render.health_verdict({"ok": True}, STATUS) == (True, "serving: 1/1 venues healthy, halt no_new")
    down = {**STATUS, "venues": {"sim-a": {"state": "down"}}}
    assert render.health_verdict({"ok": True}, down)[0] is True
    assert render.health_verdict({"ok": True}, down, require_venues=True) == \
        (False, "venues not healthy: sim-a=down")
    sick = {**STATUS, "journal": {"healthy": False, "last_error": "disk full"}}
    assert render.health_verdict({"ok": True}, sick) == (False, "journal failing: disk full")
    assert render.health_verdict(None, None)[0] is False
    assert render.health_verdict({"ok": True}, None)[0] is True


def test_opportunities_show_units_and_why_not() -> None:
    text = render_opportunities([{"type": "basis", "symbol": "BTCUSDT", "venues": {"spot": "a", "perp": "b"},
                                  "funding_apr_pct": 10.95, "net_apr_pct": -0.0001, "basis_bps": 2.06,
                                  "depth_usd": 2535286.07, "next_funding_ms": NOW + 192_000, "ok": False,
                                  "reasons": ["depth", "fees"]}], NOW)
    header, row = text.splitlines()
    assert "NET APR %" in header and "BASIS BPS" in header and "DEPTH USD" in header
    assert "a/b" in row and "2.1" in row and "2,535,286.07" in row and "in 3m12s" in row
    assert "depth; fees" in row and " no " in row and "-0.00" not in row


def test_actions_render_one_line() -> None:
    assert render.render_action("open", {"id": "x1", "state": "opening"}) == \
        "opening pair x1: state opening (follow with: basisctl show x1)"
    assert render.render_action("close", {"id": "x1", "operation": "close", "state": "closing"}) == \
        "close accepted for pair x1: state closing"
    assert "resume" in render.render_action("halt", {"halt": {"mode": "flatten", "reason": "r"}})
    assert render.render_action("resume", {"halt": {"mode": "none"}}) == "trading resumed: halt none"
    assert render.render_action("reload", {"reloads": 3}) == "config reloaded (reload #3)"


# -- errors and the command line -------------------------------------------------------------------
def test_confirm_errors_tell_the_operator_to_add_yes() -> None:
    err = phrase_error(400, {"error": 'close unwinds both legs: send "confirm": true', "field": "confirm"})
    assert isinstance(err, DaemonError)
    assert err.message == "close unwinds both legs: add --yes to confirm" and err.field == "confirm"
    assert phrase_error(400, {"error": "needs confirmation", "field": "confirm"}).message == \
        "needs confirmation; add --yes to confirm"
    assert phrase_error(404, {"error": "no position 'x'", "field": "id"}).message == "no position 'x'"
    assert phrase_error(502, None).message == "HTTP 502"


def _plan(*argv: str) -> tuple[str, str, object]:
    return plan(parse(list(argv))[1])


def test_each_command_asks_the_daemon_the_right_thing() -> None:
    assert _plan("open", "basis", "ethusdt", "2500", "--spot", "a", "--perp", "b") == (
        "POST", "/v1/positions", {"type": "basis", "symbol": "ETHUSDT", "notional_usd": 2500.0,
                                  "venues": {"spot": "a", "perp": "b"}})
    assert _plan("decrease", "p1", "--fraction", "0.8", "--yes")[2] == {"fraction": 0.8, "confirm": True}
    assert _plan("decrease", "p1", "100")[2] == {"notional_usd": 100.0}
    assert _plan("close", "p1", "--yes", "--execution", "taker")[2] == {"execution": "taker", "confirm": True}
    assert _plan("halt", "no_new", "--reason", "why")[1:] == ("/v1/halt", {"mode": "no_new", "reason": "why"})
    assert _plan("opportunities", "--type", "basis", "--ok", "--limit", "3")[1] == \
        "/v1/opportunities?type=basis&ok=true&limit=3"
    assert _plan("show", "a/b")[1] == "/v1/positions/a%2Fb"
    with pytest.raises(UsageError):
        _plan("decrease", "p1")
    with pytest.raises(UsageError):
        build_parser().parse_args(["open", "basis", "BTCUSDT", "-5"])


def test_usage_errors_exit_2_as_text_or_json() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["bogus"], out, err) == EXIT_USAGE
    assert out.getvalue() == "" and "basisctl: error: argument COMMAND: invalid choice: 'bogus'" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert main(["--json", "decrease", "p1"], out, err) == EXIT_USAGE
    body = json.loads(out.getvalue())
    assert body["kind"] == "usage" and "--fraction" in body["error"] and body["status"] is None


def test_help_describes_every_command_with_examples() -> None:
    parser = build_parser()
    top = parser.format_help()
    commands = ["status", "watch", "health", "opportunities", "positions", "show", "open", "increase",
                "decrease", "close", "liquidate", "detach", "halt", "resume", "reload"]
    for name in commands:
        assert re.search(rf"^  {name}\b.*\S", top, re.M), name
        out = io.StringIO()
        assert main(["help", name], out, io.StringIO()) == 0
        text = out.getvalue()
        assert text.startswith(f"usage: basisctl {name}") and "examples:" in text and "basisctl " + name in text
    assert "exit codes: 0 ok, 1" in top and "NO_COLOR" in top
    err = io.StringIO()
    assert main(["help", "nope"], io.StringIO(), err) == EXIT_USAGE and "no command 'nope'" in err.getvalue()


def test_watch_reports_a_missing_daemon_and_goes_on(short_dir) -> None:
    out = io.StringIO()
    sock = str(short_dir / "none.sock")
    assert main(["--socket", sock, "watch", "--count", "2", "-n", "0.1"], out, io.StringIO()) == 0
    assert out.getvalue().count("no basisd daemon is listening") == 2
    out = io.StringIO()
    assert main(["--socket", sock, "--json", "watch", "--count", "1"], out, io.StringIO()) == 0
    assert "no basisd daemon" in json.loads(out.getvalue())["error"]

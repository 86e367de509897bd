"""basisctl's command line: every subcommand with its description, examples and exit codes.

Parsing only (no I/O): `build_parser()` returns a parser whose errors raise `UsageError` instead of
exiting, so `--json` can answer a usage error as JSON too.
"""
from __future__ import annotations

import argparse
from typing import Any, NoReturn

EXIT_OK = 0
EXIT_DAEMON = 1     # the daemon refused, failed, or cannot be reached; `health`: not healthy
EXIT_USAGE = 2      # the command line is wrong

PAIR_TYPES = ("basis", "reverse_basis", "long_short")
EXECUTIONS = ("chase", "taker", "batches")
HALT_MODES = ("no_new", "reduce_only", "flatten")
PAIR_STATES = ("opening", "open", "adjusting", "closing", "closed", "failed", "detached")

_TOP = """\
control a running basisd over its admin socket.

commands:
  status         the daemon at a glance: venues and streams, halt, journal, pair counts
  watch          status, refreshed every --interval seconds until Ctrl-C
  health         a probe: exit 0 when healthy, 1 when not, with a one-line reason
  opportunities  the scanner's ranked trades: funding, borrow, fees, net APR
  positions      every pair: notional, venues, age, PnL parts and totals
  show ID        one pair in detail, both legs
  open           open a pair (basis, reverse_basis, long_short)
  increase ID    add notional to a pair
  decrease ID    take notional off a pair (more than half needs --yes)
  close ID       unwind both legs (needs --yes)
  liquidate ID   unwind both legs at market now (needs --yes)
  detach ID      stop managing a pair, leave its legs on the venues
  halt MODE      no_new | reduce_only | flatten (flatten needs --yes)
  resume         lift a halt
  reload         re-read the config file (like SIGHUP)
"""

_EPILOG = """\
socket: --socket, else $BASISD_SOCKET, else the config's admin.socket (--config FILE, or the
embedded default's).
output: tables for a person; --json prints the daemon's JSON answer, and with --json an error is
a JSON object {"error", "field", "status", "kind"} on stdout. Colour only on a terminal; NO_COLOR,
TERM=dumb, --no-color or --color never turn it off.
exit codes: 0 ok, 1 the daemon refused or failed or cannot be reached (health: not healthy),
2 usage error.

examples:
  basisctl status
  basisctl --json positions | jq '.positions[].id'
  basisctl open reverse_basis BTCUSDT 10000 --execution chase
  basisctl close 8f3k2m1x9a --yes
  basisctl help open             (or: basisctl open --help)
"""


class UsageError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _common() -> argparse.ArgumentParser:
    """Output options accepted after the subcommand too (`basisctl status --json`)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="print the daemon's JSON answer (errors too, as JSON on stdout)")
    p.add_argument("--no-color", action="store_true", default=argparse.SUPPRESS, help="no colour")
    p.add_argument("--color", choices=["auto", "always", "never"], default=argparse.SUPPRESS,
                   help="colour: auto (a terminal without NO_COLOR), always, never")
    return p


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def _interval(text: str) -> float:
    value = _positive(text)
    if value < 0.1:
        raise argparse.ArgumentTypeError("must be at least 0.1 s")
    return value


def _add(sub: Any, common: argparse.ArgumentParser, name: str, summary: str, description: str,
         examples: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=summary, description=f"{summary}.\n\n{description}".rstrip(),
                          epilog="examples:\n" + examples, parents=[common],
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _pair_id(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", metavar="ID", help="pair id (from `basisctl positions`)")


def _streams(p: argparse.ArgumentParser) -> None:
    p.add_argument("--streams", action="store_true", help="one row per stream instead of per venue")


def _reads(sub: Any, common: argparse.ArgumentParser) -> None:
    s = _add(sub, common, "status", "the daemon at a glance",
             "Version, uptime, halt, journal; each venue's stream health and the age of its oldest\n"
             "last message; pairs counted from the positions view, the venues' own perp positions\n"
             "and open orders counted apart.",
             "  basisctl status\n  basisctl status --streams     # one row per stream\n"
             "  basisctl --json status | jq .counts\n")
    _streams(s)
    w = _add(sub, common, "watch", "status, refreshed until Ctrl-C",
             "Clears the screen on a terminal; in a pipe, prints one status after another (with --json\n"
             "one JSON object per line). A daemon that stops answering is reported and watched for.\n"
             "Ctrl-C exits 0.",
             "  basisctl watch\n  basisctl watch --interval 5 --streams\n"
             "  basisctl --json watch --count 3 > samples.jsonl\n")
    w.add_argument("--interval", "-n", type=_interval, default=2.0, metavar="SECONDS",
                   help="seconds between refreshes (default 2)")
    w.add_argument("--count", type=int, default=0, metavar="N", help="stop after N refreshes (default: never)")
    _streams(w)
    h = _add(sub, common, "health", "a probe for monitors and containers",
             "Exit 0 when the daemon answers and its journal writes, 1 otherwise (also when nothing\n"
             "listens), with a one-line reason. A halt is an operator's decision, not ill health.\n"
             "--require-venues also needs every venue's streams healthy.",
             "  basisctl health\n  basisctl --json health\n"
             "  HEALTHCHECK CMD [\"basisctl\", \"--timeout\", \"3\", \"health\"]\n")
    h.add_argument("--require-venues", action="store_true", help="unhealthy unless every venue is healthy")
    o = _add(sub, common, "opportunities", "the scanner's ranked trades",
             "Funding, borrow and fee APR in %, net APR after all of them, priced over the hold in\n"
             "hours (HOLD H) with the funding model used (MODEL; apr_only: no fit yet), the basis in\n"
             "bps, book depth in USD, time to the next funding, and why a candidate is not tradeable.",
             "  basisctl opportunities\n  basisctl opportunities --type reverse_basis --ok --limit 5\n")
    o.add_argument("--type", choices=PAIR_TYPES, help="only this pair type")
    o.add_argument("--symbol", help="only this symbol, e.g. BTCUSDT")
    o.add_argument("--ok", action="store_true", help="only tradeable candidates")
    o.add_argument("--limit", type=int, metavar="N", help="at most N rows (1..1000)")
    ps = _add(sub, common, "positions", "every pair the engine knows",
              "Notional in USD, both legs' venues, age, residual in base coin, the PnL parts in USD as\n"
              "contributions to net (interest and fees paid are negative) and the reason a pair\n"
              "closed, failed or was detached; a TOTAL row sums every part and the live notional.",
              "  basisctl positions\n  basisctl positions --state open --state failed\n")
    ps.add_argument("--state", action="append", choices=PAIR_STATES, help="only pairs in this state (repeatable)")
    sh = _add(sub, common, "show", "one pair in detail",
              "Both legs: venue, market, side, quantity and target, average price, notional, interest\n"
              "accrued in coin, liquidation distance in %; the running operation; the PnL parts.",
              "  basisctl show 8f3k2m1x9a\n  basisctl --json show 8f3k2m1x9a | jq .legs\n")
    _pair_id(sh)


def _actions(sub: Any, common: argparse.ArgumentParser) -> None:
    op = _add(sub, common, "open", "open a pair",
              "basis = long spot + short perp; reverse_basis = borrow and sell spot + long perp;\n"
              "long_short = long perp on one venue + short perp on another. Venues default to the\n"
              "scanner's best; name them with --spot/--perp or --long/--short. The answer is the new\n"
              "pair's id; both legs are then sent at once.",
              "  basisctl open reverse_basis BTCUSDT 10000 --execution chase\n"
              "  basisctl open basis ETHUSDT 2500 --spot sim-a --perp sim-b\n"
              "  basisctl open long_short BTCUSDT 5000 --long sim-a --short sim-b\n")
    op.add_argument("type", choices=PAIR_TYPES, help="pair type")
    op.add_argument("symbol", help="venue symbol, e.g. BTCUSDT")
    op.add_argument("notional_usd", type=_positive, metavar="NOTIONAL_USD", help="size in USD")
    op.add_argument("--execution", choices=EXECUTIONS, help="how to work the orders (default: config)")
    op.add_argument("--spot", metavar="VENUE", help="spot venue (basis, reverse_basis)")
    op.add_argument("--perp", metavar="VENUE", help="perp venue (basis, reverse_basis)")
    op.add_argument("--long", metavar="VENUE", help="long venue (long_short)")
    op.add_argument("--short", metavar="VENUE", help="short venue (long_short)")
    inc = _add(sub, common, "increase", "add notional to a pair",
               "Both legs grow together; the hedge ratio stays 1.", "  basisctl increase 8f3k2m1x9a 1000\n")
    _pair_id(inc)
    inc.add_argument("notional_usd", type=_positive, metavar="NOTIONAL_USD", help="USD to add")
    inc.add_argument("--execution", choices=EXECUTIONS)
    dec = _add(sub, common, "decrease", "take notional off a pair",
               "Give the USD to remove or --fraction of the pair; more than half is destructive and\n"
               "needs --yes.",
               "  basisctl decrease 8f3k2m1x9a 500\n  basisctl decrease 8f3k2m1x9a --fraction 0.8 --yes\n")
    _pair_id(dec)
    dec.add_argument("notional_usd", type=_positive, nargs="?", metavar="NOTIONAL_USD", help="USD to remove")
    dec.add_argument("--fraction", type=_positive, metavar="F", help="fraction of the pair, in (0, 1]")
    dec.add_argument("--execution", choices=EXECUTIONS)
    dec.add_argument("--yes", action="store_true", help="confirm (needed above half)")
    cl = _add(sub, common, "close", "unwind both legs",
              "Destructive: needs --yes. The pair ends closed once both legs are flat and the borrow\n"
              "is repaid.", "  basisctl close 8f3k2m1x9a --yes\n  basisctl close 8f3k2m1x9a --yes --execution taker\n")
    _pair_id(cl)
    cl.add_argument("--yes", action="store_true", help="confirm the unwind")
    cl.add_argument("--execution", choices=EXECUTIONS)
    lq = _add(sub, common, "liquidate", "unwind both legs at market now",
              "Destructive: needs --yes. Market orders, no chasing; for when waiting costs more.",
              "  basisctl liquidate 8f3k2m1x9a --yes\n")
    _pair_id(lq)
    lq.add_argument("--yes", action="store_true", help="confirm the market unwind")
    dt = _add(sub, common, "detach", "stop managing a pair",
              "The engine cancels the pair's running operation and forgets nothing, but sends no more\n"
              "orders for it; its legs stay on the venues for you to handle.",
              "  basisctl detach 8f3k2m1x9a\n")
    _pair_id(dt)
    dt.add_argument("--yes", action="store_true", help=argparse.SUPPRESS)
    ht = _add(sub, common, "halt", "stop new risk",
              "no_new: no new pairs or increases; reduce_only: only decreases and closes; flatten:\n"
              "unwind every pair at market (needs --yes). A halt survives a restart.",
              "  basisctl halt no_new --reason 'exchange maintenance'\n  basisctl halt flatten --yes\n")
    ht.add_argument("mode", choices=HALT_MODES)
    ht.add_argument("--reason", help="why (shown in status and the log)")
    ht.add_argument("--yes", action="store_true", help="confirm (needed for flatten)")
    _add(sub, common, "resume", "lift a halt", "Trading goes on as the config allows.", "  basisctl resume\n")
    _add(sub, common, "reload", "re-read the config file",
         "Like SIGHUP: a valid file applies, an invalid one is refused and the old config stays.",
         "  basisctl reload\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="basisctl", description=_TOP, epilog=_EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--socket", metavar="PATH", help="admin socket (else $BASISD_SOCKET, else the config's admin.socket)")
    p.add_argument("--config", metavar="FILE", help="config file to take admin.socket from (default: embedded)")
    p.add_argument("--json", action="store_true", help="print the daemon's JSON answer (errors too)")
    p.add_argument("--no-color", action="store_true", help="no colour, even on a terminal")
    p.add_argument("--color", choices=["auto", "always", "never"], default="auto", help="colour (default auto)")
    p.add_argument("--timeout", type=_positive, default=30.0, metavar="SECONDS",
                   help="seconds to wait for the daemon (default 30)")
    common = _common()
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _reads(sub, common)
    _actions(sub, common)
    helper = sub.add_parser("help", help="help on one command: basisctl help open")
    helper.add_argument("topic", nargs="?", metavar="COMMAND")
    return p


def parse(argv: list[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """Parse and check what argparse cannot say alone; any problem is a `UsageError`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "decrease" and (args.notional_usd is None) == (args.fraction is None):
        raise UsageError("decrease: give either NOTIONAL_USD or --fraction F, not both")
    return parser, args

"""`basisctl`: the admin client. Talks HTTP/1.1 + JSON to the daemon's unix socket.

Socket: `--socket`, else `$BASISD_SOCKET`, else the config's `admin.socket` (the embedded default's
unless `--config` names another file) — the same order the daemon uses.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sys
from typing import Any

import orjson


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("basisd", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class NoDaemon(Exception):
    pass


def request(path: str, method: str, url: str, body: Any = None, timeout: float = 30.0) -> tuple[int, Any]:
    conn = _UnixConnection(path, timeout)
    try:
        payload = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        conn.request(method, url, body=payload, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise NoDaemon(f"no basisd daemon is listening on {path} ({exc.strerror})") from None
    except PermissionError:
        raise NoDaemon(f"permission denied on {path} (the socket is 0600: run as the daemon's user)") from None
    except (TimeoutError, OSError) as exc:
        raise NoDaemon(f"no answer from {path}: {exc}") from None
    finally:
        conn.close()
    try:
        return resp.status, orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return resp.status, {"error": raw.decode(errors="replace")}


def resolve_socket(cli: str | None, config: str | None) -> str:
    if cli:
        return cli
    if os.environ.get("BASISD_SOCKET"):
        return os.environ["BASISD_SOCKET"]
    from daemon.config import ConfigError, load_config
    try:
        return load_config(config).admin.socket
    except ConfigError as exc:
        raise NoDaemon(f"cannot read socket path from {exc.source}: {'; '.join(exc.problems)}") from None


# -- rendering --------------------------------------------------------------------------------------
def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def _fmt(x: Any, nd: int = 2) -> str:
    if x is None:
        return "-"
    return f"{x:,.{nd}f}" if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def render_status(s: dict[str, Any]) -> str:
    lines = [f"basisd {s.get('version')}  pid {s.get('pid')}  uptime {s.get('uptime_s', 0):.0f}s  "
             f"halt: {s.get('halt')}  config: {s.get('config')}"]
    journal = s.get("journal")
    if isinstance(journal, dict) and not journal.get("healthy", True):
        lines.append(f"journal: FAILING ({journal.get('errors')} errors, {journal.get('pending_rows')}"
                     f" rows held in memory): {journal.get('last_error')}")
    rows = []
    for name, v in sorted(s.get("venues", {}).items()):
        streams = v.get("streams", {})
        healthy = sum(1 for st in streams.values() if st.get("health") == "healthy")
        bad = ", ".join(f"{k}={st.get('health')}" for k, st in sorted(streams.items())
                        if st.get("health") != "healthy")
        rows.append([name, v.get("state"), f"{healthy}/{len(streams)} healthy", bad])
    lines.append(table(rows, ["VENUE", "STATE", "STREAMS", "UNHEALTHY"]) if rows else "no venues")
    counts = s.get("counts", {})
    lines.append("  ".join(f"{k}={v}" for k, v in counts.items()))
    return "\n".join(lines)


def render_positions(data: Any) -> str:
    items = data.get("positions", data) if isinstance(data, dict) else data
    if not items:
        return "no positions"
    rows = []
    for p in items:
        pnl = p.get("pnl", {})
        rows.append([p.get("id"), p.get("type"), p.get("symbol"), p.get("state"),
                     _fmt(p.get("residual_base"), 6), _fmt(pnl.get("funding")), _fmt(pnl.get("interest")),
                     _fmt(pnl.get("fees")), _fmt(pnl.get("basis")), _fmt(pnl.get("net"))])
    return table(rows, ["ID", "TYPE", "SYMBOL", "STATE", "RESIDUAL", "FUNDING", "INTEREST", "FEES",
                        "BASIS", "NET"])


def render_position(p: dict[str, Any]) -> str:
    out = [render_positions([p]), ""]
    legs = [[lg.get("venue"), lg.get("market"), lg.get("side"), _fmt(lg.get("qty"), 6),
             _fmt(lg.get("avg_price"), 4), _fmt(lg.get("liq_distance_pct")),
             # the venue nets pairs sharing a symbol or a coin: its figure and this pair's share
             _fmt(lg.get("venue_qty"), 6), _fmt(lg.get("venue_share"), 6)] for lg in p.get("legs", [])]
    out.append(table(legs, ["VENUE", "MARKET", "SIDE", "QTY", "AVG PRICE", "LIQ DIST %", "VENUE NET",
                            "SHARE"]))
    return "\n".join(out)


def render_opportunities(data: Any) -> str:
    items = data.get("opportunities", data) if isinstance(data, dict) else data
    if not items:
        return "no opportunities"
    rows = [[i + 1, o.get("type"), o.get("symbol"), o.get("venues") if isinstance(o.get("venues"), str)
             else "/".join(str(v) for v in (o.get("venues") or {}).values()),
             _fmt(o.get("funding_apr_pct")), _fmt(o.get("borrow_apr_pct")), _fmt(o.get("fee_apr_pct")),
             _fmt(o.get("net_apr_pct")), _fmt(o.get("holding_hours"), 1), o.get("model") or "",
             _fmt(o.get("zscore")), _fmt(o.get("basis_bps"), 1)]
            for i, o in enumerate(items)]
    return table(rows, ["#", "TYPE", "SYMBOL", "VENUES", "FUNDING APR%", "BORROW APR%", "FEE APR%",
                        "NET APR%", "HOLD H", "MODEL", "Z", "BASIS BPS"])


# -- commands ---------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="basisctl", description="control a running basisd")
    p.add_argument("--socket", help="admin socket (else $BASISD_SOCKET, else the config's admin.socket)")
    p.add_argument("--config", help="config file to take admin.socket from (default: embedded)")
    p.add_argument("--json", action="store_true", help="print the raw JSON answer")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("status")
    sub.add_parser("health")
    sub.add_parser("opportunities")
    sub.add_parser("positions")
    show = sub.add_parser("show")
    show.add_argument("id")
    op = sub.add_parser("open", help="open a pair")
    op.add_argument("type", choices=["basis", "reverse_basis", "long_short"])
    op.add_argument("symbol")
    op.add_argument("notional_usd", type=float)
    op.add_argument("--execution", choices=["chase", "taker", "batches"], default=None)
    op.add_argument("--spot", help="spot venue")
    op.add_argument("--perp", help="perp venue")
    op.add_argument("--long", help="long venue (long_short)")
    op.add_argument("--short", help="short venue (long_short)")
    for name in ("increase", "decrease"):
        c = sub.add_parser(name)
        c.add_argument("id")
        c.add_argument("notional_usd", type=float)
        c.add_argument("--yes", action="store_true", help="confirm (needed to decrease by more than half)")
    for name in ("close", "liquidate"):
        c = sub.add_parser(name)
        c.add_argument("id")
        c.add_argument("--yes", action="store_true", help="confirm the destructive action")
    d = sub.add_parser("detach")
    d.add_argument("id")
    h = sub.add_parser("halt")
    h.add_argument("mode", choices=["no_new", "reduce_only", "flatten"])
    h.add_argument("--yes", action="store_true", help="confirm (needed for flatten)")
    sub.add_parser("resume")
    sub.add_parser("reload")
    return p


def _call(args: argparse.Namespace) -> tuple[str, str, Any]:
    c = args.command
    if c in ("status", "health", "opportunities", "positions"):
        return "GET", f"/v1/{c}", None
    if c == "show":
        return "GET", f"/v1/positions/{args.id}", None
    if c == "open":
        body: dict[str, Any] = {"type": args.type, "symbol": args.symbol, "notional_usd": args.notional_usd}
        if args.execution:
            body["execution"] = args.execution
        venues = {k: getattr(args, k) for k in ("spot", "perp", "long", "short") if getattr(args, k)}
        if venues:
            body["venues"] = venues
        return "POST", "/v1/positions", body
    if c in ("increase", "decrease"):
        return "POST", f"/v1/positions/{args.id}/{c}", {"notional_usd": args.notional_usd,
                                                         **({"confirm": True} if args.yes else {})}
    if c in ("close", "liquidate"):
        return "POST", f"/v1/positions/{args.id}/{c}", {"confirm": True} if args.yes else {}
    if c == "detach":
        return "POST", f"/v1/positions/{args.id}/detach", {}
    if c == "halt":
        return "POST", "/v1/halt", {"mode": args.mode, **({"confirm": True} if args.yes else {})}
    return "POST", f"/v1/{c}", {}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        path = resolve_socket(args.socket, args.config)
        method, url, body = _call(args)
        status, data = request(path, method, url, body)
    except NoDaemon as exc:
        print(f"basisctl: {exc}", file=sys.stderr)
        return 1
    if status >= 400:
        msg = data.get("error") if isinstance(data, dict) else data
        field = f" (field: {data['field']})" if isinstance(data, dict) and data.get("field") else ""
        print(f"basisctl: {status}: {msg}{field}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    elif args.command == "status":
        print(render_status(data))
    elif args.command == "positions":
        print(render_positions(data))
    elif args.command == "show":
        print(render_position(data))
    elif args.command == "opportunities":
        print(render_opportunities(data))
    else:
        print(json.dumps(data, indent=2, sort_keys=True))
    return 0


def _entry() -> int:
    try:
        return main()
    except BrokenPipeError:  # `basisctl status | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(_entry())

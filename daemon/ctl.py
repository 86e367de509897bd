"""`basisctl`: the admin client. Talks HTTP/1.1 + JSON to the daemon's unix socket.

Socket: `--socket`, else `$BASISD_SOCKET`, else the config's `admin.socket` (the embedded default's
unless `--config` names another file) — the same order the daemon uses. The command line lives in
`daemon.ops.ctl_cli`, the text a person reads in `daemon.ops.render`; this module does the talking.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import sys
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, TextIO

import orjson

from daemon.ops import render
from daemon.ops.render import render_opportunities, render_position, render_positions, render_status, table
from daemon.ops.ctl_cli import EXIT_DAEMON, EXIT_OK, EXIT_USAGE, UsageError, build_parser, parse

__all__ = ["EXIT_DAEMON", "EXIT_OK", "EXIT_USAGE", "NoDaemon", "main", "render_opportunities",
           "render_position", "render_positions", "render_status", "request", "resolve_socket", "table"]


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


class DaemonError(Exception):
    """A 4xx/5xx answer, already phrased for basisctl's user."""

    def __init__(self, status: int, message: str, field: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


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
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        raise NoDaemon(f"no answer from {path}: {exc or type(exc).__name__}") from None
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


_CONFIRM_PHRASE = 'send "confirm": true'


def phrase_error(status: int, data: Any) -> DaemonError:
    """The daemon's error body in basisctl's words: the API asks for `"confirm": true`, a person
    types `--yes`."""
    message = str(data.get("error") if isinstance(data, dict) else data or f"HTTP {status}")
    field = data.get("field") if isinstance(data, dict) else None
    if field == "confirm":
        message = (message.replace(_CONFIRM_PHRASE, "add --yes to confirm") if _CONFIRM_PHRASE in message
                   else f"{message}; add --yes to confirm")
    return DaemonError(status, message, field)


# -- what each command asks the daemon --------------------------------------------------------------
def _with_yes(body: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    return {**body, "confirm": True} if getattr(args, "yes", False) else body


def _opportunities_url(args: argparse.Namespace) -> str:
    query = {k: v for k, v in (("type", args.type), ("symbol", args.symbol),
                               ("ok", "true" if args.ok else None),
                               ("limit", None if args.limit is None else str(args.limit))) if v}
    return "/v1/opportunities" + (f"?{urllib.parse.urlencode(query)}" if query else "")


def plan(args: argparse.Namespace) -> tuple[str, str, Any]:
    """(method, url, body) for an action or a single read."""
    c = args.command
    if c in ("status", "health", "positions"):
        return "GET", f"/v1/{c}", None
    if c == "opportunities":
        return "GET", _opportunities_url(args), None
    if c == "show":
        return "GET", f"/v1/positions/{urllib.parse.quote(args.id, safe='')}", None
    if c == "open":
        body: dict[str, Any] = {"type": args.type, "symbol": args.symbol.upper(),
                                "notional_usd": args.notional_usd}
        if args.execution:
            body["execution"] = args.execution
        venues = {k: getattr(args, k) for k in ("spot", "perp", "long", "short") if getattr(args, k)}
        if venues:
            body["venues"] = venues
        return "POST", "/v1/positions", body
    pid = urllib.parse.quote(getattr(args, "id", "") or "", safe="")
    execution = {"execution": args.execution} if getattr(args, "execution", None) else {}
    if c == "increase":
        return "POST", f"/v1/positions/{pid}/increase", {"notional_usd": args.notional_usd, **execution}
    if c == "decrease":
        size = {"notional_usd": args.notional_usd} if args.fraction is None else {"fraction": args.fraction}
        return "POST", f"/v1/positions/{pid}/decrease", _with_yes({**size, **execution}, args)
    if c == "close":
        return "POST", f"/v1/positions/{pid}/close", _with_yes(execution, args)
    if c in ("liquidate", "detach"):
        return "POST", f"/v1/positions/{pid}/{c}", _with_yes({}, args)
    if c == "halt":
        body = {"mode": args.mode, **({"reason": args.reason} if args.reason else {})}
        return "POST", "/v1/halt", _with_yes(body, args)
    return "POST", f"/v1/{c}", {}


# -- output ---------------------------------------------------------------------------------------
def _colour_wanted(args: argparse.Namespace, stream: TextIO) -> bool:
    choice = "never" if args.no_color else args.color
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def _dump(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


class Client:
    """One basisctl invocation: where the socket is, how to print, and the calls it makes."""

    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
        self.args = args
        self.out = out
        self.err = err
        self.style = render.Style(_colour_wanted(args, out))
        self.err_style = render.Style(_colour_wanted(args, err))
        self._path: str | None = None

    @property
    def path(self) -> str:
        if self._path is None:
            self._path = resolve_socket(self.args.socket, self.args.config)
        return self._path

    def call(self, method: str, url: str, body: Any = None) -> Any:
        status, data = request(self.path, method, url, body, timeout=self.args.timeout)
        if status >= 400:
            raise phrase_error(status, data)
        return data

    def fail(self, message: str, *, status: int | None = None, field: str | None = None,
             kind: str = "daemon") -> int:
        if self.args.json:
            _dump({"error": message, "field": field, "status": status, "kind": kind}, self.out)
        else:
            self.err.write(self.err_style.paint(render.error_line(status, message, field), "red") + "\n")
        return EXIT_DAEMON

    def now_ms(self) -> int:
        return int(time.time() * 1000)


def _positions(client: Client) -> list[dict[str, Any]] | None:
    """The positions view for the status pair counts; None when it cannot be had."""
    try:
        data = client.call("GET", "/v1/positions")
    except DaemonError:
        return None
    return data.get("positions") if isinstance(data, dict) else None


def _status_text(client: Client) -> str:
    status = client.call("GET", "/v1/status")
    return render.render_status(status, client.now_ms(), _positions(client),
                                streams=client.args.streams, style=client.style)


def cmd_status(client: Client) -> int:
    if client.args.json:
        _dump(client.call("GET", "/v1/status"), client.out)
    else:
        client.out.write(_status_text(client) + "\n")
    return EXIT_OK


def cmd_health(client: Client) -> int:
    try:
        health = client.call("GET", "/v1/health")
        try:
            status = client.call("GET", "/v1/status")
        except DaemonError:
            status = None
        healthy, reason = render.health_verdict(health, status, require_venues=client.args.require_venues)
    except (NoDaemon, DaemonError) as exc:
        healthy, reason = False, str(exc)
    if client.args.json:
        _dump({"ok": healthy, "reason": reason}, client.out)
    else:
        word = client.style.paint("healthy", "green") if healthy else client.style.paint("unhealthy", "red")
        client.out.write(f"{word}: {reason}\n")
    return EXIT_OK if healthy else EXIT_DAEMON


def cmd_watch(client: Client) -> int:
    args = client.args
    clear = client.out.isatty() and not args.json
    shown = 0
    try:
        while True:
            try:
                if args.json:
                    text = json.dumps({"ts_ms": client.now_ms(), "status": client.call("GET", "/v1/status"),
                                       "positions": _positions(client)}, sort_keys=True)
                else:
                    text = _status_text(client)
            except (NoDaemon, DaemonError) as exc:   # keep watching: the daemon may come back
                text = (json.dumps({"ts_ms": client.now_ms(), "error": str(exc)}) if args.json
                        else render.error_line(getattr(exc, "status", None), str(exc), None))
            if clear:
                client.out.write("\x1b[H\x1b[2J")
            elif shown and not args.json:
                client.out.write("\n")
            if not args.json:
                stamp = time.strftime("%H:%M:%S")
                client.out.write(client.style.paint(f"every {args.interval:g}s at {stamp}  (Ctrl-C stops)",
                                                    "dim") + "\n")
            client.out.write(text + "\n")
            client.out.flush()
            shown += 1
            if args.count and shown >= args.count:
                return EXIT_OK
            time.sleep(args.interval)
    except KeyboardInterrupt:
        if clear:
            client.out.write("\n")
        return EXIT_OK


def cmd_read(client: Client) -> int:
    method, url, _ = plan(client.args)
    data = client.call(method, url)
    if client.args.json:
        _dump(data, client.out)
        return EXIT_OK
    now, style, c = client.now_ms(), client.style, client.args.command
    if c == "positions":
        items = render.listing(data, "positions")
        if client.args.state:
            items = [p for p in items if p.get("state") in client.args.state]
        text = render.render_positions(items, now, style=style)
    elif c == "show":
        text = render.render_position(data, now, style=style)
    else:
        text = render.render_opportunities(data, now, style=style)
    client.out.write(text + "\n")
    return EXIT_OK


def cmd_action(client: Client) -> int:
    method, url, body = plan(client.args)
    data = client.call(method, url, body)
    if client.args.json:
        _dump(data, client.out)
    else:
        client.out.write(render.render_action(client.args.command, data or {}, style=client.style) + "\n")
    return EXIT_OK


_READS = frozenset({"positions", "show", "opportunities"})
_COMMANDS: dict[str, Callable[[Client], int]] = {"status": cmd_status, "health": cmd_health,
                                                 "watch": cmd_watch}


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser, args = parse(argv)
    except UsageError as exc:
        if "--json" in argv:
            _dump({"error": exc.message, "field": None, "status": None, "kind": "usage"}, out)
        else:
            build_parser().print_usage(err)
            err.write(f"basisctl: error: {exc.message}\n")
        return EXIT_USAGE
    if args.command == "help":
        return _help(parser, args.topic, out, err)
    client = Client(args, out, err)
    handler = _COMMANDS.get(args.command) or (cmd_read if args.command in _READS else cmd_action)
    try:
        return handler(client)
    except NoDaemon as exc:
        return client.fail(str(exc), kind="unreachable")
    except DaemonError as exc:
        return client.fail(exc.message, status=exc.status, field=exc.field)


def _help(parser: argparse.ArgumentParser, topic: str | None, out: TextIO, err: TextIO) -> int:
    if topic is None:
        out.write(parser.format_help())
        return EXIT_OK
    try:
        with contextlib.redirect_stdout(out):
            parser.parse_args([topic, "--help"])
    except SystemExit:
        return EXIT_OK
    except UsageError:
        err.write(f"basisctl: error: no command {topic!r}; basisctl --help lists them\n")
    return EXIT_USAGE


def _entry() -> int:
    try:
        return main()
    except BrokenPipeError:  # `basisctl status | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(_entry())

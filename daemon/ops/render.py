"""What `basisctl` prints for a person: pure functions from the admin API's JSON to text.

Data in, text out: no I/O, no clock (callers pass `now_ms`), no terminal probing (callers pass a
`Style`). Units are in the column headers or after the number; unknown values print as `-`; a
number that rounds to zero never prints with a minus sign.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

DASH = "-"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}
_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD")
_TERMINAL_STATES = frozenset({"closed", "detached"})


class Style:
    """ANSI colour when `colour` is true, plain text otherwise (pipes, NO_COLOR, --no-color)."""

    def __init__(self, colour: bool = False) -> None:
        self.colour = colour

    def paint(self, text: str, colour: str | None) -> str:
        if not self.colour or colour is None or not text or text == DASH:
            return text
        return f"\x1b[{_CODES[colour]}m{text}\x1b[0m"

    def health(self, state: str | None) -> str:
        text = state or DASH
        return self.paint(text, {"healthy": "green", "ok": "green", "down": "red", "failing": "red",
                                 "degraded": "yellow", "stale": "yellow", "resyncing": "yellow"}
                          .get(text))

    def signed(self, text: str, value: Any) -> str:
        """Green for a gain, red for a loss, plain for zero or unknown."""
        if not _is_number(value) or text.lstrip("-").strip("0.,") == "":
            return text
        return self.paint(text, "green" if value > 0 else "red")

    def pair_state(self, state: str | None) -> str:
        return self.paint(state or DASH, {"open": "green", "failed": "red", "detached": "yellow",
                                          "opening": "yellow", "adjusting": "yellow",
                                          "closing": "yellow", "closed": "dim"}.get(state or ""))

    def halt(self, mode: str | None) -> str:
        mode = mode or DASH
        return self.paint(mode, None if mode in ("none", DASH) else
                          "red" if mode == "flatten" else "yellow")


PLAIN = Style(False)


# -- numbers ---------------------------------------------------------------------------------------
def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _no_negative_zero(text: str) -> str:
    """`-0.00` and `-0` are zero: drop the sign when no digit is non-zero."""
    if text.startswith("-") and not any(c in "123456789" for c in text):
        return text[1:]
    return text


def number(x: Any, decimals: int = 2, *, grouped: bool = True, trim: bool = False) -> str:
    """A fixed-point number; `-` for None, NaN or a non-number; `inf`/`-inf` spelled out."""
    if not _is_number(x) or math.isnan(x):
        return DASH
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:,.{decimals}f}" if grouped else f"{x:.{decimals}f}"
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".")
    return _no_negative_zero(text)


def usd(x: Any) -> str:
    """Cash in USD: cents."""
    return number(x, 2)


def coins(x: Any) -> str:
    """A base-asset quantity: up to 8 decimals (satoshi), trailing zeros dropped."""
    return number(x, 8, trim=True)


def price(x: Any) -> str:
    """A price: cents for large prices, more digits as the price gets small."""
    if not _is_number(x) or math.isnan(x) or math.isinf(x):
        return number(x)
    size = abs(x)
    return number(x, 2 if size >= 1000 else 4 if size >= 1 else 8, trim=size < 1)


def pct(x: Any, decimals: int = 2) -> str:
    return number(x, decimals)


def bps(x: Any) -> str:
    return number(x, 1)


def age(ms: Any) -> str:
    """A duration in milliseconds as `850ms`, `42s`, `3m12s`, `2h05m` or `3d04h`."""
    if not _is_number(ms) or math.isnan(ms) or math.isinf(ms):
        return DASH
    ms = max(0, int(ms))
    if ms < 1000:
        return f"{ms}ms"
    s = ms // 1000
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def since(ts_ms: Any, now_ms: int | None) -> str:
    """Age of a wall-clock timestamp; `-` when the timestamp (0 or missing) or the clock is unknown."""
    if not _is_number(ts_ms) or ts_ms <= 0 or now_ms is None:
        return DASH
    return age(now_ms - ts_ms)


def base_asset(symbol: str | None) -> str:
    """`BTCUSDT` -> `BTC`; the symbol itself when no known quote suffix matches."""
    if not symbol:
        return ""
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)]
    return symbol


# -- tables ----------------------------------------------------------------------------------------
def visible_len(text: str) -> int:
    return len(_ANSI.sub("", text))


def table(rows: Sequence[Sequence[Any]], header: Sequence[str], *, right: Iterable[int] = (),
          style: Style = PLAIN) -> str:
    """Columns two spaces apart; `right` names the numeric columns (right-aligned). None prints
    as `-` (unknown), "" as blank (nothing to say, e.g. a totals row)."""
    right_set = set(right)
    cells = [list(header)] + [[DASH if c is None else str(c) for c in r] for r in rows]
    widths = [max(visible_len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        parts = []
        for i, (cell, width) in enumerate(zip(row, widths)):
            pad = " " * (width - visible_len(cell))
            parts.append(pad + cell if i in right_set else cell + pad)
        line = "  ".join(parts).rstrip()
        lines.append(style.paint(line, "bold") if n == 0 else line)
    return "\n".join(lines)


# -- status ----------------------------------------------------------------------------------------
def _stream_rows(venues: Mapping[str, Any], now_ms: int | None, style: Style) -> list[list[str]]:
    rows = []
    for name, v in sorted(venues.items()):
        for stream, st in sorted((v.get("streams") or {}).items()):
            rows.append([name, stream, style.health(st.get("health")), since(st.get("since_ms"), now_ms),
                         since(st.get("last_msg_ms"), now_ms), st.get("reason") or DASH])
    return rows


def _venue_rows(venues: Mapping[str, Any], now_ms: int | None, style: Style) -> list[list[str]]:
    rows = []
    for name, v in sorted(venues.items()):
        streams = v.get("streams") or {}
        healthy = sum(1 for st in streams.values() if st.get("health") == "healthy")
        bad = ", ".join(f"{k}={st.get('health')}" for k, st in sorted(streams.items())
                        if st.get("health") != "healthy")
        seen = [st.get("last_msg_ms") for st in streams.values() if (st.get("last_msg_ms") or 0) > 0]
        rows.append([name, style.health(v.get("state")), f"{healthy}/{len(streams)} healthy",
                     since(min(seen), now_ms) if seen else DASH, bad or DASH])
    return rows


def pair_counts(positions: Sequence[Mapping[str, Any]] | None) -> str:
    """`2 open, 1 closed (3 total)`, counted from the positions view itself."""
    if positions is None:
        return DASH
    if not positions:
        return "none"
    by_state = Counter(str(p.get("state")) for p in positions)
    order = ["opening", "open", "adjusting", "closing", "failed", "detached", "closed"]
    names = sorted(by_state, key=lambda s: order.index(s) if s in order else len(order))
    return ", ".join(f"{by_state[s]} {s}" for s in names) + f" ({len(positions)} total)"


def render_status(s: Mapping[str, Any], now_ms: int | None = None, positions: Sequence[Mapping[str, Any]] | None = None,
                  *, streams: bool = False, style: Style = PLAIN) -> str:
    """The daemon at a glance. `positions` is the `GET /v1/positions` list, so the pair counts are
    the positions view's own (the daemon's `counts.positions` are the venues' perp positions)."""
    uptime = s.get("uptime_s")
    lines = [f"basisd {s.get('version') or DASH}  pid {s.get('pid') or DASH}  "
             f"up {age(uptime * 1000) if _is_number(uptime) else DASH}  "
             f"halt: {style.halt(_halt_mode(s))}  config: {s.get('config') or DASH}"]
    halt = (s.get("watchdog") or {}).get("halt") or {}
    if halt.get("mode") not in (None, "none"):
        lines.append(f"halted {halt.get('mode')} {since(halt.get('since_ms'), now_ms)} ago"
                     f" ({'automatic' if halt.get('automatic') else 'operator'}): {halt.get('reason') or DASH}")
    journal = s.get("journal")
    if isinstance(journal, dict):
        if journal.get("healthy", True):
            lines.append(f"journal: {style.health('ok')} ({journal.get('commits', 0)} commits)")
        else:
            lines.append(f"journal: {style.paint('FAILING', 'red')} ({journal.get('errors')} errors, "
                         f"{journal.get('pending_rows')} rows held in memory): {journal.get('last_error')}")
    venues = s.get("venues") or {}
    if not venues:
        lines.append("venues: none")
    elif streams:
        lines.append(table(_stream_rows(venues, now_ms, style),
                           ["VENUE", "STREAM", "HEALTH", "SINCE", "LAST MSG", "REASON"],
                           right=(3, 4), style=style))
    else:
        lines.append(table(_venue_rows(venues, now_ms, style),
                           ["VENUE", "STATE", "STREAMS", "OLDEST LAST MSG", "UNHEALTHY"],
                           right=(3,), style=style))
    lost = (s.get("legging") or {}).get("lost") or []
    if lost:
        lines.append(style.paint(f"LOST pairs (the venue no longer holds their legs): "
                                 f"{', '.join(lost)}", "red"))
    unmanaged = s.get("unmanaged") or {}
    for u in unmanaged.get("positions", []):
        lines.append(f"unmanaged: {u.get('venue')} {u.get('kind')} {u.get('name')} "
                     f"{coins(u.get('qty'))} (venue {coins(u.get('venue_qty'))}, "
                     f"pairs {coins(u.get('explained_qty'))})")
    for o in unmanaged.get("orders", []):
        lines.append(f"unmanaged order: {o.get('venue')} {o.get('market')} {o.get('symbol')} "
                     f"{o.get('side')} {o.get('client_id')} ({o.get('status')})")
    counts = s.get("counts") or {}
    lines.append(f"pairs: {pair_counts(positions)}   venue positions: {counts.get('positions', DASH)}   "
                 f"open orders: {counts.get('open_orders', DASH)}")
    lines.append(f"instruments: {counts.get('instruments', DASH)}   books: {counts.get('books', DASH)}   "
                 f"marks: {counts.get('marks', DASH)}   reloads: {s.get('reloads', DASH)}   "
                 f"subscriber errors: {s.get('subscriber_errors', DASH)}")
    dash = s.get("dashboard") or {}
    if dash.get("url"):
        lines.append(f"dashboard: {dash['url']}" + ("  (access token required)" if dash.get("token") else ""))
    elif dash.get("error"):
        lines.append(f"dashboard: {style.paint('unavailable', 'red')}: {dash['error']}")
    return "\n".join(lines)


def _halt_mode(s: Mapping[str, Any]) -> str | None:
    halt = s.get("halt")
    return halt.get("mode") if isinstance(halt, dict) else halt


# -- health ----------------------------------------------------------------------------------------
def health_verdict(health: Mapping[str, Any] | None, status: Mapping[str, Any] | None, *,
                   require_venues: bool = False) -> tuple[bool, str]:
    """(healthy, one-line reason) for a probe: the daemon answers, its journal writes and, with
    `require_venues`, every venue's streams are healthy. A halt is an operator state, not ill health."""
    if not health or health.get("ok") is not True:
        return False, "the daemon answered but does not report ok"
    if status is None:
        return True, "the daemon answers (no status)"
    journal = status.get("journal")
    if isinstance(journal, dict) and not journal.get("healthy", True):
        return False, f"journal failing: {journal.get('last_error') or 'write errors'}"
    venues = status.get("venues") or {}
    bad = sorted(name for name, v in venues.items() if v.get("state") != "healthy")
    if require_venues and bad:
        states = ", ".join(f"{n}={venues[n].get('state')}" for n in bad)
        return False, f"venues not healthy: {states}"
    up = len(venues) - len(bad)
    parts = [f"{up}/{len(venues)} venues healthy", f"halt {_halt_mode(status) or 'none'}"]
    return True, "serving: " + ", ".join(parts)


# -- positions -------------------------------------------------------------------------------------
_PNL_PARTS = ("funding", "interest", "fees", "basis", "net")
_COSTS = frozenset({"interest", "fees"})


def pnl_contributions(pnl: Mapping[str, Any]) -> dict[str, float | None]:
    """Each PnL part as its contribution to net: the daemon reports interest and fees as costs
    (positive = paid), here they are negative so that funding + interest + fees + basis = net."""
    out: dict[str, float | None] = {}
    for part in _PNL_PARTS:
        value = pnl.get(part)
        out[part] = (-value if part in _COSTS else value) if _is_number(value) else None
    return out


def _venues_of(p: Mapping[str, Any]) -> str:
    legs = p.get("legs") or []
    return "/".join(str(lg.get("venue") or DASH) for lg in legs) or DASH


def position_totals(items: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Open notional (pairs not closed or detached) and every PnL part summed over all pairs."""
    totals = {"notional_usd": 0.0, **{part: 0.0 for part in _PNL_PARTS}}
    for p in items:
        if p.get("state") not in _TERMINAL_STATES and _is_number(p.get("notional_usd")):
            totals["notional_usd"] += p["notional_usd"]
        for part, value in pnl_contributions(p.get("pnl") or {}).items():
            if value is not None:
                totals[part] += value
    return totals


def listing(data: Any, key: str) -> list[Mapping[str, Any]]:
    """The list in an API answer: `{"positions": [...]}` or the bare list."""
    items = data.get(key, []) if isinstance(data, Mapping) else data
    return list(items or [])


def render_positions(data: Any, now_ms: int | None = None, *, style: Style = PLAIN) -> str:
    """`data`: the `GET /v1/positions` answer or its list. Ages need `now_ms`."""
    items = listing(data, "positions")
    if not items:
        return "no pairs"
    rows = []
    for p in items:
        parts = pnl_contributions(p.get("pnl") or {})
        rows.append([p.get("id"), p.get("type"), p.get("symbol"), style.pair_state(p.get("state")),
                     _venues_of(p), usd(p.get("notional_usd")), since(p.get("created_ms"), now_ms),
                     coins(p.get("residual_base")),
                     *(style.signed(usd(parts[k]), parts[k]) for k in _PNL_PARTS),
                     p.get("reason") or DASH])
    totals = position_totals(items)
    rows.append(["TOTAL", "", "", "", "", usd(totals["notional_usd"]), "", "",
                 *(style.signed(usd(totals[k]), totals[k]) for k in _PNL_PARTS), ""])
    header = ["ID", "TYPE", "SYMBOL", "STATE", "VENUES", "NOTIONAL USD", "AGE", "RESIDUAL",
              "FUNDING USD", "INTEREST USD", "FEES USD", "BASIS USD", "NET USD", "REASON"]
    open_count = sum(1 for p in items if p.get("state") not in _TERMINAL_STATES)
    foot = (f"{len(items)} pair{'s' if len(items) != 1 else ''} ({open_count} live); TOTAL notional counts live pairs only; PnL in USD "
            "as contributions to net (interest and fees paid are negative)")
    return table(rows, header, right=(5, 6, 7, 8, 9, 10, 11, 12), style=style) + "\n" + foot


def render_position(p: Mapping[str, Any], now_ms: int | None = None, *, style: Style = PLAIN) -> str:
    coin = base_asset(p.get("symbol"))
    op = p.get("operation") or {}
    lines = [
        f"pair {p.get('id')}  {p.get('type')} {p.get('symbol')}  state {style.pair_state(p.get('state'))}"
        f"  origin {p.get('origin') or DASH}  execution {p.get('execution') or DASH}",
        f"notional {usd(p.get('notional_usd'))} USD  target {coins(p.get('target_qty'))} {coin} per leg"
        f"  age {since(p.get('created_ms'), now_ms)}  updated {since(p.get('updated_ms'), now_ms)} ago",
        f"residual {coins(p.get('residual_base'))} {coin} (tolerance {coins(p.get('residual_tolerance'))})"
        f"  hedged {'yes' if p.get('hedged') else 'no'}  orders sent {p.get('orders_sent', DASH)}",
        f"operation {op.get('kind') or DASH} #{op.get('seq', DASH)}"
        f" {'running' if op.get('running') else 'idle'}  reason {p.get('reason') or DASH}",
        "",
    ]
    legs = []
    for i, lg in enumerate(p.get("legs") or []):
        qty, avg = lg.get("qty"), lg.get("avg_price")
        notional = qty * avg if _is_number(qty) and _is_number(avg) else None
        legs.append([i, lg.get("venue"), lg.get("market"), lg.get("side"), coins(qty),
                     coins(lg.get("target_qty")), price(avg), usd(notional),
                     coins(lg.get("interest_coin")), pct(lg.get("liq_distance_pct")),
                     # the venue nets pairs sharing a symbol or a coin: its figure, this pair's share
                     coins(lg.get("venue_qty")), coins(lg.get("venue_share")),
                     lg.get("blocked") or DASH])
    lines.append(table(legs, ["LEG", "VENUE", "MARKET", "SIDE", f"QTY {coin}", f"TARGET {coin}",
                              "AVG PRICE", "NOTIONAL USD", f"INTEREST {coin}", "LIQ DIST %",
                              f"VENUE NET {coin}", f"SHARE {coin}", "BLOCKED"],
                       right=(4, 5, 6, 7, 8, 9, 10, 11), style=style))
    pnl = p.get("pnl") or {}
    parts = pnl_contributions(pnl)
    lines += ["", "PnL USD (contributions to net): " + "  ".join(
        f"{k} {style.signed(usd(parts[k]), parts[k])}" for k in _PNL_PARTS),
        f"realised {usd(pnl.get('realised'))}  unrealised {usd(pnl.get('unrealised'))}"
        f"  realised net APR {pct(pnl.get('realised_net_apr'))} %"]
    return "\n".join(lines)


# -- opportunities ---------------------------------------------------------------------------------
def _opp_venues(o: Mapping[str, Any]) -> str:
    venues = o.get("venues")
    if isinstance(venues, str):
        return venues
    return "/".join(str(v) for v in (venues or {}).values()) or DASH


def render_opportunities(data: Any, now_ms: int | None = None, *, style: Style = PLAIN) -> str:
    """`data`: the `GET /v1/opportunities` answer or its list. HOLD H is the hold the APRs are priced
    over, MODEL how funding was forecast (apr_only: no fit yet). Time to funding needs `now_ms`."""
    items = listing(data, "opportunities")
    if not items:
        return "no opportunities"
    rows = []
    for i, o in enumerate(items):
        why = "; ".join(str(r) for r in o.get("reasons") or []) or DASH
        rows.append([i + 1, o.get("type"), o.get("symbol"), _opp_venues(o), pct(o.get("funding_apr_pct")),
                     pct(o.get("borrow_apr_pct")), pct(o.get("fee_apr_pct")),
                     style.signed(pct(o.get("net_apr_pct")), o.get("net_apr_pct")),
                     number(o.get("holding_hours"), 1), o.get("model"), number(o.get("zscore")), bps(o.get("basis_bps")), usd(o.get("depth_usd")),
                     _until(o.get("next_funding_ms"), now_ms),
                     "yes" if o.get("ok") else style.paint("no", "yellow"), why])
    return table(rows, ["#", "TYPE", "SYMBOL", "VENUES", "FUNDING APR %", "BORROW APR %", "FEE APR %",
                        "NET APR %", "HOLD H", "MODEL", "Z", "BASIS BPS", "DEPTH USD", "NEXT FUNDING",
                        "OK", "WHY NOT"],
                 right=(0, 4, 5, 6, 7, 8, 10, 11, 12, 13), style=style)


def _until(ts_ms: Any, now_ms: int | None) -> str:
    if not _is_number(ts_ms) or ts_ms <= 0 or now_ms is None:
        return DASH
    return "in " + age(ts_ms - now_ms)


# -- actions ---------------------------------------------------------------------------------------
def render_action(command: str, data: Mapping[str, Any], *, style: Style = PLAIN) -> str:
    """One line for a POST's answer: what was accepted and the pair's state now."""
    if command == "open":
        return (f"opening pair {data.get('id')}: state {style.pair_state(data.get('state'))}"
                f" (follow with: basisctl show {data.get('id')})")
    if command in ("halt", "resume"):
        halt = data.get("halt") or {}
        mode = halt.get("mode")
        if mode in (None, "none"):
            return "trading resumed: halt none"
        return f"halted: {style.halt(mode)} (reason: {halt.get('reason') or DASH}); undo with: basisctl resume"
    if command == "reload":
        return f"config reloaded (reload #{data.get('reloads', DASH)})"
    return (f"{data.get('operation', command)} accepted for pair {data.get('id')}: "
            f"state {style.pair_state(data.get('state'))}")


def error_line(status: int | None, message: str, field: str | None) -> str:
    where = f" (field: {field})" if field else ""
    code = f"{status}: " if status else ""
    return f"basisctl: {code}{message}{where}"

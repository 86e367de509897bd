"""The daemon's metric families: what /metrics carries, and where each value is read from.

Every gauge and counter is read at scrape time from the component that keeps the figure (hub,
legging engine and its order executor, watchdog, journal, the venues' REST sessions, the stream
event counter); the latency histograms are recorded on the hot path through `hub.observe`.
"""
from __future__ import annotations

import time
from typing import Any

from daemon.core.halt import HaltMode
from daemon.ops.metrics import Histogram, HistogramFamily, Labels, Registry, Samples
from daemon.ops.stream_events import StreamEvents

Rows = list[tuple[Labels, float]]


class LatencySink:
    """`hub.observe(name, seconds, venue)`: the hot path's histograms, per venue where named."""

    def __init__(self, registry: Registry) -> None:
        def family(name: str, help_text: str, *labels: str) -> HistogramFamily:
            return registry.family(HistogramFamily(name, help_text, labels))
        self.families = {
            "feed_lag": family("basisd_feed_lag_seconds",
                               "Venue event time to local receive of a book update.", "venue"),
            "tick_to_order": family("basisd_tick_to_order_seconds",
                                    "Last book change of a leg's instrument to its order written.",
                                    "venue"),
            "leg_skew": family("basisd_leg_skew_seconds",
                               "Time between the two legs' writes in one fire."),
            "order_ack": family("basisd_order_ack_seconds",
                                "Order written to the venue's acknowledgement.", "venue"),
        }

    def __call__(self, name: str, seconds: float, venue: str) -> None:
        fam = self.families.get(name)
        if fam is not None:
            fam.child(*((venue,) if fam.label_names else ())).observe(seconds)


class DaemonMetrics:
    """Registers every family on `registry`, reading from `daemon` (daemon.app.Daemon)."""

    def __init__(self, daemon: Any, registry: Registry, streams: StreamEvents) -> None:
        self.d = daemon
        self.m = registry
        self.streams = streams
        self.latency = LatencySink(registry)
        # The engine's views, built once per scrape for all the per-pair families.
        self._views: list[dict[str, Any]] | None = None
        registry.scrape_hooks.append(self._forget_views)
        self._register_runtime()
        self._register_pairs()
        self._register_counters()

    def watch_histogram(self, hist: Histogram) -> None:
        self.m.histogram(hist)

    # -- families ------------------------------------------------------------------------------
    def _register_runtime(self) -> None:
        m, d, hub = self.m, self.d, self.d.hub
        m.gauge("basisd_uptime_seconds", "Seconds since the daemon started.",
                lambda: [((), time.time() - d.started_at)])
        m.gauge("basisd_stream_healthy", "1 when a venue stream is healthy, else 0.",
                lambda: [((("venue", v), ("stream", s)), 1.0 if st.health.value == "healthy" else 0.0)
                         for (v, s), st in hub.streams.items()])
        m.counter("basisd_subscriber_errors_total", "Hub subscriber exceptions caught.",
                  lambda: [((), hub.subscriber_errors)])
        m.counter("basisd_reloads_total", "Successful configuration reloads.",
                  lambda: [((), d.reloads)])
        m.gauge("basisd_open_orders", "Orders not yet final, per venue.",
                lambda: [((("venue", v),), n) for v, n in _count_open(hub).items()])
        m.gauge("basisd_pairs", "Pairs per state.", lambda: [
            ((("state", st),), n) for st, n in _count_by(p.state.value for p in hub.pairs.values()).items()])
        m.gauge("basisd_funding_rate", "Predicted funding rate per venue and symbol.",
                lambda: [((("venue", k[0]), ("symbol", k[1])), mk.funding_rate)
                         for k, mk in hub.marks.items()])
        m.gauge("basisd_journal_healthy", "1 while journal writes succeed, 0 while they fail.",
                lambda: self._journal(lambda j: 1.0 if j.healthy else 0.0))
        m.counter("basisd_journal_errors_total", "Failed journal writes (commits, intent log, rows).",
                  lambda: self._journal(lambda j: j.errors))
        m.gauge("basisd_journal_pending_rows", "Rows held in memory for a journal commit that failed.",
                lambda: self._journal(lambda j: j.pending_rows))
        m.gauge("basisd_halt", "1 for the halt mode in force, 0 for the others.",
                lambda: [((("mode", mode.value),), 1.0 if mode.value == self.halt_mode() else 0.0)
                         for mode in HaltMode])

    def _register_pairs(self) -> None:
        m = self.m
        m.gauge("basisd_pair_residual_base", "Hedge residual of each managed pair, base units.",
                lambda: self._pair_values(lambda v: [((), v.get("residual_base"))]))
        m.gauge("basisd_pair_net_pnl_usd",
                "Net PnL of each managed pair (funding, interest, fees, basis).",
                lambda: self._pair_values(lambda v: [((), v["pnl"].get("net"))]))
        m.gauge("basisd_pair_pnl_usd", "PnL of each managed pair by part "
                "(funding, interest, fees, basis, net).",
                lambda: self._pair_values(lambda v: [
                    ((("part", part),), v["pnl"].get(part))
                    for part in ("funding", "interest", "fees", "basis", "net")]))
        m.gauge("basisd_pair_net_apr", "Realised net APR of each managed pair (fraction a year).",
                lambda: self._pair_values(lambda v: [((), v["pnl"].get("realised_net_apr"))]))
        m.gauge("basisd_pair_liq_distance_pct",
                "Distance to liquidation of each leg of each managed pair, percent of price.",
                lambda: self._pair_values(lambda v: [
                    ((("leg", str(i)), ("venue", leg["venue"]), ("market", leg["market"])),
                     leg.get("liq_distance_pct")) for i, leg in enumerate(v["legs"])]))

    def _register_counters(self) -> None:
        m = self.m
        m.counter("basisd_orders_total", "Orders by final outcome "
                  "(filled, canceled, rejected, expired, unknown).",
                  lambda: [((("outcome", k),), n) for k, n in sorted(self._executor("outcomes").items())])
        m.counter("basisd_order_rejects_total", "Orders the venue rejected, by venue and code.",
                  lambda: [((("venue", v), ("code", c)), n)
                           for (v, c), n in sorted(self._executor("rejects").items())])
        m.counter("basisd_book_resyncs_total", "Book streams that went resyncing (gap, crossed, "
                  "reconnect).", lambda: _per_stream(self.streams.resyncs))
        m.counter("basisd_ws_reconnects_total", "Websockets healthy again after down or stale.",
                  lambda: _per_stream(self.streams.reconnects))
        m.counter("basisd_http_429_total", "REST answers with HTTP 429, per venue.",
                  self._http_429)

    # -- readers -------------------------------------------------------------------------------
    def halt_mode(self) -> str:
        mode = getattr(getattr(self.d.watchdog, "halt_state", None), "mode", None)
        return str(getattr(mode, "value", mode or "none"))

    def _journal(self, value: Any) -> Rows:
        journal = getattr(self.d.legging, "journal", None)
        return [] if journal is None else [((), float(value(journal)))]

    def _executor(self, name: str) -> dict[Any, int]:
        executor = getattr(self.d.legging, "executor", None)
        return dict(getattr(executor, name, {}))

    def _http_429(self) -> Rows:
        out: Rows = []
        for name, venue in sorted(self.d.venues.items()):
            counts = getattr(getattr(venue, "rest", None), "status_counts", None)
            if isinstance(counts, dict):
                out.append(((("venue", name),), float(counts.get(429, 0))))
        return out

    def _forget_views(self) -> None:
        self._views = None

    def _pair_views(self) -> list[dict[str, Any]]:
        if self.d.legging is None:
            return []
        if self._views is None:
            self._views = [v for v in self.d.legging.views()
                           if v.get("state") not in ("closed", "detached")]
        return self._views

    def _pair_values(self, pick: Any) -> Samples:
        out: Rows = []
        for view in self._pair_views():
            base: Labels = (("pair", view["id"]), ("symbol", view["symbol"]))
            for labels, value in pick(view):
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out.append((base + labels, float(value)))
        return out


def _per_stream(counts: dict[tuple[str, str], int]) -> Rows:
    return [((("venue", v), ("stream", s)), float(n)) for (v, s), n in sorted(counts.items())]


def _count_by(items: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def _count_open(hub: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (venue, _cid), order in hub.orders.items():
        if not order.is_final:
            counts[venue] = counts.get(venue, 0) + 1
    return counts

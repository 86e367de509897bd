"""Metrics exposed with prometheus_client: one CollectorRegistry per daemon.

Gauges and counters are read from callbacks at scrape time (the hub, the engine, the watchdog,
the journal, the venues' transports keep their own figures), so the hot path does no bookkeeping
for them. Latency histograms are recorded here: an observe is a bisect and two additions on the
event loop's thread (no lock: prometheus_client's own Histogram takes one per observe), and
prometheus_client renders them through a custom collector only when /metrics is scraped.
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

Labels = tuple[tuple[str, str], ...]
Samples = Iterable[tuple[Labels, float]]

# The content type a scrape is answered with (the text format's version is in it).
CONTENT_TYPE = CONTENT_TYPE_LATEST

# 50 us .. 1 s: the daemon's reactions are sub-millisecond on a healthy box.
LATENCY_BUCKETS: tuple[float, ...] = (
    50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 0.5, 1.0)


class Histogram:
    """One latency distribution (one label set): cumulative buckets, sum, count."""

    def __init__(self, name: str, help_text: str, buckets: Iterable[float] = LATENCY_BUCKETS,
                 labels: Labels = ()) -> None:
        self.name = name
        self.help = help_text
        self.labels = labels
        self.bounds = sorted(buckets)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def quantile(self, q: float) -> float | None:
        """Upper bound of the bucket holding the q-quantile (None if empty)."""
        if not self.count:
            return None
        rank = q * self.count
        acc = 0
        for i, c in enumerate(self.counts):
            acc += c
            if acc >= rank:
                return self.bounds[i] if i < len(self.bounds) else math.inf
        return math.inf

    def render(self) -> list[str]:
        """This histogram alone in the exposition format (one line each)."""
        registry = Registry()
        registry.histogram(self)
        return registry.render().splitlines()

    def cumulative(self) -> list[tuple[str, float]]:
        """prometheus_client's bucket form: (upper bound as text, cumulative count)."""
        out, acc = [], 0
        for bound, c in zip([*self.bounds, math.inf], self.counts):
            acc += c
            out.append(("+Inf" if math.isinf(bound) else _bound(bound), float(acc)))
        return out


def _bound(x: float) -> str:
    from prometheus_client.utils import floatToGoString
    return floatToGoString(x)


class HistogramFamily:
    """Histograms of one name, one per label values (e.g. per venue); children made on first use."""

    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...] = (),
                 buckets: Iterable[float] = LATENCY_BUCKETS) -> None:
        self.name = name
        self.help = help_text
        self.label_names = label_names
        self.buckets = tuple(buckets)
        self.children: dict[tuple[str, ...], Histogram] = {}

    def child(self, *values: str) -> Histogram:
        hist = self.children.get(values)
        if hist is None:
            hist = Histogram(self.name, self.help, self.buckets,
                             tuple(zip(self.label_names, values)))
            self.children[values] = hist
        return hist

    def observe(self, value: float, *values: str) -> None:
        self.child(*values).observe(value)


class _ScrapeCollector(Collector):
    """Turns the registry's callbacks and histograms into metric families at scrape time."""

    def __init__(self, owner: Registry) -> None:
        self.owner = owner

    def collect(self) -> Iterator[Any]:
        for hook in self.owner.scrape_hooks:
            hook()
        for name, help_text, kind, read in self.owner.readers:
            try:
                samples = list(read())
            except Exception:  # a broken collector must not break the scrape
                samples = []
            # label names in the order the samples give them (dict: ordered and unique)
            names = list(dict.fromkeys(k for labels, _ in samples for k, _ in labels))
            family_type = GaugeMetricFamily if kind == "gauge" else CounterMetricFamily
            family = family_type(name, help_text, labels=names)
            for labels, value in samples:
                given = dict(labels)
                family.add_metric([given.get(k, "") for k in names], float(value))
            yield family
        for hist in self.owner.histograms:
            yield _family(hist.name, hist.help, [hist])
        for fam in self.owner.families:
            yield _family(fam.name, fam.help, list(fam.children.values()), fam.label_names)


def _family(name: str, help_text: str, hists: list[Histogram],
            label_names: tuple[str, ...] = ()) -> HistogramMetricFamily:
    names = list(label_names) or list(dict.fromkeys(k for h in hists for k, _ in h.labels))
    family = HistogramMetricFamily(name, help_text, labels=names)
    for hist in hists:
        given = dict(hist.labels)
        family.add_metric([given.get(k, "") for k in names], hist.cumulative(), hist.sum)
    return family


class Registry:
    """The daemon's metrics: `gauge` / `counter` read a callback at scrape time (samples are
    (labels, value) pairs), `histogram` / `family` register recorded distributions."""

    def __init__(self) -> None:
        self.readers: list[tuple[str, str, str, Callable[[], Samples]]] = []
        self.histograms: list[Histogram] = []
        self.families: list[HistogramFamily] = []
        self.scrape_hooks: list[Callable[[], None]] = []   # run first on every scrape
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_ScrapeCollector(self))

    def gauge(self, name: str, help_text: str, read: Callable[[], Samples]) -> None:
        self.readers.append((name, help_text, "gauge", read))

    def counter(self, name: str, help_text: str, read: Callable[[], Samples]) -> None:
        """`name` without `_total`: the exposition appends it to the sample."""
        self.readers.append((name.removesuffix("_total"), help_text, "counter", read))

    def histogram(self, hist: Histogram) -> Histogram:
        self.histograms.append(hist)
        return hist

    def family(self, fam: HistogramFamily) -> HistogramFamily:
        self.families.append(fam)
        return fam

    def render(self) -> str:
        return generate_latest(self.registry).decode()

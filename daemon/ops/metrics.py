"""Prometheus text exposition (format 0.0.4), written by hand: counters, gauges, histograms.

Kept dependency-free and cheap on the hot path: observing is a bisect and two additions; rendering
happens only when /metrics is scraped.
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable

Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels, extra: tuple[str, str] | None = None) -> str:
    items = list(labels) + ([extra] if extra else [])
    if not items:
        return ""
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in items) + "}"


def _num(x: float) -> str:
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(float(x)) if not float(x).is_integer() else str(int(x)) if abs(x) < 1e15 else repr(x)


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: Iterable[float]) -> None:
        self.name = name
        self.help = help_text
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
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        acc = 0
        for bound, c in zip(self.bounds + [math.inf], self.counts):
            acc += c
            out.append(f"{self.name}_bucket{_labels((), ('le', _num(bound)))} {acc}")
        out.append(f"{self.name}_sum {_num(self.sum)}")
        out.append(f"{self.name}_count {self.count}")
        return out


class Registry:
    """Gauges and counters are read from callbacks at scrape time: no bookkeeping on the hot path."""

    def __init__(self) -> None:
        self._collectors: list[tuple[str, str, str, Callable[[], Iterable[tuple[Labels, float]]]]] = []
        self._histograms: list[Histogram] = []

    def gauge(self, name: str, help_text: str, read: Callable[[], Iterable[tuple[Labels, float]]]) -> None:
        self._collectors.append((name, help_text, "gauge", read))

    def counter(self, name: str, help_text: str, read: Callable[[], Iterable[tuple[Labels, float]]]) -> None:
        self._collectors.append((name, help_text, "counter", read))

    def histogram(self, hist: Histogram) -> Histogram:
        self._histograms.append(hist)
        return hist

    def render(self) -> str:
        lines: list[str] = []
        for name, help_text, kind, read in self._collectors:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            try:
                samples = list(read())
            except Exception:  # a broken collector must not break the scrape
                samples = []
            for labels, value in samples:
                lines.append(f"{name}{_labels(labels)} {_num(value)}")
        for hist in self._histograms:
            lines += hist.render()
        return "\n".join(lines) + "\n"

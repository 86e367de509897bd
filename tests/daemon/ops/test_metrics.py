from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families

from daemon.ops.metrics import Histogram, HistogramFamily, Registry


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_histogram_buckets_are_cumulative_and_quantiles_bounded() -> None:
    r = Registry()
    h = r.histogram(Histogram("basisd_reaction_seconds", "Reaction time.", [0.001, 0.01, 0.1]))
    for v in (0.0005, 0.002, 0.002, 0.05, 3.0):
        h.observe(v)
    samples = _samples(r.render())
    assert samples[("basisd_reaction_seconds_bucket", (("le", "0.001"),))] == 1
    assert samples[("basisd_reaction_seconds_bucket", (("le", "0.01"),))] == 3
    assert samples[("basisd_reaction_seconds_bucket", (("le", "0.1"),))] == 4
    assert samples[("basisd_reaction_seconds_bucket", (("le", "+Inf"),))] == 5
    assert samples[("basisd_reaction_seconds_count", ())] == 5
    assert samples[("basisd_reaction_seconds_sum", ())] == sum((0.0005, 0.002, 0.002, 0.05, 3.0))
    assert h.quantile(0.5) == 0.01 and h.quantile(1.0) == math.inf
    assert Histogram("x", "y", [1]).quantile(0.5) is None


def test_histogram_family_has_one_child_per_label_value() -> None:
    r = Registry()
    fam = r.family(HistogramFamily("basisd_lag_seconds", "Lag.", ("venue",), buckets=[0.001]))
    fam.observe(0.0001, "a")
    fam.observe(0.01, "b")
    fam.observe(0.0002, "a")
    samples = _samples(r.render())
    assert samples[("basisd_lag_seconds_count", (("venue", "a"),))] == 2
    assert samples[("basisd_lag_seconds_bucket", (("le", "0.001"), ("venue", "b")))] == 0
    assert samples[("basisd_lag_seconds_bucket", (("le", "+Inf"), ("venue", "b")))] == 1


def test_registry_renders_labels_escaped_and_survives_a_broken_collector() -> None:
    r = Registry()
    r.gauge("g", "A gauge.", lambda: [((("venue", 'a"b'),), 1.5)])
    r.counter("c", "Broken.", lambda: 1 / 0)  # type: ignore[arg-type,return-value]
    r.counter("n_total", "Counted.", lambda: [((), 3)])
    text = r.render()
    assert '# TYPE g gauge\ng{venue="a\\"b"} 1.5' in text
    assert "# TYPE c_total counter" in text    # prometheus_client names counters with _total
    assert "n_total 3.0" in text
    assert _samples(text)[("g", (("venue", 'a"b'),))] == 1.5

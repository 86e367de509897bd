from __future__ import annotations

import math

from daemon.ops.metrics import Histogram, Registry


def test_histogram_buckets_are_cumulative_and_quantiles_bounded() -> None:
    h = Histogram("basisd_reaction_seconds", "Reaction time.", [0.001, 0.01, 0.1])
    for v in (0.0005, 0.002, 0.002, 0.05, 3.0):
        h.observe(v)
    lines = h.render()
    assert 'basisd_reaction_seconds_bucket{le="0.001"} 1' in lines
    assert 'basisd_reaction_seconds_bucket{le="0.01"} 3' in lines
    assert 'basisd_reaction_seconds_bucket{le="0.1"} 4' in lines
    assert 'basisd_reaction_seconds_bucket{le="+Inf"} 5' in lines
    assert "basisd_reaction_seconds_count 5" in lines
    assert h.quantile(0.5) == 0.01 and h.quantile(1.0) == math.inf
    assert Histogram("x", "y", [1]).quantile(0.5) is None


def test_registry_renders_labels_escaped_and_survives_a_broken_collector() -> None:
    r = Registry()
    r.gauge("g", "A gauge.", lambda: [((("venue", 'a"b'),), 1.5)])
    r.counter("c", "Broken.", lambda: 1 / 0)  # type: ignore[arg-type,return-value]
    text = r.render()
    assert '# TYPE g gauge\ng{venue="a\\"b"} 1.5' in text
    assert "# TYPE c counter" in text

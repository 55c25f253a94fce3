"""Prometheus text exposition written by hand."""

from __future__ import annotations

from lxd_multi_scheduler.metrics import Counter, Gauge, Histogram, Registry


def test_counter_gauge_and_label_escaping():
    registry = Registry()
    counter = registry.add(Counter("demo_total", "Demo counter."))
    counter.inc(host='a"b\\c\nd')
    counter.inc(2, host="z")
    registry.add(Gauge("demo_gauge", "Demo gauge.", lambda: [({"host": "x"}, 1.5), ({}, 3)]))
    assert registry.render() == (
        "# HELP demo_total Demo counter.\n"
        "# TYPE demo_total counter\n"
        'demo_total{host="a\\"b\\\\c\\nd"} 1\n'
        'demo_total{host="z"} 2\n'
        "# HELP demo_gauge Demo gauge.\n"
        "# TYPE demo_gauge gauge\n"
        "demo_gauge 3\n"
        'demo_gauge{host="x"} 1.5\n'
    )
    assert counter.value(host="z") == 2 and counter.value(host="nobody") == 0


def test_histogram_buckets_are_cumulative():
    histogram = Histogram("demo_seconds", "Demo.", buckets=(0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 3.0):
        histogram.observe(value, path="/x")
    assert histogram.render()[2:] == [
        'demo_seconds_bucket{path="/x",le="0.1"} 2',
        'demo_seconds_bucket{path="/x",le="1"} 3',
        'demo_seconds_bucket{path="/x",le="+Inf"} 4',
        'demo_seconds_sum{path="/x"} 3.65',
        'demo_seconds_count{path="/x"} 4',
    ]

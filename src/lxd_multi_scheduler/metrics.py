"""Prometheus text exposition (format 0.0.4), written by hand: counters, gauges, one histogram type."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: Labels = ()) -> str:
    pairs = labels + extra
    if not pairs:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in pairs) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) and not value.is_integer() else str(int(value))


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str):
        self.name = name
        self.help = help_text
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        """HELP and TYPE lines."""
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    """A monotonically increasing count per label set."""

    kind = "counter"

    def __init__(self, name: str, help_text: str):
        super().__init__(name, help_text)
        self._values: dict[Labels, float] = {}

    def inc(self, amount: float = 1, **labels: str) -> None:
        """Add ``amount`` to the series of ``labels``."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._values[key] = self._values.get(key, 0) + amount

    def value(self, **labels: str) -> float:
        """Current value of one series (0 when never incremented)."""
        return self._values.get(tuple(sorted(labels.items())), 0)

    def render(self) -> list[str]:
        """Exposition lines."""
        with self._lock:
            items = sorted(self._values.items())
        return self.header() + [f"{self.name}{_labels(key)} {_number(value)}" for key, value in items]


class Gauge(_Metric):
    """A value computed when scraped: ``collect`` returns ``[(labels_dict, value), ...]``."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, collect: Callable[[], Iterable[tuple[dict, float]]]):
        super().__init__(name, help_text)
        self._collect = collect

    def render(self) -> list[str]:
        """Exposition lines."""
        rows = sorted((tuple(sorted(labels.items())), value) for labels, value in self._collect())
        return self.header() + [f"{self.name}{_labels(key)} {_number(value)}" for key, value in rows]


class Histogram(_Metric):
    """Cumulative buckets, sum and count per label set."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...] = DEFAULT_BUCKETS):
        super().__init__(name, help_text)
        self._bounds = tuple(sorted(buckets))
        self._series: dict[Labels, list] = {}  # labels -> [bucket counts..., sum, count]

    def observe(self, value: float, **labels: str) -> None:
        """Record one observation."""
        key = tuple(sorted(labels.items()))
        index = bisect.bisect_left(self._bounds, value)
        with self._lock:
            series = self._series.setdefault(key, [0] * len(self._bounds) + [0.0, 0])
            if index < len(self._bounds):
                series[index] += 1
            series[-2] += value
            series[-1] += 1

    def render(self) -> list[str]:
        """Exposition lines."""
        lines = self.header()
        with self._lock:
            items = sorted((key, list(series)) for key, series in self._series.items())
        for key, series in items:
            running = 0
            for bound, count in zip(self._bounds, series):  # stops at the last bound
                running += count
                lines.append(f"{self.name}_bucket{_labels(key, (('le', _number(bound)),))} {running}")
            lines.append(f"{self.name}_bucket{_labels(key, (('le', '+Inf'),))} {series[-1]}")
            lines.append(f"{self.name}_sum{_labels(key)} {_number(series[-2])}")
            lines.append(f"{self.name}_count{_labels(key)} {series[-1]}")
        return lines


class Registry:
    """An ordered set of metrics rendered together."""

    def __init__(self):
        self._metrics: list[_Metric] = []

    def add(self, metric):
        """Register ``metric`` and return it."""
        self._metrics.append(metric)
        return metric

    def render(self) -> str:
        """The whole exposition text."""
        lines: list[str] = []
        for metric in self._metrics:
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"

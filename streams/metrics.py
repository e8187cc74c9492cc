"""Process-wide counters and gauges, rendered in the Prometheus text format on `/metrics`."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence

__all__ = ["METRICS", "Metrics"]

Labels = tuple[tuple[str, str], ...]


class Metrics:
    """A minimal registry: monotonically increasing counters, last-value gauges and
    histograms (cumulative buckets, as Prometheus expects).

    >>> m = Metrics()
    >>> m.inc("riffle_records_in_total", 3, stream="s", stage="features")
    >>> m.set("riffle_accuracy", 0.9, stream="s")
    >>> print(m.render())
    # TYPE riffle_records_in_total counter
    riffle_records_in_total{stream="s",stage="features"} 3
    # TYPE riffle_accuracy gauge
    riffle_accuracy{stream="s"} 0.9
    >>> m = Metrics()
    >>> m.observe_many("lag_ms", [3.0, 12.0, 40.0], buckets=(10, 50), stream="s")
    >>> print(m.render())
    # TYPE lag_ms histogram
    lag_ms_bucket{stream="s",le="10"} 1
    lag_ms_bucket{stream="s",le="50"} 3
    lag_ms_bucket{stream="s",le="+Inf"} 3
    lag_ms_sum{stream="s"} 55
    lag_ms_count{stream="s"} 3
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = {}
        self._gauges: dict[str, dict[Labels, float]] = {}
        # name -> labels -> (bucket bounds, counts per bucket + overflow, sum)
        self._histograms: dict[
            str, dict[Labels, tuple[tuple[float, ...], list[int], list[float]]]
        ] = {}

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        key = tuple(labels.items())
        with self._lock:
            series = self._counters.setdefault(name, {})
            series[key] = series.get(key, 0.0) + value

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._gauges.setdefault(name, {})[tuple(labels.items())] = value

    def observe_many(
        self, name: str, values: Iterable[float], buckets: Sequence[float], **labels: str
    ) -> None:
        """Count each value in the first bucket whose upper bound holds it."""
        key = tuple(labels.items())
        bounds = tuple(float(b) for b in buckets)
        with self._lock:
            series = self._histograms.setdefault(name, {})
            entry = series.get(key)
            if entry is None:
                entry = series[key] = (bounds, [0] * (len(bounds) + 1), [0.0])
            counts, total = entry[1], entry[2]
            for v in values:
                counts[bisect.bisect_left(bounds, v)] += 1
                total[0] += v

    def remove(self, name: str, **labels: str) -> None:
        """Forget one counter or gauge series (e.g. the lag of a partition no longer read here)."""
        key = tuple(labels.items())
        with self._lock:
            for table in (self._counters, self._gauges):
                table.get(name, {}).pop(key, None)

    def get(self, name: str, **labels: str) -> float:
        key = tuple(labels.items())
        with self._lock:
            for table in (self._counters, self._gauges):
                if name in table and key in table[name]:
                    return table[name][key]
        return 0.0

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for kind, table in (("counter", self._counters), ("gauge", self._gauges)):
                for name, series in table.items():
                    lines.append(f"# TYPE {name} {kind}")
                    for labels, value in series.items():
                        lab = ",".join(f'{k}="{v}"' for k, v in labels)
                        text = f"{value:g}" if value != int(value) else str(int(value))
                        lines.append(f"{name}{{{lab}}} {text}" if lab else f"{name} {text}")
            for name, hseries in self._histograms.items():
                lines.append(f"# TYPE {name} histogram")
                for labels, (bounds, counts, total) in hseries.items():
                    lab = "".join(f'{k}="{v}",' for k, v in labels)
                    running = 0
                    for bound, count in zip((*bounds, None), counts, strict=True):
                        running += count
                        le = "+Inf" if bound is None else f"{bound:g}"
                        lines.append(f'{name}_bucket{{{lab}le="{le}"}} {running}')
                    lines.append(f"{name}_sum{{{lab[:-1]}}} {total[0]:g}")
                    lines.append(f"{name}_count{{{lab[:-1]}}} {running}")
        return "\n".join(lines)


METRICS = Metrics()

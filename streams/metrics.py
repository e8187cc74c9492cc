"""Process-wide counters and gauges, rendered in the Prometheus text format on `/metrics`."""

from __future__ import annotations

import threading

__all__ = ["METRICS", "Metrics"]

Labels = tuple[tuple[str, str], ...]


class Metrics:
    """A minimal registry: monotonically increasing counters and last-value gauges.

    >>> m = Metrics()
    >>> m.inc("riffle_records_in_total", 3, stream="s", stage="features")
    >>> m.set("riffle_accuracy", 0.9, stream="s")
    >>> print(m.render())
    # TYPE riffle_records_in_total counter
    riffle_records_in_total{stream="s",stage="features"} 3
    # TYPE riffle_accuracy gauge
    riffle_accuracy{stream="s"} 0.9
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = {}
        self._gauges: dict[str, dict[Labels, float]] = {}

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        key = tuple(labels.items())
        with self._lock:
            series = self._counters.setdefault(name, {})
            series[key] = series.get(key, 0.0) + value

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._gauges.setdefault(name, {})[tuple(labels.items())] = value

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
        return "\n".join(lines)


METRICS = Metrics()

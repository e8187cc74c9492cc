"""Feature views: which aggregates of which fields, over which event-time window."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AGGREGATIONS", "FeatureView", "parse_duration_ms"]

AGGREGATIONS = ("count", "sum", "mean", "min", "max", "last")
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration_ms(text: str | int) -> int:
    """``"5m"`` → 300000. Integers are milliseconds.

    >>> parse_duration_ms("90s"), parse_duration_ms("2h"), parse_duration_ms(250)
    (90000, 7200000, 250)
    """
    if isinstance(text, int):
        return text
    for unit in ("ms", "s", "m", "h", "d"):
        if text.endswith(unit) and text[: -len(unit)].isdigit():
            return int(text[: -len(unit)]) * _UNITS[unit]
    raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 30s, 5m, 1h, 1d)")


def _label(ms: int) -> str:
    for unit in ("d", "h", "m", "s"):
        if ms % _UNITS[unit] == 0:
            return f"{ms // _UNITS[unit]}{unit}"
    return f"{ms}ms"


@dataclass(frozen=True)
class FeatureView:
    """Per-entity aggregates over a tumbling event-time window, plus raw fields of the event.

    The feature vector of an event holds the `passthrough` fields as sent, then the aggregates of
    the entity's current window including this event.

    >>> view = FeatureView("txn", window="5m", fields=("amount",), aggregations=("count", "mean"))
    >>> view.feature_names
    ('amount', 'count_5m', 'amount_mean_5m')
    """

    name: str
    window: str | int = "5m"
    fields: tuple[str, ...] = ()
    aggregations: tuple[str, ...] = ("count", "mean", "last")
    passthrough: tuple[str, ...] | None = None
    version: int = 1
    ttl: str | int | None = None
    # how far behind the newest event time seen (per partition) an event may be; None: any
    # event not older than its entity's current window is taken. With a bound, windows that
    # closed before it are evicted from memory, exactly.
    allowed_lateness: str | int | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("feature view name must not be empty")
        if self.window_ms <= 0:
            raise ValueError("window must be positive")
        unknown = set(self.aggregations) - set(AGGREGATIONS)
        if unknown:
            raise ValueError(f"unknown aggregations {sorted(unknown)}; known: {AGGREGATIONS}")
        if self.version < 1:
            raise ValueError("version must be >= 1")
        if self.ttl is not None and self.ttl_seconds <= 0:
            raise ValueError("ttl must be positive")
        lateness = self.allowed_lateness_ms
        if lateness is not None and lateness < 0:
            raise ValueError("allowed_lateness must be >= 0")

    @property
    def window_ms(self) -> int:
        return parse_duration_ms(self.window)

    @property
    def allowed_lateness_ms(self) -> int | None:
        return None if self.allowed_lateness is None else parse_duration_ms(self.allowed_lateness)

    @property
    def ttl_seconds(self) -> int:
        """Key TTL in the online store: by default two windows, after which a vector is stale."""
        if self.ttl is None:
            return max(1, 2 * self.window_ms // 1000)
        return max(1, parse_duration_ms(self.ttl) // 1000)

    @property
    def raw_fields(self) -> tuple[str, ...]:
        return self.fields if self.passthrough is None else self.passthrough

    @property
    def feature_names(self) -> tuple[str, ...]:
        w = _label(self.window_ms)
        names = list(self.raw_fields)
        if "count" in self.aggregations:
            names.append(f"count_{w}")
        for f in self.fields:
            names.extend(f"{f}_{agg}_{w}" for agg in self.aggregations if agg != "count")
        return tuple(names)

    @property
    def qualified_name(self) -> str:
        return f"{self.name}@v{self.version}"

"""Feature views: which aggregates of which fields, over which event-time windows."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from featurestore.aggregation import AGGREGATIONS, FIELDLESS, Aggregation
from featurestore.transform import Transform
from featurestore.window import Window, parse_duration_ms

__all__ = ["AGGREGATIONS", "FeatureView", "parse_duration_ms"]


@dataclass(frozen=True)
class FeatureView:
    """Per-entity aggregates over event-time windows, raw fields of the event, and transforms.

    The feature vector of an event holds the ``passthrough`` fields as sent, then the
    aggregates, then the transforms' outputs. ``aggregations`` mixes names applied to every
    field of ``fields`` over ``window`` (``"mean"``; ``"count"``, ``"rate"`` and
    ``"time_since_last"`` once) and `Aggregation` objects with their own field and window.
    ``entity`` names the event field that keys the view (None: the stream's entity field).

    >>> view = FeatureView("txn", window="5m", fields=("amount",), aggregations=("count", "mean"))
    >>> view.feature_names
    ('amount', 'count_5m', 'amount_mean_5m')
    >>> FeatureView(
    ...     "txn",
    ...     passthrough=(),
    ...     aggregations=(Aggregation("std", "amount", window="last 10m"),),
    ...     transforms=(Transform("log", ("amount_std_10m_sliding",)),),
    ... ).feature_names
    ('amount_std_10m_sliding', 'log_amount_std_10m_sliding')
    """

    name: str
    window: str | int = "5m"
    fields: tuple[str, ...] = ()
    aggregations: tuple[str | Aggregation, ...] = ("count", "mean", "last")
    passthrough: tuple[str, ...] | None = None
    version: int = 1
    ttl: str | int | None = None
    # how far behind the newest event time seen (per partition) an event may be; None: the
    # longest window. State no accepted event can reach is evicted from memory, exactly.
    allowed_lateness: str | int | None = None
    transforms: tuple[Transform, ...] = ()
    entity: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("feature view name must not be empty")
        Window.parse(self.window)
        for agg in self.aggregations:
            if isinstance(agg, str) and agg not in AGGREGATIONS:
                raise ValueError(f"unknown aggregations [{agg!r}]; known: {AGGREGATIONS}")
            if agg == "ewm":
                raise ValueError("ewm needs a half_life: declare it as an Aggregation")
        if self.version < 1:
            raise ValueError("version must be >= 1")
        if self.ttl is not None and self.ttl_seconds <= 0:
            raise ValueError("ttl must be positive")
        if self.allowed_lateness is not None and parse_duration_ms(self.allowed_lateness) < 0:
            raise ValueError("allowed_lateness must be >= 0")
        names = self.feature_names
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"feature view {self.name!r} has duplicate feature names {dup}")
        known = set(self.raw_fields) | {s.name for s in self.specs}
        for t in self.transforms:
            if t.kind != "one_hot":
                unknown = [i for i in t.inputs if i not in known]
                if unknown:
                    raise ValueError(
                        f"transform {t.names[0]!r} reads {unknown}, which are not features of "
                        f"view {self.name!r} (passthrough fields or aggregates)"
                    )

    @property
    def window_ms(self) -> int:
        return Window.parse(self.window).size_ms

    @cached_property
    def specs(self) -> tuple[Aggregation, ...]:
        """Every aggregate, resolved, in feature order."""
        default = Window.parse(self.window)
        out: list[Aggregation] = []
        strings = [a for a in self.aggregations if isinstance(a, str)]
        out += [Aggregation(a, window=default) for a in strings if a in FIELDLESS]
        for f in self.fields:
            out += [Aggregation(a, f, window=default) for a in strings if a not in FIELDLESS]
        out += [a.resolve(default) for a in self.aggregations if isinstance(a, Aggregation)]
        return tuple(out)

    @property
    def allowed_lateness_ms(self) -> int | None:
        return None if self.allowed_lateness is None else parse_duration_ms(self.allowed_lateness)

    @property
    def lateness_ms(self) -> int:
        """The allowed lateness in force: as configured, else the longest window."""
        if self.allowed_lateness is not None:
            return parse_duration_ms(self.allowed_lateness)
        return max([s.window_spec.size_ms for s in self.specs] + [self.window_ms])

    @property
    def ttl_seconds(self) -> int:
        """Key TTL in the online store: by default two of the longest window, after which a
        vector is stale."""
        if self.ttl is None:
            longest = max([s.window_spec.size_ms for s in self.specs] + [self.window_ms])
            return max(1, 2 * longest // 1000)
        return max(1, parse_duration_ms(self.ttl) // 1000)

    @property
    def raw_fields(self) -> tuple[str, ...]:
        return self.fields if self.passthrough is None else self.passthrough

    @property
    def input_fields(self) -> tuple[str, ...]:
        """Every event field the view reads."""
        fields = [*self.raw_fields, *(s.field for s in self.specs if s.field is not None)]
        fields += [t.inputs[0] for t in self.transforms if t.kind == "one_hot"]
        return tuple(dict.fromkeys(fields))

    @cached_property
    def feature_names(self) -> tuple[str, ...]:
        names = [*self.raw_fields, *(s.name for s in self.specs)]
        for t in self.transforms:
            names.extend(t.names)
        return tuple(names)

    @property
    def qualified_name(self) -> str:
        return f"{self.name}@v{self.version}"

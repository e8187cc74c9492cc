"""One aggregate of a feature view: what to compute, of which field, over which window."""

from __future__ import annotations

from dataclasses import dataclass, replace

from featurestore.window import Window, duration_label, parse_duration_ms

__all__ = ["AGGREGATIONS", "Aggregation"]

AGGREGATIONS = (
    "count",
    "sum",
    "mean",
    "std",
    "min",
    "max",
    "last",
    "distinct",
    "ewm",
    "time_since_last",
    "rate",
)
# aggregations of the entity's events rather than of a field
FIELDLESS = frozenset({"count", "time_since_last", "rate"})
# aggregations computed over a window's members (the others keep per-entity running state)
WINDOWED = frozenset({"count", "sum", "mean", "std", "min", "max", "last", "distinct", "rate"})


@dataclass(frozen=True)
class Aggregation:
    """An aggregate of an entity's events.

    * ``count``, ``sum``, ``mean``, ``std`` (population), ``min``, ``max``, ``last`` (the value
      of the latest event in event time) over the ``window``;
    * ``distinct``: the number of distinct values of ``field`` (any type) in the window: exact
      up to 64 values and in sliding windows, else a HyperLogLog estimate with ``2**precision``
      registers (standard error ``1.04 / sqrt(2**precision)``), so memory stays bounded;
    * ``rate``: events per second over the window (``count / size``);
    * ``ewm``: the exponentially weighted mean of ``field`` with the given ``half_life`` in event
      time (an event ``h`` older than the newest weighs half), over all the entity's events;
    * ``time_since_last``: milliseconds since the entity's previous event (0 if that one is
      later in event time), capped at the window's size, which is also the value for a first
      event.

    ``window`` is None to take the view's window.

    >>> Aggregation("std", "amount", window="1h every 5m").name
    'amount_std_1h_every_5m'
    >>> Aggregation("ewm", "amount", half_life="10m").name, Aggregation("count", window=60_000).name
    ('amount_ewm_10m', 'count_1m')
    """

    kind: str
    field: str | None = None
    window: Window | str | int | None = None
    half_life: str | int | None = None
    precision: int = 10
    alias: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {self.kind!r}; known: {AGGREGATIONS}")
        if self.kind in FIELDLESS and self.field is not None:
            raise ValueError(f"aggregation {self.kind!r} takes no field")
        if self.kind not in FIELDLESS and not self.field:
            raise ValueError(f"aggregation {self.kind!r} needs a field")
        if self.window is not None:
            object.__setattr__(self, "window", Window.parse(self.window))
        if self.kind == "ewm":
            if self.half_life is None or parse_duration_ms(self.half_life) <= 0:
                raise ValueError("an ewm aggregation needs a positive half_life")
        elif self.half_life is not None:
            raise ValueError(f"only ewm takes a half_life, not {self.kind!r}")
        if not 4 <= self.precision <= 16:
            raise ValueError(f"precision must be in [4, 16], got {self.precision}")

    def resolve(self, default: Window) -> Aggregation:
        """This aggregation with the view's window filled in."""
        return self if self.window is not None else replace(self, window=default)

    @property
    def window_spec(self) -> Window:
        if not isinstance(self.window, Window):
            raise ValueError(f"aggregation {self.kind!r} has no window yet (resolve it)")
        return self.window

    @property
    def half_life_ms(self) -> int:
        return parse_duration_ms(self.half_life or 0)

    @property
    def name(self) -> str:
        if self.alias:
            return self.alias
        if self.kind == "ewm":
            return f"{self.field}_ewm_{duration_label(self.half_life_ms)}"
        if self.kind == "time_since_last":
            return "time_since_last"
        label = self.window_spec.label if self.window is not None else "?"
        if self.field is None:
            return f"{self.kind}_{label}"
        return f"{self.field}_{self.kind}_{label}"

"""Per-entity aggregates over tumbling event-time windows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from featurestore.exceptions import InvalidEventError
from featurestore.view import FeatureView

__all__ = ["TumblingAggregator"]

# Per-entity state is one flat list, cheap to update and to checkpoint as JSON:
# [window_start, count, then for each field: sum, min, max, last].
_PER_FIELD = 4


class TumblingAggregator:
    """Keeps each entity's aggregates for its current tumbling window.

    An event opens a new window when its event time passes the current one; an event older than
    the entity's current window cannot be applied and is refused (`late_event`).

    >>> from featurestore.view import FeatureView
    >>> agg = TumblingAggregator(FeatureView("v", window="1s", fields=("x",)))
    >>> agg.update("a", 100, [1.0]), agg.update("a", 900, [3.0]), agg.update("a", 1200, [5.0])
    ([1.0, 1.0, 1.0], [2.0, 2.0, 3.0], [1.0, 5.0, 5.0])
    """

    def __init__(self, view: FeatureView) -> None:
        self.view = view
        self._reset()

    def _reset(self) -> None:
        self._state: dict[str, list[float]] = {}
        self._window = self.view.window_ms
        self._lateness = self.view.allowed_lateness_ms
        self.watermark = 0  # the newest event time seen
        aggs = self.view.aggregations
        self._with_count = "count" in aggs
        self._per_field = [a for a in aggs if a != "count"]

    def __len__(self) -> int:
        return len(self._state)

    def update(self, entity: str, ts: int, values: Sequence[float]) -> list[float]:
        """Fold one event into the entity's window and return the window's aggregates."""
        if self._lateness is not None and ts < self.watermark - self._lateness:
            raise InvalidEventError(
                "late_event",
                f"event time {ts} is more than {self._lateness} ms behind the newest event "
                f"time seen ({self.watermark})",
            )
        start = ts - ts % self._window
        st = self._state.get(entity)
        fresh = st is None or start > st[0]
        for i, v in enumerate(values):
            # the only value that can overflow is a running sum; refuse before touching state
            if not math.isfinite(v if fresh else st[2 + _PER_FIELD * i] + v):  # type: ignore[index]
                raise InvalidEventError(
                    "overflow", f"the running sum of field {self.view.fields[i]!r} overflows"
                )
        if st is None or start > st[0]:
            st = [float(start), 0.0]
            for v in values:
                st.extend((0.0, v, v, v))
            self._state[entity] = st
        elif start < st[0]:
            raise InvalidEventError(
                "late_event",
                f"event time {ts} is before entity {entity!r}'s current window "
                f"(starting {int(st[0])})",
            )
        st[1] += 1.0
        for i, v in enumerate(values):
            j = 2 + _PER_FIELD * i
            st[j] += v
            if v < st[j + 1]:
                st[j + 1] = v
            if v > st[j + 2]:
                st[j + 2] = v
            st[j + 3] = v
        if ts > self.watermark:
            self.watermark = ts
        return self._aggregates(st)

    def get(self, entity: str) -> list[float] | None:
        """The aggregates of the entity's current window, or None if it has none."""
        st = self._state.get(entity)
        return None if st is None else self._aggregates(st)

    def _aggregates(self, st: list[float]) -> list[float]:
        n = st[1]
        out = [n] if self._with_count else []
        for i in range(len(self.view.fields)):
            j = 2 + _PER_FIELD * i
            for agg in self._per_field:
                if agg == "sum":
                    out.append(st[j])
                elif agg == "mean":
                    out.append(st[j] / n)
                elif agg == "min":
                    out.append(st[j + 1])
                elif agg == "max":
                    out.append(st[j + 2])
                else:
                    out.append(st[j + 3])
        return out

    def evict_closed(self) -> int:
        """Drop the windows no accepted event can reach any more (with `allowed_lateness`):
        the results are unchanged, since such an entity's next event opens a new window."""
        if self._lateness is None:
            return 0
        return self.evict_before(self.watermark - self._lateness)

    def evict_before(self, ts: int) -> int:
        """Drop entities whose window ended before `ts` (their aggregates are expired)."""
        stale = [e for e, st in self._state.items() if st[0] + self._window <= ts]
        for e in stale:
            del self._state[e]
        return len(stale)

    def _spec(self) -> list[Any]:
        v = self.view
        return [
            v.qualified_name,
            v.window_ms,
            list(v.fields),
            list(v.aggregations),
            v.allowed_lateness_ms,
        ]

    def state_dict(self) -> dict[str, Any]:
        """The live state (not a copy): encode it before processing continues."""
        return {
            "view": self.view.qualified_name,
            "spec": self._spec(),
            "entities": self._state,
            "watermark": self.watermark,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("view") != self.view.qualified_name or state.get("spec") != self._spec():
            raise ValueError(
                f"checkpoint is for view {state.get('view')!r} with spec {state.get('spec')}, "
                f"not {self.view.qualified_name!r} with {self._spec()}"
            )
        self._state = {str(e): [float(v) for v in st] for e, st in state["entities"].items()}
        self.watermark = int(state.get("watermark", 0))

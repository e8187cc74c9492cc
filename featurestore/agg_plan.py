"""What an aggregator computes for a view, worked out once: the engines' shared plan."""

from __future__ import annotations

import operator
from collections.abc import Callable

from featurestore.aggregation import WINDOWED
from featurestore.group_layout import unique
from featurestore.pane_group import PaneGroup
from featurestore.sliding_group import SlidingGroup
from featurestore.view import FeatureView

__all__ = ["AggPlan"]

_EWM_HORIZON = 64  # half-lives after which an old event weighs < 2**-64 of a new one


class AggPlan:
    """The numeric fields and distinct keys a view reads, its window groups, ewms and
    time_since_lasts, and how their outputs map to the view's order of aggregates.

    The engines compute the aggregates grouped (each window group's, then the ewms, then the
    time_since_lasts); ``perm[i]`` is where the view's ``i``-th aggregate sits in that order
    and `order` applies it (None when the orders agree).
    """

    def __init__(self, view: FeatureView) -> None:
        specs = view.specs
        self.num_fields: tuple[str, ...] = tuple(
            unique([s.field for s in specs if s.field is not None and s.kind != "distinct"])
        )
        self.key_fields: tuple[str, ...] = tuple(
            unique([s.field for s in specs if s.kind == "distinct"])
        )
        num_pos = {f: i for i, f in enumerate(self.num_fields)}
        key_pos = {f: i for i, f in enumerate(self.key_fields)}
        windows = unique([s.window_spec for s in specs if s.kind in WINDOWED])
        self.groups: list[PaneGroup | SlidingGroup] = []
        for w in windows:
            members = [s for s in specs if s.kind in WINDOWED and s.window_spec == w]
            cls = SlidingGroup if w.kind == "sliding" else PaneGroup
            self.groups.append(cls(w, members, num_pos, key_pos))
        self.ewm = [(num_pos[s.field], s.half_life_ms) for s in specs if s.kind == "ewm"]  # type: ignore[index]
        self.tsl = [s.window_spec.size_ms for s in specs if s.kind == "time_since_last"]
        grouped: list[tuple[str, int, int]] = []
        for gi, g in enumerate(self.groups):
            grouped += [("group", gi, j) for j in range(len(g.plan))]
        grouped += [("ewm", i, 0) for i in range(len(self.ewm))]
        grouped += [("tsl", i, 0) for i in range(len(self.tsl))]
        wanted: list[tuple[str, int, int]] = []
        per_group = [0] * len(self.groups)
        ewm_i = tsl_i = 0
        for s in specs:
            if s.kind in WINDOWED:
                gi = windows.index(s.window_spec)
                wanted.append(("group", gi, per_group[gi]))
                per_group[gi] += 1
            elif s.kind == "ewm":
                wanted.append(("ewm", ewm_i, 0))
                ewm_i += 1
            else:
                wanted.append(("tsl", tsl_i, 0))
                tsl_i += 1
        self.perm = [grouped.index(x) for x in wanted]
        self.order: Callable[[list[float]], list[float]] | None = None
        if self.perm != sorted(self.perm):
            pick = operator.itemgetter(*self.perm)  # two or more aggregates: it returns a tuple
            self.order = lambda xs: list(pick(xs))
        self.lateness = view.lateness_ms
        longest = max([w.size_ms for w in windows] + self.tsl + [0])
        ewm_reach = max([h * _EWM_HORIZON for _, h in self.ewm] + [0])
        # how far behind the horizon an entity's newest event may be before it leaves memory
        self.reach = max(longest, ewm_reach)
        # eviction scans every entity, so it runs once per shortest window of event time
        self.evict_step = max(1, min([w.pane_ms for w in windows] + self.tsl + [60_000]))

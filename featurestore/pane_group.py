"""Tumbling and hopping windows, kept as per-entity panes of mergeable summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from featurestore.aggregation import Aggregation
from featurestore.group_layout import GroupLayout
from featurestore.sketch import (
    Sketch,
    sketch_add,
    sketch_estimate,
    sketch_from_json,
    sketch_merge,
    sketch_to_json,
)
from featurestore.window import Window

__all__ = ["PaneGroup"]

# A pane is one flat list: [count, last_ts, then per numeric field: sum, m2, min, max, last,
# then one distinct sketch per distinct field]. m2 is the sum of squared deviations (Welford),
# merged with Chan's formula, so std stays accurate where sum-of-squares would cancel.
_HEAD = 2
_PER_FIELD = 5
Pane = list[Any]


class Panes(dict[int, Pane]):
    """One entity's panes by start, with the merged summary of a hopping window's panes before
    its newest one: (window start, newest pane start, summary or None). Reusing it makes an
    event cost one merge instead of size/hop; the merge order, and so every rounding, is the
    same."""

    __slots__ = ("cache",)

    def __init__(self) -> None:
        super().__init__()
        self.cache: tuple[int, int, Pane | None] | None = None


class PaneGroup:
    """The aggregates of one tumbling or hopping window for every entity: state per entity is
    a dict of pane start → pane, panes being ``window.pane_ms`` long."""

    def __init__(
        self,
        window: Window,
        specs: Sequence[Aggregation],
        num_pos: dict[str, int],
        key_pos: dict[str, int],
    ) -> None:
        self.window = window
        self.g = window.pane_ms
        self.size = window.size_ms
        layout = GroupLayout.of(specs, num_pos, key_pos)
        self.fidx, self.didx, self.dprec = layout.fidx, layout.didx, layout.dprec
        self._dbase = _HEAD + _PER_FIELD * len(self.fidx)
        self.plan = [(kind, self._slot(kind, i)) for kind, i in layout.plan]

    def _slot(self, kind: str, i: int) -> int:
        """Where an aggregate's summary sits in a pane."""
        if kind in ("count", "rate"):
            return 0
        if kind == "distinct":
            return self._dbase + i
        return _HEAD + _PER_FIELD * i

    def update(
        self, panes: Panes, ts: int, nums: Sequence[float], hashes: Sequence[int]
    ) -> list[float]:
        start = ts - ts % self.g
        if panes.cache is not None and start < panes.cache[1]:
            panes.cache = None  # a late event changed a pane the cached summary holds
        p = panes.get(start)
        if p is None:
            p = [1.0, ts]
            for i in self.fidx:
                v = nums[i]
                p.extend((v, 0.0, v, v, v))
            for i, prec in zip(self.didx, self.dprec, strict=True):
                p.append(sketch_add(set(), hashes[i], prec))
            panes[start] = p
        else:
            n = p[0] + 1.0
            p[0] = n
            newer = ts >= p[1]  # ties go to the later arrival
            if newer:
                p[1] = ts
            j = _HEAD
            for i in self.fidx:
                v = nums[i]
                s = p[j]
                old_mean = s / (n - 1.0)
                s += v
                p[j] = s
                p[j + 1] += (v - old_mean) * (v - s / n)
                if v < p[j + 2]:
                    p[j + 2] = v
                if v > p[j + 3]:
                    p[j + 3] = v
                if newer:
                    p[j + 4] = v
                j += _PER_FIELD
            for i, prec in zip(self.didx, self.dprec, strict=True):
                p[j] = sketch_add(p[j], hashes[i], prec)
                j += 1
        return self.values(panes, ts)

    def values(self, panes: Panes, t: int) -> list[float]:
        """The aggregates of the window an event at ``t`` reports (it holds at least one)."""
        start, end = self.window.bounds(t)
        if self.g == self.size:
            return self._outputs(panes[start])
        newest = end - self.g
        cache = panes.cache
        if cache is not None and cache[0] == start:
            older = cache[2]
        else:
            members = [panes[s] for s in range(start, newest, self.g) if s in panes]
            older = (
                None if not members else members[0] if len(members) == 1 else self._merge(members)
            )
            panes.cache = (start, newest, older)
        last = panes.get(newest)
        if older is None:
            assert last is not None
            return self._outputs(last)
        return self._outputs(older if last is None else self._merge([older, last]))

    def _merge(self, members: list[Pane]) -> Pane:
        out = list(members[0])
        for p in members[1:]:
            na, nb = out[0], p[0]
            n = na + nb
            out[0] = n
            if p[1] >= out[1]:
                out[1] = p[1]
                newer = True
            else:
                newer = False
            j = _HEAD
            for _ in self.fidx:
                delta = p[j] / nb - out[j] / na
                out[j] += p[j]
                out[j + 1] += p[j + 1] + delta * delta * na * nb / n
                out[j + 2] = min(out[j + 2], p[j + 2])
                out[j + 3] = max(out[j + 3], p[j + 3])
                if newer:
                    out[j + 4] = p[j + 4]
                j += _PER_FIELD
            for prec in self.dprec:
                out[j] = sketch_merge(out[j], p[j], prec)
                j += 1
        return out

    def _outputs(self, p: Pane) -> list[float]:
        n = p[0]
        out: list[float] = []
        for kind, j in self.plan:
            if kind == "count":
                out.append(n)
            elif kind == "rate":
                out.append(n * 1000.0 / self.size)
            elif kind == "sum":
                out.append(p[j])
            elif kind == "mean":
                out.append(p[j] / n)
            elif kind == "std":
                out.append(math.sqrt(max(p[j + 1], 0.0) / n))
            elif kind == "min":
                out.append(p[j + 2])
            elif kind == "max":
                out.append(p[j + 3])
            elif kind == "last":
                out.append(p[j + 4])
            else:
                out.append(sketch_estimate(p[j]))
        return out

    def evict(self, panes: Panes, horizon: int) -> None:
        """Drop panes no event at or after ``horizon`` can report."""
        first = self.window.bounds(horizon)[0]
        for s in [s for s in panes if s < first]:
            del panes[s]

    def new_state(self) -> Panes:
        return Panes()

    def to_json(self, panes: Panes) -> Any:
        """The panes, JSON-able (int keys as the stdlib json writes them). Without sketches the
        live panes themselves: a checkpoint encodes them before processing goes on."""
        k = self._dbase
        if not self.didx:
            return panes
        return {s: p[:k] + [sketch_to_json(x) for x in p[k:]] for s, p in panes.items()}

    def from_json(self, raw: Any) -> Panes:
        k = self._dbase
        out = Panes()
        for s, p in raw.items():
            sketches: list[Sketch] = [sketch_from_json(x) for x in p[k:]]
            out[int(s)] = [float(p[0]), int(p[1]), *(float(v) for v in p[2:k]), *sketches]
        return out

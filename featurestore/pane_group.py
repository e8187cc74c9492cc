"""Tumbling and hopping windows, kept as per-entity panes of mergeable summaries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from featurestore._codegen import compile_function
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
FAR = 2**62  # a horizon eviction never reaches
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
        self.layout = layout = GroupLayout.of(specs, num_pos, key_pos)
        self.fidx, self.didx, self.dprec = layout.fidx, layout.didx, layout.dprec
        self._dbase = _HEAD + _PER_FIELD * len(self.fidx)
        self.plan = [(kind, self._slot(kind, i)) for kind, i in layout.plan]
        # (value index, pane slot) per numeric field; (key index, precision, slot) per sketch
        self._fields = tuple(zip(self.fidx, range(_HEAD, self._dbase, _PER_FIELD), strict=True))
        self._keys = tuple(
            (i, prec, self._dbase + k)
            for k, (i, prec) in enumerate(zip(self.didx, self.dprec, strict=True))
        )
        self._outputs = self._compile_outputs()
        self.fold = self._compile_fold()
        self._outputs2 = self._compile_merged_outputs()

    def _slot(self, kind: str, i: int) -> int:
        """Where an aggregate's summary sits in a pane."""
        if kind in ("count", "rate"):
            return 0
        if kind == "distinct":
            return self._dbase + i
        return _HEAD + _PER_FIELD * i

    def update(
        self, panes: Panes, ts: int, seq: int, nums: Sequence[float], hashes: Sequence[int]
    ) -> list[float]:
        """Fold an event in; return the aggregates of the window it reports."""
        return self.answer(panes, ts, self.fold(panes, ts, seq, nums, hashes))

    def _compile_fold(self) -> Callable[..., Pane]:
        """``fold(panes, ts, seq, nums, hashes)``: fold an event into its pane (returned). A
        new pane starts from the event; else count, then per field the sum, Welford's m2 (the
        mean before and after), min, max and, if the event is the pane's latest (ties go to the
        later arrival), last; then the sketches. ``seq`` is unused: windows are sets."""
        g = self.g
        body = [
            f"start = ts - ts % {g}",
            "if panes.cache is not None and start < panes.cache[1]:",
            "    panes.cache = None",  # a late event changed a pane the cached summary holds
            "p = panes.get(start)",
            "if p is None:",
        ]
        new = ["1.0", "ts"]
        for k, (i, _) in enumerate(self._fields):
            body.append(f"    v{k} = nums[{i}]")
            new += [f"v{k}", "0.0", f"v{k}", f"v{k}", f"v{k}"]
        new += [f"_add(set(), hashes[{i}], {prec})" for i, prec, _ in self._keys]
        body += [
            f"    p = [{', '.join(new)}]",
            "    panes[start] = p",
            "    return p",
            "n = p[0] + 1.0",
            "p[0] = n",
            "newer = ts >= p[1]",
            "if newer:",
            "    p[1] = ts",
        ]
        for i, j in self._fields:
            body += [
                f"v = nums[{i}]",
                f"s = p[{j}]",
                "old_mean = s / (n - 1.0)",
                "s += v",
                f"p[{j}] = s",
                f"p[{j + 1}] += (v - old_mean) * (v - s / n)",
                f"if v < p[{j + 2}]:",
                f"    p[{j + 2}] = v",
                f"if v > p[{j + 3}]:",
                f"    p[{j + 3}] = v",
                "if newer:",
                f"    p[{j + 4}] = v",
            ]
        body += [f"p[{j}] = _add(p[{j}], hashes[{i}], {prec})" for i, prec, j in self._keys]
        body.append("return p")
        return compile_function("fold", "panes, ts, seq, nums, hashes", body, {"_add": sketch_add})

    def answer(self, panes: Panes, t: int, last: Pane) -> list[float]:
        """The aggregates of the window an event at ``t`` reports, ``last`` being the pane ``t``
        falls in: the window's newest."""
        if self.g == self.size:
            return self._outputs(last)
        older = self._older(panes, t - t % self.g)
        if older is None:
            return self._outputs(last)
        return self._outputs2(older, last)

    def values(self, panes: Panes, t: int) -> list[float]:
        """The aggregates of the window an event at ``t`` reports (it holds at least one)."""
        newest = t - t % self.g
        last = panes.get(newest)
        if self.g == self.size:
            assert last is not None
            return self._outputs(last)
        older = self._older(panes, newest)
        if older is None:
            assert last is not None
            return self._outputs(last)
        if last is None:
            return self._outputs(older)
        return self._outputs2(older, last)

    def _older(self, panes: Panes, newest: int) -> Pane | None:
        """The merged summary of the window's panes before its newest one (None: none)."""
        start = newest + self.g - self.size
        cache = panes.cache
        if cache is not None and cache[0] == start:
            return cache[2]
        members = [panes[s] for s in range(start, newest, self.g) if s in panes]
        older = None if not members else members[0] if len(members) == 1 else self._merge(members)
        panes.cache = (start, newest, older)
        return older

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

    def _compile_outputs(self) -> Callable[[Pane], list[float]]:
        """The aggregates of one pane (or merged summary) ``p``."""
        exprs = {
            "count": "n",
            "rate": f"n * 1000.0 / {self.size}",
            "sum": "p[{j}]",
            "mean": "p[{j}] / n",
            "std": "_sqrt(_max(p[{j1}], 0.0) / n)",
            "min": "p[{j2}]",
            "max": "p[{j3}]",
            "last": "p[{j4}]",
            "distinct": "_estimate(p[{j}])",
        }
        out = [exprs[k].format(j=j, j1=j + 1, j2=j + 2, j3=j + 3, j4=j + 4) for k, j in self.plan]
        body = ["n = p[0]", f"return [{', '.join(out)}]"]
        return compile_function("outputs", "p", body, {"_estimate": sketch_estimate})

    def _compile_merged_outputs(self) -> Callable[[Pane, Pane], list[float]]:
        """The aggregates of ``_merge([a, b])`` without building it: the same expressions on
        the slots the aggregates read."""
        exprs = {
            "count": "n",
            "rate": f"n * 1000.0 / {self.size}",
            "sum": "(a[{j}] + b[{j}])",
            "mean": "(a[{j}] + b[{j}]) / n",
            "std": "_sqrt(_max(a[{j1}] + (b[{j1}] + d{j} * d{j} * na * nb / n), 0.0) / n)",
            "min": "_min(a[{j2}], b[{j2}])",
            "max": "_max(a[{j3}], b[{j3}])",
            "last": "(b[{j4}] if b[1] >= a[1] else a[{j4}])",
            "distinct": "_estimate(_merge(a[{j}], b[{j}], {prec}))",
        }
        precs = {j: prec for _, prec, j in self._keys}
        body = ["na = a[0]", "nb = b[0]", "n = na + nb"]
        body += sorted({f"d{j} = b[{j}] / nb - a[{j}] / na" for k, j in self.plan if k == "std"})
        out = [
            exprs[k].format(j=j, j1=j + 1, j2=j + 2, j3=j + 3, j4=j + 4, prec=precs.get(j))
            for k, j in self.plan
        ]
        body.append(f"return [{', '.join(out)}]")
        env = {"_estimate": sketch_estimate, "_merge": sketch_merge}
        return compile_function("merged_outputs", "a, b", body, env)

    def evict_bound(self, horizon: int) -> int:
        """The oldest pane start an event at or after ``horizon`` can report."""
        return self.window.bounds(horizon)[0]

    def evict(self, panes: Panes, first: int) -> int:
        """Drop panes before ``first`` (`evict_bound`); return the horizon from which the next
        pane may go (the oldest start plus the size: the first horizon whose bound is past it)."""
        old = [s for s in panes if s < first]
        for s in old:
            del panes[s]
        return min(panes) + self.size if panes else FAR

    def is_empty(self, panes: Panes, first: int) -> bool:
        return not panes

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

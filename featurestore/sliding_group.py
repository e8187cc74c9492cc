"""Sliding windows ``(t - size, t]``: per-entity event buffers with running aggregates."""

from __future__ import annotations

import bisect
import math
import operator
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from featurestore._codegen import compile_function
from featurestore.aggregation import Aggregation
from featurestore.group_layout import GroupLayout, unique
from featurestore.pane_group import FAR
from featurestore.window import Window

__all__ = ["SlidingGroup"]

# a buffered event: (ts, seq, values of the group's numeric fields, hashes of its distinct keys)
Item = tuple[int, int, tuple[float, ...], tuple[int, ...]]


class Slide:
    """One entity's buffer, sorted by (event time, arrival). ``buf[lo:]`` is the window of the
    entity's newest event; older items stay while a late event's window may still need them.
    Sums are shifted by the entity's first values (``k``) so the variance does not cancel."""

    __slots__ = ("buf", "dist", "k", "lo", "maxs", "mins", "s1", "s2")

    def __init__(self, nf: int, nd: int) -> None:
        self.buf: list[Item] = []
        self.lo = 0
        self.k: list[float] = []
        self.s1 = [0.0] * nf
        self.s2 = [0.0] * nf
        self.mins: list[deque[tuple[int, float]]] = [deque() for _ in range(nf)]
        self.maxs: list[deque[tuple[int, float]]] = [deque() for _ in range(nf)]
        self.dist: list[dict[int, int]] = [{} for _ in range(nd)]


class SlidingGroup:
    """The aggregates of one sliding window for every entity.

    In event-time order an update costs O(1) amortised (monotonic deques for min and max,
    running sums, counted hashes for distinct, which is exact here). An event that is older
    than its entity's newest is answered by a scan of its own window and folded into the
    buffer.
    """

    def __init__(
        self,
        window: Window,
        specs: Sequence[Aggregation],
        num_pos: dict[str, int],
        key_pos: dict[str, int],
    ) -> None:
        self.window = window
        self.size = window.size_ms
        self.layout = layout = GroupLayout.of(specs, num_pos, key_pos)
        self.fidx, self.didx, self.plan = layout.fidx, layout.didx, layout.plan
        self._vals = _picker(self.fidx)
        self._keys = _picker(self.didx)
        # only the fields a min or max reads keep a deque (they are not checkpointed)
        self._min_fields = unique([j for kind, j in self.plan if kind == "min"])
        self._max_fields = unique([j for kind, j in self.plan if kind == "max"])
        self._running = self._compile_running()

    def new_state(self) -> Slide:
        return Slide(len(self.fidx), len(self.didx))

    def update(
        self, st: Slide, ts: int, seq: int, nums: Sequence[float], hashes: Sequence[int]
    ) -> list[float]:
        """Fold an event in; return the aggregates of its window ``(ts - size, ts]``."""
        pos = self.fold(st, ts, seq, nums, hashes)
        if pos < 0:
            return self._running(st)
        lo = bisect.bisect_right(st.buf, ts - self.size, key=_ts)
        return self._scan(st.buf[lo : pos + 1])

    def fold(
        self, st: Slide, ts: int, seq: int, nums: Sequence[float], hashes: Sequence[int]
    ) -> int:
        """Fold an event in; return -1 if it is the entity's newest, else where it went."""
        vals: tuple[float, ...] = self._vals(nums)
        keys: tuple[int, ...] = self._keys(hashes)
        item: Item = (ts, seq, vals, keys)
        buf = st.buf
        if not st.k:
            st.k = list(vals)
        newest = buf[-1][0] if buf else ts
        if ts >= newest:
            buf.append(item)
            self._add(st, item)
            for f in self._min_fields:
                v = vals[f]
                mn = st.mins[f]
                while mn and mn[-1][1] >= v:
                    mn.pop()
                mn.append((ts, v))
            for f in self._max_fields:
                v = vals[f]
                mx = st.maxs[f]
                while mx and mx[-1][1] <= v:
                    mx.pop()
                mx.append((ts, v))
            # when nothing expires, `_expire`'s restart cannot apply either: the window still
            # holds an older event, or this is the first, whose shifted sums are zero
            if buf[st.lo][0] <= ts - self.size:
                self._expire(st, ts - self.size)
            return -1
        pos = bisect.bisect_right(buf, ts, key=_ts)
        buf.insert(pos, item)
        if ts > newest - self.size:
            self._add(st, item)
            for f in self._min_fields:
                _insert_extreme(st.mins[f], ts, vals[f], operator.le)
            for f in self._max_fields:
                _insert_extreme(st.maxs[f], ts, vals[f], operator.ge)
        else:
            st.lo += 1
        return pos

    def values(self, st: Slide, t: int) -> list[float]:
        """The aggregates of the window ``(t - size, t]`` of the entity's newest event ``t``."""
        return self._running(st)

    def _add(self, st: Slide, item: Item) -> None:
        k, s1, s2 = st.k, st.s1, st.s2
        for f, v in enumerate(item[2]):
            d = v - k[f]
            s1[f] += d
            s2[f] += d * d
        for f, h in enumerate(item[3]):
            st.dist[f][h] = st.dist[f].get(h, 0) + 1

    def _expire(self, st: Slide, bound: int) -> None:
        buf = st.buf
        while buf[st.lo][0] <= bound:
            _, _, vals, keys = buf[st.lo]
            for f, v in enumerate(vals):
                d = v - st.k[f]
                st.s1[f] -= d
                st.s2[f] -= d * d
            for f, h in enumerate(keys):
                c = st.dist[f][h] - 1
                if c:
                    st.dist[f][h] = c
                else:
                    del st.dist[f][h]
            st.lo += 1
        if st.lo == len(buf) - 1 and any(st.s1):
            # one event left: restart the sums exactly, shifted by it (no drift carried over)
            st.k = list(buf[-1][2])
            st.s1 = [0.0] * len(st.k)
            st.s2 = [0.0] * len(st.k)
        for f in self._min_fields:
            q = st.mins[f]
            while q[0][0] <= bound:
                q.popleft()
        for f in self._max_fields:
            q = st.maxs[f]
            while q[0][0] <= bound:
                q.popleft()

    def _rebuild_extremes(self, st: Slide) -> None:
        for f in self._min_fields:
            mn: deque[tuple[int, float]] = deque()
            for ts, _, vals, _ in st.buf[st.lo :]:
                v = vals[f]
                while mn and mn[-1][1] >= v:
                    mn.pop()
                mn.append((ts, v))
            st.mins[f] = mn
        for f in self._max_fields:
            mx: deque[tuple[int, float]] = deque()
            for ts, _, vals, _ in st.buf[st.lo :]:
                v = vals[f]
                while mx and mx[-1][1] <= v:
                    mx.pop()
                mx.append((ts, v))
            st.maxs[f] = mx

    def _compile_running(self) -> Callable[[Slide], list[float]]:
        """The aggregates of the window of the entity's newest event, from the running state
        (sums shifted by ``k``, deques, counted hashes)."""
        exprs = {
            "count": "n",
            "rate": f"n * 1000.0 / {self.size}",
            "distinct": "_float(len(st.dist[{j}]))",
            "sum": "st.k[{j}] * n + st.s1[{j}]",
            "mean": "st.k[{j}] + st.s1[{j}] / n",
            "std": "_sqrt(_max(st.s2[{j}] - st.s1[{j}] * st.s1[{j}] / n, 0.0) / n)",
            "min": "st.mins[{j}][0][1]",
            "max": "st.maxs[{j}][0][1]",
            "last": "buf[-1][2][{j}]",
        }
        out = [exprs[kind].format(j=j) for kind, j in self.plan]
        body = ["buf = st.buf", "n = _float(len(buf) - st.lo)", f"return [{', '.join(out)}]"]
        return compile_function("running", "st", body)

    def _scan(self, members: list[Item]) -> list[float]:
        n = float(len(members))
        out: list[float] = []
        for kind, j in self.plan:
            if kind == "count":
                out.append(n)
            elif kind == "rate":
                out.append(n * 1000.0 / self.size)
            elif kind == "distinct":
                out.append(float(len({it[3][j] for it in members})))
            else:
                col = [it[2][j] for it in members]
                if kind == "sum":
                    out.append(math.fsum(col))
                elif kind == "mean":
                    out.append(math.fsum(col) / n)
                elif kind == "std":
                    mean = math.fsum(col) / n
                    out.append(math.sqrt(math.fsum((v - mean) ** 2 for v in col) / n))
                elif kind == "min":
                    out.append(min(col))
                elif kind == "max":
                    out.append(max(col))
                else:
                    out.append(col[-1])
        return out

    def evict_bound(self, horizon: int) -> int:
        """Events at or before this time are in no window of an event at or after ``horizon``."""
        return horizon - self.size

    def evict(self, st: Slide, bound: int) -> int:
        """Drop buffered events at or before ``bound`` (`evict_bound`) that the newest event's
        window does not hold; return the horizon from which the next one may go (none until an
        event moves the window, if it holds them all)."""
        buf = st.buf
        if st.lo and buf[0][0] <= bound:
            k = min(st.lo, bisect.bisect_right(buf, bound, key=_ts))
            del buf[:k]
            st.lo -= k
        return buf[0][0] + self.size if st.lo else FAR

    def is_empty(self, st: Slide, bound: int) -> bool:
        """Whether no event at or after the horizon of ``bound`` sees the buffer."""
        return not st.buf or st.buf[-1][0] <= bound

    def to_json(self, st: Slide) -> Any:
        return {
            "buf": [[ts, seq, list(v), list(h)] for ts, seq, v, h in st.buf],
            "lo": st.lo,
            "k": st.k,
            "s1": st.s1,
            "s2": st.s2,
        }

    def from_json(self, raw: Any) -> Slide:
        st = self.new_state()
        st.buf = [
            (int(ts), int(seq), tuple(float(x) for x in v), tuple(int(x) for x in h))
            for ts, seq, v, h in raw["buf"]
        ]
        st.lo = int(raw["lo"])
        st.k = [float(x) for x in raw["k"]]
        st.s1 = [float(x) for x in raw["s1"]]
        st.s2 = [float(x) for x in raw["s2"]]
        for _, _, _, keys in st.buf[st.lo :]:
            for f, h in enumerate(keys):
                st.dist[f][h] = st.dist[f].get(h, 0) + 1
        self._rebuild_extremes(st)
        return st


def _ts(item: Item) -> int:
    return item[0]


def _picker(idx: Sequence[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A function taking the values at ``idx`` of a sequence, as a tuple."""
    if not idx:
        return lambda _: ()
    if len(idx) == 1:
        i = idx[0]
        return lambda xs: (xs[i],)
    return operator.itemgetter(*idx)


def _insert_extreme(
    q: deque[tuple[int, float]], ts: int, v: float, beats: Callable[[float, float], bool]
) -> None:
    """Fold a late value into a monotonic deque (front = the extreme; each later entry beats
    nothing after it): it enters unless a later entry beats it, and evicts the earlier entries
    it beats. Ties go to the later event time, as in the in-order path."""
    items = list(q)
    pos = bisect.bisect_right(items, ts, key=lambda it: it[0])
    if pos < len(items) and beats(items[pos][1], v):
        return
    start = pos
    while start > 0 and beats(v, items[start - 1][1]):
        start -= 1
    items[start:pos] = [(ts, v)]
    q.clear()
    q.extend(items)

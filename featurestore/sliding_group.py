"""Sliding windows ``(t - size, t]``: per-entity event buffers with running aggregates."""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from featurestore.aggregation import Aggregation
from featurestore.group_layout import GroupLayout
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
        layout = GroupLayout.of(specs, num_pos, key_pos)
        self.fidx, self.didx, self.plan = layout.fidx, layout.didx, layout.plan

    def new_state(self) -> Slide:
        return Slide(len(self.fidx), len(self.didx))

    def update(
        self, st: Slide, ts: int, seq: int, nums: Sequence[float], hashes: Sequence[int]
    ) -> list[float]:
        vals = tuple(nums[i] for i in self.fidx)
        keys = tuple(hashes[i] for i in self.didx)
        item: Item = (ts, seq, vals, keys)
        buf = st.buf
        if not st.k:
            st.k = list(vals)
        newest = buf[-1][0] if buf else ts
        if ts >= newest:
            buf.append(item)
            self._add(st, item)
            for f, v in enumerate(vals):
                mn, mx = st.mins[f], st.maxs[f]
                while mn and mn[-1][1] >= v:
                    mn.pop()
                mn.append((ts, v))
                while mx and mx[-1][1] <= v:
                    mx.pop()
                mx.append((ts, v))
            self._expire(st, ts - self.size)
            return self._running(st)
        pos = bisect.bisect_right(buf, ts, key=lambda it: it[0])
        buf.insert(pos, item)
        if ts > newest - self.size:
            self._add(st, item)
            for f, v in enumerate(vals):
                _insert_extreme(st.mins[f], ts, v, lambda a, b: a <= b)
                _insert_extreme(st.maxs[f], ts, v, lambda a, b: a >= b)
        else:
            st.lo += 1
        lo = bisect.bisect_right(buf, ts - self.size, key=lambda it: it[0])
        return self._scan(buf[lo : pos + 1])

    def values(self, st: Slide, t: int) -> list[float]:
        """The aggregates of the window ``(t - size, t]`` of the entity's newest event ``t``."""
        return self._running(st)

    def _add(self, st: Slide, item: Item) -> None:
        for f, v in enumerate(item[2]):
            d = v - st.k[f]
            st.s1[f] += d
            st.s2[f] += d * d
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
        for q in (*st.mins, *st.maxs):
            while q[0][0] <= bound:
                q.popleft()

    def _rebuild_extremes(self, st: Slide) -> None:
        for f in range(len(self.fidx)):
            mn: deque[tuple[int, float]] = deque()
            mx: deque[tuple[int, float]] = deque()
            for ts, _, vals, _ in st.buf[st.lo :]:
                v = vals[f]
                while mn and mn[-1][1] >= v:
                    mn.pop()
                mn.append((ts, v))
                while mx and mx[-1][1] <= v:
                    mx.pop()
                mx.append((ts, v))
            st.mins[f], st.maxs[f] = mn, mx

    def _running(self, st: Slide) -> list[float]:
        n = float(len(st.buf) - st.lo)
        last = st.buf[-1]
        out: list[float] = []
        for kind, j in self.plan:
            if kind == "count":
                out.append(n)
            elif kind == "rate":
                out.append(n * 1000.0 / self.size)
            elif kind == "distinct":
                out.append(float(len(st.dist[j])))
            elif kind == "sum":
                out.append(st.k[j] * n + st.s1[j])
            elif kind == "mean":
                out.append(st.k[j] + st.s1[j] / n)
            elif kind == "std":
                out.append(math.sqrt(max(st.s2[j] - st.s1[j] * st.s1[j] / n, 0.0) / n))
            elif kind == "min":
                out.append(st.mins[j][0][1])
            elif kind == "max":
                out.append(st.maxs[j][0][1])
            else:
                out.append(last[2][j])
        return out

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

    def evict(self, st: Slide, horizon: int) -> None:
        """Drop buffered events no window of an event at or after ``horizon`` holds."""
        k = min(st.lo, bisect.bisect_right(st.buf, horizon - self.size, key=lambda it: it[0]))
        if k:
            del st.buf[:k]
            st.lo -= k

    def is_empty(self, st: Slide, horizon: int) -> bool:
        return not st.buf or st.buf[-1][0] <= horizon - self.size

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

"""The aggregator's state in Python objects: the reference the native engine repeats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from featurestore.agg_plan import AggPlan

__all__ = ["PyEngine"]

_NEVER = -(2**62)  # a horizon before any event (event times may be negative)


class _Entity:
    __slots__ = ("due", "ewm", "groups", "newest", "raw", "tsl")

    def __init__(self, groups: list[Any], n_ewm: int) -> None:
        # eviction can change nothing before the horizon reaches `due`; an event resets it
        self.due = _NEVER
        self.newest: int | None = None
        self.raw: list[Any] = []  # passthrough (and one-hot input) values of the newest event
        self.tsl: list[float] = []  # time_since_last values of the newest event
        self.groups = groups
        self.ewm = [[0, 0.0, 0.0] for _ in range(n_ewm)]  # [reference ts, weighted sum, weight]


class PyEngine:
    """Each entity's window groups, ewms and time_since_lasts, folded one event at a time."""

    native = False

    def __init__(self, plan: AggPlan) -> None:
        self.plan = plan
        self._groups = plan.groups
        self._ewm = plan.ewm
        self._tsl = plan.tsl
        self._order = plan.order
        self.reset()

    def reset(self) -> None:
        self._state: dict[str, _Entity] = {}
        self.seq = 0

    def __len__(self) -> int:
        return len(self._state)

    def _new_entity(self) -> _Entity:
        return _Entity([g.new_state() for g in self._groups], len(self._ewm))

    def _begin(self, entity: str) -> tuple[_Entity, int]:
        """The entity's state (opened if new) and the event's sequence number."""
        st = self._state.get(entity)
        if st is None:
            st = self._state[entity] = self._new_entity()
        self.seq += 1
        st.due = _NEVER
        return st, self.seq

    def step(
        self, entity: str, ts: int, nums: Sequence[float], hashes: Sequence[int], raw: list[Any]
    ) -> tuple[list[float], bool]:
        """Fold an event in; return its aggregates and whether it is the entity's newest."""
        st, seq = self._begin(entity)
        prev = st.newest
        out: list[float] = []
        for g, gs in zip(self._groups, st.groups, strict=True):
            out += g.update(gs, ts, seq, nums, hashes)
        if self._ewm:
            self._fold_ewm(st.ewm, ts, nums)
            out += [acc[1] / acc[2] for acc in st.ewm]
        if self._tsl:
            tsl = [
                float(w) if prev is None else float(min(w, max(0, ts - prev))) for w in self._tsl
            ]
            out += tsl
        else:
            tsl = []
        newest = prev is None or ts >= prev
        if newest:
            st.newest = ts
            st.raw = raw
            st.tsl = tsl
        return (out if self._order is None else self._order(out)), newest

    def fold(
        self, entity: str, ts: int, nums: Sequence[float], hashes: Sequence[int], raw: list[Any]
    ) -> bool:
        """`step` without the event's aggregates."""
        st, seq = self._begin(entity)
        for g, gs in zip(self._groups, st.groups, strict=True):
            g.fold(gs, ts, seq, nums, hashes)
        if self._ewm:
            self._fold_ewm(st.ewm, ts, nums)
        prev = st.newest
        if prev is None or ts >= prev:
            st.newest = ts
            st.raw = raw
            st.tsl = [
                float(w) if prev is None else float(min(w, max(0, ts - prev))) for w in self._tsl
            ]
            return True
        return False

    def run(
        self,
        entities: Sequence[str],
        ts: Sequence[int],
        nums: Sequence[float],
        hashes: Sequence[int],
        raws: Sequence[Sequence[Any]],
        answer: bool,
    ) -> tuple[np.ndarray[Any, np.dtype[np.float64]] | None, list[int]]:
        """`step` (or `fold`) of a batch: see `Aggregator.run`."""
        nn, nk = len(self.plan.num_fields), len(self.plan.key_fields)
        outs: list[list[float]] = []
        newest: list[int] = []
        for i, (e, t, raw) in enumerate(zip(entities, ts, raws, strict=True)):
            x, h = nums[i * nn : i * nn + nn], hashes[i * nk : i * nk + nk]
            if answer:
                out, new = self.step(e, t, x, h, list(raw))
                outs.append(out)
            else:
                new = self.fold(e, t, x, h, list(raw))
            newest.append(int(new))
        if not answer:
            return None, newest
        return np.array(outs, dtype=np.float64).reshape(len(outs), len(self.plan.perm)), newest

    def _fold_ewm(self, accs: list[list[Any]], ts: int, nums: Sequence[float]) -> None:
        for (i, half), acc in zip(self._ewm, accs, strict=True):
            if acc[2] == 0.0 or ts >= acc[0]:
                decay = 2.0 ** (-(ts - acc[0]) / half) if acc[2] else 0.0
                acc[0], acc[1], acc[2] = ts, acc[1] * decay + nums[i], acc[2] * decay + 1.0
            else:
                w = 2.0 ** (-(acc[0] - ts) / half)
                acc[1] += nums[i] * w
                acc[2] += w

    def newest_ts(self, entity: str) -> int:
        st = self._state.get(entity)
        return -1 if st is None or st.newest is None else st.newest

    def current(self, entity: str) -> tuple[int, list[Any], list[float]] | None:
        st = self._state.get(entity)
        if st is None or st.newest is None:
            return None
        t = st.newest
        out: list[float] = []
        for g, gs in zip(self._groups, st.groups, strict=True):
            out += g.values(gs, t)
        out += [acc[1] / acc[2] for acc in st.ewm]
        out += st.tsl
        return t, st.raw, out if self._order is None else self._order(out)

    def current_many(self, entities: Sequence[str]) -> list[tuple[int, list[Any], list[float]]]:
        out = []
        for e in entities:
            current = self.current(e)
            assert current is not None
            out.append(current)
        return out

    def evict(self, horizon: int) -> int:
        """Drop state no event at or after ``horizon`` can reach; return how many entities
        left. An entity no event touched since its last visit is skipped until its ``due``
        horizon: the same state goes as with a visit to every entity."""
        groups = [(g, g.evict_bound(horizon)) for g in self._groups]
        reach = self.plan.reach
        gone = []
        for e, st in self._state.items():
            if st.due > horizon:
                continue
            # the entity leaves when its newest event is out of reach and its windows are
            # empty, which they are by then (every window is within reach)
            newest = st.newest
            due = _NEVER if newest is None else newest + reach
            for (g, bound), gs in zip(groups, st.groups, strict=True):
                d = g.evict(gs, bound)
                if d < due:
                    due = d
            if (newest is None or newest <= horizon - reach) and all(
                g.is_empty(gs, bound) for (g, bound), gs in zip(groups, st.groups, strict=True)
            ):
                gone.append(e)
            st.due = due
        for e in gone:
            del self._state[e]
        return len(gone)

    def entities(self) -> dict[str, Any]:
        """Each entity's state, JSON-able, sharing lists with the live state."""
        return {
            e: [
                st.newest,
                st.raw,
                st.tsl,
                [list(a) for a in st.ewm],
                [g.to_json(gs) for g, gs in zip(self._groups, st.groups, strict=True)],
            ]
            for e, st in self._state.items()
        }

    def load(self, entities: dict[str, Any], seq: int) -> None:
        self.reset()
        for e, (newest, raw, tsl, ewm, groups) in entities.items():
            st = _Entity([g.from_json(x) for g, x in zip(self._groups, groups, strict=True)], 0)
            st.newest = None if newest is None else int(newest)
            st.raw = list(raw)
            st.tsl = [float(v) for v in tsl]
            st.ewm = [[int(a[0]), float(a[1]), float(a[2])] for a in ewm]
            self._state[str(e)] = st
        self.seq = seq

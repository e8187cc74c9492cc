"""Per-entity state for every aggregation of a feature view, in event time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from featurestore.aggregation import WINDOWED
from featurestore.exceptions import InvalidEventError
from featurestore.group_layout import unique
from featurestore.pane_group import PaneGroup
from featurestore.sketch import hash_value
from featurestore.sliding_group import SlidingGroup
from featurestore.view import FeatureView

__all__ = ["Aggregator"]

_EWM_HORIZON = 64  # half-lives after which an old event weighs < 2**-64 of a new one
_LIMIT = 1e150  # larger values could overflow sums of squares
_NEVER = -(2**62)  # the watermark before any event (event times may be negative)


class _Entity:
    __slots__ = ("ewm", "groups", "newest", "raw", "tsl")

    def __init__(self, groups: list[Any], n_ewm: int) -> None:
        self.newest: int | None = None
        self.raw: list[Any] = []  # passthrough (and one-hot input) values of the newest event
        self.tsl: list[float] = []  # time_since_last values of the newest event
        self.groups = groups
        self.ewm = [[0, 0.0, 0.0] for _ in range(n_ewm)]  # [reference ts, weighted sum, weight]


class Aggregator:
    """Keeps each entity's aggregates for every window of a view and answers, per event, the
    aggregates of the windows its event time falls in (see `featurestore.Window`).

    An event more than ``allowed_lateness`` behind the newest event time seen (the watermark)
    is refused (``late_event``); any other event is folded in exactly, whatever its order, and
    state no accepted event can reach any more is evicted.

    >>> from featurestore.view import FeatureView
    >>> view = FeatureView("v", window="1s", fields=("x",), aggregations=("count", "mean"))
    >>> agg = Aggregator(view)
    >>> agg.update("a", 100, [1.0]), agg.update("a", 900, [3.0]), agg.update("a", 1200, [5.0])
    ([1.0, 1.0], [2.0, 2.0], [1.0, 5.0])
    >>> agg.update("a", 950, [7.0])  # late but allowed: joins the first window
    [3.0, 3.6666666666666665]
    """

    def __init__(self, view: FeatureView) -> None:
        self.view = view
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
        self._groups: list[PaneGroup | SlidingGroup] = []
        for w in windows:
            members = [s for s in specs if s.kind in WINDOWED and s.window_spec == w]
            cls = SlidingGroup if w.kind == "sliding" else PaneGroup
            self._groups.append(cls(w, members, num_pos, key_pos))
        self._ewm = [(num_pos[s.field], s.half_life_ms) for s in specs if s.kind == "ewm"]  # type: ignore[index]
        self._tsl = [s.window_spec.size_ms for s in specs if s.kind == "time_since_last"]
        # output order: (source, index, position in that source's answer)
        self._plan: list[tuple[str, int, int]] = []
        per_group = [0] * len(self._groups)
        ewm_i = tsl_i = 0
        for s in specs:
            if s.kind in WINDOWED:
                gi = windows.index(s.window_spec)
                self._plan.append(("group", gi, per_group[gi]))
                per_group[gi] += 1
            elif s.kind == "ewm":
                self._plan.append(("ewm", ewm_i, 0))
                ewm_i += 1
            else:
                self._plan.append(("tsl", tsl_i, 0))
                tsl_i += 1
        self.lateness = view.lateness_ms
        longest = max([w.size_ms for w in windows] + self._tsl + [0])
        ewm_reach = max([h * _EWM_HORIZON for _, h in self._ewm] + [0])
        self._reach = max(longest, ewm_reach)
        # eviction scans every entity, so it runs once per shortest window of event time
        self._evict_step = max(1, min([w.pane_ms for w in windows] + self._tsl + [60_000]))
        self._reset()

    def _reset(self) -> None:
        self._state: dict[str, _Entity] = {}
        self.watermark = _NEVER  # the newest event time seen
        self._seq = 0
        self._evicted_at = _NEVER

    def __len__(self) -> int:
        return len(self._state)

    def _new_entity(self) -> _Entity:
        return _Entity([g.new_state() for g in self._groups], len(self._ewm))

    def check(self, ts: int, nums: Sequence[float]) -> None:
        """Raise `InvalidEventError` if `update` would refuse the event; changes nothing."""
        if ts < self.watermark - self.lateness:
            raise InvalidEventError(
                "late_event",
                f"event time {ts} is more than {self.lateness} ms behind the newest event "
                f"time seen ({self.watermark})",
            )
        for i, v in enumerate(nums):
            if not -_LIMIT < v < _LIMIT:
                raise InvalidEventError(
                    "overflow", f"field {self.num_fields[i]!r} is too large to aggregate: {v!r}"
                )

    def update(
        self,
        entity: str,
        ts: int,
        nums: Sequence[float],
        keys: Sequence[object] = (),
        raw: Sequence[Any] = (),
    ) -> list[float]:
        """Fold one event in and return its aggregates, in the view's order.

        ``nums`` are the values of `num_fields`, ``keys`` those of `key_fields` (any hashable
        JSON value), ``raw`` the passthrough values kept for `current`.
        """
        self.check(ts, nums)
        hashes = [hash_value(k) for k in keys]
        st = self._state.get(entity)
        if st is None:
            st = self._state[entity] = self._new_entity()
        self._seq += 1
        prev = st.newest
        tsl = [float(w) if prev is None else float(min(w, max(0, ts - prev))) for w in self._tsl]
        answers: list[list[float]] = []
        for g, gs in zip(self._groups, st.groups, strict=True):
            if isinstance(g, PaneGroup):
                answers.append(g.update(gs, ts, nums, hashes))
            else:
                answers.append(g.update(gs, ts, self._seq, nums, hashes))
        for (i, half), acc in zip(self._ewm, st.ewm, strict=True):
            if acc[2] == 0.0 or ts >= acc[0]:
                decay = 2.0 ** (-(ts - acc[0]) / half) if acc[2] else 0.0
                acc[0], acc[1], acc[2] = ts, acc[1] * decay + nums[i], acc[2] * decay + 1.0
            else:
                w = 2.0 ** (-(acc[0] - ts) / half)
                acc[1] += nums[i] * w
                acc[2] += w
        if prev is None or ts >= prev:
            st.newest = ts
            st.raw = list(raw)
            st.tsl = tsl
        if ts > self.watermark:
            self.watermark = ts
        return self._assemble(answers, st.ewm, tsl)

    def _assemble(
        self, answers: list[list[float]], ewm: list[list[Any]], tsl: list[float]
    ) -> list[float]:
        out: list[float] = []
        for source, i, j in self._plan:
            if source == "group":
                out.append(answers[i][j])
            elif source == "ewm":
                out.append(ewm[i][1] / ewm[i][2])
            else:
                out.append(tsl[i])
        return out

    def newest_ts(self, entity: str) -> int:
        """The newest event time folded in for the entity (-1 if none)."""
        st = self._state.get(entity)
        return -1 if st is None or st.newest is None else st.newest

    def current(self, entity: str) -> tuple[int, list[Any], list[float]] | None:
        """The entity's newest event time, its passthrough values, and the aggregates as of that
        time over every event folded in so far (what the online store should hold)."""
        st = self._state.get(entity)
        if st is None or st.newest is None:
            return None
        t = st.newest
        answers = [g.values(gs, t) for g, gs in zip(self._groups, st.groups, strict=True)]
        return t, st.raw, self._assemble(answers, st.ewm, st.tsl)

    def evict(self, force: bool = False) -> int:
        """Drop state no accepted event can reach; returns how many entities left memory.

        Runs when the watermark moved a step since the last run (results never depend on it).
        """
        if not force and self.watermark - self._evicted_at < self._evict_step:
            return 0
        self._evicted_at = self.watermark
        horizon = self.watermark - self.lateness  # no accepted event is older
        gone = []
        for e, st in self._state.items():
            empty = True
            for g, gs in zip(self._groups, st.groups, strict=True):
                g.evict(gs, horizon)
                if gs if isinstance(g, PaneGroup) else not g.is_empty(gs, horizon):
                    empty = False
            if empty and (st.newest is None or st.newest <= horizon - self._reach):
                gone.append(e)
        for e in gone:
            del self._state[e]
        return len(gone)

    def _spec(self) -> list[Any]:
        v = self.view
        return [v.qualified_name, [s.name for s in v.specs], [str(s.window) for s in v.specs]]

    def state_dict(self) -> dict[str, Any]:
        """A JSON-able snapshot of the state. It shares lists with the live state: encode it
        before processing goes on."""
        entities = {
            e: [
                st.newest,
                st.raw,
                st.tsl,
                [list(a) for a in st.ewm],
                [g.to_json(gs) for g, gs in zip(self._groups, st.groups, strict=True)],
            ]
            for e, st in self._state.items()
        }
        return {
            "view": self.view.qualified_name,
            "spec": self._spec(),
            "entities": entities,
            "watermark": self.watermark,
            "seq": self._seq,
            "evicted_at": self._evicted_at,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("view") != self.view.qualified_name or state.get("spec") != self._spec():
            raise ValueError(
                f"checkpoint is for view {state.get('view')!r} with spec {state.get('spec')}, "
                f"not {self.view.qualified_name!r} with {self._spec()}"
            )
        self._reset()
        for e, (newest, raw, tsl, ewm, groups) in state["entities"].items():
            st = _Entity([g.from_json(x) for g, x in zip(self._groups, groups, strict=True)], 0)
            st.newest = None if newest is None else int(newest)
            st.raw = list(raw)
            st.tsl = [float(v) for v in tsl]
            st.ewm = [[int(a[0]), float(a[1]), float(a[2])] for a in ewm]
            self._state[str(e)] = st
        self.watermark = int(state["watermark"])
        self._seq = int(state["seq"])
        self._evicted_at = int(state["evicted_at"])

"""Per-entity state for every aggregation of a feature view, in event time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from featurestore.agg_plan import AggPlan
from featurestore.exceptions import InvalidEventError, NativeUnavailableError
from featurestore.native_engine import NativeEngine, native_engine
from featurestore.native_state import snapshot_entities
from featurestore.py_engine import PyEngine
from featurestore.sketch import hash_key
from featurestore.view import FeatureView

__all__ = ["Aggregator"]

_LIMIT = 1e150  # larger values could overflow sums of squares
_NEVER = -(2**62)  # the watermark before any event (event times may be negative)


class Aggregator:
    """Keeps each entity's aggregates for every window of a view and answers, per event, the
    aggregates of the windows its event time falls in (see `featurestore.Window`).

    An event more than ``allowed_lateness`` behind the newest event time seen (the watermark)
    is refused (``late_event``); any other event is folded in exactly, whatever its order, and
    state no accepted event can reach any more is evicted.

    The state lives in C when the native engine is available (``native``: None to use it if it
    is, False for the Python engine, True to insist), else in Python; both give the same floats,
    and either loads the other's checkpoints (the C engine's are its raw state arrays).

    >>> from featurestore.view import FeatureView
    >>> view = FeatureView("v", window="1s", fields=("x",), aggregations=("count", "mean"))
    >>> agg = Aggregator(view)
    >>> agg.update("a", 100, [1.0]), agg.update("a", 900, [3.0]), agg.update("a", 1200, [5.0])
    ([1.0, 1.0], [2.0, 2.0], [1.0, 5.0])
    >>> agg.update("a", 950, [7.0])  # late but allowed: joins the first window
    [3.0, 3.6666666666666665]
    """

    LIMIT: ClassVar[float] = _LIMIT  # the largest magnitude a value may have

    def __init__(self, view: FeatureView, native: bool | None = None) -> None:
        self.view = view
        plan = AggPlan(view)
        self.num_fields = plan.num_fields
        self.key_fields = plan.key_fields
        self.lateness = plan.lateness
        self._plan = plan
        engine: NativeEngine | PyEngine | None = None
        if native is not False:
            engine = native_engine(plan)
            if engine is None and native:
                raise NativeUnavailableError(
                    "the native aggregator is off (RIFFLE_NO_NATIVE) or has no C compiler"
                )
        self._engine = engine if engine is not None else PyEngine(plan)
        self.native = self._engine.native
        self._reset()

    def _reset(self) -> None:
        self._engine.reset()
        self.watermark = _NEVER  # the newest event time seen
        self._evicted_at = _NEVER

    def __len__(self) -> int:
        return len(self._engine)

    def check(self, ts: int, nums: Sequence[float]) -> None:
        """Raise `InvalidEventError` if `update` would refuse the event; changes nothing."""
        self.check_time(ts)
        for i, v in enumerate(nums):
            if not -_LIMIT < v < _LIMIT:
                raise InvalidEventError(
                    "overflow", f"field {self.num_fields[i]!r} is too large to aggregate: {v!r}"
                )

    def check_time(self, ts: int) -> None:
        """`check` for callers whose values are known to be small enough to aggregate."""
        if ts < self.watermark - self.lateness:
            raise InvalidEventError(
                "late_event",
                f"event time {ts} is more than {self.lateness} ms behind the newest event "
                f"time seen ({self.watermark})",
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
        return self.step(entity, ts, nums, [hash_key(k) for k in keys], list(raw))[0]

    def step(
        self, entity: str, ts: int, nums: Sequence[float], hashes: Sequence[int], raw: list[Any]
    ) -> tuple[list[float], bool]:
        """`update` of a checked event with its keys hashed (`hash_key`); also tells whether
        the event is the entity's newest. The aggregator keeps ``raw``."""
        if ts > self.watermark:
            self.watermark = ts
        return self._engine.step(entity, ts, nums, hashes, raw)

    def fold(
        self, entity: str, ts: int, nums: Sequence[float], hashes: Sequence[int], raw: list[Any]
    ) -> None:
        """`step` without the event's aggregates: for views that only serve the newest vector
        (`current`)."""
        if ts > self.watermark:
            self.watermark = ts
        self._engine.fold(entity, ts, nums, hashes, raw)

    def run(
        self,
        entities: Sequence[str],
        ts: Sequence[int],
        nums: Sequence[float],
        hashes: Sequence[int],
        raws: Sequence[Sequence[Any]],
        answer: bool,
    ) -> tuple[np.ndarray[Any, np.dtype[np.float64]] | None, Sequence[int]]:
        """`step` (or with ``answer`` False, `fold`) of a batch of checked events, in order:
        their entities, times, numeric values and key hashes (flat, one event after the other)
        and passthrough values. Returns the aggregates of each event, a row each (None without
        ``answer``), and whether each is its entity's newest (1 or 0). The native engine's
        fast path: one call into C per batch."""
        if ts and max(ts) > self.watermark:
            self.watermark = max(ts)
        return self._engine.run(entities, ts, nums, hashes, raws, answer)

    def newest_ts(self, entity: str) -> int:
        """The newest event time folded in for the entity (-1 if none)."""
        return self._engine.newest_ts(entity)

    def current(self, entity: str) -> tuple[int, list[Any], list[float]] | None:
        """The entity's newest event time, its passthrough values, and the aggregates as of that
        time over every event folded in so far (what the online store should hold)."""
        return self._engine.current(entity)

    def current_many(self, entities: Sequence[str]) -> list[tuple[int, list[Any], list[float]]]:
        """`current` of entities that have state (in one call into C)."""
        return self._engine.current_many(entities)

    def evict(self, force: bool = False) -> int:
        """Drop state no accepted event can reach; returns how many entities left memory.

        Runs when the watermark moved a step since the last run (results never depend on it).
        """
        if not force and self.watermark - self._evicted_at < self._plan.evict_step:
            return 0
        self._evicted_at = self.watermark
        return self._engine.evict(self.watermark - self.lateness)  # no accepted event is older

    def _spec(self) -> list[Any]:
        v = self.view
        return [v.qualified_name, [s.name for s in v.specs], [str(s.window) for s in v.specs]]

    def state_dict(self) -> dict[str, Any]:
        """A JSON-able snapshot of the state (numpy arrays for the native engine's state
        streams). It shares lists with the live state: encode it before processing goes on."""
        engine = self._engine
        state: dict[str, Any] = {
            "view": self.view.qualified_name,
            "spec": self._spec(),
            "watermark": self.watermark,
            "seq": engine.seq,
            "evicted_at": self._evicted_at,
        }
        if isinstance(engine, NativeEngine):
            state["native"] = engine.snapshot()
        else:
            state["entities"] = engine.entities()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load either engine's checkpoint into this one (a native snapshot is converted for
        the Python engine; the JSON layout is read by both)."""
        if state.get("view") != self.view.qualified_name or state.get("spec") != self._spec():
            raise ValueError(
                f"checkpoint is for view {state.get('view')!r} with spec {state.get('spec')}, "
                f"not {self.view.qualified_name!r} with {self._spec()}"
            )
        self._reset()
        engine, seq = self._engine, int(state["seq"])
        if "native" not in state:
            engine.load(state["entities"], seq)
        elif isinstance(engine, NativeEngine):
            engine.load_snapshot(state["native"], seq)
        else:
            engine.load(snapshot_entities(self._plan, state["native"]), seq)
        self.watermark = int(state["watermark"])
        self._evicted_at = int(state["evicted_at"])

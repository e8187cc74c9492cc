"""The learner stage: predict for each features record, then learn once its label is known."""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from featurestore import FeatureRecord
from models.metrics import Accuracy, RollingAccuracy
from models.pending import PendingBuffer
from streams.config import ModelConfig
from streams.deployment import Control, Deployment
from streams.deployment_config import DeploymentConfig
from streams.records import Prediction

__all__ = ["Label", "Learner"]

# a delayed label: (event id, label), optionally with where it came from
# ((topic, partition, offset, raw text), for reporting a label that never meets its event)
Label = tuple[str, int] | tuple[str, int, tuple[str, int, int, str]]


class Learner:
    """Test-then-train on a stream of feature records, with delayed labels joined by event id.

    Each record is predicted with the model as it stands after learning every earlier labelled
    record, exactly as a one-by-one loop would; records whose label is inline are learned right
    after their prediction, the others wait (bounded, with a TTL) for their label.

    >>> from featurestore import FeatureRecord
    >>> learner = Learner("s", ("x",), ModelConfig(lr=0.5))
    >>> recs = [FeatureRecord(str(i), "a", i, [float(i % 2)], i % 2, "v", 1) for i in range(200)]
    >>> preds = learner.process(recs)
    >>> [p.prediction for p in preds[-4:]], round(learner.accuracy, 2)
    ([0, 1, 0, 1], 0.99)
    """

    def __init__(
        self,
        stream: str,
        names: tuple[str, ...],
        model: ModelConfig,
        version: int = 1,
        max_pending: int = 100_000,
        label_ttl_ms: int = 3_600_000,
        deployment: DeploymentConfig | None = None,
    ) -> None:
        self.stream = stream
        self.names = names
        self.model_config = model
        self.deployment = Deployment(model, deployment or DeploymentConfig(), version)
        self._pending: PendingBuffer[list[Any]] = PendingBuffer(
            max_pending, label_ttl_ms, keep_evicted=True
        )
        # labels ahead of their event: the label, or [label, source] when the source is known
        self._early: PendingBuffer[Any] = PendingBuffer(
            max_pending, label_ttl_ms, keep_evicted=True
        )
        # ids of events whose label wait ended (TTL or bound): their label comes too late
        self._expired: OrderedDict[str, None] = OrderedDict()
        self._max_pending = max_pending
        self.n_late_labels = 0  # labels for an event whose wait had ended
        self.n_unknown_labels = 0  # labels whose event never came within the TTL
        self.n_unlabelled = 0  # events whose label never came within the TTL
        # labels that will never be learned, for the driver to report: (reason, event id,
        # label, source or None)
        self.unmatched: list[tuple[str, str, int, Any]] = []
        self._accuracy = Accuracy()
        self._rolling = RollingAccuracy(window_size=1000)
        self.n_predicted = 0
        self.n_learned = 0
        self.n_replayed = 0
        self.watermark = 0
        # highest source-event offset seen per "topic:partition": a feature stage that restarts
        # from its checkpoint re-emits records; they must not be predicted or learned twice
        self._seen: dict[str, int] = {}

    @property
    def model(self) -> Any:
        """The champion's model."""
        return self.deployment.champion.model

    @property
    def model_id(self) -> str:
        """The champion, as ``name@version``."""
        return self.deployment.champion_id

    @property
    def accuracy(self) -> float:
        """Prequential accuracy over every labelled event so far."""
        return self._accuracy.get()

    @property
    def rolling_accuracy(self) -> float:
        """Prequential accuracy over the last 1000 labelled events."""
        return self._rolling.get()

    @property
    def n_unmatched_labels(self) -> int:
        """Labels that never met their event (unknown id, or too late), and events whose label
        never came within the TTL."""
        return self.n_late_labels + self.n_unknown_labels + self.n_unlabelled

    @property
    def seen(self) -> dict[str, int]:
        """The last source offset learned per ``"topic:partition"`` (a version's lineage)."""
        return dict(self._seen)

    def mark_seen(self, offsets: Mapping[str, int]) -> None:
        """Source offsets (``"topic:partition"`` → last offset) the model has already learned,
        as a registered version's lineage says: records at or before them are skipped."""
        for where, last in offsets.items():
            self._seen[where] = max(self._seen.get(where, -1), int(last))

    def process(self, records: Sequence[FeatureRecord]) -> list[Prediction]:
        """Predict every record, learning the labelled ones right after their prediction."""
        return self.process_mixed(records)

    def process_labels(self, labels: Sequence[Label]) -> int:
        """Learn the events these delayed labels belong to; keep labels that came early."""
        before = self.n_learned
        self.process_mixed(labels)
        return self.n_learned - before

    def process_mixed(self, items: Sequence[FeatureRecord | Label | Control]) -> list[Prediction]:
        """Feature records, delayed labels (``(event_id, label)``) and deployment commands in
        arrival order.

        Rows between two commands go through one `predict_learn_many` call per deployed
        model: a label becomes a learn-only row at its place in the sequence, so the result
        is exactly that of a one-by-one run; a command applies between the rows around it.
        """
        out: list[Prediction] = []
        segment: list[FeatureRecord | Label] = []
        for it in items:
            if isinstance(it, Control):
                out.extend(self._segment(segment))
                segment = []
                self.deployment.apply(it if it.ts else dataclasses.replace(it, ts=self.watermark))
            else:
                segment.append(it)
        out.extend(self._segment(segment))
        self._account_evictions()
        return out

    def _segment(self, items: Sequence[FeatureRecord | Label]) -> list[Prediction]:
        if not items:
            return []
        t0 = time.perf_counter()
        rows: list[list[float]] = []
        ys: list[int] = []
        mask: list[bool] = []
        records: list[FeatureRecord] = []
        waiting: dict[str, int] = {}  # unlabelled events of this batch: event id -> row
        # label rows: (row, row of the event's prediction, or -1 and its stored predictions)
        late: list[tuple[int, int, Any]] = []
        early, pending, seen = self._early, self._pending, self._seen
        for it in items:
            if isinstance(it, FeatureRecord):
                if it.offset >= 0:
                    where = f"{it.topic}:{it.partition}"
                    if it.offset <= seen.get(where, -1):
                        self.n_replayed += 1
                        continue
                    seen[where] = it.offset
                label = it.label if it.label is not None else _label(early.pop(it.event_id))
                if label is None:
                    waiting[it.event_id] = len(rows)
                rows.append(it.values)
                ys.append(0 if label is None else label)
                mask.append(label is not None)
                records.append(it)
                continue
            event_id, y = it[0], it[1]
            source: Any = it[2] if len(it) > 2 else None
            j = waiting.pop(event_id, -1)
            if j >= 0:
                late.append((len(rows), j, None))
                rows.append(rows[j])
            else:
                hit = pending.pop(event_id)
                if hit is None:
                    if event_id in self._expired:
                        self.n_late_labels += 1
                        self.unmatched.append(("late_label", event_id, y, source))
                    else:
                        early.put(event_id, y if source is None else [y, source], self.watermark)
                    continue
                late.append((len(rows), -1, hit))
                rows.append(hit[0])
            ys.append(y)
            mask.append(True)
        if not rows:
            return []
        X = np.array(rows, dtype=float)
        y_arr = np.asarray(ys, dtype=np.int64)
        m_arr = np.asarray(mask, dtype=bool)
        dep = self.deployment
        dep.begin()
        probas = dep.predict_learn(X, y_arr, m_arr)
        preds = {mid: (p > 0.5).astype(np.int64) for mid, p in probas.items()}
        is_event = np.ones(len(rows), dtype=bool)
        for row, _, _ in late:
            is_event[row] = False
        ev_rows = np.flatnonzero(is_event)
        # prequential outcomes: inline labels score their own row's predictions; a delayed
        # label scores the predictions its event got when it arrived (-1: a model deployed
        # after that)
        outcome = {mid: p.copy() for mid, p in preds.items()}
        for row, j, hit in late:
            if j >= 0:
                for p in outcome.values():
                    p[row] = p[j]
            else:
                stored = _stored_predictions(hit)
                for mid, p in outcome.items():
                    p[row] = stored.get(mid, -1)
        # the stream's event-time clock at each row (the newest event time so far), which
        # out-of-order events do not turn back
        row_ts = np.full(len(rows), self.watermark, dtype=np.int64)
        row_ts[ev_rows] = [r.ts for r in records]
        row_ts = np.maximum.accumulate(np.maximum(row_ts, self.watermark))
        lab_rows = np.flatnonzero(m_arr)
        changes = dep.record(
            y_arr[lab_rows], {mid: p[lab_rows] for mid, p in outcome.items()}, row_ts[lab_rows]
        )
        # a promotion after a labelled row changes who serves the events after it
        serving = dep.route(
            [r.entity for r in records], ev_rows, [(int(lab_rows[i]), c) for i, c in changes]
        )
        served = np.zeros(len(rows), dtype=np.int64)
        for k, mid in enumerate(serving):
            served[ev_rows[k]] = preds[mid][ev_rows[k]]
        outcome_served = served.copy()
        for row, j, hit in late:
            outcome_served[row] = served[j] if j >= 0 else hit[1]
        if len(lab_rows):
            self._accuracy.update_many(y_arr[lab_rows], outcome_served[lab_rows])
            self._rolling.update_many(y_arr[lab_rows], outcome_served[lab_rows])
        self.n_learned += len(lab_rows)
        self.n_predicted += len(records)
        for m in dep.members.values():
            m.n_predicted += len(records)
        if records:
            self.watermark = max(self.watermark, max(r.ts for r in records))
        for event_id, j in waiting.items():
            rec = records[int(np.searchsorted(ev_rows, j))]
            at_event = {mid: int(p[j]) for mid, p in preds.items()}
            pending.put(event_id, [rows[j], int(served[j]), at_event], rec.ts)
        pending.expire(self.watermark)
        early.expire(self.watermark)
        if not records:
            return []
        cost_ms = (time.perf_counter() - t0) * 1000.0 / len(rows)
        return [
            Prediction(
                r.event_id,
                r.entity,
                r.ts,
                mid,
                int(served[j]),
                float(probas[mid][j]),
                int(y_arr[j]) if m_arr[j] else None,
                {
                    "topic": r.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "sent_ms": r.source_ts,
                },
                {"learner_ms": cost_ms},
            )
            for r, j, mid in zip(records, ev_rows.tolist(), serving, strict=True)
        ]

    def _account_evictions(self) -> None:
        for event_id, _ in self._pending.drain_evicted():
            self.n_unlabelled += 1
            self._expired[event_id] = None
            if len(self._expired) > self._max_pending:
                self._expired.popitem(last=False)
        for event_id, value in self._early.drain_evicted():
            self.n_unknown_labels += 1
            source = value[1] if isinstance(value, list) else None
            self.unmatched.append(("unknown_event", event_id, _label(value) or 0, source))

    def drain_unmatched(self) -> list[tuple[str, str, int, Any]]:
        out, self.unmatched = self.unmatched, []
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment.state_dict(),
            "accuracy": self._accuracy.state_dict(),
            "rolling": self._rolling.state_dict(),
            "pending": self._pending.state_dict(),
            "early": self._early.state_dict(),
            "counters": [self.n_predicted, self.n_learned, self.watermark, self.n_replayed],
            "seen": dict(self._seen),
            "labels": {
                "expired": list(self._expired),
                "counts": [self.n_late_labels, self.n_unknown_labels, self.n_unlabelled],
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.deployment.load_state_dict(state["deployment"])
        self._accuracy.load_state_dict(state["accuracy"])
        self._rolling.load_state_dict(state["rolling"])
        self._pending.load_state_dict(state["pending"])
        self._early.load_state_dict(state["early"])
        self.n_predicted, self.n_learned, self.watermark, self.n_replayed = (
            int(v) for v in state["counters"]
        )
        self._seen = {str(k): int(v) for k, v in state["seen"].items()}
        labels = state.get("labels", {"expired": [], "counts": [0, 0, 0]})
        self._expired = OrderedDict((str(k), None) for k in labels["expired"])
        self.n_late_labels, self.n_unknown_labels, self.n_unlabelled = (
            int(v) for v in labels["counts"]
        )


def _stored_predictions(hit: list[Any]) -> dict[str, int]:
    """Each model's prediction stored with a pending event (checkpoints written before
    deployments kept only the served one)."""
    return hit[2] if len(hit) > 2 else {}


def _label(value: Any) -> int | None:
    """The label an early-buffer entry holds (a bare label, or [label, source])."""
    if value is None:
        return None
    return int(value[0]) if isinstance(value, list) else int(value)

"""The learner stage: predict for each features record, then learn once its label is known."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from featurestore import FeatureRecord
from models.metrics import Accuracy, RollingAccuracy
from models.pending import PendingBuffer
from streams.config import ModelConfig, model_from_config
from streams.model_factory import positive_proba
from streams.records import Prediction

__all__ = ["Label", "Learner"]

Label = tuple[str, int]


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
    ) -> None:
        self.stream = stream
        self.names = names
        self.model_config = model
        self.version = version
        self.model = model_from_config(model)
        self.model_id = f"{model.name}@{version}"
        self._pending: PendingBuffer[list[Any]] = PendingBuffer(max_pending, label_ttl_ms)
        self._early: PendingBuffer[int] = PendingBuffer(max_pending, label_ttl_ms)
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
        return self._early.n_evicted + self._pending.n_evicted

    def process(self, records: Sequence[FeatureRecord]) -> list[Prediction]:
        """Predict every record, learning the labelled ones right after their prediction."""
        return self.process_mixed(records)

    def process_labels(self, labels: Sequence[Label]) -> int:
        """Learn the events these delayed labels belong to; keep labels that came early."""
        before = self.n_learned
        self.process_mixed(labels)
        return self.n_learned - before

    def process_mixed(self, items: Sequence[FeatureRecord | Label]) -> list[Prediction]:
        """Feature records and delayed labels (``(event_id, label)``) in arrival order.

        The whole batch goes through one `predict_learn_many` call: a label becomes a learn-only
        row at its place in the sequence, so the result is exactly that of a one-by-one run.
        """
        if not items:
            return []
        t0 = time.perf_counter()
        rows: list[list[float]] = []
        ys: list[int] = []
        mask: list[bool] = []
        records: list[FeatureRecord] = []
        waiting: dict[str, int] = {}  # unlabelled events of this batch: event id -> row
        # label rows: (row, y, row of the event's prediction, or -1 and its stored prediction)
        late: list[tuple[int, int, int, int]] = []
        early, pending, seen = self._early, self._pending, self._seen
        for it in items:
            if isinstance(it, FeatureRecord):
                if it.offset >= 0:
                    source = f"{it.topic}:{it.partition}"
                    if it.offset <= seen.get(source, -1):
                        self.n_replayed += 1
                        continue
                    seen[source] = it.offset
                label = it.label if it.label is not None else early.pop(it.event_id)
                if label is None:
                    waiting[it.event_id] = len(rows)
                rows.append(it.values)
                ys.append(0 if label is None else label)
                mask.append(label is not None)
                records.append(it)
                continue
            event_id, y = it
            j = waiting.pop(event_id, -1)
            if j >= 0:
                late.append((len(rows), y, j, 0))
                rows.append(rows[j])
            else:
                hit = pending.pop(event_id)
                if hit is None:
                    early.put(event_id, y, self.watermark)
                    continue
                late.append((len(rows), y, -1, hit[1]))
                rows.append(hit[0])
            ys.append(y)
            mask.append(True)
        if not rows:
            return []
        X = np.array(rows, dtype=float)
        y_arr = np.asarray(ys, dtype=np.int64)
        m_arr = np.asarray(mask, dtype=bool)
        proba = positive_proba(self.model, self.model.predict_learn_many(X, y_arr, m_arr))
        pred = (proba > 0.5).astype(np.int64)
        # prequential outcomes: inline labels score their own prediction; a delayed label scores
        # the prediction its event got when it arrived
        outcome_pred = pred.copy()
        is_event = np.ones(len(rows), dtype=bool)
        for row, _, j, stored in late:
            outcome_pred[row] = pred[j] if j >= 0 else stored
            is_event[row] = False
        if m_arr.any():
            self._accuracy.update_many(y_arr[m_arr], outcome_pred[m_arr])
            self._rolling.update_many(y_arr[m_arr], outcome_pred[m_arr])
        self.n_learned += int(m_arr.sum())
        self.n_predicted += len(records)
        if records:
            self.watermark = max(self.watermark, max(r.ts for r in records))
        ev_rows = np.flatnonzero(is_event)
        for event_id, j in waiting.items():
            rec = records[int(np.searchsorted(ev_rows, j))]
            pending.put(event_id, [rows[j], int(pred[j])], rec.ts)
        pending.expire(self.watermark)
        early.expire(self.watermark)
        if not records:
            return []
        cost_ms = (time.perf_counter() - t0) * 1000.0 / len(rows)
        model_id = self.model_id
        return [
            Prediction(
                r.event_id,
                r.entity,
                r.ts,
                model_id,
                int(pred[j]),
                float(proba[j]),
                int(y_arr[j]) if m_arr[j] else None,
                {
                    "topic": r.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "sent_ms": r.source_ts,
                },
                {"learner_ms": cost_ms},
            )
            for r, j in zip(records, ev_rows.tolist(), strict=True)
        ]

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "accuracy": self._accuracy.state_dict(),
            "rolling": self._rolling.state_dict(),
            "pending": self._pending.state_dict(),
            "early": self._early.state_dict(),
            "counters": [self.n_predicted, self.n_learned, self.watermark, self.n_replayed],
            "seen": dict(self._seen),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self._accuracy.load_state_dict(state["accuracy"])
        self._rolling.load_state_dict(state["rolling"])
        self._pending.load_state_dict(state["pending"])
        self._early.load_state_dict(state["early"])
        self.n_predicted, self.n_learned, self.watermark, self.n_replayed = (
            int(v) for v in state["counters"]
        )
        self._seen = {str(k): int(v) for k, v in state["seen"].items()}

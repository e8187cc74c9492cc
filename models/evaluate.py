"""Prequential (test-then-train) evaluation of an online model on a stream."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from models.base import Classifier, MultiClassifier, Regressor
from models.exceptions import InvalidInputError

__all__ = ["progressive"]

Model = Classifier | MultiClassifier | Regressor


class _Metric(Protocol):
    def update_many(self, y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> None: ...

    def get(self) -> float: ...


def progressive(
    model: Model,
    stream: Iterable[tuple[Mapping[str, float], Any]] | tuple[npt.ArrayLike, npt.ArrayLike],
    metrics: _Metric | Sequence[_Metric],
    batch_size: int = 256,
    checkpoints: Sequence[int] = (),
) -> dict[str, Any]:
    """Test-then-train `model` over `stream` in batches and update `metrics` on each prediction.

    Every sample is predicted with the model as it stands before learning it (through the
    model's `predict_learn_many`, so with an exact model the result does not depend on
    `batch_size`). `stream` is either River-style `(x: dict, y)` pairs or a tuple `(X, y)` of
    arrays. A metric whose `requires_proba` attribute is true gets probabilities (P(y=1) for a
    binary classifier, the probability rows for a multiclass one); the others get labels (or
    values for a regressor).

    Returns ``{"n": samples seen, "<MetricName>": value, ..., "checkpoints": [...]}`` where each
    checkpoint (after the sample counts in `checkpoints`) records every metric's value then.

    >>> import numpy as np
    >>> from models import LogisticRegression
    >>> from models.metrics import Accuracy
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 3))
    >>> y = (X @ [1.0, -1.0, 0.5] > 0).astype(int)
    >>> result = progressive(LogisticRegression(), (X, y), Accuracy(), batch_size=100)
    >>> result["n"], round(result["Accuracy"], 3)
    (2000, 0.979)
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    metric_list = [metrics] if not isinstance(metrics, Sequence) else list(metrics)
    pending = sorted(set(checkpoints))
    report: dict[str, Any] = {"n": 0, "checkpoints": []}
    for X, y in _batches(stream, batch_size):
        n0 = report["n"]
        n = len(X)
        # cut the batch at checkpoints so each one sees exactly its first k samples
        cuts = [c - n0 for c in pending if n0 < c < n0 + n] + [n]
        start = 0
        for end in cuts:
            _step(model, X[start:end], y[start:end], metric_list)
            report["n"] = n0 + end
            if pending and pending[0] == report["n"]:
                pending.pop(0)
                report["checkpoints"].append(
                    {"n": report["n"], **{_name(m): m.get() for m in metric_list}}
                )
            start = end
    for m in metric_list:
        report[_name(m)] = m.get()
    return report


def _step(model: Model, X: Any, y: Any, metrics: list[_Metric]) -> None:
    if len(X) == 0:
        return
    out = model.predict_learn_many(X, y)
    if isinstance(model, Classifier):
        labels: Any = (out > 0.5).astype(np.int64)
    elif isinstance(model, MultiClassifier):
        classes = np.asarray(model.classes_, dtype=object)
        labels = classes[out.argmax(axis=1)] if out.shape[1] else np.full(len(X), None)
    else:
        labels = out
    for m in metrics:
        m.update_many(np.asarray(y), out if getattr(m, "requires_proba", False) else labels)


def _batches(stream: Any, size: int) -> Iterable[tuple[Any, Any]]:
    if isinstance(stream, tuple) and len(stream) == 2 and not isinstance(stream[0], Mapping):
        X, y = np.asarray(stream[0], dtype=np.float64), np.asarray(stream[1])
        if X.ndim != 2 or len(X) != len(y):
            raise InvalidInputError("stream arrays must be X (n, d) and y (n,)")
        for i in range(0, len(X), size):
            yield X[i : i + size], y[i : i + size]
        return
    names: tuple[str, ...] | None = None
    it = iter(stream)
    while True:
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        if names is None:
            names = tuple(chunk[0][0])
        try:
            X = np.array([[x[k] for k in names] for x, _ in chunk], dtype=np.float64)
        except KeyError as exc:
            raise InvalidInputError(f"a sample lacks feature {exc}") from None
        yield X, np.asarray([label for _, label in chunk])


def _name(metric: object) -> str:
    return type(metric).__name__

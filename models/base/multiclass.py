"""The protocol of online multiclass classifiers."""

from __future__ import annotations

import abc
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from models._validation import FeatureSpace, Label, check_class_label, check_mask
from models.base.estimator import Estimator
from models.exceptions import InvalidInputError

__all__ = ["MultiClassifier"]


class MultiClassifier(Estimator):
    """An online classifier over classes discovered from the stream.

    Labels are ints, strs or bools (so states stay JSON-portable). `classes_` lists them in
    the order they were first learned; probability arrays have one column per class in that
    order. Before any learning, `predict_proba_one` is `{}` and `predict_one` is None.

    Subclasses implement `_run` (the sequential kernel), `_add_class` (grow the state for a new
    class) and `predict_proba_many`; they may override the array methods with
    faster code that gives identical results. They keep `self._classes` (a list) and
    `self._class_index` (label → index) from `_reset()` on, and put `classes_state()` in their
    state dict.
    """

    _classes: list[Label]
    _class_index: dict[Label, int]

    @property
    def classes_(self) -> tuple[Label, ...]:
        """The classes learned so far, in the order they were first seen."""
        return tuple(self._classes)

    def learn_one(self, x: Mapping[str, float], y: Label) -> None:
        """Learn one row with class label `y`."""
        row = self._space.encode_one(x)
        label = check_class_label(y)
        if self._space.names is None:
            self._adopt(FeatureSpace(tuple(x)))
        self._run([row], [label], [True], None)

    def predict_proba_one(self, x: Mapping[str, float]) -> dict[Label, float]:
        """`{label: probability}` over the classes seen so far; the state is not changed."""
        probas: list[list[float]] = []
        self._run([self._space.encode_one(x)], [None], [False], probas)
        return dict(zip(self._classes, probas[0], strict=True))

    def predict_one(self, x: Mapping[str, float]) -> Label | None:
        """The most probable class (the first seen on a tie), or None before any learning."""
        proba = self.predict_proba_one(x)
        return max(proba, key=proba.__getitem__) if proba else None

    def learn_many(self, X: npt.ArrayLike, y: Sequence[Label] | npt.ArrayLike) -> None:
        """Learn each row of `X` (n, d) in order, exactly as `learn_one` would."""
        matrix = self._space.encode_many(X)
        labels = self._labels_of(y, matrix.shape[0], None)
        if self._space.width is None:
            self._adopt(FeatureSpace(width=matrix.shape[1]))
        self._run(matrix.tolist(), labels, itertools.repeat(True), None)

    @abc.abstractmethod
    def predict_proba_many(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """`(n, len(classes_))` probabilities; the state is not changed."""

    def predict_many(self, X: npt.ArrayLike) -> npt.NDArray[Any]:
        """The most probable class of each row (None before any learning)."""
        proba = self.predict_proba_many(X)
        if not self._classes:
            return np.full(proba.shape[0], None, dtype=object)
        out: npt.NDArray[Any] = np.asarray(self._classes, dtype=object)[proba.argmax(axis=1)]
        return out

    def predict_learn_many(
        self,
        X: npt.ArrayLike,
        y: Sequence[Label] | npt.ArrayLike,
        learn_mask: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.float64]:
        """Test-then-train over `X` in order; returns `(n, len(classes_))` probabilities, each
        row predicted with the state before it is learned (classes not yet seen then get 0).
        Rows outside `learn_mask` are only predicted; their labels are not checked."""
        matrix = self._space.encode_many(X)
        n = matrix.shape[0]
        mask = check_mask(learn_mask, n)
        labels = self._labels_of(y, n, mask)
        if self._space.width is None:
            self._adopt(FeatureSpace(width=matrix.shape[1]))
        probas: list[list[float]] = []
        self._run(matrix.tolist(), labels, itertools.repeat(True) if mask is None else mask, probas)
        out = np.zeros((n, len(self._classes)), dtype=np.float64)
        for i, row in enumerate(probas):
            out[i, : len(row)] = row
        return out

    def classes_state(self) -> dict[str, Any]:
        """The classes, for the subclass's state dict."""
        return {"classes": list(self._classes)}

    def _load_classes(self, state: Mapping[str, Any]) -> None:
        classes = [check_class_label(c) for c in state["classes"]]
        if len(set(classes)) != len(classes):
            raise InvalidInputError("classes must be distinct")
        self._classes = classes
        self._class_index = {c: i for i, c in enumerate(classes)}

    def _index_of(self, label: Label) -> int:
        """The class index of `label`, registering it (and growing the state) if new. Kernels
        call this when they learn a row, so earlier rows never see later classes."""
        index = self._class_index.get(label)
        if index is None:
            index = len(self._classes)
            self._classes.append(label)
            self._class_index[label] = index
            self._add_class()
        return index

    def _register_rows(
        self, labels: Iterable[Label | None], mask: Iterable[bool]
    ) -> tuple[list[int], list[int]]:
        """For kernels that work on a whole batch at once: each row's class index (-1 where it
        is not learned), registering new classes in row order, and how many classes each row
        may be predicted over (those learned before it)."""
        indices: list[int] = []
        known: list[int] = []
        for label, learn in zip(labels, mask, strict=False):
            known.append(len(self._classes))
            indices.append(self._index_of(label) if learn and label is not None else -1)
        return indices, known

    def _labels_of(
        self, y: Sequence[Label] | npt.ArrayLike, n: int, mask: list[bool] | None
    ) -> list[Label | None]:
        """Validated labels (None where the row is not learned), all checked before any
        state changes."""
        labels = y.tolist() if isinstance(y, np.ndarray) else list(y)  # type: ignore[arg-type]
        if len(labels) != n:
            raise InvalidInputError(f"expected {n} labels, got {len(labels)}")
        return [
            check_class_label(v) if mask is None or mask[i] else None for i, v in enumerate(labels)
        ]

    @abc.abstractmethod
    def _add_class(self) -> None:
        """Grow the learned state by one class (the new one is `self._classes[-1]`)."""

    @abc.abstractmethod
    def _run(
        self,
        rows: list[list[float]],
        labels: Iterable[Label | None],
        mask: Iterable[bool],
        probas: list[list[float]] | None,
    ) -> None:
        """For each validated row in order: append its probabilities over the classes known at
        that moment to `probas` (when given), then, if its `mask` entry is true, learn it with
        class index `self._index_of(label)` (which registers a new class)."""

"""Class labels seen by a metric, numbered in the order they were first seen (internal)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.metrics._pairs import ClassLabel, check_label_array, label

__all__ = ["LabelIndex"]


class LabelIndex:
    """Maps labels to 0, 1, 2, ... in the order of first appearance.

    Labels compare like dict keys (so True and 1 are one label). Pairs are read in stream order,
    `y_true[0], y_pred[0], y_true[1], ...`, so a batch numbers new labels exactly as the same
    pairs given one at a time would.
    """

    __slots__ = ("_index", "labels")

    def __init__(self, labels: Sequence[ClassLabel] = ()) -> None:
        self.labels: list[ClassLabel] = list(labels)
        self._index: dict[ClassLabel, int] = {v: i for i, v in enumerate(self.labels)}

    def __len__(self) -> int:
        return len(self.labels)

    def copy(self) -> LabelIndex:
        return LabelIndex(self.labels)

    def encode(
        self, y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any], register: bool
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The label numbers of both sides; new labels are numbered if `register`, else an
        error. Everything is validated before a label is added."""
        check_label_array(y_true)
        check_label_array(y_pred)
        n = y_true.shape[0]
        kinds = {y_true.dtype.kind, y_pred.dtype.kind}
        if len(kinds) == 1 and kinds <= set("biuU"):
            stream = np.empty(2 * n, dtype=np.result_type(y_true, y_pred))
            stream[0::2], stream[1::2] = y_true, y_pred
            unique, first, inverse = np.unique(stream, return_index=True, return_inverse=True)
            keys: list[ClassLabel] = unique.tolist()
            firsts: list[int] = first.tolist()
            new = sorted((f, k) for f, k in zip(firsts, keys, strict=True) if k not in self._index)
            self._add([k for _, k in new], register)
            lookup = np.array([self._index[k] for k in keys], dtype=np.int64)
            codes = lookup[inverse.reshape(-1)]
        else:
            values = np.empty(2 * n, dtype=object)
            values[0::2], values[1::2] = y_true, y_pred
            stream_labels = [label(v) for v in values.tolist()]
            pending = dict.fromkeys(v for v in stream_labels if v not in self._index)
            self._add(list(pending), register)
            index = self._index
            codes = np.array([index[v] for v in stream_labels], dtype=np.int64)
        return codes[0::2].copy(), codes[1::2].copy()

    def encode_one(self, y_true: object, y_pred: object, register: bool) -> tuple[int, int]:
        """`encode` of one pair."""
        pair = (label(y_true), label(y_pred))
        index = self._index
        self._add(list(dict.fromkeys(v for v in pair if v not in index)), register)
        return index[pair[0]], index[pair[1]]

    def _add(self, new: list[ClassLabel], register: bool) -> None:
        if not new:
            return
        if not register:
            raise InvalidInputError(f"cannot revert pairs with labels never counted: {new}")
        for value in new:
            self._index[value] = len(self.labels)
            self.labels.append(value)

    def state(self) -> list[ClassLabel]:
        return list(self.labels)

    @classmethod
    def from_state(cls, state: object) -> LabelIndex:
        if not isinstance(state, list | tuple):
            raise InvalidInputError(f"labels must be a list, got {type(state).__name__}")
        values = [label(v) for v in state]
        if len(set(values)) != len(values):
            raise InvalidInputError("labels must be distinct (True and 1 count as one label)")
        return cls(values)

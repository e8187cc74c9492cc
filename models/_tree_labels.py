"""Class labels of a batch as class indices, vectorised for numpy label arrays (internal;
shared by the tree and naive Bayes learners)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from models._validation import Label
from models.base.multiclass import MultiClassifier

__all__ = ["batch_labels"]

IntArray = npt.NDArray[np.int64]


def batch_labels(
    model: MultiClassifier,
    y: Sequence[Label] | npt.ArrayLike,
    n: int,
    mask: list[bool] | None,
) -> Callable[[], IntArray]:
    """Validate the labels of `n` rows (only where `mask` is true) now, as `_labels_of` does;
    the returned function, called once the state is allocated, registers new classes in order
    of first appearance and returns each row's class index (-1 where not learned)."""
    if isinstance(y, np.ndarray) and y.shape == (n,) and y.dtype.kind in "biuU":
        learn = np.ones(n, dtype=np.bool_) if mask is None else np.array(mask, dtype=np.bool_)
        values = y[learn]

        def index_array() -> IntArray:
            uniq, first, inverse = np.unique(values, return_index=True, return_inverse=True)
            index = np.empty(uniq.size, dtype=np.int64)
            for u in np.argsort(first, kind="stable").tolist():
                index[u] = model._index_of(uniq[u].item())
            out = np.full(n, -1, dtype=np.int64)
            out[learn] = index[inverse.reshape(-1)]
            return out

        return index_array
    labels = model._labels_of(y, n, mask)

    def index_list() -> IntArray:
        index_of = model._index_of
        return np.array([-1 if v is None else index_of(v) for v in labels], dtype=np.int64)

    return index_list

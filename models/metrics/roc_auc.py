"""Approximate area under the ROC curve."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.metrics._pairs import ClassLabel, as_float, as_floats, label, positive
from models.metrics.base import Codes, Metric

__all__ = ["ROCAUC"]


class ROCAUC(Metric[float]):
    """ROC AUC approximated on `n_thresholds` thresholds, River's `metrics.ROCAUC`.

    The thresholds are `i / (n_thresholds - 1)`, the first lowered and the last raised by
    1e-7; at each one a score above it counts as a positive prediction, and the area under the
    resulting (false positive rate, true positive rate) points is taken with the trapezoidal
    rule. The state is, per class, how many scores fell between consecutive thresholds, so the
    value equals River's exactly. Scores are meant to be probabilities in [0, 1].

    Parameters
    ----------
    n_thresholds
        Number of thresholds (>= 2); more is closer to the exact AUC.
    pos_label
        The positive class; labels are compared with `==` (so 1 matches True).

    `y_pred` is the score of `pos_label` (for `update` and `revert` also a
    `predict_proba_one` dict, read at key `pos_label`).

    Examples
    --------
    >>> from models.metrics import ROCAUC
    >>> metric = ROCAUC()
    >>> metric.update_many([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> metric
    ROCAUC: 87.50%
    >>> metric = ROCAUC(n_thresholds=20)
    >>> for y_true, y_pred in zip([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]):
    ...     metric.update(y_true, y_pred)
    >>> metric.get()
    0.75
    """

    bigger_is_better: ClassVar[bool | None] = True
    requires_proba: ClassVar[bool] = True
    _code_dtypes: ClassVar[tuple[str, ...]] = ("int64", "int64")

    def __init__(self, n_thresholds: int = 10, pos_label: ClassLabel = True) -> None:
        if isinstance(n_thresholds, bool) or not isinstance(n_thresholds, int) or n_thresholds < 2:
            raise ValueError(f"n_thresholds must be an int >= 2, got {n_thresholds!r}")
        if pos_label is None or not isinstance(pos_label, bool | int | str):
            raise ValueError(f"pos_label must be an int, str or bool, got {pos_label!r}")
        self.n_thresholds = n_thresholds
        self.pos_label = pos_label
        thresholds = [i / (n_thresholds - 1) for i in range(n_thresholds)]
        thresholds[0] -= 1e-7
        thresholds[-1] += 1e-7
        self._thresholds = np.array(thresholds)
        self._threshold_list = thresholds
        self._reset()

    def _reset(self) -> None:
        # counts[c, b]: pairs of class c (0 negative, 1 positive) whose score is above exactly
        # b thresholds.
        self._counts = np.zeros((2, self.n_thresholds + 1), dtype=np.int64)

    def _encode_one(self, y_true: Any, y_pred: Any, register: bool) -> Codes:
        if isinstance(y_pred, Mapping):
            y_pred = y_pred.get(self.pos_label, 0.0)
        truth = label(y_true) == self.pos_label
        score = as_float(y_pred, "y_pred")
        bins = bisect.bisect_left(self._threshold_list, score)
        return np.array([int(truth)]), np.array([bins])

    def _encode(self, y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any], register: bool) -> Codes:
        truth = positive(y_true, self.pos_label)
        scores = as_floats(y_pred, "y_pred")
        bins = np.searchsorted(self._thresholds, scores, side="left")  # thresholds below
        return truth.astype(np.int64), bins.astype(np.int64)

    def _add(self, codes: Codes, sign: int) -> None:
        truth, bins = codes
        if truth.shape[0] == 1:
            cell = (int(truth[0]), int(bins[0]))
            if sign < 0 and not self._counts[cell]:
                raise InvalidInputError("cannot revert pairs that were not counted")
            self._counts[cell] += sign
            return
        width = self.n_thresholds + 1
        delta = np.bincount(truth * width + bins, minlength=2 * width).reshape(2, width)
        if sign < 0:
            if (delta > self._counts).any():
                raise InvalidInputError("cannot revert pairs that were not counted")
            self._counts -= delta
        else:
            self._counts += delta

    def _check_codes(self, codes: Codes) -> None:
        truth, bins = codes
        if truth.size and (truth.min() < 0 or truth.max() > 1):
            raise InvalidInputError("classes must be 0 or 1")
        if bins.size and (bins.min() < 0 or bins.max() > self.n_thresholds):
            raise InvalidInputError(f"bins must be in [0, {self.n_thresholds}]")

    def get(self) -> float:
        """The approximate AUC in [0, 1] (0.0 before any update)."""
        negatives, positives = self._counts.tolist()
        tprs, fprs = [], []
        tp, fp = sum(positives), sum(negatives)
        fn = tn = 0
        for i in range(self.n_thresholds):
            # A score is a positive prediction at threshold i if above more than i thresholds.
            tp, fn = tp - positives[i], fn + positives[i]
            fp, tn = fp - negatives[i], tn + negatives[i]
            tprs.append(tp / (tp + fn) if tp + fn else 0.0)
            fprs.append(fp / (fp + tn) if fp + tn else 0.0)
        # scipy.integrate.trapezoid(x=fprs, y=tprs), negated, with the same operations.
        x, y = np.array(fprs), np.array(tprs)
        return 0.0 - float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))  # never -0.0

    def clone(self) -> Self:
        return type(self)(n_thresholds=self.n_thresholds, pos_label=self.pos_label)

    def state_dict(self) -> dict[str, Any]:
        """`counts`: `(2, n_thresholds + 1)` ints, row 0 negatives and row 1 positives, column
        `b` the pairs whose score is above exactly `b` thresholds."""
        return {"counts": self._counts.copy()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if set(state) != {"counts"}:
            raise InvalidInputError(f"expected state keys ['counts'], got {sorted(state)}")
        counts = np.asarray(state["counts"])
        shape = (2, self.n_thresholds + 1)
        if counts.dtype.kind not in "iu" or counts.shape != shape or (counts < 0).any():
            raise InvalidInputError(f"counts must be ints >= 0 of shape {shape}")
        self._counts = counts.astype(np.int64)

"""Recall of a label classifier."""

from __future__ import annotations

from models.metrics._scores import ClassScore

__all__ = ["Recall"]


class Recall(ClassScore):
    """Recall, `tp / (tp + fn)`: River's `Recall`, `MacroRecall` and `MicroRecall`.

    Parameters
    ----------
    average
        `"binary"`: the recall of the class `pos_label` (0.0 while it never occurred).
        `"macro"`: the mean of the per-class recalls over the classes seen so far (a class
        seen only as a prediction adds 0). `"micro"`: pooled over the classes, which is the
        accuracy.
    pos_label
        The positive class in binary mode; labels are compared with `==` (so 1 matches True).

    Labels are ints, strs, bools or None. `update_many` equals calling `update` on each pair
    in order.

    Examples
    --------
    >>> from models.metrics import Recall
    >>> y_true = [True, False, True, True, True]
    >>> y_pred = [True, True, False, True, True]
    >>> metric = Recall()
    >>> for t, p in zip(y_true, y_pred):
    ...     metric.update(t, p)
    ...     print(metric)
    Recall(average='binary'): 100.00%
    Recall(average='binary'): 100.00%
    Recall(average='binary'): 50.00%
    Recall(average='binary'): 66.67%
    Recall(average='binary'): 75.00%
    """

    def _binary_score(self, tp: int, fp: int, fn: int) -> float:
        return tp / (tp + fn) if tp + fn else 0.0

    def _class_score(self, tp: int, support: int, predicted: int) -> float | None:
        return tp / support if support else None

    def _micro_score(self, tp: int, n: int) -> float:
        return tp / n if n else 0.0

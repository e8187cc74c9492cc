"""Precision of a label classifier."""

from __future__ import annotations

from models.metrics._scores import ClassScore

__all__ = ["Precision"]


class Precision(ClassScore):
    """Precision, `tp / (tp + fp)`: River's `Precision`, `MacroPrecision` and `MicroPrecision`.

    Parameters
    ----------
    average
        `"binary"`: the precision of the class `pos_label` (0.0 while it was never predicted).
        `"macro"`: the mean of the per-class precisions over the classes seen so far (a class
        never predicted adds 0). `"micro"`: pooled over the classes, which is the accuracy.
    pos_label
        The positive class in binary mode; labels are compared with `==` (so 1 matches True).

    Labels are ints, strs, bools (or None, e.g. a multiclass model's prediction before it
    learned anything). `update_many` equals calling `update` on each pair in order.

    Examples
    --------
    >>> from models.metrics import Precision
    >>> y_true = [0, 1, 2, 2, 2]
    >>> y_pred = [0, 0, 2, 2, 1]
    >>> metric = Precision(average="macro")
    >>> for t, p in zip(y_true, y_pred):
    ...     metric.update(t, p)
    ...     print(f"{metric.get():.4f}")
    1.0000
    0.2500
    0.5000
    0.5000
    0.5000
    >>> metric = Precision(pos_label="spam")
    >>> metric.update_many(["spam", "ham", "spam"], ["spam", "spam", "ham"])
    >>> metric.get()
    0.5
    """

    def _binary_score(self, tp: int, fp: int, fn: int) -> float:
        return tp / (tp + fp) if tp + fp else 0.0

    def _class_score(self, tp: int, support: int, predicted: int) -> float | None:
        return tp / predicted if predicted else None

    def _micro_score(self, tp: int, n: int) -> float:
        return tp / n if n else 0.0

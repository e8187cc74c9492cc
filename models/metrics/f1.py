"""F1 score of a label classifier."""

from __future__ import annotations

from models.metrics._scores import ClassScore, f_beta

__all__ = ["F1"]


class F1(ClassScore):
    """F1, the harmonic mean of precision and recall: River's `F1`, `MacroF1` and `MicroF1`.

    Computed as River does, `2 * p * r / (p + r)` (0.0 when both are 0).

    Parameters
    ----------
    average
        `"binary"`: F1 of the class `pos_label`. `"macro"`: the mean of the per-class F1
        scores over the classes seen so far. `"micro"`: F1 of the pooled precision and recall
        (both equal to the accuracy).
    pos_label
        The positive class in binary mode; labels are compared with `==` (so 1 matches True).

    Labels are ints, strs, bools or None. `update_many` equals calling `update` on each pair
    in order.

    Examples
    --------
    >>> from models.metrics import F1
    >>> metric = F1()
    >>> metric.update_many([False, False, False, True, True, True],
    ...                    [False, False, True, True, False, False])
    >>> metric
    F1(average='binary'): 40.00%
    >>> metric = F1(average="macro")
    >>> metric.update_many([0, 1, 2, 2, 2], [0, 0, 2, 2, 1])
    >>> round(metric.get(), 4)
    0.4889
    """

    def _binary_score(self, tp: int, fp: int, fn: int) -> float:
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        score = f_beta(p, r)
        return 0.0 if score is None else score

    def _class_score(self, tp: int, support: int, predicted: int) -> float | None:
        p = tp / predicted if predicted else 0
        r = tp / support if support else 0
        return f_beta(p, r)

    def _micro_score(self, tp: int, n: int) -> float:
        p = tp / n if n else 0.0
        score = f_beta(p, p)
        return 0.0 if score is None else score

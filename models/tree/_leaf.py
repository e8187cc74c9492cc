"""Leaf predictions of a Hoeffding tree for many rows at once (internal).

Each row comes with the state of its leaf just before it: the class weights (River's
`leaf.stats`), which classes are keys of that dict and their insertion order, and the Gaussian
statistics of the leaf's splitters. The functions reproduce River's `LeafMajorityClass` and
`do_naive_bayes_prediction` elementwise, with sums over classes and features in River's order,
so a row gets the same floats whatever else is in the batch.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "first_argmax",
    "leaf_probas",
    "majority_probas",
    "naive_bayes_probas",
    "ordered_sum",
    "use_naive_bayes",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_HALF_LOG_TAU = 0.5 * math.log(math.tau)


def ordered_sum(values: FloatArray, present: BoolArray, order: IntArray) -> FloatArray:
    """Per row, Python's `sum(d.values())` over the present classes in insertion `order`."""
    rows = np.arange(values.shape[0])
    total = np.zeros(values.shape[0])
    for r in range(values.shape[1]):
        c = order[:, r]
        total += np.where(present[rows, c], values[rows, c], 0.0)
    return total


def first_argmax(values: FloatArray, present: BoolArray, order: IntArray) -> IntArray:
    """Per row, `max(d, key=d.get)`: the first present class (in insertion order) with the
    largest value; -1 if no class is present."""
    rows = np.arange(values.shape[0])
    best = np.full(values.shape[0], -1, dtype=np.int64)
    best_value = np.zeros(values.shape[0])
    for r in range(values.shape[1]):
        c = order[:, r]
        value = values[rows, c]
        better = present[rows, c] & ((best < 0) | (value > best_value))
        best = np.where(better, c, best)
        best_value = np.where(better, value, best_value)
    return best


def majority_probas(weight: FloatArray, present: BoolArray, total: FloatArray) -> FloatArray:
    """`normalize_values_in_dict(leaf.stats)`: each weight times `1 / total` (unscaled if the
    total is 0); absent classes get 0."""
    with np.errstate(divide="ignore"):
        scale = np.where(total != 0, 1.0 / total, 1.0)
    return np.where(present, weight * scale[:, None], 0.0)


def naive_bayes_probas(
    X: FloatArray,
    weight: FloatArray,
    present: BoolArray,
    order: IntArray,
    total: FloatArray,
    gauss: tuple[FloatArray, FloatArray, FloatArray],
) -> tuple[FloatArray, BoolArray]:
    """`do_naive_bayes_prediction` per row, and whether it gave any vote (False where River
    returns `{}`: no class or a zero total weight).

    `gauss` holds, per row, class and feature, the splitter's Welford statistics (count, mean,
    sum of squared deviations). A feature adds its Gaussian log-density (variance
    `m2 / (n - 1)`) to a class's vote when the class has more than one value and a positive
    variance; a class of weight 0 gets vote 0."""
    count, mean, m2 = gauss
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        has_prior = present & (weight > 0)
        votes = np.where(has_prior, np.log(weight / total[:, None]), 0.0)
        n = count[:, :, None]
        variance = m2 / (n - 1.0)
        usable = has_prior[:, :, None] & (n > 1.0) & (variance > 0.0)
        variance = np.where(usable, variance, 1.0)
        log_pdf = (
            (X[:, None, :] - mean) ** 2 / (-2.0 * variance) - _HALF_LOG_TAU - 0.5 * np.log(variance)
        )
        for j in range(X.shape[1]):
            votes = votes + np.where(usable[:, :, j], log_pdf[:, :, j], 0.0)
        top = np.where(present, votes, -np.inf).max(axis=1, initial=-np.inf)
        spread = ordered_sum(np.exp(votes - top[:, None]), present, order)
        lse = top + np.log(spread)
        voted = present.any(axis=1) & (total != 0)
        probas = np.where(present & voted[:, None], np.exp(votes - lse[:, None]), 0.0)
    return probas, voted


def use_naive_bayes(
    leaf_prediction: str,
    nb_threshold: int,
    active: BoolArray,
    total: FloatArray,
    nb_correct: FloatArray,
    mc_correct: FloatArray,
) -> BoolArray:
    """Which rows the leaf predicts with naive Bayes rather than the majority class: "nba"
    while naive Bayes has been right at least as often, "nb" past `nb_threshold`; only active
    leaves have the splitters naive Bayes reads."""
    if leaf_prediction == "nba":
        return active & (nb_correct >= mc_correct)
    if leaf_prediction == "nb":
        return active & (total >= nb_threshold)
    return np.zeros(active.shape[0], dtype=np.bool_)


def leaf_probas(
    X: FloatArray,
    weight: FloatArray,
    present: BoolArray,
    order: IntArray,
    total: FloatArray,
    gauss: tuple[FloatArray, FloatArray, FloatArray],
    use_nb: BoolArray,
) -> FloatArray:
    """River's `leaf.prediction(x)` for each row: naive Bayes where `use_nb`, else the
    normalised class weights."""
    out = majority_probas(weight, present, total)
    rows = np.flatnonzero(use_nb)
    if rows.size:
        out[rows], _ = naive_bayes_probas(
            X[rows],
            weight[rows],
            present[rows],
            order[rows],
            total[rows],
            (gauss[0][rows], gauss[1][rows], gauss[2][rows]),
        )
    return out

"""Split attempts of a Hoeffding tree leaf (internal).

Reproduces River 0.26's `HoeffdingTreeClassifier._attempt_to_split` with
`LeafMajorityClass.best_split_suggestions`, `tree.splitter.GaussianSplitter` (binary splits at
`n_splits` equally spaced thresholds per feature, each class counted on either side from its
Gaussian's CDF) and the information-gain and Gini criteria. All the candidate thresholds of all
features are evaluated at once with numpy, with River's arithmetic elementwise and its sums
over classes taken in the same (splitter insertion) order; `math.erf` gives the CDFs, as in
River.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Gaussians", "Reset", "Split", "SplitParams", "attempt_split", "dominated"]

Dist = list[tuple[int, float]]  # a River class-weight dict, as (class, weight) in insertion order
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class SplitParams:
    """The hyperparameters a split attempt reads."""

    criterion: str
    delta: float
    tau: float
    n_splits: int
    min_branch_fraction: float
    max_share_to_split: float
    merit_preprune: bool


@dataclass(frozen=True)
class Gaussians:
    """A leaf's splitters: per class (rows, in the splitters' insertion order) and feature, the
    count, mean, standard deviation, min and max of the values seen since activation."""

    labels: list[int]
    count: FloatArray
    mean: FloatArray
    sigma: FloatArray
    low: FloatArray
    high: FloatArray

    @classmethod
    def of(
        cls, rows: list[tuple[int, float, FloatArray, list[float], FloatArray, FloatArray]]
    ) -> Gaussians | None:
        """From (label, count, mean, sigma, min, max) per class, in insertion order; None if
        there is no class (no splitter yet)."""
        if not rows:
            return None
        columns = list(zip(*rows, strict=True))
        arrays = [np.array(column, dtype=np.float64) for column in columns[1:]]
        return cls([int(c) for c in columns[0]], *arrays)


@dataclass(frozen=True)
class Split:
    """Replace the leaf by `x[feature] <= threshold`, children starting from these weights."""

    feature: int
    threshold: float
    left: Dist
    right: Dist


@dataclass(frozen=True)
class Reset:
    """The null split won (or one class dominates): River deactivates the leaf and its memory
    manager reactivates it at once, so its splitters start afresh."""


def dominated(stats: Dist, params: SplitParams) -> bool:
    """Whether the attempt is decided by the class weights alone: not pure, and the majority
    class holds more than `max_share_to_split` of the weight (River then restarts the leaf's
    splitters)."""
    if sum(1 for _, w in stats if w != 0) < 2:
        return False
    majority = max(w for _, w in stats)
    return bool(majority) and majority / sum(w for _, w in stats) > params.max_share_to_split


def attempt_split(
    stats: Dist, gaussians: Gaussians | None, params: SplitParams, margin: float = 0.0
) -> Split | Reset | None:
    """River's split attempt on a leaf with class weights `stats` and splitters `gaussians`
    (None if the leaf learned nothing since it was activated). None: nothing changes.

    With `margin > 0` the splitters may be approximate (merits off by less than `margin / 2`):
    None then means nothing changes whatever the exact merits, and any other answer only that
    the attempt must be redone with exact statistics."""
    if sum(1 for _, w in stats if w != 0) < 2:  # observed_class_distribution_is_pure
        return None
    total = sum(w for _, w in stats)
    majority = max(w for _, w in stats)
    suggestions: list[tuple[float, int, int]] = []  # (merit, feature, candidate); -1: no split
    if majority and majority / total > params.max_share_to_split:
        suggestions.append((-math.inf, -1, -1))
    else:
        if params.merit_preprune:
            suggestions.append((-math.inf, -1, -1))
        if gaussians is not None:
            merits, borderline = _merits(_entropy(stats), gaussians, params)
            if margin > 0 and borderline:
                return Reset()  # a branch-fraction test is too close to call: redo exactly
            best_i = merits.argmax(axis=1)
            for f, i in enumerate(best_i.tolist()):
                merit = float(merits[f, i])
                suggestions.append((merit, f, i) if merit > -math.inf else (-math.inf, -1, -1))
    suggestions.sort(key=lambda s: s[0])  # stable, as River's list.sort on merits
    if len(suggestions) < 2:
        should_split = len(suggestions) > 0
    else:
        n_classes = len(stats) if len(stats) > 2 else 2
        spread = math.log2(n_classes) if params.criterion == "info_gain" else 1.0
        bound = math.sqrt((spread * spread * math.log(1.0 / params.delta)) / (2.0 * total))
        gap = suggestions[-1][0] - suggestions[-2][0]
        should_split = gap > bound - margin or bound < params.tau
    if not should_split:
        return None
    _, feature, candidate = suggestions[-1]
    if feature < 0 or gaussians is None:
        return Reset()
    threshold, left, right = _children(gaussians, feature, candidate, params.n_splits)
    return Split(feature, threshold, left, right)


def _thresholds(gaussians: Gaussians, n_splits: int) -> tuple[FloatArray, BoolArray]:
    """`GaussianSplitter._split_point_suggestions` for every feature: (d, n_splits) values and
    which of them lie strictly inside the observed range."""
    low, high = gaussians.low.min(axis=0), gaussians.high.max(axis=0)
    step = (high - low) / (n_splits + 1.0)
    values = low[:, None] + step[:, None] * np.arange(1, n_splits + 1, dtype=np.float64)
    return values, (low[:, None] < values) & (values < high[:, None])


def _sides(
    gaussians: Gaussians, values: FloatArray
) -> tuple[FloatArray, FloatArray, BoolArray, BoolArray]:
    """`_class_dists_from_binary_split` for every class, feature and threshold: the weights
    sent left and right, and where a class is only on the right (`below`) or only on the left
    (`above`)."""
    g = gaussians
    below = values[None] < g.low[:, :, None]
    above = ~below & (values[None] >= g.high[:, :, None])
    middle = ~below & ~above & (g.sigma[:, :, None] != 0.0)
    cdf = np.zeros(middle.shape)
    if middle.any():
        idx = np.nonzero(middle)
        z = (values[idx[1], idx[2]] - g.mean[idx[0], idx[1]]) / g.sigma[idx[0], idx[1]]
        erf = np.array([math.erf(t) for t in (z / _SQRT2).tolist()])
        cdf[idx] = 0.5 * (1.0 + erf)
    n = g.count[:, None, None]
    share = cdf * n
    left = np.where(below, 0.0, np.where(above, n, share))
    right = np.where(below, n, np.where(above, 0.0, n - share))
    return left, right, below, above


def _merits(pre: float, gaussians: Gaussians, params: SplitParams) -> tuple[FloatArray, bool]:
    """The merit of every candidate split, (d, n_splits), -inf where River gives none; and
    whether a branch's share of the weight is within 1e-9 of `min_branch_fraction` (where
    approximate statistics could flip the test)."""
    values, inside = _thresholds(gaussians, params.n_splits)
    left, right, _, _ = _sides(gaussians, values)
    with np.errstate(divide="ignore", invalid="ignore"):
        sums = [_class_sum(left), _class_sum(right)]
        total = 0.0 + sums[0] + sums[1]
        fraction = params.min_branch_fraction
        shares = (sums[0] / total, sums[1] / total)
        big = (shares[0] > fraction).astype(np.int64) + (shares[1] > fraction)
        borderline = bool(
            (
                inside
                & ((np.abs(shares[0] - fraction) < 1e-9) | (np.abs(shares[1] - fraction) < 1e-9))
            ).any()
        )
        if params.criterion == "info_gain":
            entropy = 0.0 + sums[0] * _entropies(left) + sums[1] * _entropies(right)
            merit = pre - entropy / total
        else:
            gini = 0.0 + (sums[0] / total) * _gini(left, sums[0])
            merit = 1.0 - (gini + (sums[1] / total) * _gini(right, sums[1]))
    return np.where(inside & (total > 0) & (big >= 2), merit, -np.inf), borderline


def _class_sum(weights: FloatArray) -> FloatArray:
    total = np.zeros(weights.shape[1:])
    for w in weights:
        total = total + w
    return total


def _entropies(weights: FloatArray) -> FloatArray:
    """`_compute_entropy_dict` over the class axis."""
    entropy = np.zeros(weights.shape[1:])
    total = np.zeros(weights.shape[1:])
    with np.errstate(divide="ignore", invalid="ignore"):
        for w in weights:
            positive = w > 0.0
            entropy = np.where(positive, entropy - w * np.log2(w), entropy)
            total = np.where(positive, total + w, total)
        return np.where(total > 0.0, (entropy + total * np.log2(total)) / total, 0.0)


def _gini(weights: FloatArray, total: FloatArray) -> FloatArray:
    """`GiniSplitCriterion.compute_gini` over the class axis."""
    impurity = np.ones(weights.shape[1:])
    with np.errstate(divide="ignore", invalid="ignore"):
        for w in weights:
            share = w / total
            impurity = np.where(total != 0.0, impurity - share * share, impurity)
    return impurity


def _children(
    gaussians: Gaussians, feature: int, candidate: int, n_splits: int
) -> tuple[float, Dist, Dist]:
    """The threshold and the children's class weights (River's `children_stats` dicts)."""
    values, _ = _thresholds(gaussians, n_splits)
    left, right, below, above = _sides(gaussians, values)
    f, i = feature, candidate
    lhs = [(c, float(left[k, f, i])) for k, c in enumerate(gaussians.labels) if not below[k, f, i]]
    rhs = [(c, float(right[k, f, i])) for k, c in enumerate(gaussians.labels) if not above[k, f, i]]
    return float(values[f, i]), lhs, rhs


def _entropy(dist: Dist) -> float:
    entropy = 0.0
    total = 0.0
    for _, w in dist:
        if w > 0.0:
            entropy -= w * math.log2(w)
            total += w
    return (entropy + total * math.log2(total)) / total if total > 0.0 else 0.0

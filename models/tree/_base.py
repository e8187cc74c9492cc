"""Shared pieces of the Hoeffding tree learner (internal): hyperparameters, routing and
grouped counting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.tree._arrays import TreeArrays
from models.tree._split import SplitParams

__all__ = ["LearnParams", "ranks_after", "route", "segment_cumsum", "welford_rounds"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LearnParams:
    """The hyperparameters the learner reads."""

    grace_period: int
    max_depth: float
    max_nodes: int
    leaf_prediction: str
    nb_threshold: int
    split: SplitParams


def route(tree: TreeArrays, X: FloatArray) -> IntArray:
    """The leaf node of each row (`x[feature] <= threshold` goes left, as in River)."""
    node = np.zeros(X.shape[0], dtype=np.int64)
    pending = np.flatnonzero(tree.feature[node] >= 0)
    while pending.size:
        at = node[pending]
        go_left = X[pending, tree.feature[at]] <= tree.threshold[at]
        node[pending] = np.where(go_left, tree.left[at], tree.right[at])
        pending = pending[tree.feature[node[pending]] >= 0]
    return node


def ranks_after(first: IntArray, rank0: IntArray, m: int) -> IntArray:
    """Dict insertion ranks (per leaf row, per class) once a chunk's new keys are added: a key
    absent at the start (`rank0 < 0`) that first appears at row `first` (< m) comes after the
    keys already there, in order of appearance; keys never present get rank `n_classes`."""
    new = (rank0 < 0) & (first < m)
    earlier = ((first[:, None, :] < first[:, :, None]) & new[:, None, :]).sum(axis=2)
    base = (rank0 >= 0).sum(axis=1, keepdims=True)
    return np.where(rank0 >= 0, rank0, np.where(new, base + earlier, rank0.shape[1]))


def segment_cumsum(values: IntArray, segment: IntArray) -> IntArray:
    """Inclusive cumulative sums of integer `values` along axis 0 (rows grouped by `segment`,
    in order), restarting at each segment."""
    if not values.shape[0]:
        return values.copy()
    total = np.cumsum(values, axis=0)
    change = np.empty(segment.size, dtype=np.bool_)
    change[0] = True
    np.not_equal(segment[1:], segment[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    before = np.zeros_like(total[: starts.size])
    before[1:] = total[starts[1:] - 1]
    out: IntArray = total - before[np.cumsum(change) - 1]
    return out


def welford_rounds(
    values: FloatArray,
    inv_n: FloatArray,
    bounds: list[int],
    mean: FloatArray,
    m2: FloatArray,
    out_mean: FloatArray,
    out_m2: FloatArray,
) -> None:
    """River's `stats.Var` updates (`n += 1; mean += (1 / n) * (x - mean);
    m2 += (x - old_mean) * (x - mean)`) of many running statistics at once.

    The statistics start at `mean`/`m2` (one row each, the longest sequence first). Round r
    updates the first `bounds[r + 1] - bounds[r]` of them with the rows
    `values[bounds[r]:bounds[r + 1]]` (`inv_n` holds each row's `1 / n`), writing the states
    after the round to the same rows of `out_mean`/`out_m2`."""
    for r in range(len(bounds) - 1):
        a, b = bounds[r], bounds[r + 1]
        x, g = values[a:b], b - a
        diff = x - mean[:g]
        new_mean = out_mean[a:b]
        np.multiply(inv_n[a:b], diff, out=new_mean)
        new_mean += mean[:g]
        new_m2 = out_m2[a:b]
        np.multiply(diff, x - new_mean, out=new_m2)
        new_m2 += m2[:g]
        mean, m2 = new_mean, new_m2

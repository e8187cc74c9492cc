"""Predicting with, and test-then-train of, a Hoeffding tree over a batch (internal)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models.tree._arrays import TreeArrays
from models.tree._base import LearnParams, route
from models.tree._chunk import Chunk
from models.tree._leaf import leaf_probas, ordered_sum, use_naive_bayes
from models.tree._single import learn_row, predict_row

__all__ = ["predict", "run"]

_MAX_ROWS = 2048  # rows per chunk at most; any cut gives the same results

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def predict(tree: TreeArrays, X: FloatArray, params: LearnParams) -> FloatArray:
    """Class probabilities of each row with the current state (nothing is learned)."""
    slots = tree.slot[route(tree, X)]
    rank = tree.rank[slots]
    present = rank >= 0
    order = np.argsort(np.where(present, rank, tree.n_classes), axis=1, kind="stable")
    weight = tree.weight[slots]
    total = ordered_sum(weight, present, order)
    use_nb = use_naive_bayes(
        params.leaf_prediction,
        params.nb_threshold,
        tree.active[slots],
        total,
        tree.nb_correct[slots],
        tree.mc_correct[slots],
    )
    gauss = (tree.g_count[slots], tree.mean[slots], tree.m2[slots])
    return leaf_probas(X, weight, present, order, total, gauss, use_nb)


def run(
    tree: TreeArrays, X: FloatArray, y: IntArray, params: LearnParams, want: bool
) -> FloatArray | None:
    """Test-then-train over the rows of `X` in order (`y` holds class indices, -1 where a row is
    only predicted). Returns each row's probabilities before it is learned, if `want`.

    The rows go through in chunks, each ending where a split attempt may change the tree; a
    single row takes a shorter path with the same arithmetic."""
    if X.shape[0] == 1:
        single = predict_row(tree, X[0], params)[None] if want else None
        if y[0] >= 0:
            learn_row(tree, X[0], int(y[0]), params)
        return single
    out = np.zeros((X.shape[0], tree.n_classes)) if want else None
    start = 0
    while start < X.shape[0]:
        end = start + _MAX_ROWS  # bounds the chunk's working memory
        chunk = Chunk(tree, X[start:end], y[start:end], params)
        start += chunk.process(None if out is None else out[start:])
    return out

"""Learning one row with a Hoeffding tree (internal).

The dict methods and batches of one row come here instead of the chunked batch path, which
has a large fixed cost per call. Every number is computed with the same float operations as
the batch path (the same numpy functions for logs and exponentials, the same Welford
recurrence, sums in the same order), so both paths give identical states.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from models.tree._arrays import TreeArrays
from models.tree._base import LearnParams
from models.tree._split import Gaussians, attempt_split

__all__ = ["learn_row", "predict_row"]

_HALF_LOG_TAU = 0.5 * math.log(math.tau)

FloatArray = npt.NDArray[np.float64]


def _leaf_of(tree: TreeArrays, x: list[float]) -> int:
    feature, threshold, left, right = tree.feature, tree.threshold, tree.left, tree.right
    node = 0
    while (f := int(feature[node])) >= 0:
        node = int(left[node]) if x[f] <= threshold[node] else int(right[node])
    return node


def learn_row(tree: TreeArrays, x: FloatArray, c: int, params: LearnParams) -> None:
    """River's `learn_one` for the row `x` of class index `c`."""
    node = _leaf_of(tree, x.tolist())
    s = int(tree.slot[node])
    active = bool(tree.active[s])
    if active and params.leaf_prediction == "nba":
        _count_correct(tree, s, x, c)
    if tree.rank[s, c] < 0:
        tree.rank[s, c] = int((tree.rank[s] >= 0).sum())
    tree.weight[s, c] += 1.0
    if active:
        n = float(tree.g_count[s, c])
        if n == 0.0:
            tree.g_rank[s, c] = int((tree.g_rank[s] >= 0).sum())
            tree.vmin[s, c] = tree.vmax[s, c] = x
        else:
            tree.vmin[s, c] = np.minimum(tree.vmin[s, c], x)
            tree.vmax[s, c] = np.maximum(tree.vmax[s, c], x)
        diff = x - tree.mean[s, c]
        mean = (1.0 / (n + 1.0)) * diff
        mean += tree.mean[s, c]
        m2 = diff * (x - mean)
        m2 += tree.m2[s, c]
        tree.mean[s, c], tree.m2[s, c], tree.g_count[s, c] = mean, m2, n + 1.0
    if not active or tree.n_nodes + 2 > params.max_nodes:
        return
    if tree.depth[node] >= params.max_depth:
        tree.apply(s, None, params.max_depth)
        return
    present = tree.rank[s] >= 0
    order = np.argsort(np.where(present, tree.rank[s], tree.n_classes), kind="stable")
    total = sum(float(tree.weight[s, k]) for k in order.tolist() if present[k])
    if total - tree.last_attempt[s] >= params.grace_period:
        decision = attempt_split(*_leaf_state(tree, s), params.split)
        tree.last_attempt[s] = total
        if decision is not None:
            tree.apply(s, decision, params.max_depth)


def predict_row(tree: TreeArrays, x: FloatArray, params: LearnParams) -> FloatArray:
    """`predict` for one row, with the same floats."""
    s = int(tree.slot[_leaf_of(tree, x.tolist())])
    row = _LeafRow(tree, s, x)
    active = bool(tree.active[s])
    if params.leaf_prediction == "nba":
        use_nb = active and tree.nb_correct[s] >= tree.mc_correct[s]
    else:
        use_nb = active and params.leaf_prediction == "nb" and row.total >= params.nb_threshold
    return np.array(row.naive_bayes()[0] if use_nb else row.majority())


class _LeafRow:
    """River's leaf predictions for one row, in plain floats: `_leaf.majority_probas` and
    `_leaf.naive_bayes_probas` operation by operation (logs and exponentials through the same
    numpy functions), so the results are bit-identical to the batch path's."""

    def __init__(self, tree: TreeArrays, s: int, x: FloatArray) -> None:
        self.tree, self.s, self.x = tree, s, x
        rank = tree.rank[s].tolist()
        self.order = sorted((r, c) for c, r in enumerate(rank) if r >= 0)  # present, in order
        self.weight = tree.weight[s].tolist()
        total = 0.0
        for _, c in self.order:
            total += self.weight[c]
        self.total = total

    def majority(self) -> list[float]:
        scale = 1.0 / self.total if self.total != 0 else 1.0
        out = [0.0] * len(self.weight)
        for _, c in self.order:
            out[c] = self.weight[c] * scale
        return out

    def naive_bayes(self) -> tuple[list[float], bool]:
        tree, s, weight, total = self.tree, self.s, self.weight, self.total
        out = [0.0] * len(weight)
        if not self.order or total == 0:
            return out, False
        priors = [c for _, c in self.order if weight[c] > 0]
        votes = dict.fromkeys((c for _, c in self.order), 0.0)
        if priors:
            logs = np.log(np.array([weight[c] / total for c in priors])).tolist()
            counts = tree.g_count[s, priors]
            spread = np.where(counts > 1.0, counts - 1.0, 1.0)[:, None]  # n - 1, safe
            variance = tree.m2[s, priors] / spread
            usable = (counts > 1.0)[:, None] & (variance > 0.0)
            variance = np.where(usable, variance, 1.0)
            log_pdf = (
                (self.x - tree.mean[s, priors]) ** 2 / (-2.0 * variance)
                - _HALF_LOG_TAU
                - 0.5 * np.log(variance)
            ).tolist()
            for k, (c, ok) in enumerate(zip(priors, usable.tolist(), strict=True)):
                vote = logs[k]
                for lp, use in zip(log_pdf[k], ok, strict=True):
                    if use:
                        vote += lp
                votes[c] = vote
        top = max(votes.values())
        shifted = np.exp(np.array([votes[c] - top for _, c in self.order])).tolist()
        total_exp = 0.0
        for value in shifted:
            total_exp += value
        lse = top + float(np.log(total_exp))
        probas = np.exp(np.array([votes[c] - lse for _, c in self.order])).tolist()
        for (_, c), p in zip(self.order, probas, strict=True):
            out[c] = p
        return out, True

    def first_argmax(self, values: list[float]) -> int:
        best, best_value = -1, 0.0
        for _, c in self.order:
            if best < 0 or values[c] > best_value:
                best, best_value = c, values[c]
        return best


def _count_correct(tree: TreeArrays, s: int, x: FloatArray, c: int) -> None:
    """River's naive-Bayes-adaptive bookkeeping: did the majority class, and naive Bayes, get
    the row right with the leaf's state before it?"""
    row = _LeafRow(tree, s, x)
    if not row.order or row.first_argmax(row.majority()) == c:
        tree.mc_correct[s] += 1.0
    nb, voted = row.naive_bayes()
    if voted and row.first_argmax(nb) == c:
        tree.nb_correct[s] += 1.0


def _leaf_state(tree: TreeArrays, s: int) -> tuple[list[tuple[int, float]], Gaussians | None]:
    """Slot `s`'s class weights (`leaf.stats`, in insertion order) and splitters."""
    rank, g_rank = tree.rank[s], tree.g_rank[s]
    stats = [(int(c), float(tree.weight[s, c])) for c in np.argsort(rank) if rank[c] >= 0]
    labels = [int(c) for c in np.argsort(g_rank) if g_rank[c] >= 0]
    splitters = []
    for c in labels:
        n = float(tree.g_count[s, c])
        variance = (tree.m2[s, c] / (n - 1.0)).tolist() if n > 1.0 else [0.0] * tree.mean.shape[2]
        sigma = [v**0.5 for v in variance]
        splitters.append((c, n, tree.mean[s, c], sigma, tree.vmin[s, c], tree.vmax[s, c]))
    return stats, Gaussians.of(splitters)

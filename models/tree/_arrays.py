"""The Hoeffding tree as fixed-capacity numpy arrays (internal).

Nodes live in arrays of `max_nodes` entries; each leaf owns a *slot* (at most
`(max_nodes + 1) // 2` of them) holding what River keeps in a leaf object: the class weights
(`leaf.stats`, possibly fractional after a split) with their dict insertion order, the split
attempt bookkeeping, the naive-Bayes-adaptive counters, and the Gaussian splitter of every
feature (per class: count, Welford mean and sum of squared deviations, min and max since the
leaf was last (re)activated). The size never depends on the stream, only on the hyperparameters, the
number of features and the number of classes.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from models.exceptions import InvalidInputError
from models.tree._split import Reset, Split

__all__ = ["TreeArrays"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# state key -> (attribute, dtype kind, shape pattern: n=nodes, s=slots, c=classes, d=features)
_ARRAYS: dict[str, tuple[str, str, str]] = {
    "node_feature": ("feature", "i", "n"),
    "node_threshold": ("threshold", "f", "n"),
    "node_left": ("left", "i", "n"),
    "node_right": ("right", "i", "n"),
    "node_depth": ("depth", "i", "n"),
    "node_slot": ("slot", "i", "n"),
    "leaf_node": ("leaf", "i", "s"),
    "leaf_active": ("active", "b", "s"),
    "leaf_last_attempt": ("last_attempt", "f", "s"),
    "leaf_mc_correct": ("mc_correct", "f", "s"),
    "leaf_nb_correct": ("nb_correct", "f", "s"),
    "class_weight": ("weight", "f", "sc"),
    "class_rank": ("rank", "i", "sc"),
    "gauss_count": ("g_count", "f", "sc"),
    "gauss_rank": ("g_rank", "i", "sc"),
    "gauss_mean": ("mean", "f", "scd"),
    "gauss_m2": ("m2", "f", "scd"),
    "gauss_min": ("vmin", "f", "scd"),
    "gauss_max": ("vmax", "f", "scd"),
}
STATE_KEYS = frozenset({*_ARRAYS, "n_nodes", "n_leaves"})


class TreeArrays:
    """Nodes, leaf slots and per-leaf statistics of one tree, sized for `max_nodes` nodes.

    With `width` features known, the tree starts as one active root leaf; with `width=None`
    it is the empty placeholder of an unfitted estimator (no nodes)."""

    feature: IntArray
    threshold: FloatArray
    left: IntArray
    right: IntArray
    depth: IntArray
    slot: IntArray
    leaf: IntArray
    active: BoolArray
    last_attempt: FloatArray
    mc_correct: FloatArray
    nb_correct: FloatArray
    weight: FloatArray
    rank: IntArray
    g_count: FloatArray
    g_rank: IntArray
    mean: FloatArray
    m2: FloatArray
    vmin: FloatArray
    vmax: FloatArray

    def __init__(self, max_nodes: int, width: int | None, n_classes: int) -> None:
        n_slots = (max_nodes + 1) // 2
        d = width or 0
        self.feature = np.full(max_nodes, -1, dtype=np.int64)
        self.threshold = np.zeros(max_nodes)
        self.left = np.full(max_nodes, -1, dtype=np.int64)
        self.right = np.full(max_nodes, -1, dtype=np.int64)
        self.depth = np.zeros(max_nodes, dtype=np.int64)
        self.slot = np.full(max_nodes, -1, dtype=np.int64)
        self.leaf = np.full(n_slots, -1, dtype=np.int64)
        self.active = np.zeros(n_slots, dtype=np.bool_)
        self.last_attempt = np.zeros(n_slots)
        self.mc_correct = np.zeros(n_slots)
        self.nb_correct = np.zeros(n_slots)
        self.weight = np.zeros((n_slots, n_classes))
        self.rank = np.full((n_slots, n_classes), -1, dtype=np.int64)
        self.g_count = np.zeros((n_slots, n_classes))
        self.g_rank = np.full((n_slots, n_classes), -1, dtype=np.int64)
        for name in ("mean", "m2", "vmin", "vmax"):
            setattr(self, name, np.zeros((n_slots, n_classes, d)))
        self.n_nodes = 0
        self.n_leaves = 0
        if width is not None:  # the root: an empty, active leaf
            self.n_nodes = self.n_leaves = 1
            self.slot[0] = 0
            self.leaf[0] = 0
            self.active[0] = True

    @property
    def n_classes(self) -> int:
        return int(self.weight.shape[1])

    def add_class(self) -> None:
        """Grow every per-class array by one (empty) class."""
        for attr, kind, pattern in _ARRAYS.values():
            if "c" in pattern:
                array = getattr(self, attr)
                pad = np.full((array.shape[0], 1, *array.shape[2:]), -1 if kind == "i" else 0)
                setattr(self, attr, np.concatenate([array, pad.astype(array.dtype)], axis=1))

    def clear_splitters(self, s: int) -> None:
        """Forget slot `s`'s Gaussian splitters (River's fresh `leaf.splitters = {}`)."""
        self.g_count[s] = 0.0
        self.g_rank[s] = -1
        for array in (self.mean, self.m2, self.vmin, self.vmax):
            array[s] = 0.0

    def reactivate(self, max_depth: float) -> None:
        """River's `_enforce_size_limit` within its memory budget: every inactive leaf above
        `max_depth` becomes active again, with fresh splitters."""
        used = np.arange(self.n_leaves)
        stale = used[~self.active[used] & (self.depth[self.leaf[used]] < max_depth)]
        for s in stale.tolist():
            self.active[s] = True
            self.clear_splitters(s)

    def split(
        self,
        s: int,
        feature: int,
        threshold: float,
        children: tuple[list[tuple[int, float]], list[tuple[int, float]]],
    ) -> None:
        """Turn slot `s`'s leaf into a branch `x[feature] <= threshold` whose two new leaves start
        from the class weights `children` (each a list of (class, weight) in dict order); the
        left leaf reuses slot `s`, the right one takes a new slot."""
        node = int(self.leaf[s])
        pair = (self.n_nodes, self.n_nodes + 1)
        self.feature[node], self.threshold[node] = feature, threshold
        self.left[node], self.right[node], self.slot[node] = pair[0], pair[1], -1
        for child, new_slot, stats in zip(pair, (s, self.n_leaves), children, strict=True):
            self.depth[child] = self.depth[node] + 1
            self.slot[child], self.leaf[new_slot] = new_slot, child
            self.weight[new_slot], self.rank[new_slot] = 0.0, -1
            for r, (c, w) in enumerate(stats):
                self.weight[new_slot, c], self.rank[new_slot, c] = w, r
            self.last_attempt[new_slot] = sum(w for _, w in stats)
            self.active[new_slot] = True
            self.mc_correct[new_slot] = self.nb_correct[new_slot] = 0.0
            self.clear_splitters(new_slot)
        self.n_nodes += 2
        self.n_leaves += 1

    def apply(self, s: int, change: Split | Reset | None, max_depth: float) -> None:
        """Apply the outcome of slot `s`'s split attempt; None: `max_depth` deactivates it."""
        if change is None:  # the leaf stops feeding its splitters and predicts its majority
            self.active[s] = False
            self.clear_splitters(s)
            return
        if isinstance(change, Split):
            self.split(s, change.feature, change.threshold, (change.left, change.right))
        else:
            self.clear_splitters(s)
        self.reactivate(max_depth)

    # --- serialisation -------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            key: getattr(self, attr).copy() for key, (attr, _, _) in _ARRAYS.items()
        }
        out["n_nodes"], out["n_leaves"] = self.n_nodes, self.n_leaves
        return out

    @classmethod
    def from_state(
        cls, state: Mapping[str, Any], max_nodes: int, width: int | None, n_classes: int
    ) -> TreeArrays:
        """Rebuild and validate a `state()` for these dimensions (raises InvalidInputError)."""
        tree = cls(max_nodes, width, n_classes)
        sizes = {"n": max_nodes, "s": (max_nodes + 1) // 2, "c": n_classes, "d": width or 0}
        for key, (attr, kind, pattern) in _ARRAYS.items():
            value = np.asarray(state[key])
            shape = tuple(sizes[p] for p in pattern)
            kinds = "b" if kind == "b" else ("iu" if kind == "i" else "iuf")
            if value.shape != shape or value.dtype.kind not in kinds:
                raise InvalidInputError(
                    f"{key} must be a {'bool' if kind == 'b' else 'numeric'} array of shape "
                    f"{shape}, got {value.dtype} of shape {value.shape}"
                )
            target = getattr(tree, attr)
            if kind == "f" and not np.isfinite(value).all():
                raise InvalidInputError(f"{key} must be finite")
            setattr(tree, attr, value.astype(target.dtype))
        for key in ("n_nodes", "n_leaves"):
            value = state[key]
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise InvalidInputError(f"{key} must be an int, got {value!r}")
        tree.n_nodes, tree.n_leaves = int(state["n_nodes"]), int(state["n_leaves"])
        tree._check(width is not None)
        return tree

    def _check(self, fitted: bool) -> None:
        """Structural checks, so that routing always ends in a leaf and indices stay in range."""
        n, s = self.n_nodes, self.n_leaves
        if fitted:
            sized = 1 <= s <= self.leaf.shape[0] and n == 2 * s - 1 <= self.feature.shape[0]
        else:
            sized = n == 0 and s == 0
        if not sized:
            raise InvalidInputError(f"inconsistent tree size: {n} nodes, {s} leaves")
        width, n_classes = self.mean.shape[2], self.n_classes
        ids = np.arange(n)
        feature, slot, leaf = self.feature[:n], self.slot[:n], self.leaf[:s]
        inner = feature >= 0
        left, right = self.left[:n][inner], self.right[:n][inner]
        structure_ok = (
            bool((feature >= -1).all() and (feature < width).all())
            and bool((left > ids[inner]).all() and (right > ids[inner]).all())
            and bool((left < n).all() and (right < n).all())
            and bool((self.depth[:n] >= 0).all())
            and bool((slot[inner] == -1).all())
            and np.array_equal(np.sort(slot[~inner]), np.arange(s))
            and bool(((leaf >= 0) & (leaf < n)).all())
        )
        if not structure_ok or not np.array_equal(self.slot[leaf], np.arange(s)):
            raise InvalidInputError("the tree's nodes are inconsistent")
        ranks_ok = all(bool(((r >= -1) & (r < n_classes)).all()) for r in (self.rank, self.g_rank))
        counts = (self.weight, self.g_count, self.m2, self.mc_correct, self.nb_correct)
        if not ranks_ok or not all(bool((a >= 0).all()) for a in counts):
            raise InvalidInputError("the tree's leaf statistics are inconsistent")

"""Half-space trees (Tan, Ting & Liu, 2011), vectorised over rows and trees."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from monitor.anomaly.base import AnomalyDetector, FloatArray
from monitor.exceptions import IncompatibleStateError, InvalidInputError

__all__ = ["HalfSpaceTrees"]

IntArray = npt.NDArray[np.int64]
Limits = tuple[float, float] | tuple[tuple[float, float], ...] | None

# Split points are drawn from the middle 70% of a node's range, as in River.
_PADDING = 0.15
# Rows per pass of the tree walk: bounds the (rows, trees) index arrays.
_ROWS = 16384


class HalfSpaceTrees(AnomalyDetector):
    """Half-space trees: mass of a point's region in random axis-aligned trees, per window.

    Each of ``n_trees`` complete binary trees of depth ``height`` is drawn once, when the first
    vector is learned: every internal node splits the current range of one feature (chosen
    with probability proportional to the range's width) at a uniform point of its middle 70%,
    starting from ``limits``. Vectors are counted in the nodes on their root-to-leaf path.
    Counts are kept for two windows of ``window_size`` learned vectors: the latest window
    fills while the reference window (the previous full one) scores; when the latest window
    is full it becomes the reference and a new latest window starts empty.

    The score of ``x`` follows River's ``anomaly.HalfSpaceTrees`` exactly: in each tree, walk
    ``x``'s path from the root, adding ``r * 2 ** depth`` for each node's reference mass
    ``r``, and stop after the first node with ``r < 0.1 * window_size`` (or at the leaf).
    The score is ``1 - total / (n_trees * window_size * (2 ** (height + 1) - 1))``, in
    [0, 1], higher = more anomalous, and 0.0 until the first window is full. Values outside
    ``limits`` go down the outermost branches; scale features into the limits (e.g. min-max)
    for meaningful regions.

    The trees are numpy arrays (split feature and split value per internal node, masses per
    node, nodes in heap order), and a point's score in a tree depends only on its leaf, so
    scores are cached per leaf after each window swap. The batch paths walk all rows through
    all trees at once, then score and count the rows in pieces that end at window swaps; they
    equal the one-by-one path exactly.

    Parameters
    ----------
    n_trees
        Number of trees (>= 1).
    height
        Depth of each tree (1 to 20): ``height + 1`` levels, ``2 ** (height + 1) - 1`` nodes.
    window_size
        Number of learned vectors per window (>= 1).
    limits
        Range of the features the trees split: ``None`` for [0, 1] (River's default), one
        ``(lo, hi)`` pair for every feature, or one pair per column in feature order.
    seed
        Seed of the random trees; ``None`` draws fresh ones (a state dict keeps them).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> X = rng.normal(0.5, 0.08, size=(1000, 3)).clip(0.0, 1.0)
    >>> X[900] = [0.5, 0.05, 0.95]  # off the cloud in two features
    >>> hst = HalfSpaceTrees(n_trees=10, height=6, window_size=100, seed=42)
    >>> scores = hst.score_learn_many(X)
    >>> float(scores[:100].max()), int(scores.argmax()), bool(scores[900] > 0.8)
    (0.0, 900, True)
    >>> normal, odd = {"a": 0.5, "b": 0.5, "c": 0.5}, {"a": 0.1, "b": 0.9, "c": 0.5}
    >>> round(hst.score_one(normal), 2), round(hst.score_one(odd), 2)
    (0.38, 0.92)

    """

    def __init__(
        self,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        limits: tuple[float, float] | Sequence[tuple[float, float]] | None = None,
        seed: int | None = None,
    ) -> None:
        for name, value, low, high in (
            ("n_trees", n_trees, 1, None),
            ("height", height, 1, 20),
            ("window_size", window_size, 1, None),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < low
                or (high is not None and value > high)
            ):
                bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
                raise ValueError(f"{name} must be an integer {bounds}, got {value!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}")
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.limits: Limits = _normalize_limits(limits)
        self.seed = seed
        self._reset()

    def _reset(self) -> None:
        super()._reset()
        n_internal, n_nodes = 2**self.height - 1, 2 ** (self.height + 1) - 1
        self._n = 0  # vectors learned
        self._feature: npt.NDArray[np.intp] = np.zeros((0, n_internal), dtype=np.intp)
        self._threshold: FloatArray = np.zeros((0, n_internal))
        self._l_mass: IntArray = np.zeros((0, n_nodes), dtype=np.int64)  # latest window
        self._r_mass: IntArray = np.zeros((0, n_nodes), dtype=np.int64)  # reference window
        self._leaf_score: FloatArray = np.zeros((0, 2**self.height))  # cache from r_mass

    # ---------------------------------------------------------------- public paths

    def score_many(self, X: npt.ArrayLike) -> FloatArray:
        """Score each row of ``X`` (n, d) with the current state; learn nothing."""
        M = self._check(X)
        scores = np.zeros(M.shape[0])
        if self._n >= self.window_size:
            for start in range(0, M.shape[0], _ROWS):
                part = M[start : start + _ROWS]
                scores[start : start + _ROWS] = self._score_leaves(self._leaves(part))
        return scores

    def learn_many(self, X: npt.ArrayLike) -> None:
        """Learn the rows of ``X`` (n, d) in order (same as ``learn_one`` row by row)."""
        self._run(self._check(X), None)

    def score_learn_many(self, X: npt.ArrayLike) -> FloatArray:
        """For each row in order: score it with the state before it, then learn it."""
        M = self._check(X)
        scores = np.zeros(M.shape[0])
        self._run(M, scores)
        return scores

    # ---------------------------------------------------------------- kernels

    def _check(self, X: npt.ArrayLike) -> FloatArray:
        M = self._check_matrix(X)
        pairs = self._pairs()
        if pairs is not None and M.shape[1] != len(pairs):
            raise InvalidInputError(f"limits has {len(pairs)} pairs but X has {M.shape[1]} columns")
        return M

    def _pairs(self) -> tuple[tuple[float, float], ...] | None:
        """The per-column limits, if given as one pair per column."""
        limits = self.limits
        if limits is not None and isinstance(limits[0], tuple):
            return limits
        return None

    def _run(self, M: FloatArray, scores: FloatArray | None) -> None:
        """Learn the rows of ``M`` in order; write their scores into ``scores`` if given."""
        if M.shape[0] == 0:
            return
        if not self._n_features:
            self._grow(M.shape[1])
        for start in range(0, M.shape[0], _ROWS):
            leaves = self._leaves(M[start : start + _ROWS])
            lo = 0
            while lo < leaves.shape[0]:
                # A piece never crosses a window swap: all its rows see one reference window.
                hi = min(leaves.shape[0], lo + self.window_size - self._n % self.window_size)
                if scores is not None and self._n >= self.window_size:
                    scores[start + lo : start + hi] = self._score_leaves(leaves[lo:hi])
                self._count(leaves[lo:hi])
                lo = hi

    def _grow(self, d: int) -> None:
        """Draw the trees for ``d`` features exactly as River does (same random stream, same
        depth-first order), so a seed gives River's trees for columns in River's (sorted)
        feature order."""
        limits, pairs = self.limits, self._pairs()
        if pairs is not None:
            lo0, hi0 = [p[0] for p in pairs], [p[1] for p in pairs]
        elif limits is None:
            lo0, hi0 = [0.0] * d, [1.0] * d
        else:
            low, high = cast(tuple[float, float], limits)  # one pair for every column
            lo0, hi0 = [float(low)] * d, [float(high)] * d
        rng = random.Random(self.seed)
        trees, height = self.n_trees, self.height
        feature = np.empty((trees, 2**height - 1), dtype=np.intp)
        threshold = np.empty((trees, 2**height - 1))
        population = range(d)

        def build(t: int, node: int, depth: int, lo: list[float], hi: list[float]) -> None:
            if depth == height:
                return
            on = rng.choices(population, weights=[h - low for low, h in zip(lo, hi, strict=True)])[
                0
            ]
            a, b = lo[on], hi[on]
            at = rng.uniform(a + _PADDING * (b - a), b - _PADDING * (b - a))
            feature[t, node] = on
            threshold[t, node] = at
            hi[on] = at  # left child: [lo, at)
            build(t, 2 * node + 1, depth + 1, lo, hi)
            hi[on] = b
            lo[on] = at  # right child: [at, hi)
            build(t, 2 * node + 2, depth + 1, lo, hi)
            lo[on] = a

        for t in range(trees):
            build(t, 0, 0, list(lo0), list(hi0))
        n_nodes = 2 ** (height + 1) - 1
        self._n_features = d
        self._feature = feature
        self._threshold = threshold
        self._l_mass = np.zeros((trees, n_nodes), dtype=np.int64)
        self._r_mass = np.zeros((trees, n_nodes), dtype=np.int64)
        self._leaf_score = np.zeros((trees, 2**height))

    def _leaves(self, M: FloatArray) -> npt.NDArray[np.intp]:
        """Leaf (0 .. 2 ** height - 1) of each row in each tree, as an (n, n_trees) array."""
        n, d = M.shape
        n_internal = 2**self.height - 1
        feature, threshold = self._feature.ravel(), self._threshold.ravel()
        tree_base = np.arange(self.n_trees, dtype=np.intp) * n_internal
        row_base = np.arange(n, dtype=np.intp)[:, None] * d
        values = np.ascontiguousarray(M).ravel()
        node = np.zeros((n, self.n_trees), dtype=np.intp)
        for _ in range(self.height):
            k = node + tree_base
            right = values[row_base + feature[k]] >= threshold[k]  # River: x < t goes left
            node = 2 * node + 1 + right
        leaves: npt.NDArray[np.intp] = node - n_internal
        return leaves

    def _score_leaves(self, leaves: npt.NDArray[np.intp]) -> FloatArray:
        base = np.arange(self.n_trees, dtype=np.intp) * 2**self.height
        total = self._leaf_score.ravel()[leaves + base].sum(axis=1)  # exact: integer values
        max_score = self.n_trees * self.window_size * (2 ** (self.height + 1) - 1)
        scores: FloatArray = 1.0 - total / max_score
        return scores

    def _count(self, leaves: npt.NDArray[np.intp]) -> None:
        """Count rows of one window in the latest masses; swap the windows when it is full."""
        n_leaves = 2**self.height
        base = np.arange(self.n_trees, dtype=np.intp) * n_leaves
        counts = np.bincount((leaves + base).ravel(), minlength=self.n_trees * n_leaves)
        self._l_mass += _subtree_masses(counts.reshape(self.n_trees, n_leaves).astype(np.int64))
        self._n += leaves.shape[0]
        if self._n % self.window_size == 0:
            self._r_mass = self._l_mass
            self._l_mass = np.zeros_like(self._r_mass)
            self._leaf_score = _leaf_scores(self._r_mass, 0.1 * self.window_size)

    # ---------------------------------------------------------------- state

    def _get_params(self) -> dict[str, Any]:
        params = super()._get_params()
        limits = self.limits
        if limits is not None:  # lists, as they come back from JSON
            params["limits"] = [list(p) if isinstance(p, tuple) else p for p in limits]
        return params

    def _get_state(self) -> dict[str, Any]:
        return {
            "n": self._n,
            "feature": self._feature.copy(),
            "threshold": self._threshold.copy(),
            "l_mass": self._l_mass.copy(),
            "r_mass": self._r_mass.copy(),
        }

    def _set_state(self, state: Mapping[str, Any], n_features: int) -> None:
        count = state.get("n")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise IncompatibleStateError(f"state['n'] must be an integer >= 0, got {count!r}")
        keys = ("feature", "threshold", "l_mass", "r_mass")
        arrays = {key: _as_array(state, key) for key in keys}
        if n_features == 0:
            if count or any(arr.size for arr in arrays.values()):
                raise IncompatibleStateError("a detector without features has learned nothing")
            self._reset_arrays()
            self._n = 0
            return
        pairs = self._pairs()
        if pairs is not None and len(pairs) != n_features:
            raise IncompatibleStateError(f"limits has {len(pairs)} pairs, not {n_features}")
        trees, n_internal, n_nodes = self.n_trees, 2**self.height - 1, 2 ** (self.height + 1) - 1
        for key, shape, kinds in (
            ("feature", (trees, n_internal), "iu"),
            ("threshold", (trees, n_internal), "iuf"),
            ("l_mass", (trees, n_nodes), "iu"),
            ("r_mass", (trees, n_nodes), "iu"),
        ):
            arr = arrays[key]
            if arr.shape != shape or arr.dtype.kind not in kinds:
                raise IncompatibleStateError(f"state[{key!r}] must be {shape} of kind {kinds}")
        feature = arrays["feature"].astype(np.intp)
        threshold = arrays["threshold"].astype(np.float64)
        l_mass, r_mass = arrays["l_mass"].astype(np.int64), arrays["r_mass"].astype(np.int64)
        if feature.min() < 0 or feature.max() >= n_features:
            raise IncompatibleStateError(f"state['feature'] must be in [0, {n_features})")
        if not np.isfinite(threshold).all():
            raise IncompatibleStateError("state['threshold'] must be finite")
        window = self.window_size
        for mass, root in ((l_mass, count % window), (r_mass, window if count >= window else 0)):
            leaves = mass[:, n_internal:]
            if (leaves < 0).any() or not np.array_equal(_subtree_masses(leaves), mass):
                raise IncompatibleStateError("masses must be counts that add up the tree")
            if (mass[:, 0] != root).any():
                raise IncompatibleStateError(f"masses do not match {count} learned vectors")
        self._n = count
        self._feature = feature
        self._threshold = threshold
        self._l_mass = l_mass
        self._r_mass = r_mass
        self._leaf_score = _leaf_scores(r_mass, 0.1 * window)

    def _reset_arrays(self) -> None:
        names = self._feature_names, self._n_features
        self._reset()
        self._feature_names, self._n_features = names

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"limits": (-15.0, 15.0), "seed": 1}
        yield {"n_trees": 3, "height": 3, "window_size": 32, "limits": (-10.0, 10.0), "seed": 7}
        yield {"n_trees": 4, "height": 10, "window_size": 100, "seed": 3}


def _normalize_limits(limits: object) -> Limits:
    """Return ``limits`` as a pair of floats, a tuple of pairs, or None; else ValueError."""
    if limits is None:
        return None
    if isinstance(limits, str | bytes | Mapping) or not isinstance(limits, Sequence):
        raise ValueError(f"limits must be None, a (lo, hi) pair or a list of pairs: {limits!r}")

    def pair(item: object) -> tuple[float, float]:
        if (
            isinstance(item, Sequence)
            and not isinstance(item, str | bytes)
            and len(item) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in item)
        ):
            lo, hi = float(item[0]), float(item[1])
            if math.isfinite(lo) and math.isfinite(hi) and lo < hi:
                return lo, hi
        raise ValueError(f"each limit must be a finite (lo, hi) pair with lo < hi, got {item!r}")

    if len(limits) == 2 and all(isinstance(v, int | float) for v in limits):
        return pair(limits)
    if not limits:
        raise ValueError("limits must not be empty")
    return tuple(pair(item) for item in limits)


def _as_array(state: Mapping[str, Any], key: str) -> npt.NDArray[Any]:
    try:
        return np.asarray(state.get(key))
    except (TypeError, ValueError) as exc:
        raise IncompatibleStateError(f"state[{key!r}] is not an array") from exc


def _subtree_masses(leaf_counts: IntArray) -> IntArray:
    """Masses of every node in heap order, from the masses of the leaves (trees, 2 ** h)."""
    levels = [leaf_counts]
    while levels[-1].shape[1] > 1:
        levels.append(levels[-1].reshape(leaf_counts.shape[0], -1, 2).sum(axis=2))
    return np.concatenate(levels[::-1], axis=1)


def _leaf_scores(r_mass: IntArray, size_limit: float) -> FloatArray:
    """Each leaf's score sum in each tree: River's walk, which is the same for all its points.

    Along the path to the leaf, add ``r * 2 ** depth`` for each node, stopping after the first
    node with ``r < size_limit``; computed level by level for all nodes of the level. The sums
    are integers, exact in float64.
    """
    trees, n_nodes = r_mass.shape
    total = np.zeros((trees, 1))  # sum so far, per node of the level
    active = np.ones((trees, 1), dtype=bool)  # the walk has not stopped above the node
    width = 1
    while width <= n_nodes // 2 + 1:
        r = r_mass[:, width - 1 : 2 * width - 1].astype(np.float64)
        if width > 1:
            total, active = np.repeat(total, 2, axis=1), np.repeat(active, 2, axis=1)
        total += np.where(active, r * float(width), 0.0)
        active &= r >= size_limit
        width *= 2
    return total

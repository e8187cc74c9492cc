"""The Hoeffding tree (VFDT) classifier for numeric features, with a vectorised batch path."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from models._params import check_bool, check_real
from models._tree_labels import batch_labels
from models._validation import FeatureSpace, Label, check_mask
from models.base.multiclass import MultiClassifier
from models.exceptions import InvalidInputError
from models.tree._arrays import STATE_KEYS, TreeArrays
from models.tree._base import LearnParams
from models.tree._learner import predict, run
from models.tree._single import predict_row
from models.tree._split import SplitParams

__all__ = ["HoeffdingTreeClassifier"]

_KEYS = STATE_KEYS | {"feature_names", "n_features", "classes"}


def _integer(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _share(name: str, value: object) -> float:
    share = check_real(name, value, strict=True)
    if share > 1.0:
        raise ValueError(f"{name} must be <= 1, got {value!r}")
    return share


def _choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return str(value)


class HoeffdingTreeClassifier(MultiClassifier):
    """Hoeffding tree (Very Fast Decision Tree) on numeric features, as River 0.26 grows it.

    Every leaf keeps, per class and feature, a Gaussian of the values it has seen (River's
    default `tree.splitter.GaussianSplitter`). Each time a leaf has seen `grace_period` more
    weight it evaluates `n_splits` equally spaced thresholds per feature, counting each class on
    either side from its Gaussian's CDF, and splits on the best one when its merit (information
    gain or Gini) beats the runner-up by more than the Hoeffding bound, or when the bound is
    below `tau` (ties). The children start from those estimated class counts. Leaves predict
    the majority class ("mc"), naive Bayes over their Gaussians ("nb"), or whichever of the
    two has been right more often at that leaf ("nba", the default).

    It reproduces River 0.26's `tree.HoeffdingTreeClassifier` on numeric features with the same
    hyperparameters: the same splits at the same rows with the same thresholds, and the same
    probabilities (to the last bit or two of River's logs and exponentials), including River's
    details: fractional class counts in new leaves, the re-activation of pre-pruned leaves, the
    insertion order that breaks ties. Ties between classes in `predict_one` go to the class seen
    first (River's to the smallest label). River's memory management in MiB is replaced by
    `max_nodes`; nominal features, other splitters and "hellinger" are not supported.

    The batch methods are vectorised: a batch is routed through the tree with numpy, the
    per-leaf statistics advance with grouped running sums (and River's Welford recurrence in
    lockstep over all (leaf, class) pairs), and split attempts fall at their exact rows; the
    batch is cut only where a split (or a leaf reaching `max_depth`) changes the tree. They
    return exactly what the one-row methods return row by row.

    Parameters
    ----------
    grace_period
        Weight a leaf must see between two split attempts.
    max_depth
        Leaves at this depth stop splitting (the root is at depth 0); None for no limit.
    split_criterion
        "info_gain" or "gini".
    delta
        Significance of the Hoeffding bound (`1 - delta` is the confidence).
    tau
        Split anyway when the Hoeffding bound falls below this (tie breaking).
    leaf_prediction
        "mc" (majority class), "nb" (naive Bayes) or "nba" (naive Bayes adaptive).
    nb_threshold
        Weight a leaf must have seen before "nb" uses naive Bayes.
    n_splits
        Number of candidate thresholds per feature at each split attempt.
    binary_split
        Accepted for River compatibility: numeric splits are always binary.
    min_branch_fraction
        A split must send more than this fraction of the weight to at least two branches.
    max_share_to_split
        A leaf whose majority class holds more than this share of its weight does not split.
    merit_preprune
        Whether "no split" competes with the candidate splits.
    max_nodes
        Capacity of the tree: it stops growing (leaves keep learning) when a split would exceed
        it. The state is allocated for it up front and never grows: about
        `(max_nodes + 1) / 2 * n_classes * (32 * n_features + 32) + 48 * max_nodes` bytes
        (390 kB with the default, 9 features and 2 classes).

    Examples
    --------
    >>> import numpy as np
    >>> from models.tree import HoeffdingTreeClassifier
    >>> rng = np.random.default_rng(42)
    >>> X = rng.uniform(size=(4000, 2))
    >>> y = np.abs(X[:, 0] - 0.5) < 0.25  # a band: no linear model learns it
    >>> model = HoeffdingTreeClassifier(grace_period=100)
    >>> proba = model.predict_learn_many(X, y)  # test-then-train
    >>> model.classes_
    (False, True)
    >>> float((np.array(model.classes_)[proba.argmax(axis=1)] == y)[-1000:].mean())
    0.968
    >>> model.predict_one({"x0": 0.5, "x1": 0.7}), model.predict_one({"x0": 0.9, "x1": 0.2})
    (True, False)
    >>> model.n_nodes, model.height
    (7, 3)
    """

    def __init__(
        self,
        grace_period: int = 200,
        max_depth: int | None = None,
        split_criterion: str = "info_gain",
        delta: float = 1e-7,
        tau: float = 0.05,
        leaf_prediction: str = "nba",
        nb_threshold: int = 0,
        n_splits: int = 10,
        binary_split: bool = False,
        min_branch_fraction: float = 0.01,
        max_share_to_split: float = 0.99,
        merit_preprune: bool = True,
        max_nodes: int = 1023,
    ) -> None:
        self.grace_period = grace_period
        self.max_depth = max_depth
        self.split_criterion = split_criterion
        self.delta = delta
        self.tau = tau
        self.leaf_prediction = leaf_prediction
        self.nb_threshold = nb_threshold
        self.n_splits = n_splits
        self.binary_split = binary_split
        self.min_branch_fraction = min_branch_fraction
        self.max_share_to_split = max_share_to_split
        self.merit_preprune = merit_preprune
        self.max_nodes = max_nodes
        check_bool("binary_split", binary_split)
        self._params = LearnParams(
            grace_period=_integer("grace_period", grace_period, 1),
            max_depth=math.inf if max_depth is None else _integer("max_depth", max_depth, 0),
            max_nodes=_integer("max_nodes", max_nodes, 1),
            leaf_prediction=_choice("leaf_prediction", leaf_prediction, ("mc", "nb", "nba")),
            nb_threshold=_integer("nb_threshold", nb_threshold, 0),
            split=SplitParams(
                criterion=_choice("split_criterion", split_criterion, ("info_gain", "gini")),
                delta=check_real("delta", delta, strict=True, maximum=1.0),
                tau=check_real("tau", tau),
                n_splits=_integer("n_splits", n_splits, 1),
                min_branch_fraction=check_real(
                    "min_branch_fraction", min_branch_fraction, maximum=1.0
                ),
                max_share_to_split=_share("max_share_to_split", max_share_to_split),
                merit_preprune=check_bool("merit_preprune", merit_preprune),
            ),
        )
        self._reset()

    def _reset(self) -> None:
        self._space = FeatureSpace()
        self._classes = []
        self._class_index = {}
        self._tree = TreeArrays(self.max_nodes, None, 0)

    def clone(self) -> Self:
        return type(self)(
            grace_period=self.grace_period,
            max_depth=self.max_depth,
            split_criterion=self.split_criterion,
            delta=self.delta,
            tau=self.tau,
            leaf_prediction=self.leaf_prediction,
            nb_threshold=self.nb_threshold,
            n_splits=self.n_splits,
            binary_split=self.binary_split,
            min_branch_fraction=self.min_branch_fraction,
            max_share_to_split=self.max_share_to_split,
            merit_preprune=self.merit_preprune,
            max_nodes=self.max_nodes,
        )

    @classmethod
    def _unit_test_params(cls) -> list[dict[str, Any]]:
        """Settings for the conformance suite, most of them growing a tree within 300 rows."""
        return [
            {},
            {"grace_period": 30, "delta": 0.01},
            {
                "grace_period": 20,
                "leaf_prediction": "mc",
                "split_criterion": "gini",
                "max_depth": 2,
                "tau": 0.3,
            },
            {"grace_period": 25, "leaf_prediction": "nb", "nb_threshold": 10, "max_nodes": 5},
        ]

    # --- introspection -------------------------------------------------------------------------

    @property
    def n_nodes(self) -> int:
        """Number of nodes (branches and leaves); 0 before any learning."""
        return self._tree.n_nodes

    @property
    def n_leaves(self) -> int:
        """Number of leaves; 0 before any learning."""
        return self._tree.n_leaves

    @property
    def height(self) -> int:
        """Depth of the deepest leaf (0 for a lone root); 0 before any learning."""
        n = self._tree.n_nodes
        return int(self._tree.depth[:n].max()) if n else 0

    # --- state ---------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {**self._space.state(), **self.classes_state(), **self._tree.state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if set(state) != _KEYS:
            raise InvalidInputError(f"expected state keys {sorted(_KEYS)}, got {sorted(state)}")
        space = FeatureSpace.from_state(state)
        if not isinstance(state["classes"], list | tuple):
            raise InvalidInputError("classes must be a list")
        tree = TreeArrays.from_state(state, self.max_nodes, space.width, len(state["classes"]))
        self._load_classes(state)  # validates the labels before assigning them
        self._space, self._tree = space, tree

    def _allocate(self) -> None:
        if self._space.width is not None and self._tree.n_nodes == 0:
            self._tree = TreeArrays(self.max_nodes, self._space.width, len(self._classes))

    def _add_class(self) -> None:
        self._tree.add_class()

    # --- array API -----------------------------------------------------------------------------

    def learn_many(self, X: npt.ArrayLike, y: Sequence[Label] | npt.ArrayLike) -> None:
        matrix = self._space.encode_many(X)
        labels = batch_labels(self, y, matrix.shape[0], None)
        if self._space.width is None:
            self._adopt(FeatureSpace(width=matrix.shape[1]))
        run(self._tree, matrix, labels(), self._params, want=False)

    def predict_learn_many(
        self,
        X: npt.ArrayLike,
        y: Sequence[Label] | npt.ArrayLike,
        learn_mask: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.float64]:
        matrix = self._space.encode_many(X)
        n = matrix.shape[0]
        mask = check_mask(learn_mask, n)
        labels = batch_labels(self, y, n, mask)
        if self._space.width is None:
            self._adopt(FeatureSpace(width=matrix.shape[1]))
        out = run(self._tree, matrix, labels(), self._params, want=True)
        assert out is not None
        return out

    def predict_proba_many(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        matrix = self._space.encode_many(X)
        if not self._classes:
            return np.zeros((matrix.shape[0], 0))
        return predict(self._tree, matrix, self._params)

    def _run(
        self,
        rows: list[list[float]],
        labels: Iterable[Label | None],
        mask: Iterable[bool],
        probas: list[list[float]] | None,
    ) -> None:
        indices, known = self._register_rows(labels, mask)
        if not rows:
            return
        if not self._classes:  # nothing learned yet: no class to give a probability to
            if probas is not None:
                probas.extend([] for _ in rows)
            return
        matrix = np.array(rows, dtype=np.float64)
        y = np.array(indices, dtype=np.int64)
        out: npt.NDArray[np.float64] | None
        if probas is not None and (y < 0).all():  # only predicting (predict_proba_one)
            if len(rows) == 1:
                out = predict_row(self._tree, matrix[0], self._params)[None]
            else:
                out = predict(self._tree, matrix, self._params)
        else:
            out = run(self._tree, matrix, y, self._params, want=probas is not None)
        if probas is not None and out is not None:
            probas.extend(row[:k] for row, k in zip(out.tolist(), known, strict=True))

"""Online multinomial logistic (softmax) regression."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from models._linear import check_merge_weights
from models._params import check_bool, check_real
from models._validation import FeatureSpace, Label, check_mask
from models.base.multiclass import MultiClassifier
from models.exceptions import InvalidInputError
from models.optim.ada_grad import AdaGrad
from models.optim.adam import Adam
from models.optim.optimizer import Optimizer
from models.optim.sgd import SGD

__all__ = ["SoftmaxRegression"]

_LOW, _HIGH = 1e-15, 1.0 - 1e-15  # River's `clamp_proba`
_OPTIMIZER = "optimizer."


def _softmax(logits: list[float]) -> list[float]:
    """River's `utils.math.softmax`, operation by operation."""
    if not logits:
        return []
    top = max(logits)
    exps = [math.exp(t - top) for t in logits]
    total = 0.0
    for e in exps:
        total += e
    return [e / total for e in exps]


class SoftmaxRegression(MultiClassifier):
    """Softmax regression learned online, River's `linear_model.SoftmaxRegression`.

    One weight vector per class and no intercept, as in River. The probabilities are the softmax
    of `w_c . x` over the classes seen so far. Learning a row with class `y` computes, for every
    known class `c`, the cross-entropy derivative `clamp(p_c) - [c == y]` (`p` clamped to
    `[1e-15, 1 - 1e-15]`) and lets class `c`'s own optimizer step `w_c` on
    `x * (clamp(p_c) - [c == y]) + l2 * w_c`. A class seen for the first time enters with zero
    weights, a fresh clone of `optimizer`, and `p = 0` in the row that introduces it, exactly as
    River's defaultdicts do. Before any learning, `predict_proba_one` is `{}`.

    Mini-batch mode (`mini_batch=True`) changes `learn_many` and `predict_learn_many` only: every
    row of a call is predicted with the state before the call, the call's new classes are added
    (in order of appearance), then each class's optimizer takes one step on the sum of the rows'
    gradients computed from those predictions. The dict methods are unchanged.

    Parameters
    ----------
    optimizer
        Template of the per-class optimizers (default `SGD(0.01)`); each class steps its own
        clone.
    l2
        L2 penalty on the weights.
    mini_batch
        Whether `learn_many` / `predict_learn_many` take one step per call (see above).

    Examples
    --------
    >>> import random
    >>> from models.optim import SGD
    >>> from models.softmax_regression import SoftmaxRegression
    >>> rng = random.Random(42)
    >>> centres = {"red": (2.0, 0.0), "green": (-2.0, 0.0), "blue": (0.0, 2.0)}
    >>> model = SoftmaxRegression(optimizer=SGD(0.1))
    >>> for _ in range(600):
    ...     label = rng.choice(sorted(centres))
    ...     cx, cy = centres[label]
    ...     model.learn_one({"x": rng.gauss(cx, 1.0), "y": rng.gauss(cy, 1.0)}, label)
    >>> model.classes_
    ('red', 'blue', 'green')
    >>> model.predict_one({"x": 2.0, "y": -1.0}), model.predict_one({"x": 0.0, "y": 3.0})
    ('red', 'blue')
    """

    def __init__(
        self, optimizer: Optimizer | None = None, l2: float = 0.0, mini_batch: bool = False
    ) -> None:
        if optimizer is not None and not isinstance(optimizer, Optimizer):
            raise ValueError(
                f"optimizer must be None or a models.optim Optimizer, got {optimizer!r}"
            )
        self.optimizer: Optimizer = SGD(0.01) if optimizer is None else optimizer
        self.l2 = l2
        self.mini_batch = mini_batch
        self._l2 = check_real("l2", l2)
        check_bool("mini_batch", mini_batch)
        self._reset()

    def _reset(self) -> None:
        self._space = FeatureSpace()
        self._classes = []
        self._class_index = {}
        self._weights: list[list[float]] = []
        self._optimizers: list[Optimizer] = []

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"optimizer": Adam(0.05), "l2": 0.001}
        yield {"optimizer": AdaGrad()}

    @property
    def weights(self) -> npt.NDArray[np.float64]:
        """`(n_classes, n_features)` weights, one row per class of `classes_` (a copy)."""
        return self._matrix(self._weights)

    def _matrix(self, rows: list[list[float]]) -> npt.NDArray[np.float64]:
        return np.array(rows, dtype=np.float64).reshape(len(rows), self._space.width or 0)

    def clone(self) -> Self:
        return type(self)(optimizer=self.optimizer.clone(), l2=self.l2, mini_batch=self.mini_batch)

    # --- prediction ----------------------------------------------------------------------

    def _probas(self, row: Sequence[float]) -> list[float]:
        logits = []
        for wc in self._weights:
            t = 0.0
            for wj, xj in zip(wc, row, strict=False):
                t += wj * xj
            logits.append(t)
        return _softmax(logits)

    def predict_proba_many(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return self._probas_matrix(self._space.encode_many(X))

    def _probas_matrix(self, matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        # The same additions in the same order as `_probas`, column by column, then the scalar
        # softmax: bit-identical to `predict_proba_one`.
        n = matrix.shape[0]
        logits = np.zeros((len(self._weights), n))
        for c, wc in enumerate(self._weights):
            for j, wj in enumerate(wc):
                logits[c] += matrix[:, j] * wj
        return np.array([_softmax(t) for t in logits.T.tolist()], dtype=np.float64).reshape(
            n, len(self._weights)
        )

    # --- learning ------------------------------------------------------------------------

    def _add_class(self) -> None:
        width = self._space.width or 0
        optimizer = self.optimizer.clone()
        optimizer._allocate(width)
        self._weights.append([0.0] * width)
        self._optimizers.append(optimizer)

    def _allocate(self) -> None:
        width = self._space.width
        if width is not None:
            for c, wc in enumerate(self._weights):
                if len(wc) != width:
                    self._weights[c] = [0.0] * width
                self._optimizers[c]._allocate(width)

    def _run(
        self,
        rows: list[list[float]],
        labels: Iterable[Label | None],
        mask: Iterable[bool],
        probas: list[list[float]] | None,
    ) -> None:
        weights, optimizers, l2 = self._weights, self._optimizers, self._l2
        for row, y, learn in zip(rows, labels, mask, strict=False):
            p = self._probas(row)
            if probas is not None:
                probas.append(p)
            if not learn:
                continue
            assert y is not None
            true = self._index_of(y)
            for c, wc in enumerate(weights):
                g = max(min(p[c] if c < len(p) else 0.0, _HIGH), _LOW)
                if c == true:
                    g -= 1.0
                if l2:
                    step = [xj * g + l2 * wj for xj, wj in zip(row, wc, strict=True)]
                else:
                    step = [xj * g for xj in row]
                optimizers[c]._step(wc, step)

    def learn_many(self, X: npt.ArrayLike, y: Sequence[Label] | npt.ArrayLike) -> None:
        if self.mini_batch:
            self._mini_batch(X, y, None)
        else:
            super().learn_many(X, y)

    def predict_learn_many(
        self,
        X: npt.ArrayLike,
        y: Sequence[Label] | npt.ArrayLike,
        learn_mask: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.float64]:
        if self.mini_batch:
            return self._mini_batch(X, y, learn_mask)
        return super().predict_learn_many(X, y, learn_mask)

    def _mini_batch(
        self,
        X: npt.ArrayLike,
        y: Sequence[Label] | npt.ArrayLike,
        learn_mask: npt.ArrayLike | None,
    ) -> npt.NDArray[np.float64]:
        matrix = self._space.encode_many(X)
        n = matrix.shape[0]
        mask = check_mask(learn_mask, n)
        labels = self._labels_of(y, n, mask)
        if self._space.width is None:
            self._adopt(FeatureSpace(width=matrix.shape[1]))
        before = self._probas_matrix(matrix)
        learned = [i for i in range(n) if mask is None or mask[i]]
        targets = []
        for i in learned:
            label = labels[i]
            assert label is not None
            targets.append(self._index_of(label))
        k = len(self._classes)
        if targets:
            gradients = np.full((len(targets), k), _LOW)
            gradients[:, : before.shape[1]] = np.clip(before[learned], _LOW, _HIGH)
            gradients[np.arange(len(targets)), targets] -= 1.0
            steps = gradients.T @ matrix[learned]
            if self._l2:
                steps += (len(targets) * self._l2) * np.array(self._weights)
            for wc, optimizer, step in zip(self._weights, self._optimizers, steps, strict=True):
                optimizer._step(wc, step.tolist())
        out = np.zeros((n, k))
        out[:, : before.shape[1]] = before
        return out

    # --- state ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            **self._space.state(),
            **self.classes_state(),
            "weights": self._matrix(self._weights),
        }
        parts = [optimizer.state_dict() for optimizer in self._optimizers]
        for key in self.optimizer.state_dict():
            if key == "n_iterations":
                state[_OPTIMIZER + key] = [part[key] for part in parts]
            else:
                state[_OPTIMIZER + key] = self._matrix([part[key].tolist() for part in parts])
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        template = self.optimizer.state_dict()
        expected = {"feature_names", "n_features", "classes", "weights"}
        expected |= {_OPTIMIZER + key for key in template}
        if set(state) != expected:
            raise InvalidInputError(f"expected state keys {sorted(expected)}, got {sorted(state)}")
        space = FeatureSpace.from_state(state)
        trial = self.clone()
        trial._load_classes(state)
        shape = (len(trial._classes), space.width or 0)
        weights = np.asarray(state["weights"])
        if weights.dtype.kind not in "iuf" or weights.shape != shape:
            raise InvalidInputError(f"weights must be a float array of shape {shape}")
        if not np.isfinite(weights).all():
            raise InvalidInputError("weights must be finite")
        counts = state[_OPTIMIZER + "n_iterations"]
        if not isinstance(counts, list | tuple) or len(counts) != shape[0]:
            raise InvalidInputError(f"optimizer.n_iterations must be a list of {shape[0]} ints")
        arrays = {key: np.asarray(state[_OPTIMIZER + key]) for key in template}
        for key, array in arrays.items():
            if key != "n_iterations" and array.shape != shape:
                raise InvalidInputError(f"optimizer.{key} must be an array of shape {shape}")
        optimizers = []
        for c in range(shape[0]):
            optimizer = self.optimizer.clone()
            optimizer.load_state_dict(
                {k: counts[c] if k == "n_iterations" else a[c] for k, a in arrays.items()}
            )
            optimizers.append(optimizer)
        self._space, self._classes, self._class_index = space, trial._classes, trial._class_index
        self._weights = weights.astype(np.float64).tolist()
        self._optimizers = optimizers
        self._allocate()

    # --- merging -------------------------------------------------------------------------

    def merge(self, others: Sequence[Self], weights: Sequence[float] | None = None) -> Self:
        """A new model whose class weight vectors are weighted averages of this model's and
        `others'` (e.g. models learned on different partitions of a stream).

        `weights` (one per model, this one first; default equal) are normalised to sum to 1.
        Classes are matched by label: the merged classes are this model's, then the others' new
        ones in order of appearance, and each class averages the models that know it (their
        weights renormalised among them). All models must be of this type and fitted on the
        same features, else `InvalidInputError`. Hyperparameters are this model's; each class's
        optimizer state is taken from this model, or from the first model that knows the class.
        """
        models = [self, *others]
        shares = check_merge_weights(len(models), weights)
        space = self._space.copy()
        for other in others:
            if type(other) is not type(self):
                raise InvalidInputError(f"cannot merge a {type(other).__name__} into {self!r}")
            if not space.compatible(other._space):
                raise InvalidInputError("cannot merge models fitted on different features")
            space.fit(other._space)
        merged = self.clone()
        merged._space = space
        width = space.width or 0
        for model in models:
            for c, label in enumerate(model._classes):
                if label in merged._class_index:
                    continue
                merged._class_index[label] = len(merged._classes)
                merged._classes.append(label)
                optimizer = self.optimizer.clone()
                optimizer.load_state_dict(model._optimizers[c].state_dict())
                merged._optimizers.append(optimizer)
                holders = [
                    (share, m._weights[m._class_index[label]])
                    for share, m in zip(shares, models, strict=True)
                    if label in m._class_index
                ]
                total = sum(share for share, _ in holders)
                row = np.zeros(width)
                for share, wc in holders:
                    row += (share / total if total else 1.0 / len(holders)) * np.array(wc)
                merged._weights.append(row.tolist())
        merged._allocate()
        return merged

"""Online passive-aggressive regression (Crammer et al., 2006), as River runs it."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, Self, TypeVar

import numpy as np
import numpy.typing as npt

from models._validation import FeatureSpace
from models.base.regressor import Regressor
from models.exceptions import InvalidInputError

__all__ = ["PARegressor"]

_STATE_KEYS = frozenset({"feature_names", "n_features", "weights", "intercept"})


class _Linear(Protocol):
    """What the passive-aggressive models share: a feature space, weights and an intercept."""

    _space: FeatureSpace
    _weights: list[float]
    _intercept: float


_L = TypeVar("_L", bound=_Linear)


def _check_pa_hyperparameters(
    C: object, mode: object, learn_intercept: object
) -> tuple[float, int]:
    """Validate the hyperparameters both passive-aggressive models share; return `(C, mode)`."""
    if isinstance(C, bool) or not isinstance(C, numbers.Real) or not 0.0 < float(C) < math.inf:
        raise ValueError(f"C must be a finite number > 0, got {C!r}")
    if isinstance(mode, bool) or not isinstance(mode, int) or mode not in (0, 1, 2):
        raise ValueError(f"mode must be 0, 1 or 2, got {mode!r}")
    if not isinstance(learn_intercept, bool):
        raise ValueError(f"learn_intercept must be a bool, got {learn_intercept!r}")
    return float(C), mode


def _linear_many(model: _Linear, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """`X @ weights + intercept`, summed column by column in the kernels' order, so each value
    is bit-identical to the one-by-one loop's."""
    matrix = model._space.encode_many(X)
    out = np.zeros(matrix.shape[0])
    for j, wj in enumerate(model._weights):
        out += matrix[:, j] * wj
    out += model._intercept
    return out


def _linear_state(model: _Linear) -> dict[str, Any]:
    return {
        **model._space.state(),
        "weights": np.array(model._weights, dtype=np.float64),
        "intercept": model._intercept,
    }


def _load_linear_state(model: _Linear, state: Mapping[str, Any]) -> None:
    """Validate a `_linear_state` and only then replace the model's state with it."""
    if set(state) != _STATE_KEYS:
        raise InvalidInputError(f"expected state keys {sorted(_STATE_KEYS)}, got {sorted(state)}")
    space = FeatureSpace.from_state(state)
    weights = np.asarray(state["weights"])
    width = space.width or 0
    if weights.dtype.kind not in "iuf" or weights.shape != (width,):
        raise InvalidInputError(
            f"weights must be a float array of shape ({width},), "
            f"got {weights.dtype} of shape {weights.shape}"
        )
    if not np.isfinite(weights).all():
        raise InvalidInputError("weights must be finite")
    intercept = state["intercept"]
    if (
        isinstance(intercept, bool)
        or not isinstance(intercept, numbers.Real)
        or not math.isfinite(intercept)
    ):
        raise InvalidInputError(f"intercept must be a finite number, got {intercept!r}")
    model._space = space
    model._weights = weights.astype(np.float64).tolist()
    model._intercept = float(intercept)


def _merge_linear(model: _L, others: Sequence[_L], weights: object, merged: _L) -> _L:
    """Give `merged` (a fresh clone of `model`) the weighted average of the parameters of
    `[model, *others]`, and return it; nothing else changes.

    Everything is validated first. Models not fitted yet count as all-zero parameters (which is
    what they predict with); the fitted ones must share a feature space.
    """
    group = [model, *others]
    bad = [type(m).__name__ for m in others if type(m) is not type(model)]
    if bad:
        raise InvalidInputError(f"can only merge {type(model).__name__} models, got {bad}")
    if weights is None:
        shares = np.ones(len(group))
    else:
        if isinstance(weights, str | bytes) or not isinstance(weights, Iterable):
            raise InvalidInputError(f"weights must be a sequence of numbers, got {weights!r}")
        values = list(weights)
        if len(values) != len(group) or not all(
            isinstance(w, numbers.Real) and not isinstance(w, bool) for w in values
        ):
            raise InvalidInputError(
                f"weights must be {len(group)} numbers (this model first, then each of "
                f"`others`), got {values!r}"
            )
        shares = np.array(values, dtype=np.float64)
        if not (np.isfinite(shares).all() and (shares >= 0.0).all() and shares.sum() > 0.0):
            raise InvalidInputError(f"weights must be finite, >= 0 and not all 0, got {values}")
    space = FeatureSpace()
    for m in group:
        if not space.compatible(m._space):
            raise InvalidInputError(
                "cannot merge models fitted on different features: "
                f"{space.state()} and {m._space.state()}"
            )
        space.fit(m._space)
    if space.width is None:
        return merged  # nothing learned anywhere: every model is all zeros
    params = np.zeros((len(group), space.width + 1))
    for row, m in zip(params, group, strict=True):
        if m._weights:
            row[:-1] = m._weights
        row[-1] = m._intercept
    average = np.average(params, axis=0, weights=shares)
    merged._space = space
    merged._weights = average[:-1].tolist()
    merged._intercept = float(average[-1])
    return merged


def _squared_norm(row: Sequence[float]) -> float:
    """River's `utils.math.norm(x, order=2) ** 2`: the square of the rounded norm."""
    sq = 0.0
    for xj in row:
        sq += xj * xj
    return math.sqrt(sq) ** 2


def _step_size(mode: int, C: float, loss: float, sq_norm: float) -> float:
    """River's `BasePA._calc_tau_{mode}`: the step a positive loss calls for."""
    if mode == 2:
        return loss / (sq_norm + 0.5 / C)
    if sq_norm > 0.0:
        return loss / sq_norm if mode == 0 else min(C, loss / sq_norm)
    return 0.0


def _pa_regression(
    model: PARegressor,
    rows: Iterable[Sequence[float]],
    targets: Iterable[float],
    mask: Iterable[bool],
    preds: list[float] | None,
) -> None:
    weights = model._weights
    intercept = model._intercept
    C, mode, eps, learn_intercept = model._hyper
    for row, y, learn in zip(rows, targets, mask, strict=False):
        p = 0.0
        for wj, xj in zip(weights, row, strict=False):
            p += xj * wj
        p += intercept
        if preds is not None:
            preds.append(p)
        if not learn:
            continue
        # River's `EpsilonInsensitiveHinge` maps the target to `2 * y - 1` (a binary-label
        # convention) before measuring the error; the step's sign still uses `y - p`.
        loss = abs(p - (y * 2.0 - 1.0)) - eps
        diff = y - p
        if not loss > 0.0 or diff == 0.0:
            continue  # a zero step: River adds 0.0 to every weight, which changes nothing
        step = _step_size(mode, C, loss, _squared_norm(row))
        if diff < 0.0:
            step = -step
        for j, xj in enumerate(row):
            weights[j] += step * xj
        if learn_intercept:
            intercept += step
    model._intercept = intercept


class PARegressor(Regressor):
    """Passive-aggressive regression: a linear model corrected just enough on each sample.

    Reproduces River 0.26's `linear_model.PARegressor` one row at a time. A row whose loss is 0
    leaves the model alone (passive); otherwise the weights (and the intercept) move along the
    row by `tau * sign(y - y_pred)` (aggressive), where `tau` is `loss / |x|^2` (mode 0),
    `min(C, loss / |x|^2)` (mode 1) or `loss / (|x|^2 + 1 / (2 C))` (mode 2), and `|x|` does
    not count the intercept. Like River, the loss is the epsilon-insensitive hinge
    `max(|y_pred - (2 y - 1)| - eps, 0)`: River's loss maps the target as if it were a 0/1
    label, and this model keeps that behaviour to stay a drop-in replacement. Before any
    learning every prediction is 0.0.

    Parameters
    ----------
    C
        Aggressiveness: the largest step (mode 1) or the inverse slack penalty (mode 2).
    mode
        0 (PA), 1 (PA-I) or 2 (PA-II).
    eps
        Width of the insensitive zone of the loss.
    learn_intercept
        Whether the intercept takes steps too (otherwise it stays 0).

    Examples
    --------
    >>> import random
    >>> from models.pa_regressor import PARegressor
    >>> rng = random.Random(3)
    >>> model = PARegressor(C=0.01, mode=1, eps=0.0)
    >>> model.predict_one({"a": 1.0, "b": 2.0})
    0.0
    >>> for _ in range(500):
    ...     x = {"a": rng.uniform(-1, 1), "b": rng.uniform(-1, 1)}
    ...     model.learn_one(x, 2 * x["a"] - x["b"] + 0.5)
    >>> state = model.state_dict()
    >>> state["weights"].round(2).tolist(), round(state["intercept"], 2)
    ([2.01, -0.99], 0.5)
    >>> round(model.predict_one({"a": 1.0, "b": 2.0}), 2)
    0.54
    """

    _hyper: tuple[float, int, float, bool]

    def __init__(
        self, C: float = 1.0, mode: int = 1, eps: float = 0.1, learn_intercept: bool = True
    ) -> None:
        C_, mode_ = _check_pa_hyperparameters(C, mode, learn_intercept)
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0.0 <= eps < math.inf:
            raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
        self.C: float = C
        self.mode: int = mode
        self.eps: float = eps
        self.learn_intercept: bool = learn_intercept
        self._hyper = (C_, mode_, float(eps), learn_intercept)
        self._reset()

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {}
        yield {"mode": 0, "eps": 0.0}
        yield {"C": 0.05, "mode": 2, "eps": 0.5, "learn_intercept": False}

    def _reset(self) -> None:
        self._space = FeatureSpace()
        self._weights: list[float] = []
        self._intercept = 0.0

    def clone(self) -> Self:
        return type(self)(
            C=self.C, mode=self.mode, eps=self.eps, learn_intercept=self.learn_intercept
        )

    def predict_many(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return _linear_many(self, X)

    def merge(self, others: Sequence[Self], weights: Sequence[float] | None = None) -> Self:
        """A new model whose weights and intercept are the weighted average of this model's and
        `others`' (e.g. models learned on different partitions of a stream).

        `weights` holds one weight per model, this one first (default: equal). Models not
        fitted yet count as all zeros; the others must all be of this type and fitted on the
        same features, else `InvalidInputError`. The hyperparameters are this model's; no model
        is changed.
        """
        return _merge_linear(self, others, weights, self.clone())

    def state_dict(self) -> dict[str, Any]:
        return _linear_state(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        _load_linear_state(self, state)

    def _allocate(self) -> None:
        width = self._space.width
        if width is not None and len(self._weights) != width:
            self._weights = [0.0] * width

    def _run(
        self,
        rows: list[list[float]],
        targets: Iterable[float],
        mask: Iterable[bool],
        preds: list[float] | None,
    ) -> None:
        _pa_regression(self, rows, targets, mask, preds)

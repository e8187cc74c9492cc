"""Chains transformers and a final classifier into one classifier."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from models._kernels import scaled_logistic
from models._validation import FeatureSpace, check_labels, check_mask
from models.base.classifier import Classifier
from models.base.transformer import Transformer
from models.exceptions import InvalidInputError
from models.logistic_regression import LogisticRegression
from models.preprocessing.standard_scaler import StandardScaler

__all__ = ["Pipeline"]


def _merged_space(steps: Iterable[Transformer | Classifier]) -> FeatureSpace | None:
    space = FeatureSpace()
    for step in steps:
        if not space.compatible(step._space):
            return None
        space.fit(step._space)
    return space


class Pipeline(Classifier):
    """Transformers followed by a classifier, used as one classifier.

    Follows River's `compose.Pipeline`: predicting transforms the row with the transformers'
    current statistics without updating them; learning updates each transformer with the row,
    transforms the row with the updated statistics and passes it on, and the classifier learns
    the result. `StandardScaler() | LogisticRegression()` runs in one fused loop.
    The steps are shared, not copied (learn through the pipeline, not through a step), and every
    transformer keeps the feature names of its input.

    When the classifier is a `LogisticRegression(mini_batch=True)`, `learn_many` and
    `predict_learn_many` run in mini-batch mode: every row of a call is predicted with the state
    before the call; then each transformer learns the call's learned rows at once (a
    `StandardScaler(mini_batch=True)` with one vectorised update) and transforms them with its
    updated statistics, and the model takes one step on the result. `StandardScaler(mini_batch=
    True) | LogisticRegression(mini_batch=True)` is thus fully vectorised.

    Parameters
    ----------
    steps
        Zero or more transformers, then a classifier. Nested pipelines are flattened, so
        `a | (b | model)` works; `a | b` alone is not a pipeline (it has no classifier).

    Examples
    --------
    >>> import random
    >>> from models import LogisticRegression, metrics
    >>> from models.optim import SGD
    >>> from models.preprocessing import StandardScaler
    >>> rng = random.Random(7)
    >>> model = StandardScaler() | LogisticRegression(optimizer=SGD(0.1))
    >>> accuracy = metrics.Accuracy()
    >>> for _ in range(2000):
    ...     x = {"age": rng.uniform(20, 80), "income": rng.gauss(50_000, 15_000)}
    ...     y = int(x["income"] / 1000 - x["age"] > 0)
    ...     accuracy.update(y, model.predict_one(x))
    ...     model.learn_one(x, y)
    >>> round(accuracy.get(), 3)
    0.979
    >>> model.predict_proba_one({"age": 30.0, "income": 80_000.0})[1] > 0.9
    True
    """

    def __init__(self, *steps: Transformer | Classifier) -> None:
        flat: list[Transformer | Classifier] = []
        for step in steps:
            flat.extend(step.steps if isinstance(step, Pipeline) else (step,))
        if not flat:
            raise ValueError("a pipeline needs at least a classifier")
        *transformers, final = flat
        if not isinstance(final, Classifier):
            raise ValueError(
                f"the last step must be a classifier, got {type(final).__name__}; "
                "chain several transformers as Pipeline(a, b, model) or a | (b | model)"
            )
        chain: list[Transformer] = []
        for step in transformers:
            if not isinstance(step, Transformer):
                raise ValueError(f"steps before the last must be transformers, got {step!r}")
            chain.append(step)
        space = _merged_space(flat)
        if space is None:
            raise ValueError("the steps were fitted on different features")
        self.steps: tuple[Transformer | Classifier, ...] = tuple(flat)
        self._transformers = tuple(chain)
        self._final = final
        self._fused: tuple[StandardScaler, LogisticRegression] | None = None
        if (
            len(chain) == 1
            and type(chain[0]) is StandardScaler
            and type(final) is LogisticRegression
        ):
            self._fused = (chain[0], final)
        self._batched = isinstance(final, LogisticRegression) and final.mini_batch
        self._space = space
        self._allocate()

    def clone(self) -> Self:
        return type(self)(*(step.clone() for step in self.steps))

    def predict_proba_many(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        matrix = self._space.encode_many(X)
        for step in self._transformers:
            matrix = step._transform_matrix(matrix)
        return self._final.predict_proba_many(matrix)

    def learn_many(self, X: npt.ArrayLike, y: npt.ArrayLike) -> None:
        if self._batched:
            self._mini_batch(X, y, None, predict=False)
        else:
            super().learn_many(X, y)

    def predict_learn_many(
        self, X: npt.ArrayLike, y: npt.ArrayLike, learn_mask: npt.ArrayLike | None = None
    ) -> npt.NDArray[np.float64]:
        if self._batched:
            return self._mini_batch(X, y, learn_mask, predict=True)
        return super().predict_learn_many(X, y, learn_mask)

    def state_dict(self) -> dict[str, Any]:
        """The steps' states, keys prefixed with the step's index (`"0.means"`, ...)."""
        return {
            f"{i}.{key}": value
            for i, step in enumerate(self.steps)
            for key, value in step.state_dict().items()
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        parts: list[dict[str, Any]] = [{} for _ in self.steps]
        for key, value in state.items():
            index, _, name = key.partition(".")
            if not (index.isdigit() and int(index) < len(parts) and name):
                raise InvalidInputError(f"unexpected state key {key!r}")
            parts[int(index)][name] = value
        # Load into clones first so that a bad state leaves every step untouched.
        trial = [step.clone() for step in self.steps]
        for step, part in zip(trial, parts, strict=True):
            step.load_state_dict(part)
        if _merged_space(trial) is None:
            raise InvalidInputError("the step states were fitted on different features")
        for step, part in zip(self.steps, parts, strict=True):
            step.load_state_dict(part)
        space = _merged_space(self.steps)
        assert space is not None
        self._space = space
        self._allocate()

    def _allocate(self) -> None:
        for step in self.steps:
            step._space.fit(self._space)
            step._allocate()

    def _mini_batch(
        self, X: npt.ArrayLike, y: npt.ArrayLike, learn_mask: npt.ArrayLike | None, predict: bool
    ) -> npt.NDArray[np.float64]:
        """The batch methods when the model is in mini-batch mode: predict every row with the
        state before the call, then each transformer learns the learned rows at once and
        transforms them for the next step, and the model takes its one step."""
        matrix = self._space.encode_many(X)
        n = matrix.shape[0]
        mask = check_mask(learn_mask, n)
        check_labels(y, n, mask)
        labels = (np.asarray(y) == 1).astype(np.float64)  # validated: cheaper than its list
        if self._space.width is None:
            self._adopt(FeatureSpace(width=matrix.shape[1]))
        model = self._final
        assert isinstance(model, LogisticRegression)
        probas = np.empty(0)
        if predict:
            z = matrix
            for step in self._transformers:
                z = step._transform_matrix(z)
            probas = model._fast_outputs(z)
        if mask is not None:
            keep = np.array(mask, dtype=bool)
            matrix, labels = matrix[keep], labels[keep]
        for step in self._transformers:
            if isinstance(step, StandardScaler):
                step._learn_matrix(matrix)
            else:
                step._learn_rows(matrix.tolist())
            matrix = step._transform_matrix(matrix)
        model._learn_matrix(matrix, labels)
        return probas

    def _run(
        self,
        rows: list[list[float]],
        labels: Iterable[bool],
        mask: Iterable[bool],
        probas: list[float] | None,
    ) -> None:
        if self._fused is not None:
            scaler, model = self._fused
            count = scaler._count
            scaler._count, model._intercept = scaled_logistic(
                (count, scaler._means, scaler._variances, scaler._stds, scaler.with_std),
                model._weights,
                model._intercept,
                rows,
                labels,
                mask,
                model._sgd_hyper,
                model._learn_row,
                probas,
            )
            if model._sgd_hyper is not None:
                model._optimizer._n_iterations += scaler._count - count
            return
        transformers, final = self._transformers, self._final
        for row, y, learn in zip(rows, labels, mask, strict=False):
            if probas is not None:
                z = row
                for step in transformers:
                    z = step._transform_row(z)
                final._run([z], [False], [False], probas)
            if learn:
                z = row
                for step in transformers:
                    step._learn_rows([z])
                    z = step._transform_row(z)
                final._run([z], [y], [True], None)

"""Chains transformers and a final classifier into one classifier."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from models._kernels import scaled_logistic_sgd
from models._validation import FeatureSpace
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
    the result. `StandardScaler() | LogisticRegression()` runs in one fused loop. The steps are
    shared, not copied (learn through the pipeline, not through a step), and every transformer
    keeps the feature names of its input.

    Parameters
    ----------
    steps
        Zero or more transformers, then a classifier. Nested pipelines are flattened, so
        `a | (b | model)` works; `a | b` alone is not a pipeline (it has no classifier).

    Examples
    --------
    >>> import random
    >>> from models import LogisticRegression, metrics
    >>> from models.preprocessing import StandardScaler
    >>> rng = random.Random(7)
    >>> model = StandardScaler() | LogisticRegression(lr=0.1)
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
        self._space = space
        self._allocate()

    def clone(self) -> Self:
        return type(self)(*(step.clone() for step in self.steps))

    def predict_proba_many(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        matrix = self._space.encode_many(X)
        for step in self._transformers:
            matrix = step._transform_matrix(matrix)
        return self._final.predict_proba_many(matrix)

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

    def _run(
        self,
        rows: list[list[float]],
        labels: Iterable[bool],
        mask: Iterable[bool],
        probas: list[float] | None,
    ) -> None:
        if self._fused is not None:
            scaler, model = self._fused
            scaler._count, model._intercept = scaled_logistic_sgd(
                (scaler._count, scaler._means, scaler._variances, scaler._stds, scaler.with_std),
                model._weights,
                model._intercept,
                rows,
                labels,
                mask,
                model._hyper,
                probas,
            )
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

"""Online hyperparameter search by successive halving (Karnin et al., 2013; Jamieson and
Talwalkar, 2016), as River's `model_selection.SuccessiveHalvingClassifier` runs it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, Self

import numpy as np

from models._validation import FeatureSpace
from models.base import Classifier
from models.exceptions import InvalidInputError

__all__ = ["SuccessiveHalving"]


class _Metric(Protocol):
    def update(self, y_true: object, y_pred: object) -> None: ...

    def get(self) -> float: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


class SuccessiveHalving(Classifier):
    """Runs several binary classifiers on the same stream and keeps the best.

    Every surviving model predicts each sample (scored prequentially by its own copy of
    `metric`) and then learns it. At each rung the survivors are ranked by their metric and only
    `ceil(k / eta)` of the `k` go on; rungs are placed so that the whole search costs about
    `budget` model updates. Predictions come from the model whose metric is best so far.
    Batches give exactly the one-by-one results: each model runs its own exact batch path, and
    batches are cut at the rungs.

    >>> import numpy as np
    >>> from models import LogisticRegression
    >>> from models.metrics import Accuracy
    >>> from models.optim import SGD
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(3000, 2))
    >>> y = (X[:, 0] - 2 * X[:, 1] > 0).astype(int)
    >>> search = SuccessiveHalving(
    ...     [LogisticRegression(optimizer=SGD(lr)) for lr in (1e-4, 1e-3, 1e-2, 1e-1)],
    ...     Accuracy(), budget=2000)
    >>> _ = search.predict_learn_many(X, y)
    >>> search.best_model.optimizer.lr, search.survivors
    (0.1, 1)
    """

    def __init__(
        self, models: Sequence[Classifier], metric: _Metric, budget: int, eta: int = 2
    ) -> None:
        if len(models) < 2:
            raise ValueError("successive halving needs at least two models")
        if not all(isinstance(m, Classifier) for m in models):
            raise ValueError("every model must be a binary Classifier")
        if eta < 2:
            raise ValueError("eta must be >= 2")
        if budget < len(models):
            raise ValueError("budget must be at least the number of models")
        self.models = list(models)
        self.metric = metric
        self.budget = budget
        self.eta = eta
        self._reset()

    def _reset(self) -> None:
        self._space = FeatureSpace()
        self._models = [m.clone() for m in self.models]
        self._metrics = [_fresh(self.metric) for _ in self.models]
        self._rankings = list(range(len(self.models)))
        self._s = len(self.models)
        self._r = self._rung_length()
        self._n_iterations = 0
        self._best = 0

    def _rung_length(self) -> int:
        n = len(self.models)
        return math.floor(self.budget / (self._s * math.ceil(math.log(n, self.eta))))

    @property
    def best_model(self) -> Classifier:
        """The model whose metric is the best so far."""
        return self._models[self._best]

    @property
    def survivors(self) -> int:
        """How many models are still competing."""
        return self._s

    def _allocate(self) -> None:
        return None

    def clone(self) -> Self:
        return type(self)(
            [m.clone() for m in self.models], _fresh(self.metric), self.budget, self.eta
        )

    def predict_proba_many(self, X: Any) -> np.ndarray:
        return self.best_model.predict_proba_many(self._space.encode_many(X))

    def _run(
        self,
        rows: list[list[float]],
        labels: Iterable[bool],
        mask: Iterable[bool],
        probas: list[float] | None,
    ) -> None:
        if not rows:
            return
        X = np.asarray(rows, dtype=np.float64)
        y = np.fromiter(labels, dtype=np.int64, count=len(rows))
        learn = np.fromiter(mask, dtype=bool, count=len(rows))
        start = 0
        while start < len(rows):
            # the chunk ends where the next rung is reached (counting learned rows)
            end = len(rows)
            if self._s > 1:
                remaining = self._r - self._n_iterations
                learned = np.cumsum(learn[start:])
                hit = np.flatnonzero(learned >= remaining)
                if hit.size:
                    end = start + int(hit[0]) + 1
            self._chunk(X[start:end], y[start:end], learn[start:end], probas)
            start = end

    def _chunk(
        self, X: np.ndarray, y: np.ndarray, learn: np.ndarray, probas: list[float] | None
    ) -> None:
        alive = self._rankings[: self._s]
        if learn.any():
            outs = {i: self._models[i].predict_learn_many(X, y, learn) for i in alive}
        else:  # predicting only: the models must not even fix their width
            outs = {i: self._models[i].predict_proba_many(X)[:, 1] for i in alive}
        bigger = getattr(self.metric, "bigger_is_better", True)
        for r in range(len(X)):
            if probas is not None:
                probas.append(float(outs[self._best][r]))
            if not learn[r]:
                continue
            label = int(y[r])
            for i in alive:
                self._metrics[i].update(label, int(outs[i][r] > 0.5))
                if _better(self._metrics[i], self._metrics[self._best], bigger):
                    self._best = i
            self._n_iterations += 1
            if self._s > 1 and self._n_iterations == self._r:
                self._end_rung(bigger)

    def _end_rung(self, bigger: bool) -> None:
        alive = sorted(
            self._rankings[: self._s], key=lambda i: self._metrics[i].get(), reverse=bigger
        )
        self._rankings[: self._s] = alive
        self._s = math.ceil(self._s / self.eta)
        self._r = self._rung_length()

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "rankings": list(self._rankings),
            "counters": [self._s, self._r, self._n_iterations, self._best],
            **self._space.state(),
        }
        for i, (model, metric) in enumerate(zip(self._models, self._metrics, strict=True)):
            state.update({f"model{i}.{k}": v for k, v in model.state_dict().items()})
            state.update({f"metric{i}.{k}": v for k, v in metric.state_dict().items()})
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        n = len(self.models)
        try:
            rankings = [int(i) for i in state["rankings"]]
            s, r, n_iter, best = (int(v) for v in state["counters"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"malformed successive-halving state: {exc}") from None
        if sorted(rankings) != list(range(n)) or not (1 <= s <= n and 0 <= best < n):
            raise InvalidInputError("successive-halving state does not fit these models")
        space = FeatureSpace.from_state(state)
        own = {"rankings", "counters", "feature_names", "n_features"}
        prefixes = tuple(f"{kind}{i}." for i in range(n) for kind in ("model", "metric"))
        unknown = [k for k in state if k not in own and not k.startswith(prefixes)]
        if unknown:
            raise InvalidInputError(f"unexpected state keys {unknown}")
        models = [m.clone() for m in self.models]
        metrics = [_fresh(self.metric) for _ in self.models]
        for i in range(n):
            models[i].load_state_dict(_part(state, f"model{i}."))
            metrics[i].load_state_dict(_part(state, f"metric{i}."))
        self._models, self._metrics, self._rankings = models, metrics, rankings
        self._s, self._r, self._n_iterations, self._best = s, r, n_iter, best
        self._space = space

    @classmethod
    def _unit_test_params(cls) -> Iterable[dict[str, Any]]:
        from models.logistic_regression import LogisticRegression
        from models.metrics import Accuracy

        yield {
            "models": [LogisticRegression(), LogisticRegression(l2=0.1)],
            "metric": Accuracy(),
            "budget": 200,
        }


def _fresh(metric: _Metric) -> Any:
    clone = getattr(metric, "clone", None)
    return clone() if callable(clone) else type(metric)()


def _better(a: _Metric, b: _Metric, bigger: bool) -> bool:
    return a.get() > b.get() if bigger else a.get() < b.get()


def _part(state: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}

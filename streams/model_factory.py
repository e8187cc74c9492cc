"""Building a stream's model from its configuration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from models import LogisticRegression, Pipeline
from models.base import Classifier, MultiClassifier
from models.optim import SGD, AdaGrad, Adam, FTRLProximal
from models.preprocessing import StandardScaler

__all__ = ["MODEL_TYPES", "OPTIMIZERS", "build_model", "positive_proba"]

OPTIMIZERS: dict[str, Callable[[float], Any]] = {
    "sgd": SGD,
    "adam": Adam,
    "adagrad": AdaGrad,
    "ftrl": lambda lr: FTRLProximal(alpha=lr),
}


def _logistic(opt: Any, l1: float, l2: float, params: dict[str, Any]) -> Any:
    return LogisticRegression(optimizer=opt, l1=l1, l2=l2, **params)


def _pa(opt: Any, l1: float, l2: float, params: dict[str, Any]) -> Any:
    from models.pa_classifier import PAClassifier

    return PAClassifier(**params)


def _softmax(opt: Any, l1: float, l2: float, params: dict[str, Any]) -> Any:
    from models.softmax_regression import SoftmaxRegression

    return SoftmaxRegression(optimizer=opt, l2=l2, **params)


def _tree(opt: Any, l1: float, l2: float, params: dict[str, Any]) -> Any:
    from models.tree import HoeffdingTreeClassifier

    return HoeffdingTreeClassifier(**params)


def _nb(opt: Any, l1: float, l2: float, params: dict[str, Any]) -> Any:
    from models.naive_bayes import GaussianNB

    return GaussianNB(**params)


# type -> (builder, takes the scaler in front)
MODEL_TYPES: dict[str, tuple[Callable[..., Any], bool]] = {
    "logistic_regression": (_logistic, True),
    "pa_classifier": (_pa, True),
    "softmax_regression": (_softmax, False),
    "hoeffding_tree": (_tree, False),
    "gaussian_nb": (_nb, False),
}


def build_model(
    type: str,
    optimizer: str = "sgd",
    lr: float = 0.05,
    l1: float = 0.0,
    l2: float = 0.0,
    scale: bool = True,
    params: dict[str, Any] | None = None,
) -> Classifier | MultiClassifier | Pipeline:
    """The configured model; raises KeyError for an unknown type or optimizer and
    TypeError/ValueError for bad hyperparameters (the config turns them into ConfigError).

    >>> model = build_model("logistic_regression", optimizer="adam", lr=0.1)
    >>> [type(step).__name__ for step in model.steps], type(model.steps[1].optimizer).__name__
    (['StandardScaler', 'LogisticRegression'], 'Adam')
    """
    make, scalable = MODEL_TYPES[type]
    model: Classifier | MultiClassifier = make(
        OPTIMIZERS[optimizer](lr), l1, l2, dict(params or {})
    )
    if scale and scalable:
        return StandardScaler() | model  # type: ignore[operator]  # scalable ones are binary
    return model


def positive_proba(model: Any, out: np.ndarray) -> np.ndarray:
    """P(y=1) from a model's predict_learn_many output: (n,) for binary classifiers, (n, K)
    columns in `classes_` order for multiclass ones (0 while class 1 has not been seen)."""
    if out.ndim == 1:
        return out
    classes = list(model.classes_)
    if 1 in classes:
        return np.ascontiguousarray(out[:, classes.index(1)])
    return np.zeros(out.shape[0])

"""Incremental (online) models in pure numpy.

The estimators learn one row at a time with River-compatible dict methods (`learn_one`,
`predict_one`) and, on numpy arrays, with batch methods that give the same results in order
(`learn_many`, `predict_many`, and the test-then-train hot path `predict_learn_many`).
"""

from __future__ import annotations

from models import base, metrics, preprocessing
from models.exceptions import InvalidInputError, ModelError
from models.logistic_regression import LogisticRegression
from models.pipeline import Pipeline

__all__ = [
    "InvalidInputError",
    "LogisticRegression",
    "ModelError",
    "Pipeline",
    "base",
    "metrics",
    "preprocessing",
]

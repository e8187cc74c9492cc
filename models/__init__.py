"""Incremental (online) models in pure numpy.

The estimators learn one row at a time with River-compatible dict methods (`learn_one`,
`predict_one`) and, on numpy arrays, with batch methods that give the same results in order
(`learn_many`, `predict_many`, and the test-then-train hot path `predict_learn_many`).
"""

from __future__ import annotations

from models import base, evaluate, metrics, optim, preprocessing, selection
from models.exceptions import InvalidInputError, ModelError
from models.linear_regression import LinearRegression
from models.logistic_regression import LogisticRegression
from models.naive_bayes import GaussianNB
from models.pa_classifier import PAClassifier
from models.pa_regressor import PARegressor
from models.pipeline import Pipeline
from models.preprocessing.encoded_classifier import EncodedClassifier
from models.softmax_regression import SoftmaxRegression
from models.tree import HoeffdingTreeClassifier

__all__ = [
    "EncodedClassifier",
    "GaussianNB",
    "HoeffdingTreeClassifier",
    "InvalidInputError",
    "LinearRegression",
    "LogisticRegression",
    "ModelError",
    "PAClassifier",
    "PARegressor",
    "Pipeline",
    "SoftmaxRegression",
    "base",
    "evaluate",
    "metrics",
    "optim",
    "preprocessing",
    "selection",
]

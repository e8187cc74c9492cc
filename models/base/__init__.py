"""Base classes: the protocols every estimator of `models` follows."""

from __future__ import annotations

from models.base.classifier import Classifier
from models.base.estimator import Estimator
from models.base.multiclass import MultiClassifier
from models.base.regressor import Regressor
from models.base.transformer import Transformer

__all__ = ["Classifier", "Estimator", "MultiClassifier", "Regressor", "Transformer"]

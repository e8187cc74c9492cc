"""Helpers of the registry tests: the signing key, a seeded stream, trained models."""

from __future__ import annotations

from typing import Any

import numpy as np

from streams.config import ModelConfig, model_from_config

KEY = b"test-signing-key"


def stream(n: int = 400, seed: int = 0, classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * [1.0, 5.0, 0.1, 2.0]
    y = (X[:, 0] + X[:, 1] / 5 > 0).astype(np.int64)
    if classes == 3:
        y = y + (X[:, 3] > 1).astype(np.int64)
    return X, y


def trained(cfg: ModelConfig, n: int = 400, seed: int = 0) -> Any:
    X, y = stream(n, seed, classes=2)
    model = model_from_config(cfg)
    model.learn_many(X, y)
    return model

"""Every configured model type survives register -> load and goes on exactly as the original."""

from __future__ import annotations

import numpy as np
import pytest

from models.registry import Lineage, Registry
from streams.config import ModelConfig, model_from_config
from streams.model_factory import MODEL_TYPES, OPTIMIZERS
from streams.registry_redis import model_config
from tests.models.registry.fixtures import stream

CONFIGS = (
    [ModelConfig(type=t) for t in sorted(MODEL_TYPES)]
    + [
        ModelConfig(type="logistic_regression", optimizer=o, lr=0.1, l2=0.01)
        for o in sorted(OPTIMIZERS)
        if o != "sgd"
    ]
    + [
        ModelConfig(type="logistic_regression", scale=False),
        ModelConfig(type="hoeffding_tree", params={"grace_period": 50}),
    ]
)


def _predict(model: object, X: np.ndarray) -> np.ndarray:
    proba = getattr(model, "predict_proba_many", None)
    return np.asarray(proba(X) if proba is not None else model.predict_many(X))  # type: ignore[attr-defined]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.type}-{c.optimizer}-{c.scale}")
def test_every_model_type_round_trips_and_keeps_learning_identically(
    registry: Registry, cfg: ModelConfig
) -> None:
    X, y = stream(600, seed=3)
    original = model_from_config(cfg)
    original.learn_many(X[:300], y[:300])
    lineage = Lineage("p.features", (0,), {"p.features:0": (0, 299)}, 300)
    v = registry.register("m", original, config=model_config(cfg), lineage=lineage)

    loaded = registry.load("m", v.version)

    assert type(loaded) is type(original)
    np.testing.assert_array_equal(_predict(loaded, X[300:]), _predict(original, X[300:]))
    # test-then-train on the rest of the stream: both see the same rows, stay identical
    for start in range(300, 600, 50):
        rows = slice(start, start + 50)
        np.testing.assert_array_equal(_predict(loaded, X[rows]), _predict(original, X[rows]))
        loaded.learn_many(X[rows], y[rows])
        original.learn_many(X[rows], y[rows])
    np.testing.assert_array_equal(_predict(loaded, X), _predict(original, X))


def test_the_config_stored_with_the_version_rebuilds_the_model(registry: Registry) -> None:
    cfg = ModelConfig(type="softmax_regression", optimizer="adam", lr=0.2)
    X, y = stream(200, classes=3)
    model = model_from_config(cfg)
    model.learn_many(X, y)
    registry.register("multi", model, config=model_config(cfg))

    got = registry.get("multi")
    assert got.config["optimizer"] == "adam" and got.config["lr"] == 0.2
    loaded = registry.load("multi")
    assert type(loaded.optimizer).__name__ == "Adam"
    np.testing.assert_array_equal(loaded.predict_proba_many(X), model.predict_proba_many(X))


def test_an_unfitted_model_round_trips(registry: Registry) -> None:
    cfg = ModelConfig(type="gaussian_nb")
    registry.register("fresh", model_from_config(cfg), config=model_config(cfg))
    loaded = registry.load("fresh")
    assert loaded.n_features_in_ is None


def test_metadata_round_trips(registry: Registry) -> None:
    cfg = ModelConfig(type="pa_classifier")
    lineage = {
        "topic": "p.features",
        "partitions": [0, 1],
        "offsets": {"p.features:0": [0, 99], "p.features:1": [5, 204]},
        "samples": 300,
    }
    model = model_from_config(cfg)
    registry.register("pa", model, config=model_config(cfg), metrics={"accuracy": 0.5})
    v = registry.register(
        "pa",
        model,
        config=model_config(cfg),
        metrics={"accuracy": 0.75, "log_loss": 0.4},
        lineage=lineage,
        parent=1,
        status="shadow",
    )
    again = registry.get("pa", 2)
    assert again == v
    assert (v.name, v.version, v.parent, v.status) == ("pa", 2, 1, "shadow")
    assert v.metrics == {"accuracy": 0.75, "log_loss": 0.4}
    assert v.lineage.to_dict() == lineage
    assert v.lineage.offsets["p.features:1"] == (5, 204)
    assert v.created > registry.get("pa", 1).created
    assert v.artifact_bytes == len(registry.artifact("pa", 2)) and len(v.artifact_sha256) == 64

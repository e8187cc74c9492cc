"""`Registry.diff`: what changed between two versions."""

from __future__ import annotations

import numpy as np
import pytest

from models.registry import ModelVersion, Registry, UnknownVersionError, diff_versions
from streams.config import ModelConfig
from streams.registry_redis import model_config
from tests.models.registry.fixtures import trained


def test_diff_of_two_versions(two_versions: Registry) -> None:
    reg = two_versions
    reg.update_metrics("fraud", 1, {"accuracy": 0.8, "log_loss": 0.5})
    reg.update_metrics("fraud", 2, {"accuracy": 0.9})
    d = reg.diff("fraud", 1, 2)
    assert (d["a"], d["b"]) == ("fraud@1", "fraud@2")
    assert d["hyperparameters"] == {"lr": {"a": 0.05, "b": 0.01}}
    assert d["metrics"]["accuracy"]["delta"] == pytest.approx(0.1)
    assert d["metrics"]["log_loss"] == {"a": 0.5, "b": None, "delta": None}
    weights = d["parameters"]["1.weights"]
    s1, s2 = reg.state("fraud", 1), reg.state("fraud", 2)
    expected = float(np.abs(s1["1.weights"] - s2["1.weights"]).max())
    assert weights == {"shape_a": [4], "shape_b": [4], "max_abs_diff": expected, "changed": True}
    assert d["parameters"]["0.n_samples_seen"]["max_abs_diff"] == 200
    assert d["parameters"]["1.n_features"]["changed"] is False


def test_diff_of_a_version_with_itself_is_empty(two_versions: Registry) -> None:
    d = two_versions.diff("fraud", 2, "latest")
    assert d["hyperparameters"] == {} and d["state"] == {}
    assert not any(p["changed"] for p in d["parameters"].values())


def test_diff_across_model_types_reports_shapes_and_missing_entries(registry: Registry) -> None:
    lr, nb = ModelConfig(type="logistic_regression"), ModelConfig(type="gaussian_nb")
    registry.register("m", trained(lr), config=model_config(lr))
    registry.register("m", trained(nb), config=model_config(nb))
    d = registry.diff("m", 1, 2)
    assert d["hyperparameters"]["type"] == {"a": "logistic_regression", "b": "gaussian_nb"}
    assert d["parameters"]["counts"] == {
        "shape_a": None,
        "shape_b": [2],
        "max_abs_diff": None,
        "changed": True,
    }
    with pytest.raises(UnknownVersionError):
        registry.diff("m", 1, 3)


def test_diff_handles_nan_shapes_and_non_numeric_state() -> None:
    a, b = ModelVersion("m", 1, {"t": "x"}), ModelVersion("m", 2, {"t": "x", "extra": 1})
    d = diff_versions(
        a,
        b,
        {"w": np.array([np.nan, 1.0]), "v": np.zeros(2), "names": ["a"], "s": np.ones((2, 2))},
        {"w": np.array([np.nan, 1.0]), "v": np.array([np.nan, 0]), "names": ["b"], "s": np.ones(3)},
    )
    assert d["hyperparameters"] == {"extra": {"a": None, "b": 1}}
    assert d["parameters"]["w"]["changed"] is False
    assert d["parameters"]["v"] == {
        "shape_a": [2],
        "shape_b": [2],
        "max_abs_diff": None,
        "changed": True,
    }
    assert d["parameters"]["s"]["max_abs_diff"] is None
    assert d["state"] == {"names": {"a": ["a"], "b": ["b"]}}

"""Pipeline: River's learn/predict semantics, construction rules, fused == generic path."""

from __future__ import annotations

import numpy as np
import pytest

from models import InvalidInputError, LogisticRegression, Pipeline
from models.optim import SGD, AdaGrad, Adam, FTRLProximal
from models.optim.schedulers import InverseScaling
from models.preprocessing import StandardScaler


class PlainScaler(StandardScaler):
    """Same arithmetic, but not fused by the pipeline: exercises the generic path."""


MODELS = {
    "defaults": dict,
    "sgd-l2-clipped": lambda: {"optimizer": SGD(0.2), "l2": 0.05, "clip_gradient": 0.3},
    "adam-l1": lambda: {"optimizer": Adam(0.05), "l1": 0.001, "intercept_init": 0.5},
    "adagrad-schedule": lambda: {"optimizer": AdaGrad(), "intercept_lr": InverseScaling(0.1)},
    "ftrl": lambda: {"optimizer": FTRLProximal(l1=0.2)},
}


@pytest.mark.parametrize("with_std", [True, False])
@pytest.mark.parametrize("params", list(MODELS))
def test_pipeline_is_the_composition_of_its_steps(with_std, params, stream, as_dicts) -> None:
    X, y = stream
    pipeline = StandardScaler(with_std=with_std) | LogisticRegression(**MODELS[params]())
    scaler, model = StandardScaler(with_std=with_std), LogisticRegression(**MODELS[params]())
    for x, label in zip(as_dicts(X), y.tolist(), strict=True):
        # predict: transform with the current statistics, without updating them
        expected = model.predict_proba_one(scaler.transform_one(x))
        assert pipeline.predict_proba_one(x) == expected
        # learn: update the scaler, transform with the updated statistics, learn that
        scaler.learn_one(x)
        model.learn_one(scaler.transform_one(x), label)
        pipeline.learn_one(x, label)
    assert pipeline.steps[1].state_dict()["weights"].tolist() == (
        model.state_dict()["weights"].tolist()
    )


@pytest.mark.parametrize("with_std", [True, False])
@pytest.mark.parametrize("params", list(MODELS))
def test_fused_path_equals_generic_path(with_std, params, stream) -> None:
    X, y = stream
    mask = np.arange(len(y)) % 4 != 1
    fused = StandardScaler(with_std=with_std) | LogisticRegression(**MODELS[params]())
    generic = PlainScaler(with_std=with_std) | LogisticRegression(**MODELS[params]())
    assert fused._fused is not None and generic._fused is None
    got = [
        pipeline.predict_learn_many(X, np.where(mask, y, -1), mask) for pipeline in (fused, generic)
    ]
    np.testing.assert_array_equal(got[0], got[1])
    for a, b in zip(fused.steps, generic.steps, strict=True):
        for key, value in a.state_dict().items():
            np.testing.assert_array_equal(value, b.state_dict()[key])


def test_several_transformers_chain_in_order(stream, as_dicts) -> None:
    X, y = stream
    pipeline = Pipeline(StandardScaler(with_std=False), StandardScaler(), LogisticRegression())
    first, second, model = StandardScaler(with_std=False), StandardScaler(), LogisticRegression()
    probas = pipeline.predict_learn_many(X, y)
    for x, label, proba in zip(as_dicts(X), y.tolist(), probas.tolist(), strict=True):
        assert model.predict_proba_one(second.transform_one(first.transform_one(x)))[1] == proba
        first.learn_one(x)
        z = first.transform_one(x)
        second.learn_one(z)
        model.learn_one(second.transform_one(z), label)


def test_steps_are_shared_and_nested_pipelines_flattened() -> None:
    a, b, model = StandardScaler(), StandardScaler(), LogisticRegression()
    pipeline = a | (b | model)
    assert pipeline.steps == (a, b, model)
    assert Pipeline(pipeline).steps == (a, b, model)
    pipeline.learn_one({"x": 2.0}, 1)
    assert a.state_dict()["n_samples_seen"] == 1
    assert model.feature_names_in_ == ("x",)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Pipeline(), "at least a classifier"),
        (lambda: Pipeline(StandardScaler()), "last step must be a classifier"),
        (lambda: StandardScaler() | StandardScaler(), "last step must be a classifier"),
        (lambda: Pipeline(LogisticRegression(), LogisticRegression()), "must be transformers"),
        (lambda: Pipeline(object()), "last step must be a classifier"),
    ],
)
def test_invalid_pipelines_raise(build, message) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_prefitted_steps_must_agree_and_share_their_features() -> None:
    scaler = StandardScaler()
    scaler.learn_one({"a": 1.0, "b": 2.0})
    model = LogisticRegression()
    pipeline = scaler | model
    assert pipeline.feature_names_in_ == model.feature_names_in_ == ("a", "b")
    other = LogisticRegression()
    other.learn_one({"c": 1.0, "d": 2.0}, 1)
    with pytest.raises(ValueError, match="different features"):
        scaler | other


def test_state_dict_keys_are_prefixed_by_step() -> None:
    pipeline = StandardScaler() | LogisticRegression()
    pipeline.learn_one({"a": 1.0}, 1)
    state = pipeline.state_dict()
    assert {"0.means", "0.n_samples_seen", "1.weights", "1.intercept"} <= set(state)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"2.weights": np.zeros(1)}, "unexpected state key '2.weights'"),
        ({"weights": np.zeros(1)}, "unexpected state key 'weights'"),
        ({"1.feature_names": ["b"]}, "different features"),
        ({"1.weights": np.zeros(3)}, "weights must be a float array"),
    ],
)
def test_load_state_dict_is_all_or_nothing(change, message) -> None:
    pipeline = StandardScaler() | LogisticRegression()
    pipeline.learn_many(np.array([[1.0], [3.0]]), np.array([1, 0]))
    pipeline.learn_one({"a": 2.0}, 1)
    before = pipeline.state_dict()  # a copy
    with pytest.raises(InvalidInputError, match=message):
        pipeline.load_state_dict({**before, **change})
    after = pipeline.state_dict()
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value)

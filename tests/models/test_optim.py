"""Optimizers: River's update rules, hyperparameter checks, state round trips, clones."""

from __future__ import annotations

import math

import numpy as np
import pytest
from river import optim as river_optim
from river import utils as river_utils

from models import InvalidInputError
from models.optim import SGD, AdaGrad, Adam, FTRLProximal, Optimizer
from models.optim.schedulers import Constant, InverseScaling, Optimal

OPTIMIZERS = {
    "sgd": (lambda: SGD(0.05), lambda: river_optim.SGD(0.05)),
    "sgd-inverse-scaling": (
        lambda: SGD(InverseScaling(0.5, power=0.7)),
        lambda: river_optim.SGD(river_optim.schedulers.InverseScaling(0.5, power=0.7)),
    ),
    "sgd-optimal": (
        lambda: SGD(Optimal("log", alpha=1e-3)),
        lambda: river_optim.SGD(
            river_optim.schedulers.Optimal(river_optim.losses.Log(), alpha=1e-3)
        ),
    ),
    "adam": (lambda: Adam(), lambda: river_optim.Adam()),
    "adam-custom": (
        lambda: Adam(lr=InverseScaling(0.2), beta_1=0.5, beta_2=0.9, eps=1e-4),
        lambda: river_optim.Adam(
            lr=river_optim.schedulers.InverseScaling(0.2), beta_1=0.5, beta_2=0.9, eps=1e-4
        ),
    ),
    "adagrad": (lambda: AdaGrad(), lambda: river_optim.AdaGrad()),
    "adagrad-custom": (lambda: AdaGrad(lr=0.7, eps=1e-3), lambda: river_optim.AdaGrad(0.7, 1e-3)),
    "ftrl": (lambda: FTRLProximal(), lambda: river_optim.FTRLProximal()),
    "ftrl-l1": (
        lambda: FTRLProximal(alpha=0.3, beta=0.5, l1=0.2, l2=0.1),
        lambda: river_optim.FTRLProximal(alpha=0.3, beta=0.5, l1=0.2, l2=0.1),
    ),
}


def gradients(n: int = 200, d: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(n, d)) * rng.uniform(0.01, 5.0, size=d)
    g[::7, 2] = 0.0  # zero gradients too
    return g


def river_run(make_river, grads: np.ndarray) -> np.ndarray:
    """River's optimizer on the containers its linear models give it: `VectorDict`s (the vector
    path, taken by SGD and Adam), else dicts."""
    optimizer = make_river()
    names = [f"x{j}" for j in range(grads.shape[1])]
    w = river_utils.VectorDict(dict.fromkeys(names, 0.0))
    history = []
    for g in grads.tolist():
        w = optimizer.step(w=w, g=river_utils.VectorDict(dict(zip(names, g, strict=True))))
        history.append([w[k] for k in names])
    return np.array(history)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_steps_match_river(name) -> None:
    make, make_river = OPTIMIZERS[name]
    grads = gradients()
    expected = river_run(make_river, grads)
    optimizer = make()
    w = np.zeros(grads.shape[1])
    got = []
    for g in grads:
        optimizer.step(w, g)
        got.append(w.copy())
    np.testing.assert_allclose(np.array(got), expected, rtol=1e-12, atol=1e-15)
    assert optimizer.n_iterations == len(grads)
    assert np.abs(expected[-1]).max() > 0.01  # the weights did move


def test_sgd_follows_its_schedule() -> None:
    optimizer = SGD(InverseScaling(1.0, power=1.0))
    assert optimizer.learning_rate == 1.0
    w = np.array([0.0])
    for t in range(3):
        assert optimizer.learning_rate == 1.0 / (t + 1)
        optimizer.step(w, np.array([1.0]))
    assert w[0] == pytest.approx(-(1.0 + 1 / 2 + 1 / 3))


def test_ftrl_keeps_a_weight_while_its_z_is_within_l1() -> None:
    # River only sets w where |z| > l1; elsewhere the weight keeps whatever value it had.
    optimizer = FTRLProximal(l1=10.0)
    w = np.array([0.7, -0.3])
    for _ in range(5):
        optimizer.step(w, np.array([0.1, 0.2]))
    assert w.tolist() == [0.7, -0.3]
    optimizer.step(w, np.array([50.0, 0.0]))
    optimizer.step(w, np.array([0.0, 0.0]))  # now |z| > l1 for the first weight
    assert w[0] != 0.7 and w[1] == -0.3


def test_ftrl_has_no_learning_rate() -> None:
    with pytest.raises(AttributeError, match="no learning rate"):
        _ = FTRLProximal().learning_rate


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SGD(0.0), "lr must be > 0"),
        (lambda: SGD(-1.0), "lr must be > 0"),
        (lambda: SGD(math.nan), "lr must be finite"),
        (lambda: SGD("0.1"), "lr must be a real number or a Scheduler"),
        (lambda: SGD(True), "lr must be a real number"),
        (lambda: Adam(lr=math.inf), "lr must be finite"),
        (lambda: Adam(beta_1=1.0), "beta_1 must be < 1"),
        (lambda: Adam(beta_2=-0.1), "beta_2 must be >= 0"),
        (lambda: Adam(eps=0.0), "eps must be > 0"),
        (lambda: AdaGrad(eps=-1e-8), "eps must be > 0"),
        (lambda: AdaGrad(lr=None), "lr must be a real number"),
        (lambda: FTRLProximal(alpha=0.0), "alpha must be > 0"),
        (lambda: FTRLProximal(beta=-1.0), "beta must be >= 0"),
        (lambda: FTRLProximal(l1=-0.1), "l1 must be >= 0"),
        (lambda: FTRLProximal(l2=math.nan), "l2 must be finite"),
    ],
)
def test_invalid_hyperparameters_raise(build, message) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_clone_is_fresh_with_the_same_hyperparameters(name) -> None:
    make, _ = OPTIMIZERS[name]
    optimizer = make()
    grads = gradients(n=20)
    w = np.zeros(grads.shape[1])
    for g in grads:
        optimizer.step(w, g)
    clone = optimizer.clone()
    assert type(clone) is type(optimizer) and repr(clone) == repr(optimizer)
    assert clone.n_iterations == 0
    fresh = make().state_dict()
    assert {k: np.asarray(v).tolist() for k, v in clone.state_dict().items()} == {
        k: np.asarray(v).tolist() for k, v in fresh.items()
    }


def test_repr_shows_the_hyperparameters() -> None:
    assert repr(SGD(0.5)) == "SGD(lr=0.5)"
    assert repr(Adam(lr=InverseScaling(0.1))) == (
        "Adam(lr=InverseScaling(learning_rate=0.1, power=0.5), beta_1=0.9, beta_2=0.999, eps=1e-08)"
    )
    assert repr(FTRLProximal(l1=1.0)) == "FTRLProximal(alpha=0.05, beta=1.0, l1=1.0, l2=1.0)"


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_state_round_trip_continues_identically(name, roundtrip) -> None:
    make, _ = OPTIMIZERS[name]
    grads = gradients(n=60)
    optimizer, w = make(), np.zeros(grads.shape[1])
    for g in grads[:30]:
        optimizer.step(w, g)
    restored, w_restored = make().clone(), w.copy()
    restored.load_state_dict(roundtrip(optimizer.state_dict()))
    assert restored.n_iterations == 30
    for g in grads[30:]:
        optimizer.step(w, g)
        restored.step(w_restored, g)
    np.testing.assert_array_equal(w_restored, w)
    for key, value in optimizer.state_dict().items():
        np.testing.assert_array_equal(restored.state_dict()[key], value)


def test_state_dict_contents() -> None:
    optimizer = Adam()
    assert optimizer.state_dict()["n_iterations"] == 0
    assert optimizer.state_dict()["m"].shape == (0,)
    optimizer.step(np.zeros(3), np.ones(3))
    state = optimizer.state_dict()
    assert set(state) == {"n_iterations", "m", "v"}
    assert state["m"].dtype == np.float64 and state["m"].shape == (3,)
    assert set(SGD().state_dict()) == {"n_iterations"}
    assert set(AdaGrad().state_dict()) == {"n_iterations", "g2"}
    assert set(FTRLProximal().state_dict()) == {"n_iterations", "z", "n"}


@pytest.mark.parametrize(
    ("make", "change", "message"),
    [
        (Adam, {"extra": 1}, "expected optimizer state keys"),
        (Adam, {"n_iterations": -1}, "n_iterations must be an int >= 0"),
        (Adam, {"n_iterations": True}, "n_iterations must be an int >= 0"),
        (Adam, {"n_iterations": 1.5}, "n_iterations must be an int >= 0"),
        (Adam, {"m": np.full(3, np.nan)}, "'m' must be finite"),
        (Adam, {"v": -np.ones(3)}, "'v' must be finite and >= 0"),
        (Adam, {"m": np.zeros(2)}, "same length"),
        (Adam, {"m": np.zeros((3, 1))}, "1-D float array"),
        (Adam, {"m": np.array(["a", "b", "c"])}, "1-D float array"),
        (AdaGrad, {"g2": -np.ones(3)}, "'g2' must be finite and >= 0"),
        (FTRLProximal, {"n": -np.ones(3)}, "'n' must be finite and >= 0"),
        (FTRLProximal, {"z": np.full(3, np.inf)}, "'z' must be finite"),
    ],
)
def test_bad_state_is_rejected_and_changes_nothing(make, change, message) -> None:
    optimizer = make()
    optimizer.step(np.zeros(3), np.array([1.0, -2.0, 0.5]))
    before = optimizer.state_dict()
    with pytest.raises(InvalidInputError, match=message):
        optimizer.load_state_dict({**before, **change})
    after = optimizer.state_dict()
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value)


def test_missing_state_key_is_rejected() -> None:
    state = Adam().state_dict()
    del state["v"]
    with pytest.raises(InvalidInputError, match="expected optimizer state keys"):
        Adam().load_state_dict(state)


@pytest.mark.parametrize(
    ("w", "g", "message"),
    [
        (np.zeros(3, dtype=np.float32), np.ones(3), "1-D float64"),
        (np.zeros((3, 1)), np.ones((3, 1)), "1-D float64"),
        ([0.0, 0.0, 0.0], np.ones(3), "1-D float64"),
        (np.zeros(3), np.ones(2), r"shape \(3,\)"),
        (np.zeros(3), np.array(["a", "b", "c"]), "numeric"),
        (np.zeros(3), np.array([1.0, np.nan, 0.0]), "g must be finite"),
        (np.zeros(4), np.ones(4), "holds state for 3 weights, got 4"),
    ],
)
def test_bad_step_raises_and_changes_nothing(w, g, message) -> None:
    optimizer = Adam()
    optimizer.step(np.zeros(3), np.ones(3))
    before = optimizer.state_dict()
    w_before = np.array(w, copy=True)
    with pytest.raises(InvalidInputError, match=message):
        optimizer.step(w, g)
    np.testing.assert_array_equal(np.asarray(w), w_before)
    assert optimizer.n_iterations == 1
    np.testing.assert_array_equal(optimizer.state_dict()["m"], before["m"])


def test_every_optimizer_is_an_optimizer() -> None:
    for make, _ in OPTIMIZERS.values():
        assert isinstance(make(), Optimizer)
    assert isinstance(SGD(Constant(0.1)).clone().lr, Constant)

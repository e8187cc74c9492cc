"""Learning-rate schedules: River's formulas, checks, and their use wherever a rate is expected."""

from __future__ import annotations

import math

import pytest
from river import optim as river_optim

from models.optim import SGD
from models.optim.schedulers import Constant, InverseScaling, Optimal, Scheduler

STEPS = [0, 1, 2, 10, 999, 123_456]

RIVER_LOSSES = {
    "log": river_optim.losses.Log(),
    "squared": river_optim.losses.Squared(),
    "hinge": river_optim.losses.Hinge(),
}


@pytest.mark.parametrize(
    ("ours", "river"),
    [
        (lambda: Constant(0.3), lambda: river_optim.schedulers.Constant(0.3)),
        (lambda: InverseScaling(0.5), lambda: river_optim.schedulers.InverseScaling(0.5)),
        (
            lambda: InverseScaling(2.0, power=1.5),
            lambda: river_optim.schedulers.InverseScaling(2.0, power=1.5),
        ),
        *[
            (
                lambda loss=loss, alpha=alpha: Optimal(loss, alpha=alpha),
                lambda loss=loss, alpha=alpha: river_optim.schedulers.Optimal(
                    RIVER_LOSSES[loss], alpha=alpha
                ),
            )
            for loss in RIVER_LOSSES
            for alpha in (1e-4, 0.05, 4.0)
        ],
    ],
)
def test_schedules_match_river(ours, river) -> None:
    schedule, reference = ours(), river()
    assert [schedule.get(t) for t in STEPS] == [reference.get(t) for t in STEPS]


def test_the_schedules_decay_as_documented() -> None:
    assert InverseScaling(1.0, power=1.0).get(3) == 0.25
    assert InverseScaling(1.0, power=0.0).get(50) == 1.0
    optimal = Optimal("squared", alpha=0.01)  # typw = sqrt(10), t0 = 1 / (typw * alpha)
    t0 = 1.0 / (math.sqrt(10.0) * 0.01)
    assert optimal.get(0) == pytest.approx(1.0 / (0.01 * t0))
    assert optimal.get(100) == pytest.approx(1.0 / (0.01 * (t0 + 100)))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Constant(-0.1), "learning_rate must be >= 0"),
        (lambda: Constant(math.inf), "learning_rate must be finite"),
        (lambda: Constant("0.1"), "learning_rate must be a real number"),
        (lambda: InverseScaling(-1.0), "learning_rate must be >= 0"),
        (lambda: InverseScaling(1.0, power=-0.5), "power must be >= 0"),
        (lambda: InverseScaling(1.0, power=math.nan), "power must be finite"),
        (lambda: Optimal("cross_entropy"), "loss must be one of"),
        (lambda: Optimal(river_optim.losses.Log()), "loss must be one of"),
        (lambda: Optimal("log", alpha=0.0), "alpha must be > 0"),
    ],
)
def test_invalid_hyperparameters_raise(build, message) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_a_float_rate_means_constant_and_a_schedule_is_used_as_is() -> None:
    schedule = InverseScaling(0.5)
    assert SGD(schedule).lr is schedule
    assert isinstance(SGD(0.5).lr, float)
    assert SGD(0.5).learning_rate == 0.5


def test_repr_and_hyperparameters() -> None:
    assert repr(Constant(0.1)) == "Constant(learning_rate=0.1)"
    assert repr(Optimal("log")) == "Optimal(loss='log', alpha=0.0001)"
    schedule = InverseScaling(0.1, power=0.25)
    assert (schedule.learning_rate, schedule.power) == (0.1, 0.25)
    assert all(isinstance(s, Scheduler) for s in (Constant(1), schedule, Optimal("hinge")))

"""Accuracy and RollingAccuracy: hand examples, batch == one by one, state round trips."""

from __future__ import annotations

import numpy as np
import pytest

from models import InvalidInputError
from models.metrics import Accuracy, RollingAccuracy

PAIRS = [(1, 1), (0, 1), (1, 1), (0, 0), (1, 0), (1, 1), (0, 0)]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (Accuracy, [1.0, 0.5, 2 / 3, 0.75, 0.6, 4 / 6, 5 / 7]),
        (lambda: RollingAccuracy(window_size=1), [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]),
        (lambda: RollingAccuracy(window_size=3), [1.0, 0.5, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3]),
        (lambda: RollingAccuracy(window_size=4), [1.0, 0.5, 2 / 3, 0.75, 0.5, 0.75, 0.75]),
    ],
)
def test_values_match_hand_computation(make, expected) -> None:
    metric = make()
    assert metric.get() == 0.0
    got = []
    for y_true, y_pred in PAIRS:
        metric.update(y_true, y_pred)
        got.append(metric.get())
    assert got == pytest.approx(expected, abs=1e-15)


def test_labels_compare_by_value() -> None:
    metric = Accuracy()
    metric.update(True, 1)
    metric.update("cat", "cat")
    metric.update(0, 1)
    assert metric.get() == pytest.approx(2 / 3)


MAKERS = [
    pytest.param(Accuracy, id="Accuracy"),
    pytest.param(lambda: RollingAccuracy(window_size=1), id="Rolling-1"),
    pytest.param(lambda: RollingAccuracy(window_size=7), id="Rolling-7"),
    pytest.param(lambda: RollingAccuracy(window_size=50), id="Rolling-50"),
]


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("chunks", [[1] * 40, [3, 0, 4, 6, 20, 7], [40], [13, 27]])
def test_update_many_equals_update_in_order(make, chunks) -> None:
    rng = np.random.default_rng(5)
    y_true, y_pred = rng.integers(0, 2, size=40), rng.integers(0, 2, size=40)
    one, many = make(), make()
    start = 0
    for size in chunks:
        many.update_many(y_true[start : start + size], y_pred[start : start + size])
        for t, p in zip(y_true[start : start + size], y_pred[start : start + size], strict=True):
            one.update(t, p)
        start += size
        assert many.get() == one.get()
        assert many.state_dict().keys() == one.state_dict().keys()
    for key, value in one.state_dict().items():
        np.testing.assert_array_equal(many.state_dict()[key], value)


@pytest.mark.parametrize("make", MAKERS)
def test_state_round_trip(make, roundtrip) -> None:
    rng = np.random.default_rng(6)
    y_true, y_pred = rng.integers(0, 2, size=100), rng.integers(0, 2, size=100)
    metric = make()
    metric.update_many(y_true[:60], y_pred[:60])
    restored = make()
    restored.load_state_dict(roundtrip(metric.state_dict()))
    assert restored.get() == metric.get()
    for t, p in zip(y_true[60:], y_pred[60:], strict=True):
        metric.update(t, p)
        restored.update(t, p)
        assert restored.get() == metric.get()


@pytest.mark.parametrize("window_size", [1, 10])
def test_rolling_memory_is_bounded(window_size) -> None:
    metric = RollingAccuracy(window_size=window_size)
    metric.update_many(np.zeros(1000), np.zeros(1000))
    metric.update(1, 0)
    assert metric.state_dict()["window"].shape == (window_size,)
    assert metric.get() == pytest.approx((window_size - 1) / window_size)


@pytest.mark.parametrize("window_size", [0, -1, 2.5, True, "10"])
def test_invalid_window_size(window_size) -> None:
    with pytest.raises(ValueError, match="window_size"):
        RollingAccuracy(window_size=window_size)


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [(np.zeros(3), np.zeros(2)), (np.zeros((2, 2)), np.zeros((2, 2))), (np.zeros(2), 0)],
)
def test_mismatched_batches_raise(make, y_true, y_pred) -> None:
    metric = make()
    metric.update(1, 1)
    with pytest.raises(InvalidInputError, match="same length"):
        metric.update_many(y_true, y_pred)
    assert metric.get() == 1.0


@pytest.mark.parametrize(
    ("make", "state"),
    [
        (Accuracy, {"n": 2, "n_correct": 3}),
        (Accuracy, {"n": 2.0, "n_correct": 1}),
        (Accuracy, {"n": 2}),
        (lambda: RollingAccuracy(window_size=3), {"window_size": 4, "window": np.ones(2, bool)}),
        (lambda: RollingAccuracy(window_size=3), {"window_size": 3, "window": np.ones(4, bool)}),
        (lambda: RollingAccuracy(window_size=3), {"window_size": 3, "window": np.ones(2)}),
    ],
)
def test_invalid_states_raise_and_leave_state(make, state) -> None:
    metric = make()
    metric.update(1, 1)
    with pytest.raises(InvalidInputError):
        metric.load_state_dict(state)
    assert metric.get() == 1.0

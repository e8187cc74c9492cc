"""Every metric: revert, batches, state round trips, clones, labels and invalid input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from models import InvalidInputError
from models.metrics import (
    F1,
    MAE,
    R2,
    RMSE,
    ROCAUC,
    Accuracy,
    ConfusionMatrix,
    LogLoss,
    Metric,
    Precision,
    Recall,
)

rng = np.random.default_rng(11)
N = 120
LABELS = (
    rng.choice(np.array(["a", "b", "c"]), size=N),
    rng.choice(np.array(["a", "b", "c"]), size=N),
)
BINARY = rng.integers(0, 2, size=N), rng.integers(0, 2, size=N)
PROBA = rng.integers(0, 2, size=N), rng.random(N)
TARGETS = rng.normal(5.0, 2.0, size=N), rng.normal(5.0, 2.0, size=N)

METRICS: list[tuple[str, Callable[[], Metric[Any]], tuple[np.ndarray, np.ndarray]]] = [
    ("Accuracy", Accuracy, LABELS),
    ("Precision", Precision, BINARY),
    ("Recall-macro", lambda: Recall(average="macro"), LABELS),
    ("F1-micro", lambda: F1(average="micro"), LABELS),
    ("F1-pos-b", lambda: F1(pos_label="b"), LABELS),
    ("ConfusionMatrix", ConfusionMatrix, LABELS),
    ("ROCAUC", lambda: ROCAUC(n_thresholds=7), PROBA),
    ("LogLoss", LogLoss, PROBA),
    ("MAE", MAE, TARGETS),
    ("RMSE", RMSE, TARGETS),
    ("R2", R2, TARGETS),
]
PARAMS = [pytest.param(make, data, id=name) for name, make, data in METRICS]


def assert_same_state(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray) or isinstance(b[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key], strict=True)
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize(("make", "data"), PARAMS)
def test_revert_undoes_update_exactly(make, data) -> None:
    y_true, y_pred = data
    metric = make()
    metric.update_many(y_true[:60], y_pred[:60])
    before, value = metric.state_dict(), metric.get()
    for t, p in zip(y_true[60:], y_pred[60:], strict=True):
        metric.update(t, p)
    assert metric.get() != value
    for t, p in zip(y_true[60:90], y_pred[60:90], strict=True):
        metric.revert(t, p)
    metric.revert_many(y_true[90:], y_pred[90:])
    assert metric.get() == value
    assert_same_state(metric.state_dict(), before)


@pytest.mark.parametrize(("make", "data"), PARAMS)
def test_update_many_equals_update_in_order(make, data) -> None:
    y_true, y_pred = data
    one, many = make(), make()
    for chunk in [slice(0, 1), slice(1, 1), slice(1, 44), slice(44, N)]:
        many.update_many(y_true[chunk], y_pred[chunk])
        for t, p in zip(y_true[chunk], y_pred[chunk], strict=True):
            one.update(t, p)
        assert many.get() == one.get()
    assert_same_state(many.state_dict(), one.state_dict())
    # lists (object arrays) take the same path as typed arrays
    listed = make()
    listed.update_many(y_true.tolist(), y_pred.tolist())
    assert_same_state(listed.state_dict(), one.state_dict())


@pytest.mark.parametrize(("make", "data"), PARAMS)
@pytest.mark.parametrize("fill", [0, 50])
def test_state_round_trip_and_clone(make, data, fill, roundtrip) -> None:
    y_true, y_pred = data
    metric = make()
    metric.update_many(y_true[:fill], y_pred[:fill])
    restored = make().clone()
    restored.load_state_dict(roundtrip(metric.state_dict()))
    assert restored.get() == metric.get()
    assert_same_state(restored.state_dict(), metric.state_dict())
    clone = metric.clone()
    assert_same_state(clone.state_dict(), make().state_dict())
    for m in (metric, restored, clone):
        m.update_many(y_true[fill:], y_pred[fill:])
    assert restored.get() == metric.get()
    saved = metric.state_dict()
    metric.update_many(y_true[:5], y_pred[:5])  # the saved state is a copy
    assert_same_state(saved, restored.state_dict())


@pytest.mark.parametrize(("make", "data"), PARAMS)
def test_reverting_what_was_not_counted_raises_and_leaves_state(make, data) -> None:
    y_true, y_pred = data
    metric = make()
    with pytest.raises(InvalidInputError, match="revert"):
        metric.revert(y_true[0], y_pred[0])
    metric.update_many(y_true[:3], y_pred[:3])
    before = metric.state_dict()
    with pytest.raises(InvalidInputError, match="revert"):
        metric.revert_many(y_true[:4], y_pred[:4])
    assert_same_state(metric.state_dict(), before)


BAD_INPUTS = [
    (Precision, [1, 0], [1, 0.5], "class label"),
    (lambda: F1(average="macro"), [1.0, 2.0], [1, 2], "class labels"),
    (ConfusionMatrix, ["a", ("b",)], ["a", "b"], "class label"),
    (ROCAUC, [1, 0], [0.3, float("nan")], "row 1: y_pred must be finite"),
    (ROCAUC, [1, 0], ["0.3", "0.1"], "real number"),
    (LogLoss, [1, 2], [0.3, 0.1], "row 1: label must be 0 or 1"),
    (LogLoss, [1, 0], [0.3, 1.2], "row 1: y_pred must be a probability"),
    (MAE, [1.0, float("inf")], [1.0, 1.0], "row 1: y_true must be finite"),
    (RMSE, [0.0, 1e300], [0.0, -1e300], "overflows"),
    (R2, [True, False], [1.0, 0.0], "real numbers"),
    (MAE, [0.0, 1e308], [0.0, -1e308], "overflows"),
    (Accuracy, [1, 2, 3], [1, 2], "same length"),
]


@pytest.mark.parametrize(("make", "y_true", "y_pred", "message"), BAD_INPUTS)
def test_bad_input_raises_and_leaves_state(make, y_true, y_pred, message) -> None:
    metric = make()
    good = ([1, 0], [0.7, 0.2]) if make in (ROCAUC, LogLoss) else ([1, 0], [1, 1])
    metric.update_many(np.array(good[0], dtype=float if make in (MAE, RMSE, R2) else int), good[1])
    before = metric.state_dict()
    with pytest.raises(InvalidInputError, match=message):
        metric.update_many(np.array(y_true) if make is not ConfusionMatrix else y_true, y_pred)
    if len(y_true) == len(y_pred):
        with pytest.raises(InvalidInputError):
            metric.update(y_true[-1], y_pred[-1])
    assert_same_state(metric.state_dict(), before)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Precision(average="weighted"), "average"),
        (lambda: Recall(pos_label=None), "pos_label"),
        (lambda: F1(pos_label=1.0), "pos_label"),
        (lambda: ROCAUC(n_thresholds=1), "n_thresholds"),
        (lambda: ROCAUC(n_thresholds=True), "n_thresholds"),
        (lambda: ROCAUC(pos_label=[1]), "pos_label"),
    ],
)
def test_invalid_hyperparameters(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    ("make", "state"),
    [
        (Precision, {"labels": ["a"], "counts": np.zeros((2, 2), dtype=np.int64)}),
        (Precision, {"labels": None, "counts": np.zeros((3, 3), dtype=np.int64)}),
        (Precision, {"labels": None, "counts": -np.ones((2, 2), dtype=np.int64)}),
        (ConfusionMatrix, {"labels": ["a", "a"], "counts": np.zeros((2, 2), dtype=np.int64)}),
        (ConfusionMatrix, {"labels": [True, 1], "counts": np.zeros((2, 2), dtype=np.int64)}),
        (ConfusionMatrix, {"labels": ["a", 1.5], "counts": np.zeros((2, 2), dtype=np.int64)}),
        (ConfusionMatrix, {"labels": ["a"], "counts": np.zeros((1, 1))}),
        (ROCAUC, {"counts": np.zeros((2, 10), dtype=np.int64)}),
        (MAE, {"n": 1, "sum": "0x10"}),
        (MAE, {"n": 0, "sum": "10"}),
        (MAE, {"n": -1, "sum": "0"}),
        (MAE, {"n": 1, "sum": "-10"}),
        (R2, {"n": 2, "sum_y": "10", "sum_y2": "1", "sum_squared_residuals": "0"}),
        (R2, {"n": 2, "sum_y": "0", "sum_y2": "0"}),
    ],
)
def test_invalid_states_raise_and_leave_state(make, state) -> None:
    metric = make()
    metric.update(1, 1) if make not in (ROCAUC,) else metric.update(1, 0.9)
    before = metric.state_dict()
    with pytest.raises(InvalidInputError):
        metric.load_state_dict(state)
    assert_same_state(metric.state_dict(), before)


def test_labels_compare_like_dict_keys_and_keep_their_types() -> None:
    cm = ConfusionMatrix()
    cm.update(True, 1)  # one label
    cm.update_many(["1", 1], [1, None])  # a str is not the int; None is a label
    assert cm.labels == (True, "1", None)
    assert cm.get() == {
        True: {True: 1, "1": 0, None: 1},
        "1": {True: 1, "1": 0, None: 0},
        None: {True: 0, "1": 0, None: 0},
    }
    assert cm.matrix.tolist() == [[1, 0, 1], [1, 0, 0], [0, 0, 0]]


def test_binary_pos_label_matches_by_equality() -> None:
    metric = Recall(pos_label=1)
    metric.update_many(np.array([True, True, False]), np.array([True, False, True]))
    assert metric.get() == 0.5
    metric = Recall(pos_label="1")
    metric.update_many(np.array([1, 1]), np.array([1, 1]))
    assert metric.get() == 0.0


def test_macro_scores_skip_classes_that_left() -> None:
    metric = Precision(average="macro")
    metric.update_many([0, 1, 2], [0, 1, 1])
    assert metric.get() == pytest.approx((1.0 + 0.5) / 3)
    metric.revert(2, 1)
    assert metric.get() == 1.0  # class 2 no longer seen, class 1 fully precise


def test_exact_sums_survive_cancellation() -> None:
    metric = MAE()
    metric.update_many(np.array([1e16, 1.0, 1e16]), np.zeros(3))
    metric.revert_many(np.array([1e16, 1e16]), np.zeros(2))
    assert metric.get() == 1.0  # a float running sum would say 0.0


def test_r2_is_exact_for_a_large_offset() -> None:
    y = 1e8 + np.arange(10, dtype=float)
    pred = y + np.array([0.5, -0.5] * 5)
    metric = R2()
    metric.update_many(y, pred)
    assert metric.get() == pytest.approx(1 - 2.5 / 82.5, rel=1e-15)
    constant = R2()
    constant.update_many(np.full(5, 3.0), np.arange(5.0))
    assert constant.get() == 0.0


def test_roc_auc_extremes() -> None:
    perfect, reversed_ = ROCAUC(n_thresholds=50), ROCAUC(n_thresholds=50)
    perfect.update_many([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    reversed_.update_many([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9])
    assert perfect.get() == 1.0 and reversed_.get() == 0.0
    assert ROCAUC().get() == 0.0 and str(ROCAUC().get()) == "0.0"


def test_reprs() -> None:
    metric = F1(average="macro")
    metric.update_many([0, 1], [0, 1])
    assert repr(metric) == "F1(average='macro'): 100.00%"
    mae = MAE()
    mae.update(1.0, 1.25)
    assert repr(mae) == "MAE: 0.250000"
    cm = ConfusionMatrix()
    assert repr(cm) == "ConfusionMatrix: empty"
    cm.update_many(["a", "bb"], ["bb", "bb"])
    assert repr(cm) == "    a bb\n a  0  1\nbb  0  1"
    assert MAE.bigger_is_better is False and F1.bigger_is_better is True

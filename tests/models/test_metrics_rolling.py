"""Rolling(metric, window_size) against River's utils.Rolling; batches, state, memory."""

from __future__ import annotations

import numpy as np
import pytest
from river import metrics as rm
from river import utils

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
    Precision,
    Recall,
    Rolling,
    RollingAccuracy,
)

N = 200


def labels_stream(
    seed: int, labels: list[object], gone: bool = True
) -> tuple[list[object], list[object]]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(labels), size=N)
    p = np.where(rng.random(N) < 0.35, rng.integers(0, len(labels), size=N), y)
    if gone:  # the last label only occurs early: it leaves the window (and River's `classes`)
        y[:5] = p[:5] = len(labels) - 1
        y[5:][y[5:] == len(labels) - 1] = 0
        p[5:][p[5:] == len(labels) - 1] = 0
    return [labels[i] for i in y], [labels[i] for i in p]


def binary_stream(seed: int) -> tuple[list[object], list[object]]:
    return labels_stream(seed, [False, True], gone=False)


def proba_stream(seed: int) -> tuple[list[int], list[float]]:
    rng = np.random.default_rng(seed)
    y = (rng.random(N) < 0.4).astype(int)
    p = 1.0 / (1.0 + np.exp(-(0.8 * (2 * y - 1) + rng.normal(size=N))))
    return y.tolist(), p.tolist()


def regression_stream(seed: int) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(seed)
    y = rng.normal(1e3, 5.0, size=N)  # a large mean: the variance needs care
    return y.tolist(), (y + rng.normal(0.0, 2.0, size=N)).tolist()


CLASSES = ["x", "y", "z", "gone"]
CASES = [
    ("Accuracy", Accuracy, rm.Accuracy, lambda s: labels_stream(s, CLASSES)),
    ("Precision", Precision, rm.Precision, binary_stream),
    ("Recall", Recall, rm.Recall, binary_stream),
    ("F1", F1, rm.F1, binary_stream),
    (
        "MacroPrecision",
        lambda: Precision(average="macro"),
        rm.MacroPrecision,
        lambda s: labels_stream(s, CLASSES),
    ),
    ("MacroF1", lambda: F1(average="macro"), rm.MacroF1, lambda s: labels_stream(s, [0, 1, 2, 3])),
    (
        "MicroRecall",
        lambda: Recall(average="micro"),
        rm.MicroRecall,
        lambda s: labels_stream(s, CLASSES),
    ),
    ("ROCAUC", ROCAUC, rm.ROCAUC, proba_stream),
    ("LogLoss", LogLoss, rm.LogLoss, proba_stream),
    ("MAE", MAE, rm.MAE, regression_stream),
    ("RMSE", RMSE, rm.RMSE, regression_stream),
    ("R2", R2, rm.R2, regression_stream),
]


# River's rolling R2 divides by zero when its window of 1 empties (R2 needs 2 pairs anyway).
ROLLING_CASES = [
    pytest.param(*case, w, id=f"{case[0]}-{w}")
    for case in CASES
    for w in (1, 7, 50)
    if not (case[0] == "R2" and w == 1)
]


@pytest.mark.parametrize(("name", "make", "river_cls", "stream", "window_size"), ROLLING_CASES)
def test_matches_river_rolling_after_every_update(name, make, river_cls, stream, window_size):
    y_true, y_pred = stream(0)
    ours = Rolling(make(), window_size=window_size)
    theirs = utils.Rolling(river_cls, window_size=window_size)
    values = []
    for t, p in zip(y_true, y_pred, strict=True):
        ours.update(t, p)
        theirs.update(t, p)
        values.append(ours.get())
        # River's rolling means drift with every revert; ours are exact.
        assert values[-1] == pytest.approx(theirs.get(), rel=1e-9, abs=1e-12)
    assert len(set(values)) > 1 or (name == "ROCAUC" and window_size == 1)  # one class: 0
    # update_many in uneven chunks gives the same values at the chunk ends, bit for bit.
    batch = Rolling(make(), window_size=window_size)
    start = 0
    for size in [3, 0, 1, 60, 6, 80, 50]:  # N pairs in all
        stop = start + size
        batch.update_many(np.array(y_true[start:stop]), np.array(y_pred[start:stop]))
        if stop:
            assert batch.get() == values[stop - 1]
        start = stop
    state, expected = batch.state_dict(), ours.state_dict()
    assert state.keys() == expected.keys()
    for key in state:
        np.testing.assert_array_equal(state[key], expected[key])


def test_rolling_is_exact_where_river_drifts() -> None:
    rng = np.random.default_rng(1)
    ours, fresh = Rolling(MAE(), window_size=3), MAE()
    for _ in range(20_000):
        ours.update(float(rng.normal(0, 1e6)), 0.0)
    last = ours.state_dict()["window.0"]
    fresh.update_many(last, np.zeros(3))
    assert ours.get() == fresh.get()


@pytest.mark.parametrize("window_size", [1, 3, 1000])
def test_rolling_accuracy_is_rolling_of_accuracy(window_size) -> None:
    rng = np.random.default_rng(2)
    y, p = rng.integers(0, 3, size=2500), rng.integers(0, 3, size=2500)
    generic, specific = Rolling(Accuracy(), window_size), RollingAccuracy(window_size)
    for chunk in np.array_split(np.arange(2500), 9):
        generic.update_many(y[chunk], p[chunk])
        specific.update_many(y[chunk], p[chunk])
        assert generic.get() == specific.get()
    np.testing.assert_array_equal(generic.state_dict()["window.0"], specific.state_dict()["window"])
    assert isinstance(specific, Rolling)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Rolling(ConfusionMatrix(), 20),
        lambda: Rolling(F1(average="macro"), 20),
        lambda: Rolling(R2(), 20),
        lambda: Rolling(ROCAUC(n_thresholds=5), 20),
        lambda: RollingAccuracy(20),
    ],
)
def test_state_round_trip_and_bounded_memory(make, roundtrip) -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=500)
    p = rng.random(500) if "ROCAUC" in repr(make()) else rng.integers(0, 2, size=500)
    y_true = y.astype(float) if "R2" in repr(make()) else y
    metric = make()
    metric.update_many(y_true[:30], p[:30])
    sizes = {k: np.asarray(v).nbytes for k, v in metric.state_dict().items()}
    metric.update_many(y_true[30:300], p[30:300])
    assert {k: np.asarray(v).nbytes for k, v in metric.state_dict().items()} == sizes
    restored = make()
    restored.load_state_dict(roundtrip(metric.state_dict()))
    assert restored.get() == metric.get()
    for t, q in zip(y_true[300:], p[300:], strict=True):
        metric.update(t, q)
        restored.update(t, q)
    assert restored.get() == metric.get()


def test_rolling_confusion_matrix_forgets_labels() -> None:
    metric = Rolling(ConfusionMatrix(), window_size=2)
    metric.update_many(["a", "b", "c"], ["a", "c", "c"])
    assert metric.get() == {"b": {"b": 0, "c": 1}, "c": {"b": 0, "c": 1}}


def test_template_metric_is_not_updated() -> None:
    template = MAE()
    metric = Rolling(template, window_size=5)
    metric.update(1.0, 3.0)
    assert template.get() == 0.0 and metric.get() == 2.0
    clone = metric.clone()
    assert clone.get() == 0.0 and clone.window_size == 5


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.update({"window_size": 6}),
        lambda s: s.update({"window.0": s["window.0"][:-1]}),
        lambda s: s.update({"window.0": s["window.0"].astype(np.int32)}),
        lambda s: s.update({"window.1": np.full_like(s["window.1"], 9)}),
        lambda s: s.update({"metric.counts": s["metric.counts"] + 1}),
        lambda s: s.pop("metric.labels"),
        lambda s: s.update(extra=1),
    ],
)
def test_bad_states_raise_and_leave_the_window(mutate) -> None:
    metric = Rolling(Precision(average="macro"), window_size=5)
    metric.update_many([0, 1, 2, 1], [0, 2, 2, 1])
    before, state = metric.state_dict(), metric.state_dict()
    mutate(state)
    with pytest.raises(InvalidInputError):
        metric.load_state_dict(state)
    after = metric.state_dict()
    assert after.keys() == before.keys()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])


@pytest.mark.parametrize("window_size", [0, -3, 1.5, True, None])
def test_invalid_hyperparameters(window_size) -> None:
    with pytest.raises(ValueError, match="window_size"):
        Rolling(MAE(), window_size=window_size)
    with pytest.raises(ValueError, match="metric"):
        Rolling(rm.MAE(), window_size=3)  # type: ignore[arg-type]


def test_bad_batch_leaves_the_window() -> None:
    metric = Rolling(MAE(), window_size=3)
    metric.update_many([1.0, 2.0], [1.5, 2.5])
    with pytest.raises(InvalidInputError, match="row 1"):
        metric.update_many([1.0, float("nan")], [1.0, 1.0])
    assert metric.get() == 0.5
    assert metric.state_dict()["window.0"].tolist() == [0.5, 0.5]

"""Every metric against River 0.26.1 on seeded streams: after every update and via update_many."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from river import metrics as rm

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
)
from models.metrics.base import Metric

N = 250
REL = 1e-12  # River's macro sums iterate a set (order differs); means are incremental


def binary_stream(seed: int, kind: str = "int") -> tuple[list[Any], list[Any]]:
    rng = np.random.default_rng(seed)
    y = rng.random(N) < 0.35
    flip = rng.random(N) < 0.25
    p = np.where(flip, ~y, y)
    if kind == "bool":
        return y.tolist(), p.tolist()
    return y.astype(int).tolist(), p.astype(int).tolist()


def multiclass_stream(seed: int, labels: list[Any]) -> tuple[list[Any], list[Any]]:
    rng = np.random.default_rng(seed)
    k = len(labels)
    y = rng.choice(k, size=N, p=np.linspace(1, 2, k) / np.linspace(1, 2, k).sum())
    wrong = rng.random(N) < 0.4
    p = np.where(wrong, rng.integers(0, k, size=N), y)
    return [labels[i] for i in y], [labels[i] for i in p]


def proba_stream(seed: int) -> tuple[list[int], list[float]]:
    rng = np.random.default_rng(seed)
    y = (rng.random(N) < 0.4).astype(int)
    logits = 1.5 * (2 * y - 1) + rng.normal(size=N)
    p = 1.0 / (1.0 + np.exp(-logits))
    p[:5] = [0.0, 1.0, 1e-17, 1.0 - 1e-17, 0.5]  # clipping and threshold edges
    return y.tolist(), p.tolist()


def regression_stream(seed: int) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(seed)
    y = rng.normal(50.0, 10.0, size=N)
    return y.tolist(), (y + rng.normal(0.0, 3.0, size=N)).tolist()


LABEL_SETS = [[0, 1, 2], ["ant", "bird", "cat", "dog"], [True, False]]

# (ours, River's, stream)
CASES: list[tuple[str, Callable[[], Metric[float]], Callable[[], Any], Callable[[int], Any]]] = []
for name, ours, theirs in [
    ("Precision", Precision, rm.Precision),
    ("Recall", Recall, rm.Recall),
    ("F1", F1, rm.F1),
]:
    CASES.append((f"{name}-binary", ours, theirs, binary_stream))
    CASES.append((f"{name}-binary-bool", ours, theirs, lambda s: binary_stream(s, "bool")))
for average, river_cls in [
    ("macro", [rm.MacroPrecision, rm.MacroRecall, rm.MacroF1]),
    ("micro", [rm.MicroPrecision, rm.MicroRecall, rm.MicroF1]),
]:
    for ours_cls, theirs_cls in zip([Precision, Recall, F1], river_cls, strict=True):
        for labels in LABEL_SETS:
            CASES.append(
                (
                    f"{ours_cls.__name__}-{average}-{type(labels[0]).__name__}",
                    lambda c=ours_cls, a=average: c(average=a),
                    theirs_cls,
                    lambda s, ls=labels: multiclass_stream(s, ls),
                )
            )
CASES += [
    ("Accuracy", Accuracy, rm.Accuracy, lambda s: multiclass_stream(s, ["a", "b", "c"])),
    ("ROCAUC", ROCAUC, rm.ROCAUC, proba_stream),
    ("ROCAUC-30", lambda: ROCAUC(n_thresholds=30), lambda: rm.ROCAUC(30), proba_stream),
    ("ROCAUC-3", lambda: ROCAUC(n_thresholds=3), lambda: rm.ROCAUC(3), proba_stream),
    ("LogLoss", LogLoss, rm.LogLoss, proba_stream),
    ("MAE", MAE, rm.MAE, regression_stream),
    ("RMSE", RMSE, rm.RMSE, regression_stream),
    ("R2", R2, rm.R2, regression_stream),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize(("name", "make", "make_river", "stream"), CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_every_update_matches_river(name, make, make_river, stream, seed) -> None:
    y_true, y_pred = stream(seed)
    ours, theirs = make(), make_river()
    assert ours.get() == pytest.approx(theirs.get(), rel=REL, abs=1e-15)
    values = []
    for t, p in zip(y_true, y_pred, strict=True):
        ours.update(t, p)
        theirs.update(t, p)
        values.append(ours.get())
        assert values[-1] == pytest.approx(theirs.get(), rel=REL, abs=1e-15), len(values)
    # The value moved during the stream: this checked something.
    assert len(set(values)) > 10
    # update_many over chunks ends at the same value and the same state.
    batch = make()
    for start, stop in [(0, 1), (1, 57), (57, 57), (57, N)]:
        batch.update_many(np.array(y_true[start:stop]), np.array(y_pred[start:stop]))
        assert batch.get() == values[stop - 1]
    state, expected = batch.state_dict(), ours.state_dict()
    assert state.keys() == expected.keys()
    for key in state:
        np.testing.assert_array_equal(state[key], expected[key])


@pytest.mark.parametrize(
    ("pos_label", "labels"), [(0, [0, 1]), ("spam", ["spam", "ham"]), (False, [False, True])]
)
@pytest.mark.parametrize(("ours_cls", "river_cls"), [(Precision, rm.Precision), (F1, rm.F1)])
def test_pos_label_scores_the_named_class(pos_label, labels, ours_cls, river_cls) -> None:
    # River 0.26.1 only scores pos_val=True correctly (its `get` looks the positive class up
    # among the booleans it stored), so compare with River on `y == pos_label` booleans.
    y_true, y_pred = multiclass_stream(3, labels)
    ours, theirs = ours_cls(pos_label=pos_label), river_cls()
    for t, p in zip(y_true, y_pred, strict=True):
        ours.update(t, p)
        theirs.update(t == pos_label, p == pos_label)
        assert ours.get() == theirs.get()
    assert 0.3 < ours.get() < 0.9


def test_confusion_matrix_matches_river() -> None:
    y_true, y_pred = multiclass_stream(4, ["ant", "bird", "cat", None])
    ours, theirs = ConfusionMatrix(), rm.ConfusionMatrix()
    for t, p in zip(y_true, y_pred, strict=True):
        ours.update(t, p)
        theirs.update(t, p)
    assert set(ours.labels) == set(theirs.classes)
    got = ours.get()
    for t in ours.labels:
        for p in ours.labels:
            assert got[t][p] == theirs[t][p]
    assert ours.matrix.sum() == N
    batch = ConfusionMatrix()
    batch.update_many(y_true, y_pred)
    assert batch.get() == got


def test_roc_auc_and_log_loss_take_probability_dicts() -> None:
    y_true, y_pred = proba_stream(5)
    for ours_cls, river_cls in [(ROCAUC, rm.ROCAUC), (LogLoss, rm.LogLoss)]:
        ours, theirs = ours_cls(), river_cls()
        for t, p in zip(y_true, y_pred, strict=True):
            ours.update(t, {0: 1.0 - p, 1: p})
            theirs.update(bool(t), {False: 1.0 - p, True: p})
        assert ours.get() == pytest.approx(theirs.get(), rel=REL)

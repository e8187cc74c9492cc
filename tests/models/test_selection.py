from __future__ import annotations

import numpy as np
import pytest
from river import datasets, linear_model, metrics, model_selection, optim, preprocessing

from models import LogisticRegression
from models.metrics import Accuracy
from models.optim import SGD
from models.preprocessing import StandardScaler
from models.selection import SuccessiveHalving

LRS = (1e-3, 1e-2, 1e-1, 1.0)


def test_matches_rivers_successive_halving() -> None:
    data = [({k: float(v) for k, v in x.items()}, bool(y)) for x, y in datasets.Phishing()]
    river = model_selection.SuccessiveHalvingClassifier(
        [
            preprocessing.StandardScaler() | linear_model.LogisticRegression(optim.SGD(lr))
            for lr in LRS
        ],
        metric=metrics.Accuracy(),
        budget=2000,
    )
    ours = SuccessiveHalving(
        [StandardScaler() | LogisticRegression(SGD(lr)) for lr in LRS], Accuracy(), budget=2000
    )
    names = list(data[0][0])
    X = np.array([[x[k] for k in names] for x, _ in data])
    y = np.array([int(label) for _, label in data])
    river_preds = []
    for x, label in data:
        river_preds.append(river.predict_proba_one(x).get(True, 0.0))
        river.learn_one(x, label)
    ours_preds = []
    for i in range(0, len(X), 100):
        ours_preds.extend(ours.predict_learn_many(X[i : i + 100], y[i : i + 100]).tolist())
    np.testing.assert_allclose(ours_preds, river_preds, atol=1e-9)
    assert ours.best_model.steps[1].optimizer.lr == river.best_model[1].optimizer.lr.learning_rate


def test_validates_its_arguments() -> None:
    with pytest.raises(ValueError):
        SuccessiveHalving([LogisticRegression()], Accuracy(), budget=10)
    with pytest.raises(ValueError):
        SuccessiveHalving([LogisticRegression(), LogisticRegression()], Accuracy(), budget=1)

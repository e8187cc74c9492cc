from __future__ import annotations

import numpy as np
import pytest
from river import datasets, evaluate, linear_model, metrics, preprocessing

from models import LinearRegression, LogisticRegression, SoftmaxRegression
from models.evaluate import progressive
from models.metrics import MAE, Accuracy, LogLoss
from models.preprocessing import StandardScaler


def _phishing() -> list[tuple[dict[str, float], bool]]:
    return [({k: float(v) for k, v in x.items()}, y) for x, y in datasets.Phishing()]


@pytest.mark.parametrize("batch_size", [1, 7, 256])
def test_equals_rivers_progressive_validation(batch_size: int) -> None:
    data = _phishing()
    river = evaluate.progressive_val_score(
        data, preprocessing.StandardScaler() | linear_model.LogisticRegression(), metrics.Accuracy()
    )
    ours = progressive(
        StandardScaler() | LogisticRegression(),
        [(x, int(y)) for x, y in data],
        Accuracy(),
        batch_size=batch_size,
    )
    assert ours["n"] == len(data)
    assert ours["Accuracy"] == pytest.approx(river.get(), abs=1e-12)


def test_arrays_checkpoints_and_probability_metrics() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1000, 3))
    y = (X @ [1.0, 2.0, -1.0] + 0.3 * rng.normal(size=1000) > 0).astype(int)
    result = progressive(
        LogisticRegression(), (X, y), [Accuracy(), LogLoss()], batch_size=64, checkpoints=[100, 500]
    )
    assert [c["n"] for c in result["checkpoints"]] == [100, 500]
    first = progressive(LogisticRegression(), (X[:100], y[:100]), Accuracy(), batch_size=64)
    assert result["checkpoints"][0]["Accuracy"] == first["Accuracy"]
    assert 0.0 < result["LogLoss"] < 0.69 and result["Accuracy"] > 0.85


def test_regressors_and_multiclass_models() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(600, 2))
    reg = progressive(LinearRegression(), (X, X @ [3.0, -1.0]), MAE(), batch_size=50)
    assert reg["MAE"] < 1.5
    labels = np.where(X[:, 0] > 0.5, "hi", np.where(X[:, 0] < -0.5, "lo", "mid"))
    clf = progressive(SoftmaxRegression(), (X, labels), Accuracy(), batch_size=50)
    assert clf["Accuracy"] > 0.6


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        progressive(LogisticRegression(), (np.zeros((2, 1)), np.zeros(2)), Accuracy(), batch_size=0)

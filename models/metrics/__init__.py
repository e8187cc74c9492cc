"""Online evaluation metrics, River's `metrics` with batch twins.

Every metric has `update(y_true, y_pred)`, `revert(y_true, y_pred)`, `get()`, the vectorised
`update_many` / `revert_many` on 1-D arrays (equal to the one-by-one methods in order),
`clone()` and `state_dict()` / `load_state_dict()`. `Rolling(metric, window_size)` computes
any of them over the most recent pairs.
"""

from __future__ import annotations

from models.metrics.accuracy import Accuracy
from models.metrics.base import Metric
from models.metrics.confusion_matrix import ConfusionMatrix
from models.metrics.f1 import F1
from models.metrics.log_loss import LogLoss
from models.metrics.mae import MAE
from models.metrics.precision import Precision
from models.metrics.r2 import R2
from models.metrics.recall import Recall
from models.metrics.rmse import RMSE
from models.metrics.roc_auc import ROCAUC
from models.metrics.rolling import Rolling
from models.metrics.rolling_accuracy import RollingAccuracy

__all__ = [
    "F1",
    "MAE",
    "R2",
    "RMSE",
    "ROCAUC",
    "Accuracy",
    "ConfusionMatrix",
    "LogLoss",
    "Metric",
    "Precision",
    "Recall",
    "Rolling",
    "RollingAccuracy",
]

"""Sequential hot loops shared by the one-by-one and the batch paths (internal).

At the sizes the streaming learner sees (5-20 features, 100-1000 rows per batch) plain Python
floats in a tight loop beat per-row numpy by 4-5x, and SGD is sequential, so the batch methods run
these loops over `ndarray.tolist()` rows. The dict methods call the same loops with one row, which
makes both paths bit-for-bit identical by construction.

The arithmetic copies River 0.26.1 operation by operation (`utils.math.sigmoid`,
`optim.losses.Log.gradient` and `Squared.gradient`, `linear_model.base.GLM._fit` with
`optim.SGD`, and `preprocessing.StandardScaler`); on River's own streams the results are
bit-identical (the tests only rely on 1e-9, as River's Rust `VectorDict.dot` could sum in another
order). The vectorised helpers at the end serve the documented mini-batch mode only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, MutableSequence, Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "glm_sgd",
    "log_loss_gradient",
    "log_loss_gradients",
    "scaled_logistic",
    "sigmoid",
    "sigmoids",
    "squared_loss_gradient",
    "welford",
]

Gradient = Callable[[float, float, float], float]


def sigmoid(t: float) -> float:
    """River's `utils.math.sigmoid`: exactly 0 or 1 beyond +/-30."""
    if t < -30.0:
        return 0.0
    if t > 30.0:
        return 1.0
    return 1.0 / (1.0 + math.exp(-t))


def log_loss_gradient(t: float, y: float, clip: float) -> float:
    """Derivative of the log loss w.r.t. the logit `t`, clamped to [-clip, clip]."""
    if y:
        if t > 18.0:
            g = -math.exp(-t)
        elif t < -18.0:
            g = -1.0
        else:
            g = -1.0 / (math.exp(t) + 1.0)
    elif t < -18.0:
        g = math.exp(t)
    elif t > 18.0:
        g = 1.0
    else:
        g = 1.0 / (math.exp(-t) + 1.0)
    return max(min(g, clip), -clip)


def squared_loss_gradient(t: float, y: float, clip: float) -> float:
    """Derivative of the squared loss `(t - y)**2` w.r.t. `t`, clamped to [-clip, clip]."""
    return max(min(2.0 * (t - y), clip), -clip)


def _sgd_step(
    weights: MutableSequence[float], z: Sequence[float], g: float, lr: float, l2: float
) -> None:
    if l2:
        for j, zj in enumerate(z):
            wj = weights[j]
            weights[j] = wj - lr * (zj * g + l2 * wj)
    else:
        for j, zj in enumerate(z):
            weights[j] -= lr * (zj * g)


def glm_sgd(
    weights: MutableSequence[float],
    intercept: float,
    rows: Iterable[Sequence[float]],
    targets: Iterable[float],
    mask: Iterable[bool],
    hyper: tuple[float, float, float, float],
    gradient: Gradient,
    mean: Callable[[float], float] | None,
    preds: list[float] | None,
) -> tuple[float, int]:
    """Predict-then-learn each row in order with plain SGD; returns the new intercept and the
    number of rows learned.

    `weights` is updated in place; `mean(t)` of the raw output `t` before learning each row is
    appended to `preds` when given (`t` itself if `mean` is None). `hyper` is
    `(lr, l2, intercept_lr, clip_gradient)`, `gradient(t, y, clip)` the clipped loss
    derivative. `mask` may be endless (`itertools.repeat(True)`), and before the first learned
    row `weights` may be empty: `t` is then the intercept, as River's with no weights yet.
    """
    lr, l2, intercept_lr, clip = hyper
    learned = 0
    for row, y, learn in zip(rows, targets, mask, strict=False):
        t = 0.0
        for wj, xj in zip(weights, row, strict=False):
            t += wj * xj
        t += intercept
        if preds is not None:
            preds.append(t if mean is None else mean(t))
        if learn:
            # The weights do not change between the prediction and the gradient, so River's
            # second dot product gives this same `t`.
            g = gradient(t, y, clip)
            intercept -= intercept_lr * g
            _sgd_step(weights, row, g, lr, l2)
            learned += 1
    return intercept, learned


def welford(
    count: int,
    means: MutableSequence[float],
    variances: MutableSequence[float],
    rows: Iterable[Sequence[float]],
    with_std: bool,
) -> int:
    """River's running mean/variance update for each row in order; returns the new count."""
    for row in rows:
        count += 1
        n = float(count)
        for j, xj in enumerate(row):
            delta = xj - means[j]
            mean = means[j] + delta / n
            means[j] = mean
            if with_std:
                vj = variances[j]
                variances[j] = vj + (delta * (xj - mean) - vj) / n
    return count


def scaled_logistic(
    scaler: tuple[int, list[float], list[float], list[float], bool],
    weights: MutableSequence[float],
    intercept: float,
    rows: Iterable[Sequence[float]],
    labels: Iterable[bool],
    mask: Iterable[bool],
    hyper: tuple[float, float, float, float] | None,
    learn_row: Callable[[Sequence[float], float, bool, float], float],
    probas: list[float] | None,
) -> tuple[int, float]:
    """River's `StandardScaler() | LogisticRegression()` predict-then-learn, fused.

    `scaler` is `(count, means, variances, stds, with_std)`; the lists are updated in place and
    `stds[j]` must hold `variances[j] ** 0.5` (0.0 for zero variance, which scales to 0.0). A row
    is predicted with the current statistics; learning it first updates the statistics, then
    scales the row with them and steps the model: inline plain SGD when `hyper` is given (as in
    `glm_sgd`), else `intercept = learn_row(z, t, y, intercept)` (any optimizer). Returns
    `(count, intercept)`.
    """
    count, means, variances, stds, with_std = scaler
    lr, l2, intercept_lr, clip = hyper or (0.0, 0.0, 0.0, 0.0)
    features = range(len(means))
    z = [0.0] * len(means)
    for row, y, learn in zip(rows, labels, mask, strict=False):
        t = 0.0
        if with_std:
            for wj, xj, mj, sj in zip(weights, row, means, stds, strict=False):
                if sj:
                    t += wj * ((xj - mj) / sj)
        else:
            for wj, xj, mj in zip(weights, row, means, strict=False):
                t += wj * (xj - mj)
        t += intercept
        if probas is not None:
            probas.append(sigmoid(t))
        if not learn:
            continue
        count += 1
        n = float(count)  # the same quotients as dividing by the int, without converting it
        t = 0.0
        if with_std:
            for j in features:
                xj = row[j]
                mj = means[j]
                delta = xj - mj
                mj += delta / n
                means[j] = mj
                vj = variances[j]
                vj += (delta * (xj - mj) - vj) / n
                variances[j] = vj
                if vj:
                    sj = vj**0.5
                    stds[j] = sj
                    zj = (xj - mj) / sj
                    z[j] = zj
                    t += weights[j] * zj
                else:
                    stds[j] = z[j] = 0.0
        else:
            for j in features:
                xj = row[j]
                mj = means[j]
                mj += (xj - mj) / n
                means[j] = mj
                zj = xj - mj
                z[j] = zj
                t += weights[j] * zj
        t += intercept
        if hyper is None:
            intercept = learn_row(z, t, y, intercept)
            continue
        g = log_loss_gradient(t, y, clip)
        intercept -= intercept_lr * g
        _sgd_step(weights, z, g, lr, l2)
    return count, intercept


def log_loss_gradients(
    t: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """`log_loss_gradient` of each logit `t` for labels `y` in {0, 1} (unclipped), with the same
    branches, so saturated gradients keep their relative precision (adaptive optimizers rescale
    them); np.minimum/np.maximum instead of np.clip, whose Python wrapper costs more here."""
    sign = 2.0 * y - 1.0
    z = t * sign
    middle = -sign / (np.exp(np.minimum(np.maximum(z, -18.0), 18.0)) + 1.0)
    high = np.exp(-np.maximum(z, 18.0)) * -sign
    out: npt.NDArray[np.float64] = np.where(z > 18.0, high, np.where(z < -18.0, -sign, middle))
    return out


def sigmoids(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """`sigmoid` of each value, vectorised (equal to it up to the rounding of `np.exp`)."""
    p: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(np.minimum(np.maximum(-t, -31.0), 31.0)))
    p[t < -30.0] = 0.0
    p[t > 30.0] = 1.0
    return p

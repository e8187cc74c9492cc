"""Sequential hot loops shared by the one-by-one and the batch paths (internal).

At the sizes the streaming learner sees (5-20 features, 100-1000 rows per batch) plain Python
floats in a tight loop beat per-row numpy by 4-5x, and SGD is sequential, so the batch methods run
these loops over `ndarray.tolist()` rows. The dict methods call the same loops with one row, which
makes both paths bit-for-bit identical by construction.

The arithmetic copies River 0.26.1 operation by operation (`utils.math.sigmoid`,
`optim.losses.Log.gradient`, `linear_model.base.GLM._fit` with `optim.SGD`, and
`preprocessing.StandardScaler`); on River's own streams the results are bit-identical (the
tests only rely on 1e-9, as River's Rust `VectorDict.dot` could sum in another order).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, MutableSequence, Sequence

__all__ = [
    "log_loss_gradient",
    "logistic_sgd",
    "scaled_logistic_sgd",
    "sigmoid",
    "welford",
]


def sigmoid(t: float) -> float:
    """River's `utils.math.sigmoid`: exactly 0 or 1 beyond +/-30."""
    if t < -30.0:
        return 0.0
    if t > 30.0:
        return 1.0
    return 1.0 / (1.0 + math.exp(-t))


def log_loss_gradient(t: float, y: bool, clip: float) -> float:
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


def logistic_sgd(
    weights: MutableSequence[float],
    intercept: float,
    rows: Iterable[Sequence[float]],
    labels: Iterable[bool],
    mask: Iterable[bool],
    hyper: tuple[float, float, float, float],
    probas: list[float] | None,
) -> float:
    """Predict-then-learn each row in order; returns the new intercept.

    `weights` is updated in place; P(y=1) before learning each row is appended to `probas` when
    given. `hyper` is `(lr, l2, intercept_lr, clip_gradient)`. `mask` may be endless
    (`itertools.repeat(True)`), and before the first learned row `weights` may be empty: the
    logit is then the intercept (0.0), as River's with no weights yet.
    """
    lr, l2, intercept_lr, clip = hyper
    for row, y, learn in zip(rows, labels, mask, strict=False):
        t = 0.0
        for wj, xj in zip(weights, row, strict=False):
            t += wj * xj
        t += intercept
        if probas is not None:
            probas.append(sigmoid(t))
        if learn:
            # The weights do not change between the prediction and the gradient, so River's
            # second dot product gives this same `t`.
            g = log_loss_gradient(t, y, clip)
            intercept -= intercept_lr * g
            _sgd_step(weights, row, g, lr, l2)
    return intercept


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


def scaled_logistic_sgd(
    scaler: tuple[int, list[float], list[float], list[float], bool],
    weights: MutableSequence[float],
    intercept: float,
    rows: Iterable[Sequence[float]],
    labels: Iterable[bool],
    mask: Iterable[bool],
    hyper: tuple[float, float, float, float],
    probas: list[float] | None,
) -> tuple[int, float]:
    """River's `StandardScaler() | LogisticRegression()` predict-then-learn, fused.

    `scaler` is `(count, means, variances, stds, with_std)`; the lists are updated in place and
    `stds[j]` must hold `variances[j] ** 0.5` (0.0 for zero variance, which scales to 0.0). A row
    is predicted with the current statistics; learning it first updates the statistics, then
    scales the row with them and takes the SGD step. Returns `(count, intercept)`.
    """
    count, means, variances, stds, with_std = scaler
    lr, l2, intercept_lr, clip = hyper
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
        g = log_loss_gradient(t, y, clip)
        intercept -= intercept_lr * g
        _sgd_step(weights, z, g, lr, l2)
    return count, intercept

"""scipy's exact two-sample Kolmogorov-Smirnov p-value, without scipy.

Private helper of :mod:`monitor.drift.kswin`: a port of ``scipy.stats.ks_2samp(method="auto")``
for two samples of the same size (at most 10000), including scipy's fallback to ``kstwo.sf``
where the exact sum rounds above 1.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

_E128 = 128
_EP128 = np.ldexp(np.longdouble(1), _E128)
_EM128 = np.ldexp(np.longdouble(1), -_E128)
_LOG_2PI = np.log(2 * np.pi)
_STIRLING = [  # B_2j / (2j (2j - 1)), j = 8 .. 1
    -2.955065359477124183e-2,
    6.4102564102564102564e-3,
    -1.9175269175269175269e-3,
    8.4175084175084175084e-4,
    -5.952380952380952381e-4,
    7.9365079365079365079e-4,
    -2.7777777777777777778e-3,
    8.3333333333333333333e-2,
]


@functools.lru_cache(maxsize=1 << 14)
def _p_value(n: int, gap: int) -> float:
    """scipy's two-sided ``ks_2samp`` p-value for two samples of ``n`` values, D = gap / n."""
    if gap == 0:
        return 1.0
    # Exact: P(D >= gap/n) = 2 (A0 - A0 A1 + A0 A1 A2 - ...), evaluated Horner-like (Hodges).
    total = 0.0
    k = n // gap
    while k >= 0:
        term = 1.0
        for j in range(gap):
            term = (n - k * gap - j) * term / (n + k * gap + j + 1)
        total = term * (1.0 - total)
        k -= 1
    prob = 2 * total
    if 0.0 <= prob <= 1.0:
        return prob
    # Rounded out of [0, 1]: scipy gives up on the exact value and uses kstwo.sf instead.
    return _kolmogorov_sf(round(n * n / (n + n)), gap * 1.0 / n, prob)


def _kolmogorov_sf(n: int, x: float, fallback: float) -> float:
    """scipy's ``kstwo.sf(x, n)`` (one-sample two-sided KS), in the regimes reachable here.

    The exact two-sample sum only rounds above 1 when the p-value is within a few ulps of 1,
    which keeps ``n x**2`` small: scipy then uses Ruben-Gambino or the Durbin matrix. Other
    regimes are out of reach for samples of at most 10000 values; there ``fallback`` is
    clipped, as a last resort.
    """
    if n < 1:
        return math.nan
    if x <= 0.5 / n:
        return 1.0
    if x >= 1.0:
        return 0.0
    t = n * x
    if t <= 1.0:  # Ruben-Gambino
        if t <= 0.5:
            return 1.0
        if n <= 140:
            cdf = np.prod(np.arange(1, n + 1) * (1.0 / n) * (2 * t - 1))
        else:
            cdf = np.exp(_log_factorial_ratio(n) + n * np.log(2 * t - 1))
        return float(np.clip(1.0 - cdf, 0.0, 1.0))
    if t >= n - 1:  # Ruben-Gambino
        return float(np.clip(2 * (1.0 - x) ** n, 0.0, 1.0))
    nx2 = t * x
    if x < 0.5 and (nx2 <= 0.754693 if n <= 140 else nx2 < 2.2 and n * x**1.5 <= 1.4):
        cdf = _durbin_cdf(n, np.float64(x))
        return float(np.float64(np.clip(1.0 - cdf, 0.0, 1.0)))
    return float(np.clip(fallback, 0.0, 1.0))


def _log_factorial_ratio(n: int) -> Any:
    """log(n! / n**n) by Stirling's series, as scipy computes it."""
    rn = 1.0 / n
    return np.log(n) / 2 - n + _LOG_2PI / 2 + rn * np.polyval(_STIRLING, rn / n)


def _durbin_cdf(n: int, d: np.float64) -> Any:
    """P(D_n <= d) by Durbin's matrix method (Marsaglia-Tsang-Wang), with scipy's scaling.

    Follows scipy's arithmetic step by step (numpy scalars, matmul, long-double rescaling),
    so that ``1 - P`` rounds to the same float.
    """
    nd = n * d
    k = int(np.ceil(nd))
    h = k - nd
    m = 2 * k - 1
    steps = np.arange(1, m + 1)
    v = 1.0 - h**steps
    w = np.empty(m)
    fac = 1.0
    for j in steps:
        w[j - 1] = fac
        fac /= j
        v[j - 1] *= fac
    v[-1] = (1.0 + (max(2 * h - 1.0, 0) ** m - 2 * h**m)) * fac
    mat = np.zeros([m, m])
    for i in range(1, m):
        mat[i - 1 :, i] = w[: m - i + 1]
    mat[:, 0] = v
    mat[-1, :] = np.flip(v, axis=0)
    power = np.eye(m)
    expnt = mat_expnt = 0
    nn = n
    while nn > 0:
        if nn % 2:
            power = np.matmul(power, mat)
            expnt += mat_expnt
        mat = np.matmul(mat, mat)
        mat_expnt *= 2
        if np.abs(mat[k - 1, k - 1]) > _EP128:
            mat /= _EP128
            mat_expnt += _E128
        nn //= 2
    p: Any = power[k - 1, k - 1]
    for i in range(1, n + 1):
        p = i * p / n
        if np.abs(p) < _EM128:
            p *= _EP128
            expnt -= _E128
    if expnt != 0:
        p = np.ldexp(p, expnt)
    return np.clip(p, 0.0, 1.0)

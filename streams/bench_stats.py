"""Latency summaries as every benchmark reports them."""

from __future__ import annotations

import numpy as np

__all__ = ["latency_summary"]


def latency_summary(seconds: np.ndarray, digits: int = 3) -> dict[str, float]:
    """p50, p95, p99, p99.9, max and mean in milliseconds (NaN for no samples).

    >>> latency_summary(np.array([0.001, 0.002, 0.003]), digits=1)["p50"]
    2.0
    """
    keys = ("p50", "p95", "p99", "p99.9", "max", "mean")
    if seconds.size == 0:
        return dict.fromkeys(keys, float("nan"))
    ms = seconds * 1000.0
    values = [*np.percentile(ms, [50, 95, 99, 99.9]), ms.max(), ms.mean()]
    return {k: round(float(v), digits) for k, v in zip(keys, values, strict=True)}

"""What every benchmark reports beside its numbers: latency summaries and a speed probe."""

from __future__ import annotations

import statistics
import time

import numpy as np

from featurestore.record import FeatureRecord

__all__ = ["latency_summary", "speed_probe"]


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


def speed_probe(repeats: int = 5, calls: int = 20_000) -> float:
    """Microseconds per call of a fixed pure-Python workload (encoding one feature record),
    the median of `repeats`: recorded beside a benchmark's numbers, because a shared VM's speed
    drifts (we saw 1.7x within an hour at the same load average).

    >>> 0 < speed_probe(repeats=1, calls=10) < 10_000
    True
    """
    names = ("amount", "count_5m", "mean_5m", "max_5m")
    record = FeatureRecord(
        "evt-1", "user-42", 1_700_000_000_123, [12.5, 3.0, 10.25, 20.0], 1, "txn", 1,
        "payments.events", 3, 123_456, None, None, names, 1_700_000_000_200,
    )  # fmt: skip
    encode = record.to_json
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            encode()
        times.append((time.perf_counter() - t0) / calls * 1e6)
    return round(statistics.median(times), 3)

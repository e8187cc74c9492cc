"""Throughput, false-alarm calibration and detection delay of the data-drift detectors.

Run from the repository root:

    .venv/bin/python bench/bench_monitor_data_drift.py [--features 5] [--alarms 200] [--repeats 3]

Every detector runs with the default hyperparameters (window 100, reference 1000, ert 1000,
10000 simulated streams, ``on_drift="refit"``) on ``--features`` standard-normal features.
Columns:

- `calib s`: the one-off threshold calibration (cached afterwards per hyperparameters);
- `update/s`: events per second through ``update(row)``, one event at a time;
- `update_many/s`: events per second through ``update_many`` in batches of 1000 rows;
  both are the median of ``--repeats`` runs over a stream without drift, reference included;
- `mean run`: measured mean run length to a false alarm on a stationary stream (about
  ``--alarms`` false alarms, each followed by a new reference), with its standard error;
- `delay`: events from a one-standard-deviation mean shift of one feature to its detection,
  median (and 90th percentile) over 40 streams whose reference was set with ``fit``;
  `missed` counts streams with a false alarm first or no detection within 1000 events.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.drift.cvm_drift import CVMDrift
from monitor.drift.data_drift import DataDriftDetector
from monitor.drift.ks_drift import KSDrift
from monitor.drift.psi_drift import PSIDrift


def throughput(cls: type[DataDriftDetector], X: np.ndarray, batch: int, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        det = cls()
        start = time.perf_counter()
        if batch == 1:
            for row in X:
                det.update(row)
        else:
            for lo in range(0, len(X), batch):
                det.update_many(X[lo : lo + batch])
        rates.append(len(X) / (time.perf_counter() - start))
    return statistics.median(rates)


def mean_run_length(cls: type[DataDriftDetector], d: int, alarms: int) -> tuple[float, int]:
    det = cls()
    n_ref, w = det.n_reference, det.window_size
    n = alarms * (int(det.ert) + n_ref + w)
    hits = det.update_many(np.random.default_rng(1).normal(size=(n, d)))
    first_tested = np.concatenate([[n_ref + w - 1], hits[:-1] + n_ref + w])
    censored = max(0, n - int(hits[-1]) - n_ref - w)
    return (float(np.sum(hits - first_tested + 1)) + censored) / hits.size, int(hits.size)


def delays(cls: type[DataDriftDetector], d: int, streams: int = 40) -> tuple[list[int], int]:
    proto, out, missed = cls(), [], 0
    shift = proto.window_size + 50
    for seed in range(streams):
        rng = np.random.default_rng(100 + seed)
        det = proto.clone().fit(rng.normal(size=(proto.n_reference, d)))
        X = rng.normal(size=(shift + 1000, d))
        X[shift:, 0] += 1.0
        hits = det.update_many(X)
        if not hits.size or hits[0] < shift or 0 not in det.drifted_features:
            missed += 1
        else:
            out.append(int(hits[0]) - shift)
    return out, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=5)
    parser.add_argument("--alarms", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    d = args.features
    X = np.random.default_rng(0).normal(size=(20_000, d))
    print(f"{d} features, defaults {cls_defaults()}")
    header = (
        f"{'detector':<9} {'calib s':>7} {'update/s':>9} {'update_many/s':>13} "
        f"{'mean run (ert 1000)':>21} {'delay med (p90)':>16} {'missed':>6}"
    )
    print(header)
    print("-" * len(header))
    for cls in (KSDrift, CVMDrift, PSIDrift):
        start = time.perf_counter()
        cls().fit(X[:1000])  # calibrates once; the runs below reuse the cached threshold
        calib = time.perf_counter() - start
        one = throughput(cls, X[:4000], 1, args.repeats)
        many = throughput(cls, X, 1000, args.repeats)
        run, n_alarms = mean_run_length(cls, d, args.alarms)
        lags, missed = delays(cls, d)
        print(
            f"{cls.__name__:<9} {calib:>7.2f} {one:>9,.0f} {many:>13,.0f} "
            f"{run:>8.0f} +- {run / np.sqrt(n_alarms):>3.0f} ({n_alarms:>3} alarms) "
            f"{np.median(lags):>7.0f} ({np.percentile(lags, 90):>4.0f}) {missed:>6}"
        )


def cls_defaults() -> str:
    det = KSDrift()
    return ", ".join(f"{k}={v}" for k, v in det._get_params().items())


if __name__ == "__main__":
    main()

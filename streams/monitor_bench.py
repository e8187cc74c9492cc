"""`riffle bench monitor`: Riffle's drift and anomaly detectors against River's on the same
streams, in one process: updates/s, identical drift indices, detection delay and false alarms.

- Throughput (median of ``runs``; River and ours alternate within each run, fresh detectors):
  ADWIN, PageHinkley, DDM, EDDM, HDDM_A and KSWIN, River's ``update`` loop against ours (the
  same loop, and ``update_many`` in micro-batches), at River's defaults (KSWIN with seed=42).
  DDM/EDDM/HDDM_A read a 0/1 error stream whose rate changes every 10% of the events, the others
  a Gaussian stream whose mean does; every run's drift indices are compared with River's.
  River's KSWIN manages ~2k updates/s, so KSWIN runs on a shorter stream (``kswin_events``).
- HalfSpaceTrees on River's Shuttle (min-max scaled into [0, 1], as in the tests): River's
  ``score_one`` + ``learn_one`` loop against our ``score_learn_many`` in micro-batches, both with
  n_trees=10, height=8, window_size=250 and seed = run number; ROC AUC of the scores of both.
- Data drift (ours only): KSDrift, PSIDrift, CVMDrift ``update_many`` on 5-d vectors whose
  first feature's mean changes every 10%; the one-off threshold calibration is timed apart.
- Delay and false alarms (ours; the River-paired ones flag River's indices): ``seeds`` streams of
  ``shift`` events, then ``after`` events changed at index ``shift``: (a) a Bernoulli error
  rate 0.1 -> 0.3, (b) a 1-sigma mean shift of N(0, 1) (for the data-drift detectors, of one
  of 5 features). Delay = first alarm at or after the shift minus the shift (median over the
  seeds that found it; ``missed`` counts the others); false alarms per 10,000 events before
  the shift (median over seeds; warm-up and reference events are in the denominator).

River is a test/bench-only dependency: ``pip install -e '.[test]'``.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from streams.exceptions import RiffleError

__all__ = ["run"]

PAIRED = ("ADWIN", "PageHinkley", "DDM", "EDDM", "HDDM_A", "KSWIN")
BINARY = ("DDM", "EDDM", "HDDM_A")
DATA_DRIFT = ("KSDrift", "PSIDrift", "CVMDrift")
HST_PARAMS: dict[str, Any] = {"n_trees": 10, "height": 8, "window_size": 250}
RATES = (0.05, 0.3, 0.1, 0.45, 0.2, 0.6, 0.1, 0.35, 0.05, 0.4)
MEANS = (0.0, 0.5, -0.3, 1.0, 0.2, -0.8, 0.4, 0.0, 1.5, 0.7)
DIMENSIONS = 5


def _require_river() -> None:
    try:
        import river  # noqa: F401
    except ImportError as exc:
        raise RiffleError(
            "riffle bench monitor compares with River, a test dependency: pip install -e '.[test]'"
        ) from exc


def _ours(name: str, params: dict[str, Any] | None = None) -> Any:
    from monitor import drift

    if name == "KSWIN":
        return drift.KSWIN(seed=42)
    return getattr(drift, name)(**(params or {}) if name in DATA_DRIFT else {})


def _river(name: str) -> Any:
    from river import drift

    makers: dict[str, Callable[[], Any]] = {
        "ADWIN": drift.ADWIN,
        "PageHinkley": drift.PageHinkley,
        "DDM": drift.binary.DDM,
        "EDDM": drift.binary.EDDM,
        "HDDM_A": drift.binary.HDDMA,
        "KSWIN": lambda: drift.KSWIN(seed=42),
    }
    return makers[name]()


def _segments(n: int, levels: tuple[float, ...]) -> np.ndarray:
    """The level of each of `n` events: `levels` in turn, each for a tenth of the events."""
    cuts = np.linspace(0, n, len(levels) + 1).astype(int)
    return np.repeat(np.array(levels), np.diff(cuts))


def _changing_stream(name: str, n: int, seed: int = 42) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if name in BINARY:
        return (rng.random(n) < _segments(n, RATES)).astype(np.int64)
    if name in DATA_DRIFT:
        X = rng.normal(size=(n, DIMENSIONS))
        X[:, 0] += _segments(n, MEANS)
        return X
    return rng.normal(_segments(n, MEANS), 1.0)


def _loop(detector: Any, values: list[Any]) -> tuple[float, list[int]]:
    hits = []
    start = time.perf_counter()
    for i, x in enumerate(values):
        detector.update(x)
        if detector.drift_detected:
            hits.append(i)
    return time.perf_counter() - start, hits


def _many(detector: Any, values: np.ndarray, batch: int) -> tuple[float, list[int]]:
    hits: list[int] = []
    start = time.perf_counter()
    for i in range(0, len(values), batch):
        hits.extend((detector.update_many(values[i : i + batch]) + i).tolist())
    return time.perf_counter() - start, hits


def _bench_paired(name: str, n: int, runs: int, batch: int) -> dict[str, Any]:
    values = _changing_stream(name, n)
    as_list = values.tolist()
    times: dict[str, list[float]] = {"river": [], "update": [], "update_many": []}
    found: dict[str, list[list[int]]] = {"river": [], "update": [], "update_many": []}
    for _ in range(runs):  # alternate, so noise hits both alike
        for variant, (seconds, hits) in (
            ("river", _loop(_river(name), as_list)),
            ("update", _loop(_ours(name), as_list)),
            ("update_many", _many(_ours(name), values, batch)),
        ):
            times[variant].append(seconds)
            found[variant].append(hits)
    rate = {k: n / statistics.median(v) for k, v in times.items()}
    reference = found["river"][0]
    return {
        "detector": name,
        "events": n,
        "river_updates_per_s": round(rate["river"]),
        "ours_update_per_s": round(rate["update"]),
        "ours_update_many_per_s": round(rate["update_many"]),
        "speedup_update": round(rate["update"] / rate["river"], 2),
        "speedup_update_many": round(rate["update_many"] / rate["river"], 2),
        "drifts": len(reference),
        "identical": all(h == reference for hits in found.values() for h in hits),
    }


def _shuttle(n: int) -> tuple[np.ndarray, np.ndarray, list[dict[str, float]]]:
    """River's Shuttle (first `n` rows), each feature min-max scaled into [0, 1] over them."""
    from river import datasets

    rows = list(datasets.Shuttle().take(n))
    names = list(rows[0][0])
    X = np.array([[x[k] for k in names] for x, _ in rows], dtype=np.float64)
    y = np.array([int(label) for _, label in rows])
    lo, hi = X.min(axis=0), X.max(axis=0)
    X = (X - lo) / np.where(hi > lo, hi - lo, 1.0)
    return X, y, [dict(zip(names, row, strict=True)) for row in X.tolist()]


def _roc_auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Mann-Whitney ROC AUC with average ranks for ties (NaN without both classes)."""
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if not n_pos or not n_neg:
        return math.nan
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _bench_hst(n: int, runs: int, batch: int) -> dict[str, Any]:
    from river import anomaly

    from monitor.anomaly import HalfSpaceTrees

    X, y, dicts = _shuttle(n)
    times: dict[str, list[float]] = {"river": [], "ours": []}
    aucs: dict[str, list[float]] = {"river": [], "ours": []}
    for seed in range(runs):
        river: Any = anomaly.HalfSpaceTrees(seed=seed, **HST_PARAMS)
        scores = np.empty(len(dicts))
        start = time.perf_counter()
        for i, x in enumerate(dicts):
            scores[i] = river.score_one(x)
            river.learn_one(x)
        times["river"].append(time.perf_counter() - start)
        aucs["river"].append(_roc_auc(scores, y))
        ours = HalfSpaceTrees(seed=seed, **HST_PARAMS)
        start = time.perf_counter()
        parts = [ours.score_learn_many(X[i : i + batch]) for i in range(0, len(X), batch)]
        times["ours"].append(time.perf_counter() - start)
        aucs["ours"].append(_roc_auc(np.concatenate(parts), y))
    rate = {k: len(X) / statistics.median(v) for k, v in times.items()}
    return {
        "detector": "HalfSpaceTrees",
        "events": len(X),
        "anomalies": int(y.sum()),
        **HST_PARAMS,
        "river_updates_per_s": round(rate["river"]),
        "ours_score_learn_many_per_s": round(rate["ours"]),
        "speedup": round(rate["ours"] / rate["river"], 2),
        "river_roc_auc": round(statistics.median(aucs["river"]), 4),
        "ours_roc_auc": round(statistics.median(aucs["ours"]), 4),
    }


def _bench_data_drift(
    name: str, n: int, runs: int, batch: int, params: dict[str, Any]
) -> dict[str, Any]:
    X = _changing_stream(name, n)
    start = time.perf_counter()
    probe = _ours(name, params)
    probe.fit(X[: probe.n_reference])  # calibrates; the timed runs reuse the cached threshold
    calibration = time.perf_counter() - start
    times, drifts = [], 0
    for _ in range(runs):
        seconds, hits = _many(_ours(name, params), X, batch)
        times.append(seconds)
        drifts = len(hits)
    return {
        "detector": name,
        "events": n,
        "features": DIMENSIONS,
        "ours_update_many_per_s": round(n / statistics.median(times)),
        "calibration_s": round(calibration, 2),
        "drifts": drifts,
    }


def _shifted_stream(kind: str, name: str, shift: int, after: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(1000 + seed)
    n = shift + after
    if kind == "bernoulli":
        errors = rng.random(n) < np.where(np.arange(n) < shift, 0.1, 0.3)
        return errors.astype(np.int64 if name in BINARY else np.float64)
    if name in DATA_DRIFT:
        X = rng.normal(size=(n, DIMENSIONS))
        X[shift:, 0] += 1.0
        return X
    x = rng.normal(size=n)
    x[shift:] += 1.0
    return x


def _delays(
    kind: str, name: str, seeds: int, shift: int, after: int, params: dict[str, Any]
) -> dict[str, Any]:
    delays, false_alarms, missed = [], [], 0
    for seed in range(seeds):
        values = _shifted_stream(kind, name, shift, after, seed)
        hits = _ours(name, params).update_many(values)
        false_alarms.append(10_000 * int((hits < shift).sum()) / shift)
        late = hits[hits >= shift]
        if late.size:
            delays.append(int(late[0]) - shift)
        else:
            missed += 1
    return {
        "stream": kind,
        "detector": name,
        "shift": shift,
        "after": after,
        "seeds": seeds,
        "median_delay": statistics.median(delays) if delays else None,
        "missed": missed,
        "false_alarms_per_10k": round(statistics.median(false_alarms), 2),
    }


DELAY_CASES = {
    "bernoulli": ("DDM", "EDDM", "HDDM_A", "ADWIN", "PageHinkley", "KSWIN"),
    "gaussian": ("ADWIN", "PageHinkley", "KSWIN", *DATA_DRIFT),
}


def run(
    events: int = 100_000,
    runs: int = 3,
    batch: int = 256,
    output: str | None = None,
    kswin_events: int = 20_000,
    seeds: int = 20,
    shift: int = 10_000,
    after: int = 5_000,
    data_drift: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Measure every detector; print tables; write JSON to `output`.

    `data_drift` holds hyperparameters for KSDrift/PSIDrift/CVMDrift (default: theirs).
    """
    _require_river()
    params = data_drift or {}
    print(f"{os.cpu_count()} cores; median of {runs} runs; micro-batches of {batch}", flush=True)
    print(
        f"{'detector':14s} {'events':>7s} {'River/s':>10s} {'ours loop/s':>12s} "
        f"{'ours many/s':>12s} {'x loop':>7s} {'x many':>7s} {'drifts':>6s} identical",
        flush=True,
    )
    paired = []
    for name in PAIRED:
        row = _bench_paired(
            name, min(events, kswin_events) if name == "KSWIN" else events, runs, batch
        )
        paired.append(row)
        print(
            f"{name:14s} {row['events']:>7,d} {row['river_updates_per_s']:>10,d} "
            f"{row['ours_update_per_s']:>12,d} {row['ours_update_many_per_s']:>12,d} "
            f"{row['speedup_update']:>7.1f} {row['speedup_update_many']:>7.1f} "
            f"{row['drifts']:>6d} {'yes' if row['identical'] else 'NO'}",
            flush=True,
        )
    hst = _bench_hst(min(events, 49_097), runs, batch)
    print(
        f"{'HalfSpaceTrees':14s} {hst['events']:>7,d} {hst['river_updates_per_s']:>10,d} "
        f"{'-':>12s} {hst['ours_score_learn_many_per_s']:>12,d} {'-':>7s} "
        f"{hst['speedup']:>7.1f}   ROC AUC River {hst['river_roc_auc']:.4f} "
        f"ours {hst['ours_roc_auc']:.4f} (Shuttle)",
        flush=True,
    )
    data = []
    for name in DATA_DRIFT:
        row = _bench_data_drift(name, events, runs, batch, params)
        data.append(row)
        print(
            f"{name:14s} {events:>7,d} {'-':>10s} {'-':>12s} "
            f"{row['ours_update_many_per_s']:>12,d} {'-':>7s} {'-':>7s} {row['drifts']:>6d} "
            f"d={DIMENSIONS}, ours only (calibration {row['calibration_s']:.1f} s, apart)",
            flush=True,
        )
    if events > kswin_events:
        print(f"KSWIN: {kswin_events:,d} events (River's KSWIN runs ~2k updates/s)", flush=True)
    print(
        f"\ndelay after the change at {shift:,d} (median of {seeds} seeds), "
        "false alarms per 10k events before it",
        flush=True,
    )
    print(f"{'stream':10s} {'detector':12s} {'delay':>7s} {'missed':>6s} {'FA/10k':>7s}")
    delays = []
    for kind, names in DELAY_CASES.items():
        for name in names:
            row = _delays(kind, name, seeds, shift, after, params)
            delays.append(row)
            delay = "-" if row["median_delay"] is None else f"{row['median_delay']:g}"
            print(
                f"{kind:10s} {name:12s} {delay:>7s} {row['missed']:>6d} "
                f"{row['false_alarms_per_10k']:>7.2f}",
                flush=True,
            )
    result = {
        "benchmark": "monitor",
        "cores": os.cpu_count(),
        "runs": runs,
        "events": events,
        "kswin_events": min(events, kswin_events),
        "batch": batch,
        "drift": paired,
        "anomaly": [hst],
        "data_drift": data,
        "delays": delays,
    }
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(result, indent=2) + "\n")
    return result

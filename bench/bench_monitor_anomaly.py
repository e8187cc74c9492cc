"""Anomaly detectors: HalfSpaceTrees ours vs River 0.26 on Shuttle; RobustZScore EW vs median.

HalfSpaceTrees: River's bundled Shuttle (49,097 rows, 7.2% anomalies), every feature min-max
scaled into [0, 1] with the dataset's min and max, fed to both in the same order. River runs
one row at a time (`score_one` then `learn_one`); ours runs `score_learn_many` on the whole
array and on micro-batches. Both use n_trees=10, height=8, window_size=250 (the defaults);
run r uses seed r for both. ROC AUC is over all rows (Mann-Whitney, ties averaged).

RobustZScore: a stationary lognormal(0, 1) stream (8 features), `score_learn_many` in
micro-batches; false alerts per 10k rows at fixed thresholds after 1,000 warm-up rows; and the
share of 10-sigma values found when they come in bursts of 5 in one feature (normal data).

Contenders alternate within each run; each speed is the median of `--runs` runs.

    .venv/bin/python bench/bench_monitor_anomaly.py
    .venv/bin/python bench/bench_monitor_anomaly.py --runs 5 --json /tmp/anomaly.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from river import anomaly as river_anomaly
from river import datasets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.anomaly import HalfSpaceTrees, QuantileThreshold, RobustZScore


def roc_auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Mann-Whitney ROC AUC with average ranks for ties."""
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def shuttle() -> tuple[np.ndarray, np.ndarray, list[dict[str, float]]]:
    rows = list(datasets.Shuttle())
    names = list(rows[0][0])
    X = np.array([[x[k] for k in names] for x, _ in rows], dtype=np.float64)
    y = np.array([int(label) for _, label in rows])
    lo, hi = X.min(axis=0), X.max(axis=0)
    X = (X - lo) / np.where(hi > lo, hi - lo, 1.0)
    dicts = [dict(zip(names, row, strict=True)) for row in X.tolist()]
    return X, y, dicts


def run_river_hst(seed: int, dicts: list[dict[str, float]]) -> tuple[float, np.ndarray]:
    model = river_anomaly.HalfSpaceTrees(seed=seed)
    scores = np.empty(len(dicts))
    start = time.perf_counter()
    for i, x in enumerate(dicts):
        scores[i] = model.score_one(x)
        model.learn_one(x)
    return len(dicts) / (time.perf_counter() - start), scores


def run_ours(make: Any, X: np.ndarray, batch: int) -> tuple[float, np.ndarray]:
    det = make()
    parts = []
    start = time.perf_counter()
    for i in range(0, len(X), batch):
        parts.append(det.score_learn_many(X[i : i + batch]))
    return len(X) / (time.perf_counter() - start), np.concatenate(parts)


def bench_hst(runs: int, batches: list[int]) -> dict[str, Any]:
    X, y, dicts = shuttle()
    speeds: dict[str, list[float]] = {"river": [], **{f"ours/{b}": [] for b in batches}}
    aucs: dict[str, list[float]] = {"river": [], "ours": []}
    for seed in range(runs):
        speed, scores = run_river_hst(seed, dicts)
        speeds["river"].append(speed)
        aucs["river"].append(roc_auc(scores, y))
        for batch in batches:
            speed, scores = run_ours(lambda s=seed: HalfSpaceTrees(seed=s), X, batch)
            speeds[f"ours/{batch}"].append(speed)
        aucs["ours"].append(roc_auc(scores, y))
        print(f"HST run {seed}: done", file=sys.stderr, flush=True)
    river = statistics.median(speeds["river"])
    return {
        "rows": len(X),
        "speed": {
            k: {
                "median_per_s": statistics.median(v),
                "runs": v,
                "x_river": statistics.median(v) / river,
            }
            for k, v in speeds.items()
        },
        "roc_auc_by_seed": aucs,
    }


def bench_zscore(runs: int, rows: int, batch: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    X = rng.lognormal(0.0, 1.0, size=(rows, 8))
    makers = {"ew": RobustZScore, "median": lambda: RobustZScore(method="median")}
    speeds: dict[str, list[float]] = {k: [] for k in makers}
    scores: dict[str, np.ndarray] = {}
    for _ in range(runs):
        for name, make in makers.items():
            speed, scores[name] = run_ours(make, X, batch)
            speeds[name].append(speed)
    thresholds = [4.0, 6.0, 8.0, 10.0]
    alerts = {
        name: {t: float((s[1000:] > t).sum() / (len(s) - 1000) * 10_000) for t in thresholds}
        for name, s in scores.items()
    }
    quantile = {
        name: float(
            QuantileThreshold(q=0.999, window_size=10_000, warm_up=1_000)
            .update_many(s)[1000:]
            .mean()
            * 10_000
        )
        for name, s in scores.items()
    }
    # Bursts of 5 consecutive 10-sigma values in one feature of a normal stream.
    Xb = rng.normal(size=(20_000, 8))
    hit = np.zeros(len(Xb), dtype=bool)
    for start in 600 + 300 * np.arange(60):
        feature = rng.integers(8)
        Xb[start : start + 5, feature] = rng.choice([-10.0, 10.0], 5)
        hit[start : start + 5] = True
    found = {
        name: float((make().score_learn_many(Xb)[hit] > 6.0).mean())
        for name, make in makers.items()
    }
    return {
        "rows": rows,
        "speed": {k: {"median_per_s": statistics.median(v), "runs": v} for k, v in speeds.items()},
        "false_alerts_per_10k_lognormal": alerts,
        "alerts_per_10k_quantile_threshold_q0.999": quantile,
        "bursts_found_at_6": found,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batches", type=int, nargs="+", default=[49_097, 1000])
    parser.add_argument("--zscore-rows", type=int, default=50_000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    hst = bench_hst(args.runs, args.batches)
    zscore = bench_zscore(args.runs, args.zscore_rows, 1000)

    print(f"HalfSpaceTrees on Shuttle ({hst['rows']} rows), median of {args.runs} runs")
    print(f"{'contender':<14}{'updates/s':>12}{'x River':>9}")
    for name, s in hst["speed"].items():
        print(f"{name:<14}{s['median_per_s']:>12,.0f}{s['x_river']:>9.1f}")
    print("ROC AUC by seed " + " ".join(str(i) for i in range(args.runs)))
    for name, values in hst["roc_auc_by_seed"].items():
        print(
            f"  {name:<6} " + " ".join(f"{v:.4f}" for v in values) + f"  mean {np.mean(values):.4f}"
        )
    print(f"\nRobustZScore on lognormal(0, 1), 8 features, {zscore['rows']} rows, batches of 1000")
    for name, s in zscore["speed"].items():
        print(f"  {name:<7}{s['median_per_s']:>12,.0f} updates/s")
    print(
        "  false alerts per 10k rows at threshold "
        + " / ".join(
            f"{t:g}" for t in next(iter(zscore["false_alerts_per_10k_lognormal"].values()))
        )
    )
    for name, per in zscore["false_alerts_per_10k_lognormal"].items():
        print(f"  {name:<7}" + " / ".join(f"{v:.1f}" for v in per.values()))
    for name, v in zscore["alerts_per_10k_quantile_threshold_q0.999"].items():
        print(f"  {name:<7}QuantileThreshold(q=0.999) alerts per 10k: {v:.1f}")
    for name, v in zscore["bursts_found_at_6"].items():
        print(f"  {name:<7}10-sigma values in bursts of 5 found at threshold 6: {v:.0%}")
    if args.json:
        args.json.write_text(json.dumps({"hst": hst, "robust_zscore": zscore}, indent=2) + "\n")


if __name__ == "__main__":
    main()
